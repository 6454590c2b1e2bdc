# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Dry run: apply an action to a sample of records inside a transaction that is always rolled back,
and report per record what would change (field, old value, new value) or why it would fail.

The action runs exactly as in a job - the same document model, validations, hooks and the requester's
permissions - and the records one after another in one transaction, as a real run does, so a dry run
fails where the real run would (a failed record is rolled back to its savepoint, a successful one stays
for the next to see). Nothing escapes: everything is rolled back at the end, commit callbacks
never run, realtime messages are not sent, emails are muted, background jobs enqueued through
``frappe.enqueue`` are dropped, files are not removed from disk (``File.delete_file_data_content``
does nothing; files written are removed again by the rollback, as Frappe's File does), and an action
that commits or rolls back by itself is stopped and reported. Actions whose effects a rollback cannot
undo do not run at all: they describe instead what they would do (``Action.preview``; Delete lists the
record, its child rows and attachments, and what blocks it). What it cannot hold back: calls to other
systems the action (or a Notification's Slack or SMS channel) makes itself.

The answer shows only what the requester may read: fields above their permlevels are left out, old and
new values alike, and Password values are never shown.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import frappe
from frappe import _, _lt
from frappe.model import default_fields, table_fields

from bulk_queue import secrets
from bulk_queue.actions import Renamed, Skipped
from bulk_queue.transaction import callback_marks, drop_callbacks_after

if TYPE_CHECKING:
	from bulk_queue.request import PreviewRequest

# Fields every save changes: not what the user wants to review.
_NOISE = frozenset({*default_fields, "_user_tags", "_comments", "_assign", "_liked_by", "_seen"})
_MAX_TEXT = 140
_MAX_ROW_CHANGES = 50  # per table and record: a dry run is a sample, not a report


class DryRunCommitError(frappe.ValidationError):
	"""The action committed or rolled back by itself: a dry run cannot show (or undo) its effect."""


def run_request(req: PreviewRequest) -> dict:
	"""Dry-run a parsed request (``request.parse_preview``): ``run`` on its sample, with the number of
	records it selects as ``total``."""
	return {**run(req.doctype, req.action, req.names, req.values), "total": req.total}


def run(doctype: str, act, names: list[str], values: dict) -> dict:
	"""Dry-run ``act`` on ``names`` as the current user; see ``api.bulk.preview_bulk``."""
	meta = frappe.get_meta(doctype)
	view = _View(meta, frappe.session.user, secrets.secret_values(meta, values))
	records = []
	with dry_run():
		for i, name in enumerate(names):
			try:
				records.append(_one(doctype, act, name, values, f"bq_preview_{i}", view))
			except _TransactionLost:
				frappe.throw(
					_(
						"The dry run lost its database transaction at {0} (a deadlock or a lost connection); try again."
					).format(name),
					title=_("Dry Run Interrupted"),
				)
	result = {
		"records": records,
		"would_fail": sum(1 for r in records if r["error"]),
		"sampled": len(records),
		"notes": [],
	}
	if act.preview:
		result["notes"].append(
			_(
				"{0} was not run: this is what it would do, from Frappe's own checks. What the DocType's controller checks when a record is deleted (on_trash) was not tried, and each record is shown as if it were the only one deleted."
			).format(_(act.label))
		)
	return result


def _one(doctype: str, act, name: str, values: dict, savepoint: str, view: _View) -> dict:
	"""Try one record. A success stays in the transaction, as in a real run (a later record then sees
	it: a unique value taken, a counter moved); a failure is rolled back to its savepoint."""
	marks = callback_marks()
	frappe.db.savepoint(savepoint)
	record = {"name": name, "changes": [], "error": None, "exception_type": None, "skipped": None}
	try:
		result = None
		before = _snapshot(frappe.get_doc(doctype, name), act.shows)
		doc = frappe.get_doc(doctype, name)
		doc.check_permission(act.ptype)
		if act.preview:
			# Not run: it would do what no rollback undoes. It says what it would do instead.
			record["changes"] = act.preview(doc, values)
		elif act.apply_batch:
			failed = act.apply_batch(doctype, [name], values, frappe.session.user)
			if name in failed:
				record["exception_type"], record["error"] = failed[name]
		else:
			result = act.apply(doc, values)
		if not record["error"] and not act.preview:
			renamed = result.name if isinstance(result, Renamed) else None
			current = renamed or name
			after = (
				_snapshot(frappe.get_doc(doctype, current), act.shows)
				if frappe.db.exists(doctype, current)
				else None
			)
			if renamed:
				before.pop("name", None)
				after and after.pop("name", None)
			record["changes"] = view.changes(before, after, values)
			if renamed:
				record["changes"].insert(
					0, {"field": "name", "label": _("Name"), "old": name, "new": renamed}
				)
	except DryRunCommitError:
		raise
	except Skipped as e:
		# Left as is, as a real run would: whatever the action touched goes back.
		record["skipped"] = view.scrub(str(e))[:1000] or _("Nothing to do.")
		record["changes"] = []
		try:
			frappe.db.rollback(save_point=savepoint)
		except Exception as lost:
			raise _TransactionLost from lost
		drop_callbacks_after(marks)
	except Exception as e:
		record["exception_type"] = type(e).__name__
		record["error"] = view.scrub(
			frappe.utils.strip_html_tags(str(frappe.flags.get("error_message") or e) or type(e).__name__)
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


def _snapshot(doc, shows: tuple[str, ...] = ()) -> dict:
	"""The record's values a change is shown of; of Frappe's own columns only those the action
	``shows`` (read from the row: ``_assign`` is not loaded into the document)."""
	data = doc.as_dict(no_default_fields=True)
	snapshot = {k: v for k, v in data.items() if k not in _NOISE and not k.startswith("__")}
	for df in doc.meta.get_table_fields():
		# Rows keep their name and position: a change is shown row by row.
		snapshot[df.fieldname] = [row.as_dict() for row in doc.get(df.fieldname) or []]
	if shows:
		row = frappe.db.get_value(doc.doctype, doc.name, list(shows), as_dict=True) or {}
		snapshot.update({column: _readable_column(column, row.get(column)) for column in shows})
	return snapshot


# Frappe's own columns an action may show the change of, as Desk names them.
_COLUMNS = {"_assign": _lt("Assigned To"), "_user_tags": _lt("Tags")}


def _readable_column(column: str, value) -> str | None:
	"""``_assign`` (a JSON list) and ``_user_tags`` (",a,b") as a plain, sorted list."""
	if not value:
		return None
	if column == "_assign":
		items = frappe.parse_json(value) or []
	else:
		items = [t for t in str(value).split(",") if t]
	return ", ".join(sorted(items)) or None


class _View:
	"""What the requester may see of a record's changes: only fields of permlevels they may read, and
	no Password value (nor the clear values of the request's Password fields in an error)."""

	def __init__(self, meta, user: str, secret_values: list[str]) -> None:
		self.meta = meta
		self.readable = set(meta.get_permlevel_access("read", user=user)) | {0}
		self.secret_values = secret_values

	def changes(self, before: dict, after: dict | None, values: dict) -> list[dict]:
		if after is None:
			return [{"field": "name", "label": _("Record"), "old": before.get("name"), "new": _("(deleted)")}]
		changes = []
		for field in sorted(set(before) | set(after)):
			old, new = before.get(field), after.get(field)
			df = self.meta.get_field(field)
			if df and (df.permlevel or 0) not in self.readable:
				continue
			if df and df.fieldtype == "Password":
				# Frappe keeps asterisks in the row: a change shows only as the field being set.
				if field in values:
					changes.append(
						{"field": field, "label": _(df.label), "old": _masked(old), "new": secrets.MASK}
					)
				continue
			if df and df.fieldtype in table_fields:
				changes += self._row_changes(df, old, new)
				continue
			if old == new or (old in (None, "") and new in (None, "")):
				continue
			if df and df.label:
				label = _(df.label)
			elif field in _COLUMNS:
				label = str(_COLUMNS[field])
			else:
				label = _("Status") if field == "docstatus" else field
			changes.append({"field": field, "label": label, "old": _show(old), "new": _show(new)})
		return changes

	def _row_changes(self, df, old_rows, new_rows) -> list[dict]:
		"""A table's changes row by row: "Items, row 2: Warehouse" old -> new, a row removed, a row
		added (with its values), matched by the row's name."""
		child = frappe.get_meta(df.options)
		hidden = self._hidden_in(df.options)
		table = _(df.label or df.fieldname)
		old_by_name = {row.get("name"): row for row in old_rows or []}
		new_names = {row.get("name") for row in new_rows or []}
		changes = []
		for row in old_rows or []:
			if row.get("name") not in new_names:
				label = _("{0}, row {1}").format(table, row.get("idx"))
				changes.append({"field": df.fieldname, "label": label, "old": _row_text(row, child, hidden),
								"new": _("(removed)")})  # fmt: skip
		for row in new_rows or []:
			before = old_by_name.get(row.get("name"))
			if before is None:
				label = _("{0}, row {1}").format(table, row.get("idx"))
				changes.append({"field": df.fieldname, "label": label, "old": _("(new row)"),
								"new": _row_text(row, child, hidden)})  # fmt: skip
				continue
			for fieldname in _rows([row], hidden)[0]:
				old, new = before.get(fieldname), row.get(fieldname)
				if old == new or (old in (None, "") and new in (None, "")) or fieldname == "name":
					continue
				field = child.get_field(fieldname)
				label = _("{0}, row {1}: {2}").format(
					table, row.get("idx"), _(field.label) if field and field.label else fieldname
				)
				changes.append({"field": f"{df.fieldname}.{fieldname}", "label": label, "old": _show(old),
								"new": _show(new)})  # fmt: skip
		return changes[:_MAX_ROW_CHANGES]

	def _hidden_in(self, child_doctype: str) -> set[str]:
		return {
			df.fieldname
			for df in frappe.get_meta(child_doctype).fields
			if (df.permlevel or 0) not in self.readable or df.fieldtype == "Password"
		}

	def scrub(self, text: str) -> str:
		return secrets.scrub(text, self.secret_values)


def _masked(value) -> str | None:
	return secrets.MASK if value not in (None, "") else None


def _rows(rows, hidden: set[str]) -> Any:
	# A table's rows, minus what every save rewrites and what the requester may not read: a count is
	# shown, changed rows are compared.
	skip = {*_NOISE, *hidden, "parent", "parentfield", "parenttype"}
	return [{k: v for k, v in row.items() if k not in skip} for row in rows or []]


def _row_text(row: dict, child, hidden: set[str]) -> str:
	"""A row's values in a line: "Item: Bolt, Qty: 4, Warehouse: Stores"."""
	values = _rows([row], hidden)[0]
	parts = []
	for fieldname, value in values.items():
		if value in (None, "", 0) or fieldname == "name":
			continue
		field = child.get_field(fieldname)
		if not field or field.fieldtype in table_fields:
			continue
		parts.append(f"{_(field.label or fieldname)}: {_show(value)}")
	text = ", ".join(parts)
	return text[:_MAX_TEXT] + "…" if len(text) > _MAX_TEXT else text


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
	"""Wrap, once per process, what acts at once rather than after the commit: queueing background
	jobs (``frappe.enqueue`` looks ``enqueue`` up in its module on every call), realtime messages
	published without ``after_commit``, and removing a File's content from disk (or from the storage an
	app's ``delete_file_data_content`` hook keeps it in) - a rollback brings the File row back, not
	the file. During a dry run in this thread they do nothing; everywhere else they behave as before."""
	from frappe import realtime
	from frappe.core.doctype.file.file import File
	from frappe.model.base_document import get_controller
	from frappe.utils import background_jobs, safe_exec
	from rq.queue import Queue

	_guard(background_jobs, "enqueue")
	_guard(safe_exec, "enqueue")  # Server Scripts' frappe.enqueue: bound at import
	_guard(Queue, "enqueue_call")  # and whatever else reaches RQ
	_guard(realtime, "emit_via_redis")
	_guard_file_removal(File)
	controller = get_controller("File")
	if "delete_file_data_content" in vars(controller):
		_guard_file_removal(controller)


def _guard_file_removal(cls) -> None:
	"""Keep a File's content on disk during a dry run - except a file the dry run itself wrote: the
	rollback of a failed record removes that one (``File.on_rollback``), as Frappe does."""
	original = vars(cls).get("delete_file_data_content")
	if original is None or getattr(original, "_bulk_queue_guard", False):
		return

	def guarded(self, *args, **kwargs):
		if getattr(_local, "active", False) and not self.flags.get("new_file"):
			return None
		return original(self, *args, **kwargs)

	guarded._bulk_queue_guard = True
	guarded.__wrapped__ = original
	cls.delete_file_data_content = guarded


def _guard(module, name: str) -> None:
	original = vars(module).get(name) if isinstance(module, type) else getattr(module, name)
	if getattr(original, "_bulk_queue_guard", False):
		return

	def guarded(*args, **kwargs):
		if getattr(_local, "active", False):
			return None
		return original(*args, **kwargs)

	guarded._bulk_queue_guard = True
	guarded.__wrapped__ = original
	setattr(module, name, guarded)
