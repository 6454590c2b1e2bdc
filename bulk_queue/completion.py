# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""What happens once when a bulk job ends: the requester is told, and apps' hooks are called.

Apps react in their ``hooks.py``; each hook gets the Bulk Queue Job document::

        bulk_queue_on_complete = [
            "my_app.bulk.on_end"
        ]  # every end: Completed, with errors, Failed, Cancelled
        bulk_queue_on_success = ["my_app.bulk.on_success"]  # Completed: every record succeeded
        bulk_queue_on_failure = ["my_app.bulk.on_failure"]  # Completed with Errors or Failed

Hooks run after the commit that ended the job, once per job (a Retry Failed that runs the job again
ends it again). A hook that raises is rolled back and logged (Error Log, linked to the job); it never
changes the job's outcome nor stops the other hooks.
"""

from __future__ import annotations

import frappe
from frappe import _

JOB = "Bulk Queue Job"
FINAL = ("Completed", "Completed with Errors", "Failed", "Cancelled")


def after_end(bulk_job: str) -> None:
	"""Call after the commit that gave the job its final status (any process, any number of times):
	exactly one call does the work. Should the process that ended the job die before that, recovery's
	sweep (``sweep``) does it a minute later."""
	status = _claim(bulk_job)
	if not status:
		return
	job = frappe.get_doc(JOB, bulk_job)
	job.status = status  # as it ended, whatever a Retry Failed did since
	_notify(job)
	for method in hooks_for(status):
		try:
			frappe.get_attr(method)(job)
			frappe.db.commit()
		except Exception:
			frappe.db.rollback()
			frappe.log_error(
				title=f"bulk_queue completion hook {method}", reference_doctype=JOB, reference_name=bulk_job
			)
			frappe.db.commit()


def hooks_for(status: str) -> list[str]:
	"""The hook methods to call for a job that ended with ``status``, in order."""
	methods = list(frappe.get_hooks("bulk_queue_on_complete") or [])
	if status == "Completed":
		methods += frappe.get_hooks("bulk_queue_on_success") or []
	elif status in ("Completed with Errors", "Failed"):
		methods += frappe.get_hooks("bulk_queue_on_failure") or []
	return methods


def sweep(older_than: int = 60) -> int:
	"""Handle the ends nobody handled (the process that ended the job died first); from recovery."""
	names = frappe.db.sql_list(
		f"""select name from `tab{JOB}` where notified=0 and status in %s
		and ended_at < now() - interval %s second""",
		(FINAL, older_than),
	)
	for name in names:
		after_end(name)
	return len(names)


def _claim(bulk_job: str) -> str | None:
	"""Mark the job's end as handled; return its final status, or None when it is not ended or was
	handled already."""
	frappe.db.rollback()
	row = frappe.db.sql(
		f"select status, notified from `tab{JOB}` where name=%s for update", bulk_job, as_dict=True
	)
	if not row or row[0].notified or row[0].status not in FINAL:
		frappe.db.rollback()
		return None
	frappe.db.sql(f"update `tab{JOB}` set notified=1 where name=%s", bulk_job)
	frappe.db.commit()
	return row[0].status


def _notify(job) -> None:
	"""A Notification Log for the requester (the bell in Desk), and an email if they asked for one.
	A job they cancelled needs no news. Neither can change the job's outcome: failures are logged."""
	if not job.user or job.user == "Guest" or job.status == "Cancelled":
		return
	subject = _("{0}: {1} - {2}").format(job.name, _(job.status), job.title or "")
	counts = _("{0} of {1} records succeeded, {2} failed.").format(
		frappe.format_value(job.succeeded, {"fieldtype": "Int"}),
		frappe.format_value(job.total, {"fieldtype": "Int"}),
		frappe.format_value(job.failed, {"fieldtype": "Int"}),
	)
	try:
		frappe.get_doc(
			{
				"doctype": "Notification Log",
				"for_user": job.user,
				"type": "Alert",
				"document_type": JOB,
				"document_name": job.name,
				"subject": f"{subject} - {counts}",
				"email_content": counts,
			}
		).insert(ignore_permissions=True)
		frappe.db.commit()
	except Exception:
		frappe.db.rollback()
		frappe.log_error(title="bulk_queue: could not notify", reference_doctype=JOB, reference_name=job.name)
		frappe.db.commit()
	if not job.email_on_finish:
		return
	try:
		email = frappe.db.get_value("User", job.user, "email")
		if email:
			frappe.sendmail(
				recipients=[email],
				subject=subject,
				message=f"<p>{counts}</p><p><a href='{frappe.utils.get_url_to_form(JOB, job.name)}'>"
				f"{_('Open {0}').format(job.name)}</a></p>",
				reference_doctype=JOB,
				reference_name=job.name,
			)
		frappe.db.commit()
	except Exception:
		frappe.db.rollback()
		frappe.log_error(title="bulk_queue: could not email", reference_doctype=JOB, reference_name=job.name)
		frappe.db.commit()
