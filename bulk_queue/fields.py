# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Which fields a bulk Set Value may touch, for which user.

The API refuses anything outside ``check_values``; the Desk dialog offers ``settable_fields``, the
subset a person edits by hand (visible, editable value fields), like Desk's own bulk edit.
"""

from __future__ import annotations

import frappe
import frappe.share
from frappe import _
from frappe.model import child_table_fields, default_fields, no_value_fields, table_fields

# Fields a bulk set_value may never touch: identity, audit trail and document state.
PROTECTED_FIELDS = frozenset(
	{
		*default_fields,
		"amended_from",
		"naming_series",
		"_user_tags",
		"_comments",
		"_assign",
		"_liked_by",
		"_seen",
	}
)

# Properties of a field copied to the dialog so its Value control behaves like the form's.
_DIALOG_PROPERTIES = ("fieldname", "label", "fieldtype", "options", "precision", "length", "reqd")


def check_values(meta, values: dict, user: str, parent=None) -> None:
	"""Throw a clear error unless every field in ``values`` may be set in bulk by ``user``.

	``parent``: for a child DocType's fields, the meta of the DocType whose table holds them - its
	permissions decide, as Frappe's save does for child rows."""
	writable_levels = (parent or meta).get_permlevel_access("write", user=user)
	for fieldname in values:
		df = meta.get_field(fieldname) if isinstance(fieldname, str) else None
		if not df or fieldname in PROTECTED_FIELDS or fieldname in child_table_fields or df.get("is_virtual"):
			frappe.throw(
				_("{0} is not a field that can be set on {1}.").format(
					frappe.bold(str(fieldname)), _(meta.name)
				)
			)
		if df.fieldtype in table_fields or df.fieldtype in no_value_fields:
			frappe.throw(
				_("Field {0} ({1}) cannot be set in bulk.").format(frappe.bold(fieldname), _(df.fieldtype))
			)
		if df.permlevel and df.permlevel not in writable_levels:
			frappe.throw(
				_("You do not have permission to change field {0}.").format(frappe.bold(fieldname)),
				frappe.PermissionError,
			)
	check_link_values(meta, values, user, parent)


def check_link_values(meta, values: dict, user: str, parent=None) -> None:
	"""Refuse (403) a Link value the user's User Permissions do not allow on ``meta``'s DocType.

	A save checks the record with its new values (``check_permission`` runs after ``doc.update``),
	so it would refuse every record: say so once, naming the field and the value, before a job exists.
	Not for a user whose role has "if owner" write permission, nor one with records of the DocType
	shared with them for writing: Frappe then lets them keep writing those records, so each record is
	decided in the worker.
	"""
	from frappe.core.doctype.user_permission.user_permission import get_user_permissions
	from frappe.permissions import get_allowed_docs_for_doctype, get_role_permissions

	if user == "Administrator":
		return
	user_permissions = get_user_permissions(user)
	if not user_permissions:
		return
	record_meta = parent or meta  # a child row is checked as part of its parent
	if get_role_permissions(record_meta, user=user, is_owner=True).get("if_owner", {}).get("write"):
		return
	if frappe.share.get_shared(record_meta.name, user, rights=["write"], limit=1):
		return
	strict = frappe.get_system_settings("apply_strict_user_permissions")
	for fieldname, value in values.items():
		df = meta.get_field(fieldname)
		if df.fieldtype != "Link" or df.ignore_user_permissions or df.options not in user_permissions:
			continue
		if not value and not strict:
			continue
		allowed = get_allowed_docs_for_doctype(user_permissions[df.options], record_meta.name)
		if allowed and value not in allowed:
			frappe.throw(
				_(
					"You may not set {0} to {1} {2}: your User Permissions on {1} do not include it, so saving {3} records with it is not permitted."
				).format(
					frappe.bold(_(df.label or fieldname)),
					_(df.options),
					frappe.bold(value or _("empty")),
					_(record_meta.name),
				),
				frappe.PermissionError,
				title=_("Not Permitted"),
			)


def settable_fields(meta, user: str, parent=None) -> list[dict]:
	"""Fields ``user`` may set in bulk from Desk, sorted by label, with what the Value control needs
	(``parent``: as in ``check_values``)."""
	writable_levels = (parent or meta).get_permlevel_access("write", user=user)
	fields = []
	for df in meta.fields:
		if (
			not df.fieldname
			or df.fieldname in PROTECTED_FIELDS
			or df.fieldname in child_table_fields
			or df.fieldtype in table_fields
			or df.fieldtype in no_value_fields
			or df.fieldtype == "Read Only"
			or df.hidden
			or df.read_only
			or df.get("is_virtual")
			or (df.permlevel or 0) not in writable_levels
		):
			continue
		field = {key: df.get(key) for key in _DIALOG_PROPERTIES}
		field["label"] = _(df.label or df.fieldname)
		fields.append(field)
	return sorted(fields, key=lambda f: f["label"].lower())


def tree_structure_fields(meta) -> set[str]:
	"""The fields that hold a nested set's structure, as Frappe finds it: a DocType with ``lft`` and
	``rgt`` (``Meta.is_nested_set``; not only those marked "Is Tree" - ERPNext's Employee is a tree on
	``reports_to``), its parent field from the controller (``nsm_parent_field``), the DocType, or
	Frappe's default ``parent_<doctype>``, and ``old_parent``, ``is_group``."""
	from frappe.model.base_document import get_controller

	if not (meta.get("is_tree") or meta.is_nested_set()):
		return set()
	parent_field = (
		getattr(get_controller(meta.name), "nsm_parent_field", None)
		or meta.get("nsm_parent_field")
		or "parent_" + frappe.scrub(meta.name)
	)
	return {"lft", "rgt", "old_parent", "is_group", parent_field}
