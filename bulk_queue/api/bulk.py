# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Whitelisted entry points: validate for the calling user, record the job, enqueue. Nothing else."""

from __future__ import annotations

import hashlib
from datetime import timezone
from typing import Any

import frappe
from frappe import _

from bulk_queue import access, dispatch, fields, progress, secrets, settings
from bulk_queue import filters as selection_filters
from bulk_queue.actions import (
	Action,
	available_actions,
	describe_skipped,
	get_action,
	get_actions,
	job_title,
)
from bulk_queue.tasks import recovery
from bulk_queue.utils.selection import SelectionError, chunk_count, parse_ids, parse_json_object

# Our own DocTypes are never processed in bulk by us.
OWN_DOCTYPES = ("Bulk Queue Job", "Bulk Queue Chunk", "Bulk Queue Failure")


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
	user = frappe.session.user
	doctype, act, values = _validate_request(doctype, action, values, user)
	chunk_size = _validate_chunk_size(chunk_size, act)
	queue = _validate_queue(queue)
	timeout = _validate_timeout(timeout)
	rate_limit = _validate_rate_limit(rate_limit)
	start_at = _validate_start_at(start_at)
	parsed_filters = matching = None
	if filters is not None and filters != "":
		# Filters select; empty filters select every record the caller can read, like the list view.
		if ids not in (None, "", "[]", []):
			frappe.throw(_("Give either ids or filters, not both."), title=_("Invalid Selection"))
		parsed_filters = selection_filters.parse_filters(filters, doctype)
		matching, names = _select_by_filters(doctype, parsed_filters)
		selection = {"filters": parsed_filters}
	else:
		names = _parse_ids(ids)
		_check_any_exists(doctype, names)
		selection = names
	meta = frappe.get_meta(doctype)
	fingerprint = dispatch.selection_hash(
		doctype,
		act.name,
		selection,
		_with_control(secrets.fingerprint_values(meta, values), rate_limit, start_at),
	)
	skips = act.skips(meta) if act.skips else []
	_check_queue_reachable(queue)

	access.check_rate(user)  # before waiting for the lock: a flood of starts is refused at once
	lock = _lock_user(user)
	try:
		existing = frappe.db.sql(
			"""select name, total, chunks from `tabBulk Queue Job` where selection_hash=%s and user=%s
			and status in %s order by creation desc limit 1 for update""",
			(fingerprint, user, dispatch.OPEN),
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
				"skips": skips,
				**_progress_of(job.name),
			}
		_check_start_limits(user)

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
			title=job_title(act, len(names) or matching, doctype),
			filters=parsed_filters,
			expected=matching,
			email_on_finish=frappe.utils.cint(email_on_finish) == 1,
			rate_limit=rate_limit,
			start_at=start_at,
			skipped=describe_skipped(skips),
		)
		job = dispatch.lock_job(name)
		claimed = dispatch.claim_window(job)
		_log_activity(name, doctype, act.name, len(names) or matching, user)
		access.count_start(user)
		# Workers must see the job and its chunks before they start: commit, then enqueue.
		frappe.db.commit()
	finally:
		frappe.db.sql("select release_lock(%s)", lock)

	if job.status == "Scheduled":
		return {
			"bulk_job": name,
			"enqueued": chunk_count(len(names) or matching, chunk_size),
			"total": len(names) or matching,
			"queued_now": 0,
			"existing": False,
			"skips": skips,
			**_progress_of(name),
		}
	if job.status == "Planning":
		# Too many to select in this request: the planner selects them and writes the chunks.
		dispatch.start_planner(job)
		return {
			"bulk_job": name,
			"enqueued": chunk_count(matching, chunk_size),
			"total": matching,
			"queued_now": 0,
			"existing": False,
			"skips": skips,
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
		"enqueued": chunk_count(len(names), chunk_size),
		"total": len(names),
		"queued_now": queued_now,
		"existing": False,
		"skips": skips,
		**_progress_of(name),
	}


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

	user = frappe.session.user
	doctype, act, values = _validate_request(doctype, action, values, user)
	size = _validate_sample(sample)
	if filters is not None and filters != "":
		if ids not in (None, "", "[]", []):
			frappe.throw(_("Give either ids or filters, not both."), title=_("Invalid Selection"))
		parsed = selection_filters.parse_filters(filters, doctype)
		total = selection_filters.count_matching(doctype, parsed)
		if not total:
			frappe.throw(
				_("No {0} records match these filters.").format(_(doctype)), title=_("Invalid Selection")
			)
		names = selection_filters.read_page(doctype, parsed, after=None, page_size=size)
	else:
		names = _parse_ids(ids)
		total, names = len(names), names[:size]
	return {**preview.run(doctype, act, names, values), "total": total}


def _validate_request(doctype: Any, action: Any, values: Any, user: str):
	"""What every start (and dry run) checks first: the DocType, the action, Bulk Queue Settings, the
	user's permission and the values. Returns ``(doctype, action, values)``."""
	doctype = _validate_doctype(doctype)
	if not action:
		frappe.throw(
			_("action is required: what to do with each record ({0}).").format(
				", ".join(sorted(get_actions()))
			),
			title=_("Invalid Action"),
		)
	if not isinstance(action, str):
		frappe.throw(
			_("action must be the name of an action, not {0}.").format(_kind(action)),
			title=_("Invalid Action"),
		)
	act = get_action(action)
	access.check_can_start(doctype, act.name, user, power=act.power)
	meta = frappe.get_meta(doctype)
	_check_action(meta, act, user)
	# Password values travel as Secret from here on: never shown by a traceback of this request.
	values = secrets.protect(meta, _parse_values(values))
	return doctype, act, _validate_values(meta, act, values, user)


def _validate_sample(sample: Any) -> int:
	largest = settings.get("bulk_queue_max_preview")
	try:
		size = int(sample) if sample not in (None, "") else 20
	except (TypeError, ValueError):
		size = 0
	if isinstance(sample, bool) or not 1 <= size <= largest:
		frappe.throw(_("sample must be a whole number from 1 to {0}.").format(largest))
	return size


def _lock_user(user: str) -> str:
	"""Take the MariaDB named lock (at most 64 characters) of ``user``'s job starts: one at a time, so
	the same request twice makes one job and the per-user limits hold. Returns the lock's name."""
	lock = "bulk_queue:" + hashlib.sha1(f"{frappe.local.site}|{user}".encode()).hexdigest()
	if not frappe.db.sql("select get_lock(%s, 10)", lock)[0][0]:
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


def _with_control(values: dict, rate_limit: float | None, start_at) -> dict:
	"""What makes two requests the same job: the values, and a rate limit or start time if given (the
	same selection for tonight is not the one running now)."""
	control = {}
	if rate_limit:
		control["__rate_limit"] = rate_limit
	if start_at:
		control["__start_at"] = str(start_at)
	return {**values, **control}


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


def _validate_doctype(doctype: Any) -> str:
	if doctype in (None, ""):
		frappe.throw(
			_("doctype is required: the DocType of the records to process."), title=_("Invalid DocType")
		)
	if not isinstance(doctype, str):
		frappe.throw(
			_("doctype must be the name of a DocType, not {0}.").format(_kind(doctype)),
			title=_("Invalid DocType"),
		)
	if len(doctype) > 140 or not frappe.db.exists("DocType", doctype):
		frappe.throw(
			_("DocType {0} does not exist.").format(frappe.bold(str(doctype))), frappe.DoesNotExistError
		)
	meta = frappe.get_meta(doctype)
	if doctype in OWN_DOCTYPES:
		frappe.throw(_("{0} records are not processed in bulk.").format(_(doctype)))
	if meta.istable or meta.issingle or meta.is_virtual:
		frappe.throw(
			_("{0} is a child table, single or virtual DocType and cannot be processed in bulk.").format(
				_(doctype)
			)
		)
	return doctype


def _kind(value: Any) -> str:
	"""What a JSON value is, in words, for messages about a wrong type."""
	if isinstance(value, bool):
		return _("true or false")
	if isinstance(value, int | float):
		return _("a number")
	if isinstance(value, dict):
		return _("an object")
	if isinstance(value, list | tuple):
		return _("a list")
	return _("a value of type {0}").format(type(value).__name__)


def _check_action(meta, act: Action, user: str) -> None:
	if act.needs_submittable and not meta.is_submittable:
		frappe.throw(
			_("{0} is not submittable, so {1} cannot be applied to it in bulk.").format(
				_(meta.name), _(act.label)
			)
		)
	if not act.applies_to(meta):
		frappe.throw(_("Action {0} is not available for {1}.").format(_(act.label), _(meta.name)))
	if not frappe.has_permission(meta.name, act.ptype, user=user):
		frappe.throw(
			_("You do not have {0} permission on {1}.").format(_(act.ptype), _(meta.name)),
			frappe.PermissionError,
		)


def _select_by_filters(doctype: str, parsed: list[list]) -> tuple[int, list[str]]:
	"""How many records match, and their names when few enough to select them in this request (an
	empty list: a background planner selects them)."""
	limit = settings.get("bulk_queue_max_records")
	matching = selection_filters.count_matching(doctype, parsed)
	if matching > limit:
		selection_filters.refuse_too_many(matching, limit)
	names = []
	if matching <= settings.get("bulk_queue_plan_inline_max"):
		names = selection_filters.select_names(doctype, parsed, limit)
		matching = len(names)
	if not matching:
		frappe.throw(
			_("No {0} records match these filters.").format(_(doctype)), title=_("Invalid Selection")
		)
	return matching, names


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
	limit = min(settings.get("bulk_queue_max_ids"), settings.get("bulk_queue_max_records"))
	if len(names) > limit:
		frappe.throw(
			_(
				"{0} records selected; at most {1} can be listed in one request. Select more records with filters."
			).format(len(names), limit),
			title=_("Too Many Records"),
		)
	too_long = next((n for n in names if len(n) > 140), None)
	if too_long:
		frappe.throw(
			_("Record name {0} is longer than 140 characters.").format(frappe.bold(too_long[:40] + "..."))
		)
	return names


def _check_any_exists(doctype: str, names: list[str]) -> None:
	"""Refuse a list of names none of which exists: a typo or a wrong DocType, not a job. (Some missing
	is fine: those are listed as failed, "not found", like records deleted before their turn.)"""
	for start in range(0, len(names), 1_000):
		if frappe.get_all(
			doctype, filters={"name": ("in", names[start : start + 1_000])}, limit=1, pluck="name"
		):
			return
	frappe.throw(
		_("None of the {0} selected records exists in {1}.").format(len(names), _(doctype)),
		title=_("Invalid Selection"),
	)


def _parse_values(values: Any) -> dict:
	try:
		return parse_json_object(values)
	except SelectionError:
		frappe.throw(_("values must be an object of field names and values (a dict or a JSON object)."))


def _validate_values(meta, act: Action, values: dict, user: str) -> dict:
	if act.needs_values:
		if not values:
			frappe.throw(
				_("Action {0} needs values: the fields to set and their new values.").format(act.name)
			)
		fields.check_values(meta, values, user)
	return act.check(meta, values, user) if act.check else values


def _validate_chunk_size(chunk_size: Any, act=None) -> int:
	largest = settings.get("bulk_queue_max_chunk_size")
	if chunk_size in (None, ""):
		return default_chunk_size(act)
	try:
		size = int(chunk_size)
	except (TypeError, ValueError):
		size = 0
	if isinstance(chunk_size, bool) or size < 1 or size > largest or str(size) != str(chunk_size).strip():
		frappe.throw(_("chunk_size must be a whole number from 1 to {0}.").format(largest))
	return size


def default_chunk_size(act=None) -> int:
	"""The default chunk size, never above the maximum (each may come from the site config or from
	Bulk Queue Settings). A batch action (the fast path) takes the maximum: it applies a chunk with a
	statement or a few, so a small chunk would only multiply the bookkeeping around them."""
	largest = settings.get("bulk_queue_max_chunk_size")
	if act is not None and act.apply_batch:
		return largest
	return min(settings.get("bulk_queue_default_chunk_size"), largest)


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


def _validate_rate_limit(rate_limit: Any) -> float | None:
	if rate_limit in (None, "", 0, "0"):
		return None
	highest = settings.get("bulk_queue_max_rate_limit")
	try:
		rate = float(rate_limit)
	except (TypeError, ValueError):
		rate = -1.0
	if isinstance(rate_limit, bool) or not (0.1 <= rate <= highest) or rate != rate:
		frappe.throw(
			_("rate_limit must be a number of records per second from 0.1 to {0}.").format(highest),
			title=_("Invalid Rate Limit"),
		)
	return rate


def _validate_start_at(start_at: Any):
	"""A start time in the site's time zone (naive, as Frappe stores datetimes), or None for now."""
	from datetime import timedelta

	from frappe.utils import add_to_date, convert_utc_to_system_timezone, get_datetime, now_datetime

	if start_at in (None, ""):
		return None
	try:
		when = get_datetime(start_at) if isinstance(start_at, str) else None
	except Exception:
		when = None
	if when is None:
		frappe.throw(
			_("start_at must be a date and time, like 2026-12-01 01:00:00."), title=_("Invalid Start Time")
		)
	if when.tzinfo:
		when = convert_utc_to_system_timezone(when.astimezone(timezone.utc)).replace(tzinfo=None)
	now = now_datetime()
	if when <= now - timedelta(minutes=1):
		frappe.throw(
			_("start_at {0} has already passed.").format(
				frappe.format_value(when, {"fieldtype": "Datetime"})
			),
			title=_("Invalid Start Time"),
		)
	if when > add_to_date(now, days=366):
		frappe.throw(_("start_at must be within a year."), title=_("Invalid Start Time"))
	return when if when > now else None


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
def cancel_bulk_job(bulk_job: str | None = None) -> dict:
	"""Cancel a queued or running bulk job (its requester or a System Manager).

	Queued chunks never run; running chunks stop at their next commit, rolling back what they had not
	committed. Returns the job's status and counters.
	"""
	return _steer(bulk_job, dispatch.cancel_job)


@frappe.whitelist(methods=["POST"])
def pause_bulk_job(bulk_job: str | None = None) -> dict:
	"""Pause a planning, queued or running bulk job (its requester or a System Manager).

	Nothing of it stays on the queue; running chunks stop at their next commit, keeping what they
	committed. Status Paused until ``resume_bulk_job``; worker and Redis restarts do not wake it.
	Returns the job's status and counters."""
	return _steer(bulk_job, dispatch.pause_job)


@frappe.whitelist(methods=["POST"])
def resume_bulk_job(bulk_job: str | None = None) -> dict:
	"""Resume a paused bulk job from where each chunk stopped (its requester or a System Manager).
	Returns the job's status and counters."""
	return _steer(bulk_job, _resume)


def _resume(bulk_job: str) -> frappe._dict:
	job = dispatch.resume_job(bulk_job)
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
def retry_failed(bulk_job: str | None = None) -> dict:
	"""Re-enqueue only the failed records of a finished bulk job (its requester or a System Manager)."""
	job = _check_job_access(bulk_job)
	user = frappe.session.user
	access.check_can_start(job.reference_doctype, job.action, user, power=get_action(job.action).power)
	if not frappe.has_permission(job.reference_doctype, get_action(job.action).ptype):
		frappe.throw(_("You do not have permission to run this action again."), frappe.PermissionError)
	# Running a job again counts like starting one.
	access.check_rate(user)
	lock = _lock_user(user)
	try:
		_check_start_limits(user)
		retried = dispatch.retry_failed(job.name)
		if retried:
			access.count_start(user)
	finally:
		frappe.db.sql("select release_lock(%s)", lock)
	return {**get_bulk_job_status(job.name), "retried": retried}


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
			_("bulk_job must be the name of a Bulk Queue Job, not {0}.").format(_kind(bulk_job)),
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
def get_bulk_options(doctype: str | None = None, filters: Any = None) -> dict:
	"""What the Bulk Process dialog offers the calling user on ``doctype``.

	Returns ``{"actions": [{"name", "label", "needs_values", "ptype", "chunk_size"}, and for the fast
	path "skips" (what it does not run on this DocType) and "refused_fields" ({fieldname: why})],
	"fields": [settable fields],
	"chunk_size", "max_chunk_size", "queue", "queues", "max_records"}``; with ``filters`` also
	``"matching"``: how many records the user can read that match them.
	"""
	doctype = _validate_doctype(doctype)
	meta = frappe.get_meta(doctype)
	user = frappe.session.user
	actions = available_actions(meta, user)
	settable = fields.settable_fields(meta, user) if any(a.needs_values for a in actions) else []
	options = {
		"doctype": doctype,
		"actions": [_action_option(meta, a, settable) for a in actions],
		"fields": settable,
		"chunk_size": default_chunk_size(),
		"max_chunk_size": settings.get("bulk_queue_max_chunk_size"),
		"queue": settings.get("bulk_queue_default_queue"),
		"queues": list(settings.QUEUES),
		"max_records": settings.get("bulk_queue_max_records"),
		"max_ids": settings.get("bulk_queue_max_ids"),
	}
	if filters is not None:
		parsed = selection_filters.parse_filters(filters, doctype)
		options["matching"] = selection_filters.count_matching(doctype, parsed)
	return options


def _action_option(meta, act: Action, settable: list[dict]) -> dict:
	option = {
		"name": act.name,
		"label": _(act.label),
		"needs_values": act.needs_values,
		"ptype": act.ptype,
		"chunk_size": default_chunk_size(act),
	}
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
def get_failures(bulk_job: str | None = None, start: Any = 0, page_length: Any = 20) -> dict:
	"""One page of a job's failed records (its requester or a System Manager), newest last.

	Returns ``{"failures": [{"name", "reference_doctype", "reference_name", "exception_type",
	"error", "attempts", "retried", "creation"}], "total": n, "start", "page_length"}``.
	"""
	_check_job_access(bulk_job)
	start = max(0, frappe.utils.cint(start))
	page_length = min(max(1, frappe.utils.cint(page_length) or 20), 500)
	rows = frappe.get_all(
		"Bulk Queue Failure",
		filters={"bulk_job": bulk_job},
		fields=[
			"name",
			"reference_doctype",
			"reference_name",
			"exception_type",
			"error",
			"attempts",
			"retried",
			"creation",
		],
		order_by="creation asc, name asc",
		limit_start=start,
		limit_page_length=page_length,
	)
	total = frappe.db.count("Bulk Queue Failure", {"bulk_job": bulk_job})
	return {"failures": rows, "total": total, "start": start, "page_length": page_length}


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
