# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Apply Assignment Rule: the DocType's Assignment Rules applied to each record through Frappe's own
``assignment_rule.apply`` (unassign, assign by round robin, load balancing or a field, close), in
chunks - where Desk's list action puts one background job per document on the queue.

Values: none. Offered on DocTypes with an enabled Assignment Rule. Needs ``write`` on the records.
"""

from __future__ import annotations

import frappe
from frappe import _

from bulk_queue.actions.base import Action


def offered_on(user: str) -> set[str]:
	"""DocTypes with an enabled Assignment Rule."""
	return set(frappe.get_all("Assignment Rule", filters={"disabled": 0}, pluck="document_type"))


def unavailable(meta, user: str) -> str:
	return _("{0} has no enabled Assignment Rule.").format(_(meta.name))


def check(meta, values: dict, user: str) -> dict:
	if values:
		frappe.throw(_("Apply Assignment Rule takes no values."))
	return {}


def apply(doc, values: dict) -> None:
	from frappe.automation.doctype.assignment_rule.assignment_rule import apply as apply_rules

	apply_rules(doc=doc)


ACTION = Action(
	"apply_assignment_rule",
	"write",
	apply,
	label="Apply Assignment Rule",
	check=check,
	offered_on=offered_on,
	unavailable=unavailable,
	shows=("_assign",),
)
