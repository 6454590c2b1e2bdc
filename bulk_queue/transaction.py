# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""What a rolled-back piece of work leaves behind in Frappe besides the database: commit callbacks
and realtime messages queued for after the commit. Rolling back to a savepoint does not forget them;
these helpers do, so a failed record (or a dry run) sends nothing."""

from __future__ import annotations

import frappe


def callback_marks() -> tuple[int, int, int]:
	"""How many commit callbacks and after-commit realtime messages are queued now (-1: no log yet)."""
	log = getattr(frappe.local, "_realtime_log", None)
	return (
		len(getattr(frappe.db.before_commit, "_functions", ())),
		len(getattr(frappe.db.after_commit, "_functions", ())),
		len(log) if log is not None else -1,
	)


def drop_callbacks_after(marks: tuple[int, int, int]) -> None:
	"""Forget commit callbacks and realtime messages queued since ``marks``."""
	for manager, mark in ((frappe.db.before_commit, marks[0]), (frappe.db.after_commit, marks[1])):
		functions = getattr(manager, "_functions", None)
		while functions is not None and len(functions) > mark:
			functions.pop()
	log = getattr(frappe.local, "_realtime_log", None)
	if log is None:
		return
	if marks[2] < 0:
		# The log was started since: its flush callback was just dropped with the others, so the
		# next message must start a new one (Frappe registers the flush when it creates the log).
		del frappe.local._realtime_log
	else:
		del log[marks[2] :]
