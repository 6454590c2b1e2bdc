# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Install and uninstall steps: register log clearing, and leave nothing behind on uninstall."""

import frappe

from bulk_queue import settings

DOCTYPES = ("Bulk Queue Job", "Bulk Queue Chunk", "Bulk Queue Failure", "Bulk Queue Error")


def after_install() -> None:
	"""Register Bulk Queue Job in Log Settings, so finished jobs are cleared after 90 days."""
	settings = frappe.get_single("Log Settings")
	settings.add_default_logtypes()
	settings.save(ignore_permissions=True)


def before_uninstall() -> None:
	"""Remove what other DocTypes hold about ours, and this site's queued chunk jobs."""
	frappe.db.delete("Logs To Clear", {"ref_doctype": ("in", DOCTYPES)})
	# Frappe drops stale Scheduled Job Types only at the next migrate; until then it would run a method
	# that no longer exists every minute.
	for job_type in frappe.get_all("Scheduled Job Type", {"method": ("like", "bulk_queue.%")}, pluck="name"):
		frappe.db.delete("Scheduled Job Log", {"scheduled_job_type": job_type})
		frappe.db.delete("Scheduled Job Type", {"name": job_type})
	for doctype in ("Activity Log", "Error Log"):
		frappe.db.delete(doctype, {"reference_doctype": ("in", DOCTYPES)})
	_delete_queued_jobs()


def _delete_queued_jobs() -> None:
	from frappe.utils.background_jobs import get_queue

	prefix = f"{frappe.local.site}::bulk_queue:"
	try:
		for name in settings.queues():
			for job in get_queue(name).jobs:
				if job.id.startswith(prefix):
					job.delete()
	except Exception:
		# Redis being down must not block an uninstall; leftover jobs exit at once (no chunk rows).
		pass
