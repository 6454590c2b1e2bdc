# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Jobs that ended before completion handling existed are not to be announced now."""

import frappe


def execute():
	frappe.db.sql(
		"""update `tabBulk Queue Job` set notified=1
		where status in ('Completed', 'Completed with Errors', 'Failed', 'Cancelled')"""
	)
