# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Failures recorded before errors were grouped: one Bulk Queue Error per job, exception type and
message (their tracebacks stay on their rows), so the job form and the commands list them grouped too.
A job at a time, committing after each."""

import frappe

KEY = "concat(bulk_job, '-', left(sha1(concat(coalesce(exception_type, ''), '\\x1f', coalesce(error, ''))), 16))"


def execute():
	jobs = frappe.db.sql_list(
		"select distinct bulk_job from `tabBulk Queue Failure` where error_group is null or error_group = ''"
	)
	for bulk_job in jobs:
		frappe.db.sql(
			f"""insert ignore into `tabBulk Queue Error` (name, creation, modified, owner, modified_by,
				bulk_job, exception_type, message, example, example_record, traceback, failures)
			select {KEY}, min(creation), max(modified), min(owner), min(owner), bulk_job, exception_type,
				left(error, 500), left(error, 500), min(reference_name), max(traceback), sum(retried = 0)
			from `tabBulk Queue Failure` where bulk_job = %s and (error_group is null or error_group = '')
			group by bulk_job, exception_type, error""",
			bulk_job,
		)
		frappe.db.sql(
			f"""update `tabBulk Queue Failure` set error_group = {KEY}
			where bulk_job = %s and (error_group is null or error_group = '')""",
			bulk_job,
		)
		frappe.db.commit()
