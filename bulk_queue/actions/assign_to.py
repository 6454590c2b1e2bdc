# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Assign To: users assigned to each record through Frappe's own ``assign_to.add``, so the ToDos,
``_assign``, sharing with an assignee who cannot read the record, following and notifications are
exactly what one assignment from the form makes. Someone already assigned (an open ToDo) is left as is:
not a failure, nothing created twice.

Values: ``{"assign_to": ["user@example.com"], "date": "2026-12-31", "priority": "Medium",
"description": "..."}``; only ``assign_to`` is required. Needs ``write`` on the records, as Desk's
own list action.
"""

from __future__ import annotations

import frappe
from frappe import _

from bulk_queue.actions.base import Action, assignment_keys

MAX_USERS = 50
PRIORITIES = ("Low", "Medium", "High")


def users_of(values: dict, *, required: bool) -> list[str]:
	"""The ``assign_to`` users of ``values``, checked: a list (or a comma separated string) of enabled
	users, at most ``MAX_USERS``."""
	users = values.get("assign_to")
	if isinstance(users, str):
		users = [u.strip() for u in users.split(",") if u.strip()]
	if users in (None, []) and not required:
		return []
	if not isinstance(users, list) or not users or not all(isinstance(u, str) and u for u in users):
		frappe.throw(_('assign_to must be a list of users, like ["jane@example.com"].'))
	users = list(dict.fromkeys(users))
	if len(users) > MAX_USERS:
		frappe.throw(_("At most {0} users at a time.").format(MAX_USERS))
	enabled = set(frappe.get_all("User", filters={"name": ("in", users), "enabled": 1}, pluck="name"))
	missing = [u for u in users if u not in enabled]
	if missing:
		frappe.throw(
			_("No enabled user {0}.").format(", ".join(frappe.bold(u) for u in missing)),
			frappe.DoesNotExistError,
		)
	return users


def check(meta, values: dict, user: str) -> dict:
	unknown = set(values) - {"assign_to", "date", "priority", "description"}
	if unknown:
		frappe.throw(
			_("Assign To takes assign_to, date, priority and description, not {0}.").format(
				", ".join(sorted(unknown))
			)
		)
	checked = {"assign_to": users_of(values, required=True)}
	if values.get("date"):
		try:
			checked["date"] = str(frappe.utils.getdate(values["date"]))
		except Exception:
			frappe.throw(_("date must be a date, like 2026-12-31."))
	if values.get("priority"):
		if values["priority"] not in PRIORITIES:
			frappe.throw(_("priority must be one of {0}.").format(", ".join(PRIORITIES)))
		checked["priority"] = values["priority"]
	if values.get("description"):
		if not isinstance(values["description"], str) or len(values["description"]) > 5_000:
			frappe.throw(_("description must be a text of at most 5,000 characters."))
		checked["description"] = values["description"]
	return checked


def apply(doc, values: dict) -> None:
	from frappe.desk.form import assign_to

	assign_to.add({**values, "doctype": doc.doctype, "name": doc.name})


def form(meta, user: str, selection: dict) -> list[dict]:
	return [
		users_field(
			_("Assign To"),
			reqd=True,
			description=_("Someone already assigned to a record stays assigned once."),
		),
		{"fieldtype": "Date", "fieldname": "date", "label": _("Complete By")},
		{
			"fieldtype": "Select",
			"fieldname": "priority",
			"label": _("Priority"),
			"options": list(PRIORITIES),
			"default": "Medium",
		},
		{"fieldtype": "Small Text", "fieldname": "description", "label": _("Comment")},
	]


def users_field(label: str, *, reqd: bool, description: str) -> dict:
	"""The dialog's field of users to assign (or whose assignments to clear): enabled System Users."""
	return {
		"fieldtype": "MultiSelectPills",
		"fieldname": "assign_to",
		"label": label,
		"options": "User",
		"link_filters": {"enabled": 1, "user_type": "System User"},
		"reqd": int(reqd),
		"description": description,
	}


ACTION = Action(
	"assign_to",
	"write",
	apply,
	label="Assign To",
	check=check,
	form=form,
	shows=("_assign",),
	undo_keys=assignment_keys,
)
