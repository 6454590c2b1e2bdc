# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Whitelisted entry points, thin: parse and check the request for the calling user
(``request.py``), then start, steer or read the job (``jobs.py``, ``dispatch.py``, ``progress.py``)."""

from __future__ import annotations

from typing import Any

import frappe
from frappe import _

from bulk_queue import access, dispatch, failures, fields, jobs, lifecycle, progress, request, settings
from bulk_queue import filters as selection_filters
from bulk_queue.actions import Action, available_actions, get_action
from bulk_queue.request import OWN_DOCTYPES, default_chunk_size
from bulk_queue.tasks import recovery

__all__ = ["OWN_DOCTYPES"]


@frappe.whitelist(methods=["POST"])
def enqueue_bulk(
	doctype: str | None = None,
	action: str | None = None,
	ids: Any = None,
	values: Any = None,
	chunk_size: Any = None,
	queue: str | None = None,
	timeout: Any = None,
	filters: Any = None,
	email_on_finish: Any = None,
	rate_limit: Any = None,
	start_at: Any = None,
) -> dict:
	"""Start a bulk job applying ``action`` to the records ``ids`` (or those matching ``filters``) of
	``doctype``.

	Args:
		doctype: the DocType of the records.
		action: ``save``, ``set_value``, ``submit``, ``cancel``, ``delete`` or an action registered by
			an app's ``bulk_queue_actions`` hook.
		ids: record names as a list, a JSON list string, or a comma/newline separated string.
		filters: instead of ``ids``: every record matching these ``frappe.get_list`` filters (a dict,
			a list of ``[field, operator, value]``, or either as JSON) that the caller can read.
		values: for ``set_value`` (and custom actions): a dict or JSON object string.
		chunk_size: records per chunk job (default 200, at most 1000; ``set_value_fast``: 1000).
		queue: ``short``, ``default`` or ``long``.
		timeout: seconds one chunk job may run (default: the queue's timeout).
		email_on_finish: also email the requester when the job ends (a Notification Log entry is
			always made).
		rate_limit: at most this many records per second, across all the job's workers (for actions
			that call other systems, or to spare a busy database); empty or 0: no limit.
		start_at: a date and time (the site's time zone unless it says otherwise) to start at; the job
			waits as Scheduled until then, with nothing on the queue.

	Returns:
		``{"bulk_job": name, "enqueued": chunk jobs, "total": records, "queued_now": on RQ now,
		"existing": True when the same request was already queued or running, "skips": for the fast
		path, what a save runs on this DocType and it does not (``Action.skips``), "title": what
		the job is in words, "progress": its current progress message}``.

	Nothing is recorded or enqueued when any argument is invalid or not permitted. Bulk Queue Settings
	may limit who starts jobs (roles), on which DocTypes, with which actions, how many active jobs a
	user may have and how many starts a minute (HTTP 429 beyond that).
	"""
	req = request.parse(
		user=frappe.session.user,
		doctype=doctype,
		action=action,
		ids=ids,
		filters=filters,
		values=values,
		chunk_size=chunk_size,
		queue=queue,
		timeout=timeout,
		rate_limit=rate_limit,
		start_at=start_at,
		email_on_finish=email_on_finish,
	)
	return jobs.start(req)


@frappe.whitelist(methods=["POST"])
def preview_bulk(
	doctype: str | None = None,
	action: str | None = None,
	ids: Any = None,
	filters: Any = None,
	values: Any = None,
	sample: Any = 20,
) -> dict:
	"""Dry run: apply ``action`` to a sample of the selection inside a transaction that is always rolled
	back, and say per record what would change or why it would fail. Nothing is written or sent.

	Takes the same ``doctype``, ``action``, ``ids`` / ``filters`` and ``values`` as ``enqueue_bulk``
	(and the same checks); ``sample``: how many records to try, the first ones of the selection
	(default 20, at most ``bulk_queue_max_preview``, 100).

	Returns ``{"records": [{"name", "changes": [{"field", "label", "old", "new"}], "error",
	"exception_type"}], "would_fail": n, "sampled": n, "total": records selected}``.
	"""
	from bulk_queue import preview

	req = request.parse_preview(
		user=frappe.session.user,
		doctype=doctype,
		action=action,
		ids=ids,
		filters=filters,
		values=values,
		sample=sample,
	)
	return preview.run_request(req)


@frappe.whitelist(methods=["POST"])
def cancel_bulk_job(bulk_job: str | None = None) -> dict:
	"""Cancel a queued or running bulk job (its requester or a System Manager).

	Queued chunks never run; running chunks stop at their next commit, rolling back what they had not
	committed. Returns the job's status and counters.
	"""
	return _steer(bulk_job, lifecycle.cancel_job)


@frappe.whitelist(methods=["POST"])
def pause_bulk_job(bulk_job: str | None = None) -> dict:
	"""Pause a planning, queued or running bulk job (its requester or a System Manager).

	Nothing of it stays on the queue; running chunks stop at their next commit, keeping what they
	committed. Status Paused until ``resume_bulk_job``; worker and Redis restarts do not wake it.
	Returns the job's status and counters."""
	return _steer(bulk_job, lifecycle.pause_job)


@frappe.whitelist(methods=["POST"])
def resume_bulk_job(bulk_job: str | None = None) -> dict:
	"""Resume a paused bulk job from where each chunk stopped (its requester or a System Manager).
	Returns the job's status and counters."""
	return _steer(bulk_job, _resume)


def _resume(bulk_job: str) -> frappe._dict:
	job = lifecycle.resume_job(bulk_job)
	if job.status in dispatch.OPEN:
		recovery.check_job(bulk_job, throttle=False)  # a chunk whose run died while it was paused
	return job


def _steer(bulk_job: str | None, change) -> dict:
	"""Cancel, pause or resume (``change(name)``) a job its requester or a System Manager asked about;
	tell its watchers at once; return its status and counters."""
	job = _check_job_access(bulk_job)
	change(job.name)
	progress.publish(job.name, force=True)
	return get_bulk_job_status(job.name)


@frappe.whitelist(methods=["POST"])
def retry_failed(bulk_job: str | None = None, error: str | None = None) -> dict:
	"""Run the failed records of a finished bulk job again (its requester or a System Manager): all
	of them, or those of one ``error`` (a Bulk Queue Error of the job, see ``get_errors``).

	Answers at once whatever the count: up to 10,000 failures are re-queued here, more by the job's
	planner in the background (the job is Planning meanwhile). ``retried``: how many failures."""
	job = _check_job_access(bulk_job)
	user = frappe.session.user
	act = get_action(job.action)
	access.check_can_start(job.reference_doctype, job.action, user, power=act.power)
	if not frappe.has_permission(job.reference_doctype, act.ptype):
		frappe.throw(_("You do not have permission to run this action again."), frappe.PermissionError)
	retried = jobs.retry_failed(job.name, user, error or None)
	return {**get_bulk_job_status(job.name), "retried": retried}


@frappe.whitelist(methods=["POST"])
def undo_bulk_job(bulk_job: str | None = None) -> dict:
	"""Start an Undo of a finished bulk job (its requester or a System Manager): a new job that puts
	back what the job replaced on each record it changed - unless someone changed the record since,
	then it is left as is. Set Value (both paths), tags and assignments can be undone, and an Undo
	itself (that redoes). Returns ``enqueue_bulk``'s answer for the new job."""
	job = _check_job_access(bulk_job)
	req = request.parse(
		user=frappe.session.user, doctype=job.reference_doctype, action="undo", values={"of": job.name}
	)
	return jobs.start(req)


@frappe.whitelist()
def get_bulk_job_status(bulk_job: str | None = None) -> dict:
	"""Status and counters of a bulk job, as in its realtime progress events."""
	_check_job_access(bulk_job)
	return progress.current(bulk_job)


def _check_job_access(bulk_job: str | None):
	if not bulk_job:
		frappe.throw(_("bulk_job is required: the name of a Bulk Queue Job."), title=_("Invalid Job"))
	if not isinstance(bulk_job, str):
		frappe.throw(
			_("bulk_job must be the name of a Bulk Queue Job, not {0}.").format(request.kind(bulk_job)),
			title=_("Invalid Job"),
		)
	job = frappe.db.get_value(
		"Bulk Queue Job", bulk_job, ["name", "user", "reference_doctype", "action"], as_dict=True
	)
	if not job:
		frappe.throw(_("Bulk Queue Job {0} not found").format(bulk_job), frappe.DoesNotExistError)
	if job.user != frappe.session.user and "System Manager" not in frappe.get_roles():
		frappe.throw(
			_("Only the user who started a bulk job or a System Manager can do this."), frappe.PermissionError
		)
	return job


@frappe.whitelist()
def get_bulk_options(doctype: str | None = None, filters: Any = None, ids: Any = None) -> dict:
	"""What the Bulk Process dialog offers the calling user on ``doctype`` for a selection: ``ids``
	(the selected records) or ``filters`` (every record matching them).

	Returns ``{"actions": [{"name", "label", "needs_values", "ptype", "chunk_size"}, for an action
	with its own values "form" (the dialog's fields for them, for this selection), and for the fast
	path "skips" (what it does not run on this DocType) and "refused_fields" ({fieldname: why})],
	"fields": [settable fields],
	"chunk_size", "max_chunk_size", "queue", "queues", "max_records"}``; with ``filters`` also
	``"matching"``: how many records the user can read that match them.
	"""
	doctype = request.validate_doctype(doctype)
	meta = frappe.get_meta(doctype)
	user = frappe.session.user
	actions = available_actions(meta, user)
	settable = fields.settable_fields(meta, user) if any(a.needs_values for a in actions) else []
	if filters is not None:
		selection = {"filters": selection_filters.parse_filters(filters, doctype)}
	else:
		selection = {"names": request.parse_names(ids) if ids not in (None, "", "[]", []) else []}
	options = {
		"doctype": doctype,
		"actions": [_action_option(meta, a, settable, user, selection) for a in actions],
		"fields": settable,
		"chunk_size": default_chunk_size(),
		"max_chunk_size": settings.get("bulk_queue_max_chunk_size"),
		"queue": settings.get("bulk_queue_default_queue"),
		"queues": list(settings.queues()),
		"max_records": settings.get("bulk_queue_max_records"),
		"max_ids": settings.get("bulk_queue_max_ids"),
	}
	if filters is not None:
		options["matching"] = selection_filters.count_matching(doctype, selection["filters"])
	return options


def _action_option(meta, act: Action, settable: list[dict], user: str, selection: dict) -> dict:
	option = {
		"name": act.name,
		"label": _(act.label),
		"needs_values": act.needs_values,
		"ptype": act.ptype,
		"chunk_size": default_chunk_size(act),
	}
	if act.form:
		option["form"] = act.form(meta, user, selection)
	if act.selects:
		option["named_by_values"] = True  # its values name the records (Rename), not the selection
	if act.skips:
		option["skips"] = act.skips(meta)
	if act.refused_fields:
		option["refused_fields"] = act.refused_fields(meta, [f["fieldname"] for f in settable])
	return option


@frappe.whitelist()
def get_active_jobs() -> list[dict]:
	"""The calling user's bulk jobs that have not ended (Scheduled, Planning, Queued, Running, Paused),
	newest first, as progress events."""
	return active_jobs(frappe.session.user)


def active_jobs(user: str, limit: int = 10) -> list[dict]:
	if not user or user == "Guest":
		return []
	rows = frappe.get_all(
		"Bulk Queue Job",
		filters={"user": user, "status": ("in", dispatch.OPEN)},
		fields=list(progress.FIELDS),
		order_by="creation desc",
		limit_page_length=limit,
	)
	return [progress.message(row) for row in rows]


@frappe.whitelist()
def get_failures(
	bulk_job: str | None = None,
	start: Any = 0,
	page_length: Any = 20,
	error: str | None = None,
	after: str | None = None,
) -> dict:
	"""One page of a job's failed records (its requester or a System Manager), in name order.

	``after``: the name of the last failure of the previous page (a keyset: every page costs the same,
	however deep); ``start`` (an offset) is still read when ``after`` is not given. ``error``: only the
	failures of that Bulk Queue Error (see ``get_errors``).

	Returns ``{"failures": [{"name", "reference_doctype", "reference_name", "exception_type",
	"error", "error_group", "attempts", "retried", "creation"}], "total": how many (retried ones
	included; past 10,000, the count of those not retried), "start", "page_length", "after": the
	cursor of the next page or None}``.
	"""
	job = _check_job_access(bulk_job)
	page_length = min(max(1, frappe.utils.cint(page_length) or 20), 500)
	if error and frappe.db.get_value("Bulk Queue Error", error, "bulk_job") != job.name:
		frappe.throw(_("{0} is not an error of Bulk Queue Job {1}.").format(error, job.name))
	start = 0 if after else max(0, frappe.utils.cint(start))
	if start:
		# An offset is a keyset walked from the start: bounded by the pages it skips.
		skipped = failures.page(job.name, error=error, limit=min(start, 100_000))
		after = skipped[-1].name if skipped else None
	rows = failures.page(job.name, error=error, after=after, limit=page_length)
	return {
		"failures": rows,
		"total": failures.count(job.name, error),
		"start": start,
		"page_length": page_length,
		"after": rows[-1].name if len(rows) == page_length else None,
	}


@frappe.whitelist()
def get_errors(bulk_job: str | None = None) -> dict:
	"""A job's failures grouped by error (its requester or a System Manager), most failures first:
	``{"errors": [{"name", "exception_type", "message" (what varies between records taken out),
	"example" (one record's message), "example_record", "examples" (a few records), "failures"}],
	"failed": failures not retried}``."""
	job = _check_job_access(bulk_job)
	return {
		"errors": failures.errors_of(job.name),
		"failed": frappe.db.get_value("Bulk Queue Job", job.name, "failed") or 0,
	}


@frappe.whitelist()
def get_error_traceback(bulk_job: str | None = None, error: str | None = None) -> str:
	"""The traceback of one of the job's errors, stored once for all its failures."""
	job = _check_job_access(bulk_job)
	if not error or frappe.db.get_value("Bulk Queue Error", error, "bulk_job") != job.name:
		frappe.throw(_("{0} is not an error of Bulk Queue Job {1}.").format(error, job.name))
	return failures.traceback_of(error)


@frappe.whitelist()
def get_chunk_jobs(bulk_job: str | None = None) -> list[dict]:
	"""The job's chunks that are on a queue or running now, with their RQ job ids (Background Jobs)."""
	_check_job_access(bulk_job)
	rows = frappe.get_all(
		"Bulk Queue Chunk",
		filters={"bulk_job": bulk_job, "status": ("in", ("Queued", "Running"))},
		fields=["name", "chunk_no", "status", "total", "done_upto", "rq_job_id", "worker"],
		order_by="chunk_no asc",
		limit_page_length=100,
	)
	site = frappe.local.site
	for row in rows:
		row.rq_job = f"{site}::{row.rq_job_id}" if row.rq_job_id else None
	return rows
