# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Selecting a large filter job's records in the background, writing its chunks as it goes.

A job whose filters match more than ``bulk_queue_plan_inline_max`` records is recorded as ``Planning``
with no chunk, and its planner is enqueued. The planner reads the matching names as the requesting user
(so their permissions decide what is selected) in keyset pages on ``name`` - never all at once, so its
memory stays flat for a million rows - and writes each page's chunks in the same transaction as the
page's keyset watermark, ``plan_after``. Chunks start as soon as they exist, while planning goes on.
When a page comes back short the total is known: the job becomes Queued (or Running) and may finish.

Records created after the job was started (its ``selected_at``) are not selected, whatever their name.

Exactly once: the watermark moves only in the transaction that writes the page's chunks, under the
job's row lock, and only when it still is where this planner read from (compare-and-set) and the
planner's token is current. A killed planner is run again (RQ's retry with the same token, or recovery
with a new one) and resumes after the watermark; a zombie finds the token or the watermark moved and
writes nothing.
"""

from __future__ import annotations

import json
import time

import frappe
from frappe import _
from frappe.utils import cstr, now_datetime

from bulk_queue import access, completion, dispatch, failures, lifecycle, progress, settings
from bulk_queue.actions import get_action, job_title
from bulk_queue.filters import read_page
from bulk_queue.tasks.bulk import run_after_planning
from bulk_queue.utils.selection import chunked

JOB = dispatch.JOB
# Tries of a planner that failed (not counting a killed work horse) before the job is given up.
MAX_PLAN_FAILURES = 3


def run_planner(bulk_job: str, token: int) -> None:
	"""RQ entry point: select the records of a Planning job and write its chunks."""
	Planner(bulk_job, int(token)).run()


class Planner:
	"""Plans one job from its watermark to the last matching record, a page per transaction."""

	def __init__(self, bulk_job: str, token: int) -> None:
		self.bulk_job = bulk_job
		self.token = token

	def run(self) -> None:
		started = time.monotonic()
		frappe.db.rollback()
		job = dispatch.lock_job(self.bulk_job)
		if not self._current(job):
			frappe.db.rollback()
			if job and job.status != "Planning":
				# Planned already. RQ's retry of a planner that died while it went on with the chunks
				# (see below) finishes the chunk it held (or closes it, if the job was cancelled or
				# paused meanwhile).
				run_after_planning(self.bulk_job, started + planner_timeout(job))
			return
		frappe.db.set_value(JOB, self.bulk_job, "plan_heartbeat", now_datetime(), update_modified=False)
		frappe.db.commit()
		self.doctype = job.reference_doctype
		self.chunk_size = job.chunk_size or settings.get("bulk_queue_default_chunk_size")
		self.page_size = self.base_page_size = _page_size(self.chunk_size)
		# Only what existed when the job was started; the same user's permissions as in the request.
		self.filters = [
			*json.loads(job.filters or "[]"),
			[self.doctype, "creation", "<=", str(job.selected_at)],
		]
		# A Retry Failed of more failures than one request reads: the records are those failures'.
		self.retry = frappe.db.get_value(JOB, self.bulk_job, "plan_retry")
		self.selected_at = job.selected_at
		self.after = job.plan_after
		self.hard_deadline = time.monotonic() + planner_timeout(job)
		self.slowest_page = 0.0
		self.user = job.user
		self.action = job.action
		# An action whose values name its records (Undo): its own pages, not the DocType's.
		self.plan_page = get_action(job.action).plan_page
		self.values = json.loads(job["values"] or "{}") if self.plan_page else {}
		self.planned = False
		try:
			while self._step():
				pass
		except Exception as e:
			frappe.db.rollback()
			if not self._count_failure(e):
				raise  # RQ's retry (or recovery) runs the planner again from its watermark
			return
		if self.planned:
			# The total is known: this work horse goes on with the chunks (a chain, with its limits).
			run_after_planning(self.bulk_job, self.hard_deadline)

	def _count_failure(self, error: Exception) -> bool:
		"""Record a failed try; give the job up (Failed, with the error) when the filters or the
		user's permissions cannot work or tries keep failing. Returns whether it gave up."""
		from bulk_queue.filters import FilterError

		fatal = isinstance(error, FilterError | frappe.PermissionError | frappe.DoesNotExistError)
		frappe.set_user("Administrator")
		job = dispatch.lock_job(self.bulk_job)
		if not self._current(job):
			frappe.db.rollback()
			return True
		failures = (frappe.db.get_value(JOB, self.bulk_job, "plan_failures") or 0) + 1
		if not fatal and failures < MAX_PLAN_FAILURES:
			frappe.db.set_value(JOB, self.bulk_job, "plan_failures", failures, update_modified=False)
			frappe.db.commit()
			return False
		message = frappe.utils.strip_html_tags(str(error)) or type(error).__name__
		frappe.local.message_log = []
		lifecycle.fail_job(
			self.bulk_job,
			_("Selecting the records failed after {0} tries: {1}").format(failures, message)
			if not fatal
			else _("The records could not be selected: {0}").format(message),
		)
		frappe.log_error(
			title=f"bulk_queue: planning {self.bulk_job} failed",
			reference_doctype=JOB,
			reference_name=self.bulk_job,
		)
		frappe.db.commit()
		completion.after_end(self.bulk_job)
		progress.publish(self.bulk_job, force=True)
		return True

	def _current(self, job: frappe._dict | None) -> bool:
		"""Whether this run may still plan the job: it is Planning and this is its current try."""
		return bool(job) and job.status == "Planning" and job.plan_token == self.token

	def _step(self) -> bool:
		"""Read one page and commit its chunks; False when planning is over (or not ours any more)."""
		page_started = time.monotonic()
		# Select as the requester as they are now (roles read afresh); never for a disabled account.
		refused = access.act_as(self.user, self.doctype, self.action, power=get_action(self.action).power)
		if refused:
			raise frappe.PermissionError(refused)
		page_size = self.page_size
		if self.retry:
			retried = failures.retry_rows(
				self.bulk_job,
				None if self.retry == "*" else self.retry,
				before=self.selected_at,
				after=self.after,
				limit=page_size,
			)
			names = list(dict.fromkeys(f.reference_name for f in retried))
			read = len(retried)
		elif self.plan_page:
			names, last_key, read = self.plan_page(self.values, self.after, page_size)
		else:
			names = read_page(self.doctype, self.filters, after=self.after, page_size=page_size)
			read = len(names)
		read_time = time.monotonic() - page_started
		self.slowest_page = max(self.slowest_page, read_time)
		last_page = read < page_size
		self.page_size = _next_page_size(page_size, self.base_page_size, read_time)
		job = dispatch.lock_job(self.bulk_job)
		if not self._current(job):
			frappe.db.rollback()
			return False
		if cstr(job.plan_after) != cstr(self.after):
			# Another run of this try got further (an RQ retry while this process was still alive):
			# drop this page and go on from where it stands.
			self.after = job.plan_after
			frappe.db.rollback()
			return True

		added = dispatch.insert_chunks(
			self.bulk_job, chunked(names, self.chunk_size), owner=job.user, first_no=job.chunks + 1
		)
		now = now_datetime()
		update = {"chunks": job.chunks + added, "plan_heartbeat": now}
		if self.retry:
			# The failures' records run again: the rows stay as history, and leave the counters.
			failures.mark_retried([f.name for f in retried])
			self.after = retried[-1].name if retried else self.after
			update |= {
				"total": job.total - len(retried) + len(names),
				"processed": job.processed - len(retried),
				"failed": job.failed - len(retried),
			}
		else:
			self.after = (last_key if self.plan_page else names[-1]) if names else self.after
			update["total"] = job.total + len(names)
		update["plan_after"] = self.after
		handover = None
		if not last_page and time.monotonic() + max(10.0, 3 * self.slowest_page) >= self.hard_deadline:
			# Well before the RQ timeout kills it: a fresh try goes on from the watermark.
			handover = self.token + 1
			update |= {
				"plan_token": handover,
				"plan_rq_job_id": dispatch.planner_rq_job_id(self.bulk_job, handover),
			}
		frappe.db.set_value(JOB, self.bulk_job, update, update_modified=False)
		job.update(update)
		if last_page:
			# The total is known: the job is an ordinary one from now on.
			lifecycle.planned(job, _final_title(job, job.total))
		claimed = dispatch.claim_window(job)
		finished = lifecycle.finish_if_done(self.bulk_job) if last_page else None
		frappe.db.commit()

		dispatch.enqueue_chunks(job, claimed)
		if handover:
			dispatch.enqueue_planner(job, handover)
		progress.publish(self.bulk_job, force=last_page)
		if finished:
			completion.after_end(self.bulk_job)
		self.planned = last_page and not finished
		return not last_page and not handover


def planner_timeout(job: frappe._dict) -> int:
	"""Seconds one planner try may run: the queue's timeout (at least 5 minutes), not the chunk
	timeout the user may have set very short."""
	return max(300, dispatch.chunk_timeout(job.queue))


def _final_title(job: frappe._dict, total: int) -> str:
	return job_title(get_action(job.action), total, job.reference_doctype)


# A page read faster than this doubles the next one (a page costs a commit and a few queries of its
# own), up to PAGE_GROWTH times the configured size; a slower one halves it, down to that size.
FAST_PAGE = 0.25
SLOW_PAGE = 2.0
PAGE_GROWTH = 8


def _next_page_size(size: int, base: int, read_time: float) -> int:
	"""The next page's size after one of ``size`` names took ``read_time`` seconds to read (always a
	multiple of ``base``, itself a whole number of chunks)."""
	if read_time < FAST_PAGE:
		return min(size * 2, base * PAGE_GROWTH)
	if read_time > SLOW_PAGE:
		return max(base, size // base // 2 * base)
	return size


def _page_size(chunk_size: int) -> int:
	"""Names per page: about ``bulk_queue_plan_page_size``, a whole number of chunks (so every chunk
	but the job's last is full)."""
	target = max(1, settings.get("bulk_queue_plan_page_size"))
	return chunk_size * max(1, target // chunk_size)
