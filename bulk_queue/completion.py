# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""What happens once when a bulk job ends: the requester is told, and apps' hooks are called.

Apps react in their ``hooks.py``; each hook gets the Bulk Queue Job document::

        bulk_queue_on_complete = [
            "my_app.bulk.on_end"
        ]  # every end: Completed, with errors, Failed, Cancelled
        bulk_queue_on_success = ["my_app.bulk.on_success"]  # Completed: every record succeeded
        bulk_queue_on_failure = ["my_app.bulk.on_failure"]  # Completed with Errors or Failed

A job of an output action (Print, Export) first merges its parts into its one file (``outputs.finish``),
in a job of its own on the job's queue with a long timeout, so the notification links to the file.

Hooks run after the commit that ended the job, once per end (a Retry Failed that runs the job again
ends it again), as the job's requester. Each step of an end - the notification, then each hook in
order - is marked done in the same transaction as what it wrote, so a process killed at any point
leaves the steps not done to recovery (within a minute), and none that completed runs again: a hook's
database writes are applied exactly once (what it sends elsewhere, at least once). A hook that raises
is rolled back and logged (Error Log, linked to the job); it never changes the job's outcome nor stops
the other hooks. A hook that commits by itself splits its step: what it committed stays, and a kill
after that commit runs the hook again.

While a process handles an end it holds the end's named lock (``named_lock``): another process, on any
host, leaves the end to it; should it die, its connection closes, the lock is free, and recovery's
``sweep`` goes on from the first step not done.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import frappe
from frappe import _
from frappe.utils import add_to_date, now_datetime
from rq.timeouts import JobTimeoutException

from bulk_queue import named_lock, outputs, progress

JOB = "Bulk Queue Job"
FINAL = ("Completed", "Completed with Errors", "Failed", "Cancelled")
# Seconds the job that merges an output's parts may take (a million rows into one workbook), and how
# often it is tried before the job ends without its file (the Error Log says why).
OUTPUT_TIMEOUT = 3600
OUTPUT_TRIES = 3


def after_end(bulk_job: str, *, in_own_job: bool = False) -> None:
	"""Call after the commit that gave the job its final status (any process, any number of times):
	its steps run once. Should the process that ended the job die first (or midway), recovery's sweep
	(``sweep``) does the rest."""
	row = None if in_own_job else frappe.db.get_value(JOB, bulk_job, ["queue", "output_format"], as_dict=True)
	if row and row.output_format:
		# Merging the parts may take long: not inside a chunk's RQ job, with its timeout.
		frappe.enqueue(
			"bulk_queue.completion.after_end",
			queue=row.queue or "default",
			timeout=OUTPUT_TIMEOUT,
			job_id=f"bulk_queue-end:{bulk_job}",
			deduplicate=True,
			bulk_job=bulk_job,
			in_own_job=True,
		)
		return
	if getattr(frappe.local, "request", None):
		# Inside a web request (a cancel from Desk) the session's user must not change: a worker
		# handles the end, as the requester (and recovery's sweep, should that job be lost).
		frappe.enqueue(
			"bulk_queue.completion.after_end",
			queue="short",
			job_id=f"bulk_queue-end:{bulk_job}",
			deduplicate=True,
			bulk_job=bulk_job,
			in_own_job=True,
		)
		return
	lock = named_lock.acquire(f"end:{bulk_job}")
	if not lock:
		return  # a live process is handling this end
	user = frappe.session.user
	try:
		_handle(bulk_job)
	finally:
		frappe.set_user(user)
		named_lock.release(lock)


def _handle(bulk_job: str) -> None:
	frappe.db.rollback()
	row = frappe.db.get_value(JOB, bulk_job, ["status", "notified", "ended_at", "end_steps"], as_dict=True)
	if not row or row.notified or row.status not in FINAL:
		return
	done = set(json.loads(row.end_steps or "[]"))
	job = frappe.get_doc(JOB, bulk_job)
	job.status = row.status  # as it ended, whatever a Retry Failed did since
	# As the requester, whoever ended the job (a worker, who cancelled it, recovery).
	frappe.set_user(job.user if job.user and frappe.db.exists("User", job.user) else "Guest")
	for step, run in _steps(job):
		if step in done:
			continue
		if step == "output":
			outcome = _output(job, done, row.ended_at)
			if outcome != "done":
				return  # "later": recovery's sweep tries again; "over": the job runs again
		else:
			try:
				run(job)
			except Exception:
				frappe.db.rollback()
				frappe.log_error(
					title=f"bulk_queue: job end step {step}", reference_doctype=JOB, reference_name=bulk_job
				)
		done.add(step)
		if not _mark(bulk_job, row.ended_at, end_steps=json.dumps(sorted(done))):
			frappe.db.rollback()
			return  # the job was run again (Retry Failed) meanwhile: this end is over
		frappe.db.commit()
	if _mark(bulk_job, row.ended_at, notified=1):
		frappe.db.commit()
		if job.get("output_format"):
			progress.publish(bulk_job, force=True)  # the tray shows the file's link (or stops waiting)
	else:
		frappe.db.rollback()


def _output(job, done: set[str], ended_at) -> str:
	"""The step that merges a Print or Export job's file: "done" (merged, nothing to merge, or given
	up after OUTPUT_TRIES tries), "later" (it failed: recovery's sweep tries again) or "over" (the job
	runs again). Each try is marked before it starts, so a try that kills its process (out of memory)
	or outlives its RQ job's timeout counts too."""
	if not job.get("output_format"):
		return "done"
	tries = sum(1 for step in done if step.startswith("output-try-")) + 1
	if tries > OUTPUT_TRIES:
		job.flags.output_failed = True
		return "done"
	done.add(f"output-try-{tries}")
	if not _mark(job.name, ended_at, end_steps=json.dumps(sorted(done))):
		frappe.db.rollback()
		return "over"
	frappe.db.commit()
	try:
		outputs.finish(job)
	except BaseException as e:
		frappe.db.rollback()
		frappe.log_error(
			title=f"bulk_queue: the file of {job.name} could not be made (try {tries} of {OUTPUT_TRIES})",
			reference_doctype=JOB,
			reference_name=job.name,
		)
		if isinstance(e, JobTimeoutException) or not isinstance(e, Exception):
			raise  # its RQ job ends here; the sweep tries again
		if tries < OUTPUT_TRIES:
			return "later"
		job.flags.output_failed = True
	return "done"


def _steps(job) -> list[tuple[str, Callable]]:
	"""The steps of the job's end, in order, each with a key that names it for good."""
	steps = [("output", outputs.finish), ("notify", _notify), ("email", _email)]
	steps += [(f"hook:{method}", _hook(method)) for method in hooks_for(job.status)]
	return steps


def _hook(method: str) -> Callable:
	return lambda job: frappe.get_attr(method)(job)


def _mark(bulk_job: str, ended_at, **values) -> bool:
	"""Record progress of the end that happened at ``ended_at``; False when the job has ended since
	(or is running again)."""
	sets = ", ".join(f"{field}=%s" for field in values)
	frappe.db.sql(
		f"update `tab{JOB}` set {sets} where name=%s and ended_at=%s and notified=0",
		(*values.values(), bulk_job, ended_at),
	)
	return bool(frappe.db.sql("select row_count()")[0][0])


def hooks_for(status: str) -> list[str]:
	"""The hook methods to call for a job that ended with ``status``, in order."""
	methods = list(frappe.get_hooks("bulk_queue_on_complete") or [])
	if status == "Completed":
		methods += frappe.get_hooks("bulk_queue_on_success") or []
	elif status in ("Completed with Errors", "Failed"):
		methods += frappe.get_hooks("bulk_queue_on_failure") or []
	return methods


def sweep(older_than: int = 10) -> int:
	"""Handle the ends nobody handled, or whose handler died midway; from recovery. Ends a live
	process is handling are left to it (``after_end`` skips them)."""
	names = frappe.db.sql_list(
		f"select name from `tab{JOB}` where notified=0 and status in %s and ended_at < %s",
		(FINAL, add_to_date(now_datetime(), seconds=-older_than)),
	)
	for name in names:
		after_end(name)
	return len(names)


def _subject(job) -> tuple[str, str]:
	subject = _("{0}: {1} - {2}").format(job.name, _(job.status), job.title or "")
	counts = _("{0} of {1} records succeeded, {2} failed.").format(
		frappe.format_value(job.succeeded, {"fieldtype": "Int"}),
		frappe.format_value(job.total, {"fieldtype": "Int"}),
		frappe.format_value(job.failed, {"fieldtype": "Int"}),
	)
	if job.get("unchanged"):
		counts += " " + _("{0} were left as is (nothing to do).").format(
			frappe.format_value(job.unchanged, {"fieldtype": "Int"})
		)
	return subject, counts


def _told(job) -> bool:
	"""Whether the requester hears of this end: not a job without one, nor one they cancelled."""
	return bool(job.user) and job.user != "Guest" and job.status != "Cancelled"


def _notify(job) -> None:
	"""A Notification Log for the requester (the bell in Desk)."""
	if not _told(job):
		return
	subject, counts = _subject(job)
	frappe.get_doc(
		{
			"doctype": "Notification Log",
			"for_user": job.user,
			"type": "Alert",
			"document_type": JOB,
			"document_name": job.name,
			"subject": f"{subject} - {counts}",
			"email_content": counts + _output_link(job),
		}
	).insert(ignore_permissions=True)


def _output_link(job, *, absolute: bool = False) -> str:
	"""A link to the job's Print / Export file, if it made one (only the requester may download it)."""
	url = job.get("output_file")
	if job.flags.output_failed:
		return f"<p>{_('The file could not be made: the Error Log of {0} says why.').format(job.name)}</p>"
	if not url:
		return ""
	href = frappe.utils.get_url(url) if absolute else url
	name = frappe.utils.escape_html(url.rsplit("/", 1)[-1])
	return f"<p><a href='{frappe.utils.escape_html(href)}'>{_('Download {0}').format(name)}</a></p>"


def _email(job) -> None:
	"""An email to the requester, if they asked for one (it goes out through the Email Queue)."""
	if not _told(job) or not job.email_on_finish:
		return
	email = frappe.db.get_value("User", job.user, "email")
	if email:
		subject, counts = _subject(job)
		frappe.sendmail(
			recipients=[email],
			subject=subject,
			message=f"<p>{counts}</p>{_output_link(job, absolute=True)}"
			f"<p><a href='{frappe.utils.get_url_to_form(JOB, job.name)}'>"
			f"{_('Open {0}').format(job.name)}</a></p>",
			reference_doctype=JOB,
			reference_name=job.name,
		)
