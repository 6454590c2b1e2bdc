# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Starting a job from a checked request, and running a finished one again: one job per identical
request, Bulk Queue Settings' per-user limits held under the user's start lock (a MariaDB named lock),
the job and its first window recorded in one transaction, then its chunks (or its planner) enqueued.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import frappe
from frappe import _

from bulk_queue import access, dispatch, lifecycle, named_lock, progress
from bulk_queue.actions import describe_skipped
from bulk_queue.utils.selection import chunk_count

if TYPE_CHECKING:
	from bulk_queue.request import BulkRequest


def start(request: BulkRequest) -> dict:
	"""Record and enqueue the job ``request`` asks for, or hand back the same request's running job.

	Returns ``api.bulk.enqueue_bulk``'s answer."""
	user = request.user
	access.check_rate(user)  # before waiting for the lock: a flood of starts is refused at once
	lock = _lock_user(user)
	try:
		existing = frappe.db.sql(
			"""select name, total, chunks from `tabBulk Queue Job` where selection_hash=%s and user=%s
			and status in %s order by creation desc limit 1 for update""",
			(request.fingerprint, user, dispatch.OPEN),
			as_dict=True,
		)
		if existing:
			job = existing[0]
			return {
				"bulk_job": job.name,
				"enqueued": job.chunks,
				"total": job.total,
				"queued_now": 0,
				"existing": True,
				"skips": request.skips,
				**_progress_of(job.name),
			}
		_check_start_limits(user)

		if request.action.prepare:
			request.action.prepare(request.meta, request.values, user)
		name = dispatch.create_job(
			doctype=request.doctype,
			action=request.action.name,
			names=request.names,
			values=request.values,
			chunk_size=request.chunk_size,
			queue=request.queue,
			timeout=dispatch.chunk_timeout(request.queue, request.timeout),
			user=user,
			fingerprint=request.fingerprint,
			title=request.title,
			filters=request.filters,
			expected=request.matching,
			email_on_finish=request.email_on_finish,
			rate_limit=request.rate_limit,
			start_at=request.start_at,
			skipped=describe_skipped(request.skips),
			output=request.action.output(request.meta, request.values) if request.action.output else None,
		)
		job = dispatch.lock_job(name)
		claimed = dispatch.claim_window(job)
		_log_activity(name, request.doctype, request.action.name, request.total, user)
		access.count_start(user)
		# Workers must see the job and its chunks before they start: commit, then enqueue.
		frappe.db.commit()
	finally:
		named_lock.release(lock)

	if job.status == "Scheduled":
		return {
			"bulk_job": name,
			"enqueued": chunk_count(request.total, request.chunk_size),
			"total": request.total,
			"queued_now": 0,
			"existing": False,
			"skips": request.skips,
			**_progress_of(name),
		}
	if job.status == "Planning":
		# Too many to select in this request: the planner selects them and writes the chunks.
		dispatch.start_planner(job)
		return {
			"bulk_job": name,
			"enqueued": chunk_count(request.matching, request.chunk_size),
			"total": request.matching,
			"queued_now": 0,
			"existing": False,
			"skips": request.skips,
			**_progress_of(name),
		}
	queued_now = dispatch.enqueue_chunks(job, claimed, first_at_front=dispatch.others_waiting(job))
	if queued_now < len(claimed):
		frappe.msgprint(
			_(
				"Bulk Queue Job {0} is recorded, but the queue could not be reached; it will start when it is."
			).format(name),
			indicator="orange",
			alert=True,
		)
	return {
		"bulk_job": name,
		"enqueued": chunk_count(len(request.names), request.chunk_size),
		"total": len(request.names),
		"queued_now": queued_now,
		"existing": False,
		"skips": request.skips,
		**_progress_of(name),
	}


def retry_failed(bulk_job: str, user: str, error: str | None = None) -> int:
	"""Run a finished job's failed records (all, or those of one ``error``) again, counted as a start
	of ``user``'s (rate and active job limits); returns how many failures are retried."""
	# Running a job again counts like starting one.
	access.check_rate(user)
	lock = _lock_user(user)
	try:
		_check_start_limits(user)
		retried = lifecycle.retry_failed(bulk_job, error)
		if retried:
			access.count_start(user)
	finally:
		named_lock.release(lock)
	return retried


def _lock_user(user: str) -> str:
	"""Take the named lock of ``user``'s job starts: one at a time, so the same request twice makes one
	job and the per-user limits hold. Returns the lock's name."""
	lock = named_lock.acquire(user, wait=10)
	if not lock:
		frappe.throw(_("Another bulk job of yours is being started; try again in a moment."), title=_("Busy"))
	return lock


def _check_start_limits(user: str) -> None:
	"""Bulk Queue Settings' per-user limits, under the user's start lock."""
	access.check_rate(user)
	# A locking read: the latest committed jobs, not this transaction's snapshot (taken before the
	# lock, when a concurrent start had not committed its job yet).
	active = frappe.db.sql(
		"select count(*) from `tabBulk Queue Job` where user=%s and status in %s lock in share mode",
		(user, dispatch.OPEN),  # Scheduled and Paused too: they start (again) without asking
	)[0][0]
	access.check_active_jobs(user, active)


def _progress_of(bulk_job: str) -> dict:
	"""The job's title and its current progress message, for Desk to show at once."""
	payload = progress.current(bulk_job)
	return {"title": payload["title"], "progress": payload}


def _log_activity(bulk_job: str, doctype: str, action: str, total: int, user: str) -> None:
	"""Record the start in the Activity Log: an audit trail on the job's timeline, and it keeps a site
	that only runs bulk jobs from being dormant, so the scheduler's recovery keeps running every minute."""
	frappe.get_doc(
		{
			"doctype": "Activity Log",
			"subject": _("Started {0}: {1} on {2} {3}").format(bulk_job, action, total, _(doctype)),
			"reference_doctype": "Bulk Queue Job",
			"reference_name": bulk_job,
			"user": user,
			"status": "Success",
		}
	).insert(ignore_permissions=True)
