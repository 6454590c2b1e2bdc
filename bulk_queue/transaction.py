# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""What a rolled-back piece of work leaves behind in Frappe besides the database: commit callbacks,
realtime messages queued for after the commit, and cache entries Frappe clears only "after commit or
rollback". Rolling back to a savepoint triggers none of that; these helpers do, so a failed record (or
a dry run) sends nothing and leaves no stale cache. And background jobs: ``frappe.enqueue`` puts a job
on the queue at once (an assignment's notification), so inside ``enqueues_after_commit`` they wait
for the commit that carries the record - a record rolled back, or redone after a worker died, queues
nothing, or queues it once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import frappe

Marks = tuple[int, int, int, int]


def callback_marks() -> Marks:
	"""How many commit/rollback callbacks and after-commit realtime messages are queued now (-1: no
	realtime log yet)."""
	log = getattr(frappe.local, "_realtime_log", None)
	return (
		len(getattr(frappe.db.before_commit, "_functions", ())),
		len(getattr(frappe.db.after_commit, "_functions", ())),
		len(log) if log is not None else -1,
		len(getattr(frappe.db.after_rollback, "_functions", ())),
	)


def drop_callbacks_after(marks: Marks) -> None:
	"""The work since ``marks`` was rolled back to a savepoint: forget its commit callbacks and realtime
	messages, and run its rollback callbacks now (Frappe's document cache clearing among them)."""
	for manager, mark in ((frappe.db.before_commit, marks[0]), (frappe.db.after_commit, marks[1])):
		functions = getattr(manager, "_functions", None)
		while functions is not None and len(functions) > mark:
			functions.pop()
	functions = getattr(frappe.db.after_rollback, "_functions", None)
	undo = []
	while functions is not None and len(functions) > marks[3]:
		undo.append(functions.pop())
	for callback in reversed(undo):
		try:
			callback()
		except Exception:
			frappe.log_error(title="bulk_queue: a rollback callback failed")
	log = getattr(frappe.local, "_realtime_log", None)
	if log is None:
		return
	if marks[2] < 0:
		# The log was started since: its flush callback was just dropped with the others, so the
		# next message must start a new one (Frappe registers the flush when it creates the log).
		del frappe.local._realtime_log
	else:
		del log[marks[2] :]


_local = threading.local()


@contextmanager
def enqueues_after_commit() -> Iterator[None]:
	"""Background jobs the body queues through ``frappe.enqueue`` (a Server Script's ``enqueue`` too)
	go on the queue when the transaction commits, not at once; ``now=True`` calls still run at once."""
	_install_defer_guards()
	previous = getattr(_local, "defer", False)
	_local.defer = True
	try:
		yield
	finally:
		_local.defer = previous


def _install_defer_guards() -> None:
	from frappe.utils import background_jobs, safe_exec

	for module in (background_jobs, safe_exec):  # safe_exec binds enqueue at import
		original = module.enqueue
		if getattr(original, "_bulk_queue_defer", False):
			continue

		def enqueue(*args, _original=original, **kwargs):
			if getattr(_local, "defer", False) and not kwargs.get("now"):
				kwargs["enqueue_after_commit"] = True
			return _original(*args, **kwargs)

		enqueue._bulk_queue_defer = True
		enqueue.__wrapped__ = original
		module.enqueue = enqueue


def driver_errors() -> tuple[tuple[type, ...], tuple[type, ...]]:
	"""The database driver's (errors, connection errors): PyMySQL's on Frappe v15; v16 talks to MariaDB
	through mysqlclient (``MySQLdb``) by default. ``e.args[0]`` is the server's error number in both."""
	import pymysql

	errors: tuple[type, ...] = (pymysql.err.MySQLError,)
	interface: tuple[type, ...] = (pymysql.err.InterfaceError,)
	try:
		import MySQLdb

		errors += (MySQLdb.Error,)
		interface += (MySQLdb.InterfaceError,)
	except ImportError:
		pass
	return errors, interface


@contextmanager
def commits_held() -> Iterator[None]:
	"""Commits the body asks for do not happen: what it wrote waits for the caller's own commit, or its
	rollback. For actions whose output must commit together with the record it belongs to (Frappe
	v15's print view commits the Access Log it writes, mid-record)."""
	db = frappe.db
	db = getattr(db, "_get_current_object", lambda: db)()  # the connection itself, not the proxy
	had_own = "commit" in vars(db)
	original = db.commit

	def held(*args, **kwargs):
		return None

	db.commit = held
	try:
		yield
	finally:
		if had_own:
			db.commit = original
		else:
			del db.commit
