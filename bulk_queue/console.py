# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""The console API: start, watch and repair bulk jobs from ``bench console``, scripts and patches.

    >>> from bulk_queue import console
    >>> job = console.enqueue("ToDo", "set_value", filters={"status": "Open"}, values={"status": "Closed"})
    >>> console.wait(job, on_progress=lambda p: print(p["processed"], "/", p["total"]))
    >>> console.failures(job)

Every function acts as the current user (``frappe.session.user``), with the same checks as the
whitelisted API: permissions for the action, a job's requester or a System Manager for the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import frappe

from bulk_queue import jobs as jobs_
from bulk_queue import request
from bulk_queue.api import bulk as api
from bulk_queue.states import ACTIVE


def enqueue(
	doctype: str,
	action: str,
	ids: list[str] | str | None = None,
	filters: Any = None,
	values: dict | None = None,
	**options,
) -> str:
	"""Start a bulk job and return its name (``BQJ-00001``).

	Args:
		doctype: the DocType of the records.
		action: ``save``, ``set_value``, ``set_value_fast``, ``submit``, ``cancel``, ``delete`` or an
			action registered by an app.
		ids: record names (a list, or a comma/newline separated string), or
		filters: ``frappe.get_list`` filters selecting the records (``[]``: every record the user can
			read).
		values: the fields to set, for ``set_value`` / ``set_value_fast``.
		**options: ``chunk_size``, ``queue``, ``timeout``, ``rate_limit``, ``start_at``,
			``email_on_finish``, as for ``enqueue_bulk``.

	Raises:
		frappe.ValidationError: (or PermissionError) on bad input; nothing is recorded then.
	"""
	req = request.parse(
		user=frappe.session.user,
		doctype=doctype,
		action=action,
		ids=ids,
		filters=filters,
		values=values,
		**options,
	)
	result = jobs_.start(req)
	frappe.db.commit()
	return result["bulk_job"]


def status(bulk_job: str) -> dict:
	"""The job's progress: ``status``, ``total``, ``processed``, ``succeeded``, ``failed``,
	``percent``, ``rate`` (records/s), ``eta`` and ``elapsed`` (seconds), ``title``."""
	if not frappe.db.transaction_writes:
		# Read what the workers committed since, not this transaction's snapshot (never throwing away
		# the caller's own pending writes: with those, this reads the snapshot).
		frappe.db.rollback()
	return api.get_bulk_job_status(bulk_job)


def wait(
	bulk_job: str,
	*,
	timeout: float | None = None,
	interval: float = 1.0,
	on_progress: Callable[[dict], Any] | None = None,
) -> dict:
	"""Block until the job has ended - for Print and Export, until its file is merged too (its
	``output_file``); return its final progress (see ``status``).

	Args:
		timeout: seconds to wait at most (None: no limit); ``TimeoutError`` after.
		interval: seconds between looks at the job.
		on_progress: called with the progress after each look, the final one included.
	"""
	deadline = time.monotonic() + timeout if timeout else None
	while True:
		progress = status(bulk_job)
		if on_progress:
			on_progress(progress)
		if progress["status"] not in (*ACTIVE, "Scheduled") and not file_pending(bulk_job, progress):
			return progress  # ended, or Paused: nothing happens until somebody resumes it
		if deadline and time.monotonic() >= deadline:
			raise TimeoutError(f"{bulk_job} is still {progress['status']} after {timeout} s")
		time.sleep(interval)


def file_pending(bulk_job: str, progress: dict) -> bool:
	"""Whether an ended Print or Export job's file is still being merged (its end not handled yet)."""
	return bool(progress.get("output_pending"))


def cancel(bulk_job: str) -> dict:
	"""Cancel a job that is still Planning, Queued or Running; return its progress. Commits."""
	return api.cancel_bulk_job(bulk_job)


def preview(
	doctype: str,
	action: str,
	ids: list[str] | str | None = None,
	filters: Any = None,
	values: dict | None = None,
	sample: int = 20,
) -> dict:
	"""Dry run on the first ``sample`` records: what would change and what would fail; nothing is
	written (see ``bulk_queue.api.bulk.preview_bulk``)."""
	from bulk_queue import preview as dry_run

	req = request.parse_preview(
		user=frappe.session.user,
		doctype=doctype,
		action=action,
		ids=ids,
		filters=filters,
		values=values,
		sample=sample,
	)
	return dry_run.run_request(req)


def pause(bulk_job: str) -> dict:
	"""Pause a job that is Planning, Queued or Running; return its progress. Commits."""
	return api.pause_bulk_job(bulk_job)


def resume(bulk_job: str) -> dict:
	"""Resume a Paused job from its chunks' watermarks; return its progress. Commits."""
	return api.resume_bulk_job(bulk_job)


def retry_failed(bulk_job: str, error: str | None = None) -> int:
	"""Run the failed records of a finished job again (all, or those of one ``error`` of
	``errors()``); return how many failures are retried. Commits."""
	return api.retry_failed(bulk_job, error=error)["retried"]


def undo(bulk_job: str) -> str:
	"""Start an Undo of a finished job (see ``api.bulk.undo_bulk_job``); return the new job's name.
	Commits."""
	result = api.undo_bulk_job(bulk_job)
	frappe.db.commit()
	return result["bulk_job"]


def failures(bulk_job: str, limit: int | None = None, error: str | None = None) -> list[dict]:
	"""The job's failed records in name order: ``reference_name``, ``exception_type``, ``error``,
	``error_group``, ``attempts``, ``retried``, ``creation`` (all of them, or the first ``limit``; only
	those of one ``error`` of ``errors()``)."""
	rows: list[dict] = []
	for row in iter_failures(bulk_job, error=error):
		if limit is not None and len(rows) >= limit:
			break
		rows.append(row)
	return rows


def iter_failures(bulk_job: str, error: str | None = None) -> Iterator[dict]:
	"""Every failed record of the job (or of one error), a page of 500 at a time (a keyset: the
	millionth costs what the first did)."""
	after = None
	while True:
		page = api.get_failures(bulk_job, page_length=500, error=error, after=after)
		yield from page["failures"]
		after = page["after"]
		if not after:
			return


def errors(bulk_job: str) -> list[dict]:
	"""The job's failures grouped by error, most failures first: ``name``, ``exception_type``,
	``message`` (what varies between records taken out), ``example``, ``examples`` (a few records),
	``failures`` (how many)."""
	return api.get_errors(bulk_job)["errors"]


def jobs(status: str | None = None, user: str | None = None, limit: int = 20) -> list[dict]:
	"""Recent bulk jobs the current user may read (newest first), optionally by status and user."""
	filters = {}
	if status:
		filters["status"] = status
	if user:
		filters["user"] = user
	return frappe.get_list(
		"Bulk Queue Job",
		filters=filters,
		fields=[
			"name",
			"title",
			"status",
			"user",
			"total",
			"processed",
			"succeeded",
			"failed",
			"creation",
		],
		order_by="creation desc",
		limit_page_length=limit,
	)
