# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Delete: each record deleted through Frappe's ``delete_doc`` (permission, links, ``on_trash``).

A dry run does not run it: ``delete_doc`` removes attached files from disk at once, which no rollback
brings back. ``preview`` says instead what it would delete and what would stop it."""

from __future__ import annotations

import frappe
from frappe import _

from bulk_queue.actions.base import Action
from bulk_queue.fields import tree_structure_fields


def apply(doc, values: dict) -> None:
	frappe.delete_doc(doc.doctype, doc.name, ignore_missing=False)


def preview(doc, values: dict) -> list[dict]:
	"""What Delete would do to ``doc``, without running it (``delete_doc`` removes attached files from
	disk at once, which no rollback brings back): Frappe's own checks first - permission, not submitted,
	not linked from other records (raising as Delete would) - then what would be deleted: the record,
	its child rows, its attachments with their files. The controller's ``on_trash`` is not run."""
	from frappe.model.delete_doc import (
		check_if_doc_is_dynamically_linked,
		check_if_doc_is_linked,
		check_permission_and_not_submitted,
	)

	check_permission_and_not_submitted(doc)
	tree = tree_structure_fields(doc.meta)
	if tree:
		# NestedSet.on_trash: a group with children cannot go.
		parent_field = next(f for f in tree if f not in ("lft", "rgt", "old_parent", "is_group"))
		if frappe.db.count(doc.doctype, {parent_field: doc.name}):
			frappe.throw(_("Cannot delete {0} as it has child nodes").format(doc.name))
	try:
		check_if_doc_is_linked(doc)
		check_if_doc_is_dynamically_linked(doc)
	except frappe.LinkExistsError:
		if doc.meta.has_field("enabled") or doc.meta.has_field("disabled"):
			frappe.throw(
				_("You can disable this {0} instead of deleting it.").format(_(doc.doctype)),
				frappe.LinkExistsError,
			)
		raise
	deleted = _("(deleted)")
	changes = [{"field": "name", "label": _("Record"), "old": doc.name, "new": deleted}]
	for df in doc.meta.get_table_fields():
		if doc.get(df.fieldname):
			changes.append(
				{
					"field": df.fieldname,
					"label": _(df.label),
					"old": _("{0} rows").format(len(doc.get(df.fieldname))),
					"new": deleted,
				}
			)
	files = frappe.get_all(
		"File",
		filters={"attached_to_doctype": doc.doctype, "attached_to_name": doc.name, "is_folder": 0},
		fields=["name", "file_name", "is_private", "content_hash"],
		order_by="creation",
	)
	if files:
		changes.append(
			{
				"field": "_attachments",
				"label": _("Attachments"),
				"old": ", ".join(_describe_file(f) for f in files),
				"new": _("(deleted)"),
			}
		)
	return changes


def _describe_file(file: frappe._dict) -> str:
	"""An attachment as Delete would treat it: its content goes from disk with it, unless another File
	shares that content (``File._delete_file_on_disk``)."""
	where = _("private") if file.is_private else _("public")
	shared = file.content_hash and frappe.db.exists(
		"File", {"content_hash": file.content_hash, "name": ("!=", file.name)}
	)
	if shared:
		return _("{0} ({1}; its content stays on disk: another file shares it)").format(file.file_name, where)
	return f"{file.file_name} ({where})"


ACTION = Action("delete", "delete", apply, label="Delete", preview=preview)
