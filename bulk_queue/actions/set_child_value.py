# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Set Child Value: change the rows of a child table that match a condition, in every record, through
the record's own ``save()`` - so its validations, totals and hooks run as when the rows are edited on
the form (Frappe's bulk edit changes only a record's own fields).

Values::

        {"table": "items", "where": {"item_group": "Raw Material"}, "set": {"warehouse": "Stores - A"}}

- ``where``: the rows to change, ``{field: value}`` or ``{field: [operator, value]}`` with Frappe's
  filter operators (``=``, ``!=``, ``>``, ``<``, ``>=``, ``<=``, ``in``, ``not in``, ``like``,
  ``not like``, ``is`` "set"/"not set"); every condition must hold. Empty or left out: every row.
- ``set``: the fields to set on each matching row; or ``"remove": true`` to remove the matching rows.
- ``add``: a new row's values, appended to every record (with or without ``set`` / ``remove``).

A record with no matching row (and nothing to add), or whose matching rows already have the values, is
left as is (``Skipped``), not failed. Child fields follow the record's permlevels (as a save checks
them), and Link values the requester's User Permissions.
"""

from __future__ import annotations

import frappe
from frappe import _
from frappe.model import table_fields

from bulk_queue import fields
from bulk_queue.actions.base import Action, Skipped

KEYS = frozenset({"table", "where", "set", "remove", "add"})
OPERATORS = ("=", "!=", ">", "<", ">=", "<=", "in", "not in", "like", "not like", "is")


def _table(meta, fieldname, user: str):
	"""The Table field ``fieldname`` of ``meta``, if ``user`` may change its rows."""
	df = meta.get_field(fieldname) if isinstance(fieldname, str) else None
	if not df or df.fieldtype not in table_fields:
		tables = ", ".join(t.fieldname for t in _tables(meta, user)) or _("none")
		frappe.throw(
			_("{0} is not a child table of {1}. Its tables: {2}").format(
				frappe.bold(str(fieldname)), _(meta.name), tables
			),
			title=_("Invalid Values"),
		)
	if df.read_only or df.get("is_virtual"):
		frappe.throw(
			_("The rows of {0} cannot be edited: the table is read-only.").format(frappe.bold(_(df.label)))
		)
	if (df.permlevel or 0) not in meta.get_permlevel_access("write", user=user):
		frappe.throw(
			_("You do not have permission to change the rows of {0}.").format(frappe.bold(_(df.label))),
			frappe.PermissionError,
		)
	return df


def _tables(meta, user: str) -> list:
	writable = meta.get_permlevel_access("write", user=user)
	return [
		df
		for df in meta.get_table_fields()
		if not df.read_only and not df.hidden and (df.permlevel or 0) in writable
	]


def _conditions(child, where, readable: set[int]) -> list[tuple[str, str, object]]:
	"""``where`` as (field, operator, value) triples, each field a readable one of the child DocType."""
	if where in (None, ""):
		return []
	if not isinstance(where, dict):
		frappe.throw(_('where must be an object of field names and values, like {"item_group": "X"}.'))
	conditions = []
	for fieldname, condition in where.items():
		df = child.get_field(fieldname)
		if not df or df.fieldtype in table_fields or (df.permlevel or 0) not in readable:
			frappe.throw(
				_("{0} is not a field of {1} a condition can use.").format(
					frappe.bold(str(fieldname)), _(child.name)
				)
			)
		operator, value = "=", condition
		if isinstance(condition, list | tuple):
			if len(condition) != 2 or condition[0] not in OPERATORS:
				frappe.throw(
					_("The condition on {0} must be a value or [operator, value] with one of {1}.").format(
						frappe.bold(fieldname), ", ".join(OPERATORS)
					)
				)
			operator, value = condition
		if operator in ("in", "not in") and not isinstance(value, list | tuple):
			frappe.throw(_("{0} needs a list of values.").format(operator))
		if operator == "is" and value not in ("set", "not set"):
			frappe.throw(_('The operator "is" takes "set" or "not set".'))
		if operator != "is" and isinstance(value, dict | list | tuple) and operator not in ("in", "not in"):
			frappe.throw(_("The condition on {0} must be a single value.").format(frappe.bold(fieldname)))
		conditions.append((fieldname, operator, value))
	return conditions


def check(meta, values: dict, user: str) -> dict:
	"""The table, its condition and its changes, checked for ``user`` once per job."""
	unknown = set(values) - KEYS
	if unknown:
		frappe.throw(
			_("Set Child Value takes only table, where, set, remove and add; not {0}.").format(
				", ".join(sorted(map(str, unknown)))
			)
		)
	df = _table(meta, values.get("table"), user)
	child = frappe.get_meta(df.options)
	readable = set(meta.get_permlevel_access("read", user=user)) | {0}
	_conditions(child, values.get("where"), readable)
	checked = {"table": df.fieldname, "where": values.get("where") or {}}
	changes = values.get("set")
	remove = values.get("remove")
	add = values.get("add")
	if remove not in (None, False, 0, True, 1):
		frappe.throw(_("remove must be true or false."))
	if changes and remove:
		frappe.throw(_("Either set values on the matching rows or remove them, not both."))
	for key, given in (("set", changes), ("add", add)):
		if given in (None, {}):
			continue
		if not isinstance(given, dict):
			frappe.throw(_("{0} must be an object of field names and values.").format(key))
		secret = next((f for f in given if (df := child.get_field(f)) and df.fieldtype == "Password"), None)
		if secret:
			# A job's values are shown on its form: a child row's password would be kept in clear.
			frappe.throw(_("{0} is a Password field: it is not set in bulk.").format(frappe.bold(secret)))
		fields.check_values(child, given, user, parent=meta)
		checked[key] = given
	if remove:
		checked["remove"] = True
	if not (checked.get("set") or remove or checked.get("add")):
		frappe.throw(
			_("Set Child Value needs set (values for the matching rows), remove, or add (a new row).")
		)
	return checked


def matches(row, conditions: list[tuple[str, str, object]], child) -> bool:
	"""Whether a child row meets every condition (compared as Frappe's filters compare, by fieldtype)."""
	from frappe.utils.data import compare

	for fieldname, operator, value in conditions:
		df = child.get_field(fieldname)
		fieldtype = None if operator in ("in", "not in", "is", "like", "not like") else df.fieldtype
		current = row.get(fieldname)
		if operator in ("like", "not like"):
			current, value = str(current or ""), str(value or "")
		try:
			if not compare(current, operator, value, fieldtype):
				return False
		except TypeError:  # an empty cell of a type Frappe does not cast, compared with > or <
			return False
	return True


def apply(doc, values: dict) -> None:
	table = values["table"]
	child = frappe.get_meta(doc.meta.get_field(table).options)
	conditions = _conditions(child, values.get("where"), _all_levels())
	rows = [row for row in doc.get(table) or [] if matches(row, conditions, child)]
	changed = False
	if values.get("remove"):
		for row in rows:
			doc.remove(row)
		changed = bool(rows)
	elif values.get("set"):
		for row in rows:
			for fieldname, value in values["set"].items():
				if value in (None, ""):
					# Cleared (Frappe would cast an empty Date to today)
					if row.get(fieldname) not in (None, ""):
						row.set(fieldname, None)
						changed = True
					continue
				new = row.cast(value, child.get_field(fieldname))
				if row.get(fieldname) != new:
					row.set(fieldname, new)
					changed = True
	if values.get("add"):
		doc.append(table, dict(values["add"]))
		changed = True
	if not changed:
		label = _(doc.meta.get_field(table).label or table)
		if not rows:
			raise Skipped(_("No row of {0} matches.").format(label))
		raise Skipped(_("Every matching row of {0} already has these values.").format(label))
	doc.save()


def _all_levels() -> set[int]:
	# Conditions were checked against the requester's permlevels at enqueue.
	return set(range(10))


def form(meta, user: str, selection: dict) -> list[dict]:
	"""The dialog's fields: the table, what to do with its rows, one condition and one value, each
	value with the child field's own control (``public/js/child_rows.js`` swaps them as fields are
	chosen). ``tables`` carries each table's fields."""
	tables = {}
	readable = set(meta.get_permlevel_access("read", user=user)) | {0}
	for df in _tables(meta, user):
		child = frappe.get_meta(df.options)
		settable = fields.settable_fields(child, user, parent=meta)
		matchable = [
			{"fieldname": f.fieldname, "label": _(f.label or f.fieldname), "fieldtype": f.fieldtype,
			 "options": f.options}
			for f in child.fields
			if f.fieldname
			and f.fieldtype not in table_fields
			and f.fieldtype not in ("Section Break", "Column Break", "Tab Break", "HTML", "Button", "Fold",
									"Heading", "Image", "Password")
			and (f.permlevel or 0) in readable
			and not f.hidden
		]  # fmt: skip
		if settable:
			tables[df.fieldname] = {
				"label": _(df.label or df.fieldname),
				"doctype": df.options,
				"settable": settable,
				"matchable": sorted(matchable, key=lambda f: f["label"].lower()),
			}
	options = [{"value": name, "label": f"{t['label']} ({_(t['doctype'])})"} for name, t in tables.items()]
	return [
		{
			"fieldtype": "Select",
			"fieldname": "table",
			"label": _("Table"),
			"options": options,
			"default": options[0]["value"] if options else None,
			"reqd": 1,
			"tables": tables,
			"description": None if options else _("You may not edit the rows of any table of this DocType."),
		},
		{
			"fieldtype": "Select",
			"fieldname": "mode",
			"label": _("Do"),
			"options": [
				{"value": "set", "label": _("Set a field on the matching rows")},
				{"value": "remove", "label": _("Remove the matching rows")},
				{"value": "add", "label": _("Add a row")},
			],
			"default": "set",
			"reqd": 1,
		},
		{"fieldtype": "Select", "fieldname": "where_field", "label": _("Rows where")},
		{"fieldtype": "Data", "fieldname": "where_value", "label": _("is")},
		{"fieldtype": "Select", "fieldname": "set_field", "label": _("Field")},
		{"fieldtype": "Data", "fieldname": "set_value", "label": _("New Value")},
	]


ACTION = Action(
	"set_child_value",
	"write",
	apply,
	label="Set Child Value",
	check=check,
	form=form,
)
