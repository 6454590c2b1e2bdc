# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Server Script actions: a bulk action without writing an app.

A System Manager lists a Server Script of type API under Bulk Queue Settings, Server Script Actions,
with the DocTypes it is offered on and the permission it needs. It becomes the action
``script_<scrubbed script name>`` ("Raise Priority" -> ``script_raise_priority``). Per record it runs in
Frappe's safe execution environment (RestrictedPython, ``frappe.utils.safe_exec``) as the user who
started the job, with:

- ``doc``: the record, loaded and its permission checked for that user;
- ``values``: the job's values (a dict; ``{}`` when none were given).

It runs inside the record's savepoint, in the job's transaction: it changes ``doc`` and calls
``doc.save()`` (or anything else a Server Script may), and cannot commit or roll back. An exception
(``frappe.throw``) fails the record, rolled back; setting ``skip = "why"`` leaves the record as is.

Only where the bench allows server scripts (``server_script_enabled``, Frappe's own switch): otherwise
the action is not offered, and a request for it is refused with that reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import frappe
from frappe import _

from bulk_queue import settings
from bulk_queue.actions.base import Action, Skipped

PREFIX = "script_"


def action_name(server_script: str) -> str:
	"""The action's name for a Server Script: ``script_`` and its name in snake case (63 characters at
	most; a long or non-Latin name gets a hash to stay unique)."""
	scrubbed = "".join(
		c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in frappe.scrub(server_script)
	)
	scrubbed = "_".join(part for part in scrubbed.split("_") if part)
	name = PREFIX + scrubbed
	if not scrubbed or len(name) > 63:
		digest = hashlib.sha1(server_script.encode()).hexdigest()[:8]
		name = f"{PREFIX}{scrubbed[:40]}_{digest}".replace("__", "_")
	return name.lower()


def enabled() -> bool:
	"""Whether the bench lets server scripts run (``server_script_enabled`` in common_site_config)."""
	from frappe.utils.safe_exec import is_safe_exec_enabled

	return is_safe_exec_enabled()


def disabled_reason() -> str:
	return _("Server scripts are disabled on this bench (bench set-config -g server_script_enabled 1).")


def script_actions() -> dict[str, Action]:
	"""The Server Script actions Bulk Queue Settings list, by action name."""
	by_script: dict[str, list] = {}
	for row in settings.script_actions():
		by_script.setdefault(row.server_script, []).append(row)
	actions = {}
	for script, rows in by_script.items():
		doctypes = tuple(dict.fromkeys(row.document_type for row in rows))
		name = action_name(script)
		actions[name] = Action(
			name=name,
			ptype=rows[0].ptype or "write",
			apply=_runner(script),
			label=rows[0].label or script,
			doctypes=doctypes,
			check=_check(script),
			offered_on=_offered_on(doctypes),
			unavailable=_unavailable(script),
		)
	return actions


def _offered_on(doctypes: tuple[str, ...]) -> Callable[[str], set[str]]:
	def offered_on(user: str) -> set[str]:
		return set(doctypes) if enabled() else set()

	return offered_on


def _unavailable(script: str) -> Callable:
	def unavailable(meta, user: str) -> str:
		return disabled_reason() if not enabled() else _("Server Script {0} is not usable.").format(script)

	return unavailable


def _check(script: str) -> Callable[[object, dict, str], dict]:
	def check(meta, values: dict, user: str) -> dict:
		if not enabled():
			frappe.throw(disabled_reason(), title=_("Server Scripts Disabled"))
		_script(script)
		return values

	return check


def _script(name: str):
	"""The Server Script, if it can run as a bulk action (type API, not disabled)."""
	row = frappe.db.get_value("Server Script", name, ["name", "script_type", "disabled"], as_dict=True)
	if not row:
		frappe.throw(_("Server Script {0} no longer exists.").format(frappe.bold(name)))
	if row.script_type != "API" or row.disabled:
		frappe.throw(
			_("Server Script {0} is disabled or not of type API.").format(frappe.bold(name)),
			title=_("Server Script Not Usable"),
		)
	return frappe.get_cached_doc("Server Script", name)


def _runner(script: str) -> Callable[[object, dict], None]:
	def apply(doc, values: dict) -> None:
		from frappe.utils.safe_exec import safe_exec

		if not enabled():
			frappe.throw(disabled_reason(), title=_("Server Scripts Disabled"))
		server_script = _script(script)
		scope = {"doc": doc, "values": frappe._dict(values or {}), "skip": None}
		# restrict_commit_rollback: as for a DocType Event script - the job owns the transaction.
		safe_exec(server_script.script, _locals=scope, restrict_commit_rollback=True, script_filename=script)
		if scope.get("skip"):
			raise Skipped(str(scope["skip"]))

	apply.__qualname__ = f"Server Script {script}"
	return apply
