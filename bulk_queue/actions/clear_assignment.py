# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Clear Assignment: each record's assignments cancelled through Frappe's own ``assign_to`` (the
ToDos cancelled, ``_assign`` and an ``assigned_to`` field cleared, the assignees notified), as Desk's
list action does.

Values: none (every open assignment), or ``{"assign_to": [users]}``: only theirs. A record with
nothing to clear is left as is, not a failure. Needs ``write`` on the records.
"""

from __future__ import annotations

import frappe
from frappe import _

from bulk_queue.actions.assign_to import users_field, users_of
from bulk_queue.actions.base import Action, assignment_keys


def check(meta, values: dict, user: str) -> dict:
	if set(values) - {"assign_to"}:
		frappe.throw(_("Clear Assignment takes only assign_to (the users whose assignments to clear)."))
	users = users_of(values, required=False)
	return {"assign_to": users} if users else {}


def apply(doc, values: dict) -> None:
	"""Cancel the record's open assignments (of ``assign_to`` only, when given) one by one through
	Frappe's ``set_status``, as Desk's Clear Assignment does (without its five-per-record limit); a
	cancelled or closed ToDo is left as it is, so running it again changes and notifies nothing."""
	from frappe.desk.form import assign_to

	users = values.get("assign_to")
	filters = {
		"reference_type": doc.doctype,
		"reference_name": doc.name,
		"status": ("not in", ("Cancelled", "Closed")),
	}
	if users:
		filters["allocated_to"] = ("in", users)
	for todo in frappe.get_all("ToDo", filters=filters, fields=["name", "allocated_to"], order_by="creation"):
		assign_to.set_status(
			doc.doctype, doc.name, todo=todo.name, assign_to=todo.allocated_to, status="Cancelled"
		)


def form(meta, user: str, selection: dict) -> list[dict]:
	return [
		users_field(
			_("Only Of"), reqd=False, description=_("Empty: every assignment of each record is cleared.")
		)
	]


ACTION = Action(
	"clear_assignment",
	"write",
	apply,
	label="Clear Assignment",
	check=check,
	form=form,
	shows=("_assign",),
	undo_keys=assignment_keys,
)
