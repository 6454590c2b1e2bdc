# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""A bulk request, parsed and checked once: what Desk, REST, the console and ``bench bulk-queue`` ask for
becomes one ``BulkRequest`` (or ``PreviewRequest`` for a dry run) before anything is recorded.

Everything a caller may get wrong is refused here with a clear message and a 4xx status - the DocType,
the action, Bulk Queue Settings and the user's permission, the values, the selection (names or
filters), chunk size, queue, timeout, rate limit and start time - so nothing past this module checks
arguments again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import cached_property
from typing import Any

import frappe
from frappe import _

from bulk_queue import access, dispatch, fields, secrets, settings
from bulk_queue import filters as selection_filters
from bulk_queue.actions import Action, get_action, get_actions, job_title
from bulk_queue.utils.selection import SelectionError, parse_ids, parse_json_object

# Our own DocTypes are never processed in bulk by us.
OWN_DOCTYPES = ("Bulk Queue Job", "Bulk Queue Chunk", "Bulk Queue Failure", "Bulk Queue Error")


@dataclass(frozen=True)
class BulkRequest:
	"""One start of a bulk job, checked: who asks, what to do to which records, and how to run it.

	``names``: the records, when they were selected in the request; else ``filters`` (and
	``matching``: how many matched them then), for a background planner to select."""

	user: str
	doctype: str
	action: Action
	values: dict
	names: list[str]
	filters: list | None
	matching: int | None
	chunk_size: int
	queue: str
	timeout: int | None
	rate_limit: float | None
	start_at: datetime | None
	email_on_finish: bool

	@property
	def total(self) -> int:
		"""Records selected, or matching the filters when a planner is to select them."""
		return len(self.names) or (self.matching or 0)

	@property
	def title(self) -> str:
		return job_title(self.action, self.total, self.doctype)

	@cached_property
	def meta(self):
		return frappe.get_meta(self.doctype)

	@cached_property
	def fingerprint(self) -> str:
		"""What makes two requests the same job (a double submit hands back the running one)."""
		selection = {"filters": self.filters} if self.filters is not None else self.names
		values = _with_control(
			secrets.fingerprint_values(self.meta, self.values), self.rate_limit, self.start_at
		)
		return dispatch.selection_hash(self.doctype, self.action.name, selection, values)

	@cached_property
	def skips(self) -> list[dict]:
		"""For a power tool: what a save runs on this DocType and the action does not."""
		return self.action.skips(self.meta) if self.action.skips else []


@dataclass(frozen=True)
class PreviewRequest:
	"""A dry run, checked: the first ``names`` of a selection of ``total`` records."""

	user: str
	doctype: str
	action: Action
	values: dict
	names: list[str]
	total: int


def parse(
	*,
	user: str,
	doctype: Any = None,
	action: Any = None,
	ids: Any = None,
	filters: Any = None,
	values: Any = None,
	chunk_size: Any = None,
	queue: Any = None,
	timeout: Any = None,
	rate_limit: Any = None,
	start_at: Any = None,
	email_on_finish: Any = None,
) -> BulkRequest:
	"""Check a start request as the caller sent it (JSON strings from Desk included); throw a clear
	error on the first thing wrong. See ``api.bulk.enqueue_bulk`` for the arguments."""
	doctype, act, values = _validate_request(doctype, action, values, user)
	chunk_size = _validate_chunk_size(chunk_size, act)
	queue = _validate_queue(queue)
	timeout = _validate_timeout(timeout)
	rate_limit = _validate_rate_limit(rate_limit)
	start_at = _validate_start_at(start_at)
	parsed_filters = matching = None
	if act.selects:
		names = _named_by_values(act, values, ids, filters)
		if isinstance(names, int):
			# More than a request lists (an Undo of a large job): a planner reads them.
			matching, names, parsed_filters = names, [], []
		else:
			_check_any_exists(doctype, names)
	elif _by_filters(ids, filters):
		parsed_filters = selection_filters.parse_filters(filters, doctype)
		matching, names = _select_by_filters(doctype, parsed_filters)
	else:
		names = parse_names(ids)
		_check_any_exists(doctype, names)
	_check_action_limit(act, len(names) or matching or 0)
	_check_queue_reachable(queue)
	return BulkRequest(
		user=user,
		doctype=doctype,
		action=act,
		values=values,
		names=names,
		filters=parsed_filters,
		matching=matching,
		chunk_size=chunk_size,
		queue=queue,
		timeout=timeout,
		rate_limit=rate_limit,
		start_at=start_at,
		email_on_finish=frappe.utils.cint(email_on_finish) == 1,
	)


def parse_preview(
	*,
	user: str,
	doctype: Any = None,
	action: Any = None,
	ids: Any = None,
	filters: Any = None,
	values: Any = None,
	sample: Any = 20,
) -> PreviewRequest:
	"""Check a dry-run request: the same checks as a start, and the sample size."""
	doctype, act, values = _validate_request(doctype, action, values, user)
	size = _validate_sample(sample)
	if act.selects:
		names = _named_by_values(act, values, ids, filters)
		if isinstance(names, int):  # too many to list: the first page a planner would read
			total, names = names, act.plan_page(values, None, size)[0][:size]
		else:
			total, names = len(names), names[:size]
	elif _by_filters(ids, filters):
		parsed = selection_filters.parse_filters(filters, doctype)
		total = selection_filters.count_matching(doctype, parsed)
		if not total:
			frappe.throw(
				_("No {0} records match these filters.").format(_(doctype)), title=_("Invalid Selection")
			)
		names = selection_filters.read_page(doctype, parsed, after=None, page_size=size)
	else:
		names = parse_names(ids)
		total, names = len(names), names[:size]
	return PreviewRequest(user=user, doctype=doctype, action=act, values=values, names=names, total=total)


def _named_by_values(act: Action, values: dict, ids: Any, filters: Any) -> list[str] | int:
	"""The records of an action whose values name them (Rename: the old names; Undo: the records its
	job changed - or how many, when a planner is to read them). Filters are refused; ids, when given
	(the dialog sends the names it read), must be the same records."""
	if filters not in (None, ""):
		frappe.throw(
			_("{0} takes its records from its values, not from filters.").format(_(act.label)),
			title=_("Invalid Selection"),
		)
	selected = act.selects(values)
	if isinstance(selected, int):
		if ids not in (None, "", "[]", []):
			frappe.throw(_("{0} takes no ids.").format(_(act.label)), title=_("Invalid Selection"))
		return selected
	names = parse_names(selected)
	if ids not in (None, "", "[]", []) and set(parse_names(ids)) != set(names):
		frappe.throw(
			_("{0} takes its records from its values: ids, when given, must be the same names.").format(
				_(act.label)
			),
			title=_("Invalid Selection"),
		)
	return names


def _by_filters(ids: Any, filters: Any) -> bool:
	"""Whether the request selects by filters (empty filters select every record the caller can read,
	like the list view) rather than by names; both at once is refused."""
	if filters is None or filters == "":
		return False
	if ids not in (None, "", "[]", []):
		frappe.throw(_("Give either ids or filters, not both."), title=_("Invalid Selection"))
	return True


def _validate_request(doctype: Any, action: Any, values: Any, user: str):
	"""What every start (and dry run) checks first: the DocType, the action, Bulk Queue Settings, the
	user's permission and the values. Returns ``(doctype, action, values)``."""
	doctype = validate_doctype(doctype)
	if not action:
		frappe.throw(
			_("action is required: what to do with each record ({0}).").format(
				", ".join(sorted(get_actions()))
			),
			title=_("Invalid Action"),
		)
	if not isinstance(action, str):
		frappe.throw(
			_("action must be the name of an action, not {0}.").format(kind(action)),
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


def _with_control(values: dict, rate_limit: float | None, start_at) -> dict:
	"""What makes two requests the same job: the values, and a rate limit or start time if given (the
	same selection for tonight is not the one running now)."""
	control = {}
	if rate_limit:
		control["__rate_limit"] = rate_limit
	if start_at:
		control["__start_at"] = str(start_at)
	return {**values, **control}


def validate_doctype(doctype: Any) -> str:
	if doctype in (None, ""):
		frappe.throw(
			_("doctype is required: the DocType of the records to process."), title=_("Invalid DocType")
		)
	if not isinstance(doctype, str):
		frappe.throw(
			_("doctype must be the name of a DocType, not {0}.").format(kind(doctype)),
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


def kind(value: Any) -> str:
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
	if not act.applies_to(meta, user):
		# Where it depends on the site's records: no active workflow there, or none of its
		# transitions open to the user's roles; no enabled assignment rule.
		reason = act.unavailable(meta, user) if act.unavailable else ""
		frappe.throw(
			_("Action {0} is not available to you on {1}.").format(_(act.label), _(meta.name))
			+ (f" {reason}" if reason else "")
		)
	if not frappe.has_permission(meta.name, act.ptype, user=user):
		frappe.throw(
			_("You do not have {0} permission on {1}.").format(_(act.ptype), _(meta.name)),
			frappe.PermissionError,
		)


def _check_action_limit(act: Action, total: int) -> None:
	"""An action with its own limit (Print: one PDF) refuses a larger selection, naming both numbers."""
	if not act.max_records_key:
		return
	limit = settings.get(act.max_records_key)
	if total > limit:
		frappe.throw(
			_(
				"{0} takes at most {1} records in one job; this selection has {2}. Select fewer, or ask an administrator to raise the limit in Bulk Queue Settings."
			).format(
				_(act.label),
				frappe.format_value(limit, {"fieldtype": "Int"}),
				frappe.format_value(total, {"fieldtype": "Int"}),
			),
			title=_("Too Many Records"),
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


def parse_names(ids: Any) -> list[str]:
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
	statement or a few, so a small chunk would only multiply the bookkeeping around them. An action
	with a default of its own (Print: 20, its records are slow) takes that."""
	largest = settings.get("bulk_queue_max_chunk_size")
	if act is not None and act.apply_batch:
		return largest
	if act is not None and act.chunk_size:
		return min(act.chunk_size, largest)
	return min(settings.get("bulk_queue_default_chunk_size"), largest)


def _validate_queue(queue: Any) -> str:
	queue = queue or settings.get("bulk_queue_default_queue")
	if queue not in settings.queues():
		frappe.throw(
			_(
				"Queue must be one of {0} (a custom queue is added under workers in common_site_config.json)."
			).format(", ".join(settings.queues())),
			title=_("Invalid Queue"),
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
	"""A start time in the site's time zone (naive, as Frappe stores datetimes), or None for now.

	Takes a ``datetime`` (naive: site time; aware: any zone), a ``date`` (its midnight, site time), or a
	string Frappe reads as one (``2026-12-01 01:00:00``, ISO 8601 with or without an offset)."""
	from frappe.utils import add_to_date, convert_utc_to_system_timezone, get_datetime, now_datetime

	if start_at in (None, ""):
		return None
	try:
		when = get_datetime(start_at.strip()) if isinstance(start_at, str) else None
	except Exception:
		when = None
	if isinstance(start_at, date):  # a datetime is a date too
		when = get_datetime(start_at)
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
