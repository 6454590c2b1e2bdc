# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Warm a ``bench worker`` before it forks its work horses.

RQ runs every job in a work horse forked from the worker process, which has imported little more than
Frappe itself. The first ``save()`` in each horse then imports ≈ 580 modules (document machinery,
HTML sanitizing, notifications, versions, …): ≈ 0.7 s before a bulk job's first record - for every job
and every chunk job that starts a chain. Frappe loads each app's ``commands`` module in every ``bench``
process, the worker included; ``bulk_queue.commands`` calls ``warm_worker`` there, so the worker
imports them once and every horse inherits them (measured: first save 0.70 s → 0.10 s).

Only in a worker process (``bench worker`` / ``worker-pool``), never for other commands; any module
that fails to import is skipped. ``BULK_QUEUE_PRELOAD=0`` in the environment turns it off.
"""

from __future__ import annotations

import importlib
import os
import sys

# What the first save of a document imports, by its roots (Frappe v15; a missing one is skipped).
MODULES = (
	"frappe.model.document",
	"frappe.model.base_document",
	"frappe.model.db_query",
	"frappe.model.create_new",
	"frappe.model.workflow",
	"frappe.database.query",
	"frappe.desk.form.load",
	"frappe.desk.form.assign_to",
	"frappe.desk.notifications",
	"frappe.desk.reportview",
	"frappe.desk.doctype.todo.todo",
	"frappe.desk.doctype.notification_log.notification_log",
	"frappe.core.doctype.version.version",
	"frappe.email.queue",
	"frappe.email.doctype.notification.notification",
	"frappe.utils.html_utils",
	"frappe.utils.safe_exec",
	"frappe.utils.global_search",
	"frappe.utils.nestedset",
	"frappe.utils.formatters",
	"frappe.utils.user",
	"frappe.website.utils",
	"frappe.realtime",
	"frappe.client",
	"frappe.auth",
	"frappe.boot",
	"frappe.twofactor",
	"frappe.deferred_insert",
	"frappe.rate_limiter",
	"bleach",
	"bleach.css_sanitizer",
	"sql_metadata",
	"sqlparse",
	"_strptime",
)
# Not bulk_queue's own modules (nor any app's): each job still imports the app code on disk, so an
# update takes effect at the next job, as it did before, without restarting the workers.

WORKER_COMMANDS = ("worker", "worker-pool")


def is_worker_process(argv: list[str] | None = None) -> bool:
	"""Whether this process is ``bench worker`` (Frappe's CLI with a worker command)."""
	argv = sys.argv if argv is None else argv
	if not argv or "bench_helper" not in argv[0]:
		return False
	args = argv[1:]
	if args and args[0] == "frappe":
		args = args[1:]
	i = 0
	while i < len(args) and args[i].startswith("-"):  # global options: --site S, --verbose, ...
		i += 2 if args[i] == "--site" else 1
	return i < len(args) and args[i] in WORKER_COMMANDS


def warm_worker() -> int:
	"""Import ``MODULES`` when this is a worker process; return how many were imported."""
	if os.environ.get("BULK_QUEUE_PRELOAD", "1") == "0" or not is_worker_process():
		return 0
	imported = 0
	for name in MODULES:
		try:
			importlib.import_module(name)
			imported += 1
		except Exception:
			# Never keep a worker from starting: a module this Frappe lacks is imported lazily, as before.
			pass
	return imported
