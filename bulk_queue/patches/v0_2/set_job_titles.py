# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Give jobs recorded before titles existed their title and action label ("Set Value on 1,000 ToDo")."""

import frappe

from bulk_queue.actions import get_actions


def execute():
	actions = get_actions()
	for job in frappe.get_all(
		"Bulk Queue Job",
		filters={"title": ("is", "not set")},
		fields=["name", "action", "reference_doctype", "total"],
	):
		action = actions.get(job.action)
		label = action.label if action else job.action
		frappe.db.set_value(
			"Bulk Queue Job",
			job.name,
			{
				"title": f"{label} on {frappe.format_value(job.total, {'fieldtype': 'Int'})} {job.reference_doctype}",
				"action_label": label,
			},
			update_modified=False,
		)
