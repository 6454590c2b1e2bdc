# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Export: the records' fields as one CSV or Excel file, for any number of records.

Only what the requester may read: the fields are checked against their permlevels when the job starts
(a field they may not read is refused, by name) and again for each batch (a role lost meanwhile fails
the records, it never leaks the field); the rows are read with ``frappe.get_list`` as the requester, so
their User Permissions and permission query conditions hold, and a record they cannot read fails with
the reason. Password fields and tables are not exported. Each commit's rows are one part of the job's
file, merged at the end in the selection's order (``outputs.py``); Excel starts a new sheet every
1,048,575 rows. Needs ``export`` permission on the DocType, as Desk's own Export.

Values: ``{"fields": ["status", "amount"], "file_type": "CSV"}`` (or ``"Excel"``); without ``fields``,
every field the requester may read. The record's ID is always the first column.
"""

from __future__ import annotations

import frappe
from frappe import _
from frappe.model import display_fieldtypes, no_value_fields, table_fields

from bulk_queue.actions.base import Action
from bulk_queue.outputs import Spec

FILE_TYPES = {"CSV": "csv", "Excel": "xlsx"}
MAX_FIELDS = 500
# Frappe's own columns one may export besides the DocType's fields.
STANDARD = {
	"owner": "Created By",
	"creation": "Created On",
	"modified": "Last Updated On",
	"modified_by": "Last Updated By",
	"docstatus": "Document Status",
}


def exportable(meta, user: str) -> dict[str, object]:
	"""The fields ``user`` may export from ``meta``'s DocType: ``{fieldname: docfield or label}``."""
	readable = _readable_levels(meta, user)
	fields: dict[str, object] = {}
	for df in meta.fields:
		if (
			df.fieldtype in no_value_fields
			or df.fieldtype in display_fieldtypes
			or df.fieldtype in table_fields
			or df.fieldtype == "Password"
			or df.get("is_virtual")  # computed by the controller, not in the table
			or (df.permlevel or 0) not in readable
		):
			continue
		fields[df.fieldname] = df
	for fieldname, label in STANDARD.items():
		if fieldname != "docstatus" or meta.is_submittable:
			fields[fieldname] = label
	return fields


def _readable_levels(meta, user: str) -> set[int]:
	return set(meta.get_permlevel_access("read", user=user)) | {0}


def _label(field) -> str:
	return _(field) if isinstance(field, str) else _(field.label or field.fieldname)


def check(meta, values: dict, user: str) -> dict:
	unknown = set(values) - {"fields", "file_type"}
	if unknown:
		frappe.throw(_("Export takes fields and file_type, not {0}.").format(", ".join(sorted(unknown))))
	file_type = values.get("file_type") or "CSV"
	if file_type not in FILE_TYPES:
		frappe.throw(_("file_type must be CSV or Excel."))
	allowed = exportable(meta, user)
	fields = values.get("fields")
	if isinstance(fields, str):
		fields = [f.strip() for f in fields.split(",") if f.strip()]
	if fields in (None, []):
		fields = [f for f in allowed if f not in STANDARD]
	if not isinstance(fields, list) or not all(isinstance(f, str) and f for f in fields):
		frappe.throw(_('fields must be a list of field names, like ["status", "amount"].'))
	fields = [f for f in dict.fromkeys(fields) if f != "name"]
	if len(fields) > MAX_FIELDS:
		frappe.throw(_("At most {0} fields at a time.").format(MAX_FIELDS))
	for fieldname in fields:
		if fieldname in allowed:
			continue
		df = meta.get_field(fieldname)
		if df and df.fieldtype in (*table_fields, "Password"):
			why = _("{0} is a {1} field, which Export leaves out.").format(_(df.label), _(df.fieldtype))
		elif df and (df.permlevel or 0) not in _readable_levels(meta, user):
			why = _("You may not read {0} (permission level {1}).").format(_(df.label), df.permlevel)
			frappe.throw(why, frappe.PermissionError)
		else:
			why = _("{0} has no field {1} to export.").format(_(meta.name), frappe.bold(fieldname))
		frappe.throw(why)
	return {"fields": fields, "file_type": file_type}


def _check_still_readable(meta, fields: list[str]) -> None:
	"""A role lost since the job started: its fields are not exported, the records fail."""
	readable = _readable_levels(meta, frappe.session.user)
	for fieldname in fields:
		df = meta.get_field(fieldname)
		if df and (df.permlevel or 0) not in readable:
			frappe.throw(
				_("You may not read {0} (permission level {1}) any more.").format(_(df.label), df.permlevel),
				frappe.PermissionError,
			)


def apply_batch(doctype: str, names: list[str], values: dict, user: str):
	"""The rows of ``names`` as the requester may read them; records they cannot read (or that are
	gone) fail."""
	fields = values["fields"]
	if not frappe.has_permission(doctype, "export"):
		# The role that gave it was lost: records go one at a time and fail with the reason.
		frappe.throw(_("No permission to export {0}").format(_(doctype)), frappe.PermissionError)
	_check_still_readable(frappe.get_meta(doctype), fields)
	rows = frappe.get_list(
		doctype,
		fields=["name", *fields],
		filters=[["name", "in", names]],
		limit=len(names),
		order_by=None,
	)
	pieces = {row.name: _row(row, fields) for row in rows}
	missing = [n for n in names if n not in pieces]
	failed = {}
	if missing:
		existing = set(frappe.get_all(doctype, filters={"name": ("in", missing)}, pluck="name"))
		for name in missing:
			failed[name] = (
				("PermissionError", _("No permission to read {0} {1}").format(_(doctype), name))
				if name in existing
				else ("DoesNotExistError", _("{0} {1} not found").format(_(doctype), name))
			)
	return failed, pieces


def apply(doc, values: dict) -> list:
	"""One record's row (when its batch failed and records go one at a time)."""
	_check_still_readable(doc.meta, values["fields"])
	rows = frappe.get_list(
		doc.doctype,
		fields=["name", *values["fields"]],
		filters=[["name", "=", doc.name]],
		limit=1,
	)
	if not rows:
		frappe.throw(
			_("No permission to read {0} {1}").format(_(doc.doctype), doc.name), frappe.PermissionError
		)
	return _row(rows[0], values["fields"])


def _row(row: dict, fields: list[str]) -> list:
	"""The ID, then the fields in the order asked (by name: a field Frappe leaves out reads empty)."""
	return [row["name"], *(row.get(f) for f in fields)]


def preview(doc, values: dict) -> list[dict]:
	"""What a dry run shows: the record's row, as the file will have it."""
	row = apply(doc, values)
	meta = doc.meta
	return [
		{"field": f, "label": _label(meta.get_field(f) or STANDARD.get(f, f)), "old": None, "new": v}
		for f, v in zip(values["fields"], row[1:], strict=False)
	]


def form(meta, user: str, selection: dict) -> list[dict]:
	allowed = exportable(meta, user)
	listed = {df.fieldname for df in meta.fields if df.in_list_view or df.in_standard_filter}
	if meta.title_field:
		listed.add(meta.title_field)
	return [
		{
			"fieldtype": "Select",
			"fieldname": "file_type",
			"label": _("File Type"),
			"options": list(FILE_TYPES),
			"default": "CSV",
		},
		{
			"fieldtype": "MultiCheck",
			"fieldname": "fields",
			"label": _("Fields"),
			"columns": 2,
			"select_all": True,
			"options": [
				{"label": _label(field), "value": fieldname, "checked": int(fieldname in listed)}
				for fieldname, field in allowed.items()
			],
			"description": _("The ID is always the first column. Only fields you may read are listed."),
		},
	]


def output(meta, values: dict) -> Spec:
	labels = [_("ID")]
	for fieldname in values["fields"]:
		field = meta.get_field(fieldname) or STANDARD.get(fieldname, fieldname)
		labels.append(_label(field))
	return Spec(FILE_TYPES[values["file_type"]], tuple(labels))


ACTION = Action(
	"export",
	"export",
	apply,
	label="Export",
	apply_batch=apply_batch,
	check=check,
	preview=preview,
	form=form,
	output=output,
)
