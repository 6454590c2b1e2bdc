# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Whitelisted entry points: validate for the calling user, record the job, enqueue. Nothing else."""

from __future__ import annotations

import hashlib
from typing import Any

import frappe
from frappe import _
from frappe.model import default_fields, no_value_fields, table_fields

from bulk_queue import dispatch, settings
from bulk_queue.actions import Action, get_action
from bulk_queue.utils.selection import SelectionError, chunk_count, parse_ids, parse_json_object

# Fields a bulk set_value may never touch: identity, audit trail and document state.
PROTECTED_FIELDS = {
	*default_fields,
	"amended_from",
	"naming_series",
	"_user_tags",
	"_comments",
	"_assign",
	"_liked_by",
	"_seen",
}


@frappe.whitelist(methods=["POST"])
def enqueue_bulk(
	doctype: str,
	action: str,
	ids: Any = None,
	values: Any = None,
	chunk_size: Any = None,
	queue: str | None = None,
	timeout: Any = None,
) -> dict:
	"""Start a bulk job applying ``action`` to the records ``ids`` of ``doctype``.

	Args:
		doctype: the DocType of the records.
		action: ``save``, ``set_value``, ``submit``, ``cancel``, ``delete`` or an action registered by
			an app's ``bulk_queue_actions`` hook.
		ids: record names as a list, a JSON list string, or a comma/newline separated string.
		values: for ``set_value`` (and custom actions): a dict or JSON object string.
		chunk_size: records per chunk job (default 200, at most 1000).
		queue: ``short``, ``default`` or ``long``.
		timeout: seconds one chunk job may run (default: the queue's timeout).

	Returns:
		``{"bulk_job": name, "enqueued": chunk jobs, "total": records, "queued_now": on RQ now,
		"existing": True when the same request was already queued or running}``.

	Nothing is recorded or enqueued when any argument is invalid or not permitted.
	"""
	user = frappe.session.user
	doctype = _validate_doctype(doctype)
	act = get_action(action)
	meta = frappe.get_meta(doctype)
	if act.needs_submittable and not meta.is_submittable:
		frappe.throw(_("{0} is not submittable, so it cannot be {1}ed in bulk.").format(_(doctype), act.name))
	if not frappe.has_permission(doctype, act.ptype, user=user):
		frappe.throw(
			_("You do not have {0} permission on {1}.").format(_(act.ptype), _(doctype)),
			frappe.PermissionError,
		)

	names = _parse_ids(ids)
	values = _parse_values(values)
	_validate_values(meta, act, values, user)
	chunk_size = _validate_chunk_size(chunk_size)
	queue = _validate_queue(queue)
	timeout = _validate_timeout(timeout)
	_check_queue_reachable(queue)

	fingerprint = dispatch.selection_hash(doctype, act.name, names, values)
	# MariaDB named lock (at most 64 characters): one request at a time per user and selection.
	lock = "bulk_queue:" + hashlib.sha1(f"{frappe.local.site}|{user}|{fingerprint}".encode()).hexdigest()
	frappe.db.sql("select get_lock(%s, 10)", lock)
	try:
		existing = frappe.db.sql(
			"""select name, total, chunks from `tabBulk Queue Job` where selection_hash=%s and user=%s
			and status in ('Queued', 'Running') order by creation desc limit 1 for update""",
			(fingerprint, user),
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
			}

		name = dispatch.create_job(
			doctype=doctype,
			action=act.name,
			names=names,
			values=values,
			chunk_size=chunk_size,
			queue=queue,
			timeout=dispatch.chunk_timeout(queue, timeout),
			user=user,
			fingerprint=fingerprint,
		)
		job = dispatch.lock_job(name)
		claimed = dispatch.claim_window(job)
		_log_activity(name, doctype, act.name, len(names), user)
		# Workers must see the job and its chunks before they start: commit, then enqueue.
		frappe.db.commit()
	finally:
		frappe.db.sql("select release_lock(%s)", lock)

	queued_now = dispatch.enqueue_chunks(job, claimed)
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
		"enqueued": chunk_count(len(names), chunk_size),
		"total": len(names),
		"queued_now": queued_now,
		"existing": False,
	}


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


def _validate_doctype(doctype: Any) -> str:
	if not doctype or not isinstance(doctype, str) or not frappe.db.exists("DocType", doctype):
		frappe.throw(
			_("DocType {0} does not exist.").format(frappe.bold(str(doctype))), frappe.DoesNotExistError
		)
	meta = frappe.get_meta(doctype)
	if meta.istable or meta.issingle or meta.is_virtual:
		frappe.throw(
			_("{0} is a child table, single or virtual DocType and cannot be processed in bulk.").format(
				_(doctype)
			)
		)
	return doctype


def _parse_ids(ids: Any) -> list[str]:
	try:
		names = parse_ids(ids)
	except SelectionError:
		frappe.throw(
			_("ids must be a list of record names, a JSON list, or names separated by commas or new lines."),
			title=_("Invalid Selection"),
		)
	if not names:
		frappe.throw(_("No records selected."), title=_("Invalid Selection"))
	limit = settings.get("bulk_queue_max_records")
	if len(names) > limit:
		frappe.throw(
			_("{0} records selected; at most {1} can be processed in one bulk job.").format(
				len(names), limit
			),
			title=_("Too Many Records"),
		)
	too_long = next((n for n in names if len(n) > 140), None)
	if too_long:
		frappe.throw(
			_("Record name {0} is longer than 140 characters.").format(frappe.bold(too_long[:40] + "..."))
		)
	return names


def _parse_values(values: Any) -> dict:
	try:
		return parse_json_object(values)
	except SelectionError:
		frappe.throw(_("values must be an object of field names and values (a dict or a JSON object)."))


def _validate_values(meta, act: Action, values: dict, user: str) -> None:
	if not act.needs_values:
		return
	if not values:
		frappe.throw(_("Action {0} needs values: the fields to set and their new values.").format(act.name))
	writable_levels = meta.get_permlevel_access("write", user=user)
	for fieldname in values:
		df = meta.get_field(fieldname)
		if fieldname in PROTECTED_FIELDS or not df:
			frappe.throw(
				_("{0} is not a field that can be set on {1}.").format(frappe.bold(fieldname), _(meta.name))
			)
		if df.fieldtype in table_fields or df.fieldtype in no_value_fields:
			frappe.throw(
				_("Field {0} ({1}) cannot be set in bulk.").format(frappe.bold(fieldname), _(df.fieldtype))
			)
		if df.permlevel and df.permlevel not in writable_levels:
			frappe.throw(
				_("You do not have permission to change field {0}.").format(frappe.bold(fieldname)),
				frappe.PermissionError,
			)


def _validate_chunk_size(chunk_size: Any) -> int:
	if chunk_size in (None, ""):
		return settings.get("bulk_queue_default_chunk_size")
	largest = settings.get("bulk_queue_max_chunk_size")
	try:
		size = int(chunk_size)
	except (TypeError, ValueError):
		size = 0
	if isinstance(chunk_size, bool) or size < 1 or size > largest or str(size) != str(chunk_size).strip():
		frappe.throw(_("chunk_size must be a whole number from 1 to {0}.").format(largest))
	return size


def _validate_queue(queue: Any) -> str:
	queue = queue or settings.get("bulk_queue_default_queue")
	if queue not in settings.QUEUES:
		frappe.throw(
			_("Queue must be one of {0}.").format(", ".join(settings.QUEUES)), title=_("Invalid Queue")
		)
	return queue


def _validate_timeout(timeout: Any) -> int | None:
	if timeout in (None, "", 0):
		return None
	try:
		seconds = int(timeout)
	except (TypeError, ValueError):
		seconds = 0
	if isinstance(timeout, bool) or seconds < 5 or seconds > 86_400:
		frappe.throw(_("timeout must be a number of seconds from 5 to 86400."))
	return seconds


def _check_queue_reachable(queue: str) -> None:
	from frappe.utils.background_jobs import get_queue

	try:
		get_queue(queue).connection.ping()
	except Exception:
		frappe.throw(
			_("The background job queue (Redis) cannot be reached; nothing was enqueued. Try again later."),
			title=_("Queue Unavailable"),
		)


@frappe.whitelist(methods=["POST"])
def cancel_bulk_job(bulk_job: str) -> dict:
	"""Cancel a queued or running bulk job (its requester or a System Manager).

	Queued chunks never run; running chunks stop at their next commit, rolling back what they had not
	committed. Returns the job's status and counters.
	"""
	_check_job_access(bulk_job)
	dispatch.cancel_job(bulk_job)
	from bulk_queue import progress

	progress.publish(bulk_job, force=True)
	return get_bulk_job_status(bulk_job)


@frappe.whitelist(methods=["POST"])
def retry_failed(bulk_job: str) -> dict:
	"""Re-enqueue only the failed records of a finished bulk job (its requester or a System Manager)."""
	job = _check_job_access(bulk_job)
	if not frappe.has_permission(job.reference_doctype, get_action(job.action).ptype):
		frappe.throw(_("You do not have permission to run this action again."), frappe.PermissionError)
	retried = dispatch.retry_failed(bulk_job)
	return {**get_bulk_job_status(bulk_job), "retried": retried}


@frappe.whitelist()
def get_bulk_job_status(bulk_job: str) -> dict:
	"""Status and counters of a bulk job, as in its realtime progress events."""
	from bulk_queue import progress

	_check_job_access(bulk_job)
	job = frappe.db.get_value("Bulk Queue Job", bulk_job, progress.FIELDS, as_dict=True)
	return progress.message(job)


def _check_job_access(bulk_job: str):
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
