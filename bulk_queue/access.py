# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Who may start bulk jobs, how often, and for whom a worker may still act.

Frappe's permissions decide what a user may do to records; Bulk Queue Settings narrows who may start
bulk jobs at all (roles), on which DocTypes and with which actions, how many jobs a user may have active
and how often they may start one. Background jobs check nothing by themselves: the worker asks
``refusal`` before acting for the requester.
"""

from __future__ import annotations

import frappe
from frappe import _
from frappe.utils import cint

from bulk_queue import settings

RATE_WINDOW = 60  # seconds: the rate limit counts job starts per user per minute


def check_can_start(doctype: str, action: str, user: str, *, power: bool = False) -> None:
	"""Throw ``frappe.PermissionError`` unless Bulk Queue Settings let ``user`` start ``action`` on
	``doctype`` (the DocType permission the action needs is checked by the caller). ``power``: the
	action is a power tool (the fast path), for System Managers and the roles Settings name for it."""
	if not user or user == "Guest":
		frappe.throw(_("Log in to start bulk jobs."), frappe.PermissionError)
	reason = refusal(user)
	if reason:
		frappe.throw(reason, frappe.PermissionError)
	if not may_use(user):
		frappe.throw(
			_("Only users with one of these roles may start bulk jobs: {0}.").format(
				", ".join(_(role) for role in settings.allowed_roles())
			),
			frappe.PermissionError,
			title=_("Not Permitted"),
		)
	doctypes = settings.allowed_doctypes()
	if doctypes and doctype not in doctypes:
		frappe.throw(
			_("Bulk jobs on {0} are not allowed on this site (Bulk Queue Settings).").format(_(doctype)),
			frappe.PermissionError,
			title=_("Not Permitted"),
		)
	actions = settings.allowed_actions()
	if actions and action not in actions:
		frappe.throw(
			_("Bulk action {0} is not allowed on this site (Bulk Queue Settings).").format(
				frappe.bold(action)
			),
			frappe.PermissionError,
			title=_("Not Permitted"),
		)
	if power and not may_use_power_tools(user):
		frappe.throw(_power_refusal(action), frappe.PermissionError, title=_("Not Permitted"))


def may_use_power_tools(user: str) -> bool:
	"""Whether ``user`` may use actions that skip the document model (the fast path): System
	Managers, and users with a role Bulk Queue Settings name for it."""
	if user == "Administrator":
		return True
	roles = {"System Manager", *settings.fast_path_roles()}
	return bool(roles & set(frappe.get_roles(user)))


def _power_refusal(action: str) -> str:
	roles = ["System Manager", *settings.fast_path_roles()]
	return _(
		"Bulk action {0} skips validation and controllers; only users with one of these roles may use it: {1} (Bulk Queue Settings)."
	).format(frappe.bold(action), ", ".join(_(role) for role in roles))


def may_use(user: str) -> bool:
	"""Whether ``user`` has a role Bulk Queue Settings allow (any role when it names none)."""
	if not user or user == "Guest":
		return False
	roles = settings.allowed_roles()
	return not roles or user == "Administrator" or bool(set(roles) & set(frappe.get_roles(user)))


def refusal(user: str | None) -> str | None:
	"""Why nothing may be done for ``user`` any more (no such user, account disabled), or None."""
	if not user or user == "Guest":
		return _("The bulk job has no requesting user; nothing is done for it.")
	if user == "Administrator":
		return None
	enabled = frappe.db.get_value("User", user, "enabled")
	if enabled is None:
		return _("User {0} no longer exists; nothing is done on their behalf.").format(user)
	if not enabled:
		return _("User {0} is disabled; nothing is done on their behalf.").format(user)
	return None


def act_as(user: str | None, doctype: str, action: str, *, power: bool = False) -> str | None:
	"""Make ``user`` the current user as they are now, for the next transaction of a worker acting on
	``doctype`` with ``action``; returns why nothing more may be done for them, or None: their account
	is disabled or gone, or Bulk Queue Settings no longer let them (role, DocType, action).

	Their roles and user permissions are read again from the database rather than the cache: a process
	that read them while a change was being saved can have put the old ones back in the cache after it
	was cleared, and a lost role must stop the job at once."""
	frappe.set_user(user or "Guest")
	if user:
		frappe.cache.hdel("roles", user)
		frappe.cache.hdel("user_permissions", user)
	return refusal(user) or _settings_refusal(user, doctype, action, power)


def _settings_refusal(user: str, doctype: str, action: str, power: bool = False) -> str | None:
	if not may_use(user):
		return _("Bulk Queue Settings no longer let {0} start bulk jobs (their roles).").format(user)
	doctypes = settings.allowed_doctypes()
	if doctypes and doctype not in doctypes:
		return _("Bulk Queue Settings no longer allow bulk jobs on {0}.").format(_(doctype))
	actions = settings.allowed_actions()
	if actions and action not in actions:
		return _("Bulk Queue Settings no longer allow the bulk action {0}.").format(action)
	if power and not may_use_power_tools(user):
		return _("Bulk Queue Settings no longer let {0} use the bulk action {1} (their roles).").format(
			user, action
		)
	return None


def check_active_jobs(user: str, active: int) -> None:
	"""Throw when ``user`` already has as many active jobs as Bulk Queue Settings allow."""
	limit = settings.get("bulk_queue_max_active_jobs")
	if limit and active >= limit:
		frappe.throw(
			_(
				"You already have {0} bulk jobs that have not ended - scheduled, running or paused (at most {1} at once). Start this one when one of them has ended."
			).format(active, limit),
			frappe.ValidationError,
			title=_("Too Many Active Jobs"),
		)


def check_rate(user: str) -> None:
	"""Refuse with HTTP 429 (``frappe.RateLimitExceededError``, as Frappe's own ``rate_limit`` does)
	when ``user`` already started as many jobs this minute as Bulk Queue Settings allow.

	Only jobs actually started count (``count_start``), not requests refused for their input. Like
	Frappe's decorator it applies to HTTP requests only: bench commands, the console and patches are
	not limited."""
	limit = _rate_limit()
	if limit and cint(frappe.cache.get(_rate_key(user))) >= limit:
		frappe.throw(
			_(
				"You started too many bulk jobs in a short time (at most {0} a minute). Try again in a minute."
			).format(limit),
			frappe.RateLimitExceededError,
			title=_("Too Many Requests"),
		)


def count_start(user: str) -> None:
	"""Count a job ``user`` started (for ``check_rate``), in a window of a minute from the first."""
	if not _rate_limit():
		return
	key = _rate_key(user)
	if frappe.cache.incrby(key, 1) == 1 or frappe.cache.ttl(key) < 0:
		frappe.cache.expire(key, RATE_WINDOW)


def _rate_limit() -> int:
	if not getattr(frappe.local, "request", None):
		return 0
	return settings.get("bulk_queue_rate_limit")


def _rate_key(user: str) -> str:
	return frappe.cache.make_key(f"rl:bulk_queue.enqueue_bulk:{user}")
