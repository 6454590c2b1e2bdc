# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Dry run: apply an action to a sample of records inside a transaction that is always rolled back,
and report per record what would change (field, old value, new value) or why it would fail.

The action runs exactly as in a job - the same document model, validations, hooks and the requester's
permissions - and the records one after another in one transaction, as a real run does, so a dry run
fails where the real run would (a failed record is rolled back to its savepoint, a successful one stays
for the next to see). Nothing escapes: everything is rolled back at the end, commit callbacks
never run, realtime messages are not sent, emails are muted, background jobs enqueued through
``frappe.enqueue`` are dropped, and an action that commits or rolls back by itself is stopped and
reported. What it cannot hold back: calls to other systems the action (or a Notification's Slack or SMS
channel) makes itself.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any

import frappe
from frappe import _
from frappe.model import default_fields, table_fields

from bulk_queue.transaction import callback_marks, drop_callbacks_after

# Fields every save changes: not what the user wants to review.
_NOISE = frozenset({*default_fields, "_user_tags", "_comments", "_assign", "_liked_by", "_seen"})
_MAX_TEXT = 140


class DryRunCommitError(frappe.ValidationError):
	"""The action committed or rolled back by itself: a dry run cannot show (or undo) its effect."""


def run(doctype: str, act, names: list[str], values: dict) -> dict:
	"""Dry-run ``act`` on ``names`` as the current user; see ``api.bulk.preview_bulk``."""
	records = []
	with dry_run():
		for i, name in enumerate(names):
			try:
				records.append(_one(doctype, act, name, values, f"bq_preview_{i}"))
			except _TransactionLost:
				frappe.throw(
					_(
						"The dry run lost its database transaction at {0} (a deadlock or a lost connection); try again."
					).format(name),
					title=_("Dry Run Interrupted"),
				)
	return {
		"records": records,
		"would_fail": sum(1 for r in records if r["error"]),
		"sampled": len(records),
	}


def _one(doctype: str, act, name: str, values: dict, savepoint: str) -> dict:
	"""Try one record. A success stays in the transaction, as in a real run (a later record then sees
	it: a unique value taken, a counter moved); a failure is rolled back to its savepoint."""
	marks = callback_marks()
	frappe.db.savepoint(savepoint)
	record = {"name": name, "changes": [], "error": None, "exception_type": None}
	try:
		before = _snapshot(frappe.get_doc(doctype, name))
		doc = frappe.get_doc(doctype, name)
		doc.check_permission(act.ptype)
		if act.apply_batch:
			failed = act.apply_batch(doctype, [name], values, frappe.session.user)
			if name in failed:
				record["exception_type"], record["error"] = failed[name]
		else:
			act.apply(doc, values)
		if not record["error"]:
			after = _snapshot(frappe.get_doc(doctype, name)) if frappe.db.exists(doctype, name) else None
			record["changes"] = _changes(frappe.get_meta(doctype), before, after)
	except DryRunCommitError:
		raise
	except Exception as e:
		record["exception_type"] = type(e).__name__
		record["error"] = frappe.utils.strip_html_tags(
			str(frappe.flags.get("error_message") or e) or type(e).__name__
		)[:1000]
		frappe.flags.error_message = None
	finally:
		frappe.local.message_log = []
	if record["error"]:
		try:
			frappe.db.rollback(save_point=savepoint)
		except Exception as e:
			# The whole transaction is gone (deadlock, lost connection): nothing more can be tried.
			raise _TransactionLost from e
		drop_callbacks_after(marks)
	return record


class _TransactionLost(Exception):
	pass


def _snapshot(doc) -> dict:
	data = doc.as_dict(no_default_fields=True)
	return {k: v for k, v in data.items() if k not in _NOISE and not k.startswith("__")}


def _changes(meta, before: dict, after: dict | None) -> list[dict]:
	if after is None:
		return [{"field": "name", "label": _("Record"), "old": before.get("name"), "new": _("(deleted)")}]
	changes = []
	for field in sorted(set(before) | set(after)):
		old, new = before.get(field), after.get(field)
		df = meta.get_field(field)
		if df and df.fieldtype in table_fields:
			old, new = _rows(old), _rows(new)
		if old == new or (old in (None, "") and new in (None, "")):
			continue
		label = _(df.label) if df and df.label else ("Status" if field == "docstatus" else field)
		changes.append({"field": field, "label": label, "old": _show(old), "new": _show(new)})
	return changes


def _rows(rows) -> Any:
	# A table's rows, minus what every save rewrites: a count is shown, changed rows are compared.
	return [
		{k: v for k, v in row.items() if k not in _NOISE and k not in ("parent", "parentfield", "parenttype")}
		for row in rows or []
	]


def _show(value: Any) -> Any:
	if isinstance(value, list):
		return _("{0} rows").format(len(value))
	if isinstance(value, str) and len(value) > _MAX_TEXT:
		return value[:_MAX_TEXT] + "…"
	return value if isinstance(value, int | float | str | type(None)) else str(value)


# -- keeping everything in ------------------------------------------------------------------------

_local = threading.local()


@contextmanager
def dry_run():
	"""Run the body so that nothing it does survives it (see the module docstring): it is rolled back
	to a savepoint taken before it, so the caller's own pending work stays as it was, and what that
	rollback skips - Frappe's after-rollback callbacks (its cache clearing) - runs then too."""
	db = frappe.db
	marks = callback_marks()
	db.savepoint("bq_dry_run")
	muted = frappe.flags.mute_emails
	frappe.flags.mute_emails = True
	_install_guards()
	_local.active = True

	def refuse(*args, save_point=None, **kwargs):
		if save_point:
			return original_rollback(save_point=save_point)
		raise DryRunCommitError(
			_("The action commits or rolls back by itself, so a dry run cannot show what it would do.")
		)

	original_commit, original_rollback = db.commit, db.rollback
	db.commit, db.rollback = refuse, refuse
	try:
		yield
	finally:
		db.commit, db.rollback = original_commit, original_rollback
		_local.active = False
		frappe.flags.mute_emails = muted
		try:
			db.rollback(save_point="bq_dry_run")
		except Exception:
			db.rollback()  # the transaction itself was lost: nothing of it can remain
		drop_callbacks_after(marks)


def _install_guards() -> None:
	"""Wrap, once per process, what sends at once rather than after the commit: queueing background
	jobs (``frappe.enqueue`` looks ``enqueue`` up in its module on every call) and realtime messages
	published without ``after_commit``. During a dry run in this thread both do nothing; everywhere
	else they behave as before."""
	from frappe import realtime
	from frappe.utils import background_jobs

	_guard(background_jobs, "enqueue")
	_guard(realtime, "emit_via_redis")


def _guard(module, name: str) -> None:
	original = getattr(module, name)
	if getattr(original, "_bulk_queue_guard", False):
		return

	def guarded(*args, **kwargs):
		if getattr(_local, "active", False):
			return None
		return original(*args, **kwargs)

	guarded._bulk_queue_guard = True
	guarded.__wrapped__ = original
	setattr(module, name, guarded)
