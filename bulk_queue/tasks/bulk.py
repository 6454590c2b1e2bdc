# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""What RQ workers run: one chunk of a bulk job.

Exactly-once effect rests on the chunk's watermark, ``done_upto``: the number of the chunk's records
whose outcome is committed. It is written in the same transaction as those records' changes (and their
failure rows), so after any crash the database says precisely which records are done, and a re-run
resumes after them. Only the RQ job carrying the chunk's current ``token`` may commit; a zombie from an
earlier try finds the token changed at its next commit and rolls back.

Inside a transaction every record has its own savepoint: a failing record is rolled back to it and
recorded as failed, the others stay. Transient errors (deadlock, lock wait timeout, lost connection,
``RetryBackgroundJobError``) are retried with backoff; a deadlock or a lost connection ends the whole
transaction, so the records since the last commit are replayed from the watermark.
"""

from __future__ import annotations

import json
import os
import socket
import time
from contextlib import nullcontext
from dataclasses import dataclass

import frappe
from frappe.utils import now_datetime
from rq.timeouts import JobTimeoutException

from bulk_queue import (
	access,
	changes,
	completion,
	dispatch,
	failures,
	lifecycle,
	outputs,
	progress,
	secrets,
	settings,
	throttle,
)
from bulk_queue.actions import Skipped, get_action
from bulk_queue.tasks import recovery
from bulk_queue.transaction import (
	callback_marks,
	commits_held,
	driver_errors,
	drop_callbacks_after,
	enqueues_after_commit,
)
from bulk_queue.utils.backoff import backoff_delay

JOB = dispatch.JOB
CHUNK = dispatch.CHUNK

# MariaDB/MySQL client error codes that mean the connection (and its transaction) is gone.
CONNECTION_LOST = {2003, 2006, 2013, 2055, 1927, 4031}
MAX_REPLAYS = 20
# Records per statement for batch actions (the fast path); one transaction each.
FAST_BATCH = 1000


def run_chunk(chunk: str, token: int) -> None:
	"""RQ entry point: process one chunk of a bulk job (``chunk`` is the Bulk Queue Chunk name)."""
	ChunkRunner(chunk, int(token)).run()


def run_after_planning(bulk_job: str, rq_deadline: float) -> None:
	"""Called in a planner's RQ job once the job's records are all selected: go on with the job's
	chunks in this process, as a chain does, instead of leaving them to a fresh work horse (with one
	worker, that start-up is the gap between the last page and the first record). First a chunk that
	an earlier run of this same RQ job held when it died (RQ's retry finishes it), else the next
	Pending or still-queued one. ``rq_deadline``: when RQ will stop this job (time.monotonic())."""
	rq_job_id = _current_rq_job_id()
	if not rq_job_id:
		return
	frappe.db.rollback()
	orphan = frappe.db.get_value(
		CHUNK,
		{"bulk_job": bulk_job, "status": "Running", "rq_job_id": rq_job_id},
		["name", "token"],
		as_dict=True,
	)
	if orphan:
		ChunkRunner(orphan.name, orphan.token, rq_deadline=rq_deadline).run()
	else:
		ChunkRunner("", 0, rq_deadline=rq_deadline).run_next_of(bulk_job)


class _TransactionLost(Exception):
	"""The open transaction was rolled back underneath us (deadlock victim, lost connection)."""


class _Fenced(BaseException):
	"""A commit the action tried to make was refused (this run no longer owns the chunk, or the job was
	cancelled): everything since the last commit is rolled back. A BaseException, so that an action's
	``except Exception`` does not carry on as if it had committed."""


class _Stop(Exception):
	"""Stop this run quietly: cancelled, superseded by a newer try, or handed to a continuation."""


@dataclass
class _Batch:
	"""Outcomes since the last commit."""

	start: int
	succeeded: int = 0
	failed: int = 0
	unchanged: int = 0  # of the succeeded: left as is (the action had nothing to do)


class ChunkRunner:
	"""Processes one chunk from its watermark to its end, committing every few records."""

	def __init__(self, chunk: str, token: int, *, rq_deadline: float | None = None) -> None:
		self.chunk = chunk
		self.token = token
		self.rq_deadline = rq_deadline
		self.errors: failures.ErrorCounts | None = None  # the failures' errors, counted per transaction
		self.commit_interval = settings.get("bulk_queue_commit_interval")
		self.max_attempts = max(1, settings.get("bulk_queue_max_attempts"))
		self.transient_failures: dict[int, int] = {}
		self.forced_failures: dict[int, tuple[str, str, str, int]] = {}
		self.unflushed_retries = 0
		self.tx_event: str | None = None
		# The index of the record whose action is running (for _before_commit), and of the record an
		# action's own commit already counted as succeeded.
		self.applying: int | None = None
		self.counted: int | None = None
		self.started = time.monotonic()
		self.rq_job_id = _current_rq_job_id()
		self.next_chunk: frappe._dict | None = None
		self.pressure = throttle.DatabasePressure()
		# An output action's pieces (a record's PDF, its row) by record index, since the last commit.
		self.items: dict[int, object] = {}

	# -- lifecycle --------------------------------------------------------------------------------

	def run(self) -> None:
		try:
			if not self._claim():
				return
			recovery.check_job(self.job.name)
			# One chunk, then - while the time budget lasts and no other work waits on the queue - the
			# job's next chunks in this same process (see _claim_continuation).
			while self._run_current() and self.next_chunk:
				self._take(self.next_chunk)
		except (_Stop, _Fenced):
			frappe.db.rollback()
			return

	def run_next_of(self, bulk_job: str) -> None:
		"""Take the job's next chunk (as a chain would, and only when a chain would) and go on."""
		try:
			if not self._claim_next(bulk_job):
				return
			recovery.check_job(bulk_job)
			while self._run_current() and self.next_chunk:
				self._take(self.next_chunk)
		except (_Stop, _Fenced):
			frappe.db.rollback()
			return

	def _claim_next(self, bulk_job: str) -> bool:
		frappe.db.rollback()
		job = dispatch.lock_job(bulk_job)
		if not job or job.status not in ("Queued", "Running"):
			frappe.db.rollback()
			return False
		self._start(job)
		# No chunk of our own is ending here: stay inside the job's window (a Pending chunk only if
		# it has room; a queued one instead takes its RQ job's place).
		row = (
			self._claim_continuation(job, pending=dispatch.window_room(bulk_job) > 0)
			if self._may_continue()
			else None
		)
		if not row:
			frappe.db.rollback()
			return False
		became_running = lifecycle.mark_started(job)
		frappe.db.commit()
		if row.replaces:
			dispatch.drop_rq_jobs([row.replaces])
		self._take(row)
		if became_running:
			progress.publish(bulk_job, force=True)
		return True

	def _run_current(self) -> bool:
		"""Process the current chunk to its end; False when this run no longer owns it."""
		replays = 0
		while True:
			try:
				self._process()
				return True
			except _TransactionLost:
				replays += 1
				if replays > MAX_REPLAYS:
					raise
				self._reset_transaction()
				time.sleep(backoff_delay(min(replays, 6)))
				if not self._reload():
					return False

	def _claim(self) -> bool:
		"""Take the chunk for this try: check token and job status, mark it Running, commit."""
		frappe.db.rollback()
		bulk_job = frappe.db.get_value(CHUNK, self.chunk, "bulk_job")
		if not bulk_job:
			return False
		job = dispatch.lock_job(bulk_job)
		row = self._lock_chunk()
		if job and (not row or row.token != self.token or row.status not in ("Queued", "Running")):
			# Not ours (any more). But an earlier run of this RQ job may have died while it was
			# processing a continuation: that chunk is still Running under this RQ job's id.
			row = self._lock_orphaned_continuation(bulk_job)
			if row:
				self.chunk, self.token = row.name, row.token
		if not job or not row or row.token != self.token or row.status not in ("Queued", "Running"):
			frappe.db.rollback()
			return False
		now = now_datetime()
		if job.status in dispatch.WAITING:
			# Paused (or not started yet): the chunk waits at its watermark for the job to go on. A run
			# of it that died counts against its record as always.
			if row.status == "Running":
				recovery.register_loss(job, row)
			frappe.db.sql(
				f"""update `tab{CHUNK}` set status='Pending', token=token+1, rq_job_id=null, modified=%s
				where name=%s""",
				(now, self.chunk),
			)
			frappe.db.commit()
			return False
		if job.status not in dispatch.ACTIVE:
			frappe.db.sql(
				f"update `tab{CHUNK}` set status='Cancelled', ended_at=%s, modified=%s where name=%s",
				(now, now, self.chunk),
			)
			frappe.db.commit()
			return False
		if row.status == "Running":
			# Still Running under our own token: an earlier run of this very try died (RQ retried it).
			# The new epoch below fences that run, should its work horse still be alive.
			recovery.register_loss(job, row)
		self.epoch = row.epoch + 1
		frappe.db.sql(
			f"""update `tab{CHUNK}` set status='Running', epoch=%s, started_at=coalesce(started_at, %s),
				heartbeat=%s, worker=%s, modified=%s where name=%s""",
			(self.epoch, now, now, _worker_label(), now, self.chunk),
		)
		became_running = lifecycle.mark_started(job)
		frappe.db.commit()

		self._start(job)
		self._load_chunk(row)
		if became_running:
			progress.publish(bulk_job, force=True)
		return True

	def _start(self, job: frappe._dict) -> None:
		"""Take on ``job`` for this run: its values, action, deadline and user."""
		self.job = job
		self.values = secrets.unseal(json.loads(job["values"]) if job["values"] else {}, job.sealed_values)
		# Password values never reach a failure's error or traceback in clear.
		self.secrets = secrets.secret_values(frappe.get_meta(job.reference_doctype), self.values)
		self.action = get_action(job.action)
		meta = frappe.get_meta(job.reference_doctype)
		# What the action replaces on each record (fields, tags, assignments): journaled for an Undo.
		self.undo_keys = self.action.undo_keys(meta, self.values) if self.action.undo_keys else []
		self.output = job.get("output_format") or None
		if self.errors is None or self.errors.bulk_job != job.name:
			self.errors = failures.ErrorCounts(job.name, known=failures.known_errors(job.name))
		self.timeout = job.timeout or dispatch.chunk_timeout(job.queue)
		self.deadline = time.monotonic() + self.timeout - max(2.0, min(60.0, self.timeout * 0.2))
		if self.rq_deadline is not None:
			# Inside a planner's RQ job: its own timeout, counted from the planner's start, comes first.
			self.deadline = min(self.deadline, self.rq_deadline - 60.0)
		# Permissions are checked for the user who asked, whoever enqueued this try; never as
		# Administrator (a job without a user does nothing, see _start_batch).
		frappe.set_user(job.user or "Guest")
		self.acted_as_at = float("-inf")

	def _load_chunk(self, row: frappe._dict) -> None:
		self.names = json.loads(row.names or "[]")
		self.idx = row.done_upto
		self.items = {}
		self.transient_failures = {}
		self.forced_failures = {}
		# Batch actions: records before this index go one at a time (their batch failed), and how
		# often the batch starting at an index lost its transaction.
		self.one_by_one_until = -1
		self.batch_losses: dict[int, int] = {}
		self.commit_every = max(1, settings.get("bulk_queue_commit_every"))
		if row.lost_count:
			# A try of this chunk was lost before: commit every record so a record that kills its
			# worker is pinned down exactly (see tasks/recovery.py).
			self.commit_every = 1

	def _lock_orphaned_continuation(self, bulk_job: str) -> frappe._dict | None:
		if not self.rq_job_id:
			return None
		rows = frappe.db.sql(
			f"""select name, bulk_job, chunk_no, status, token, epoch, names, total, done_upto,
				lost_count, lost_at
			from `tab{CHUNK}` where bulk_job=%s and status='Running' and rq_job_id=%s
			order by chunk_no limit 1 for update""",
			(bulk_job, self.rq_job_id),
			as_dict=True,
		)
		return rows[0] if rows else None

	# -- continuing with the next chunk in this process ---------------------------------------------

	def _may_continue(self) -> bool:
		"""Whether to take another chunk in this process: only inside an RQ job (so recovery can see
		it), within ``bulk_queue_chain_seconds``, well before the RQ timeout, and only while nothing
		else waits on the queue - other jobs, other bulk jobs - so the queue stays fair."""
		budget = settings.get("bulk_queue_chain_seconds")
		now = time.monotonic()
		if not self.rq_job_id or budget <= 0 or now - self.started >= budget:
			return False
		if self.deadline - now < min(30.0, self.timeout * 0.25):
			return False
		return not _others_waiting(self.job.name)

	def _claim_continuation(self, job: frappe._dict, *, pending: bool = True) -> frappe._dict | None:
		"""Take the job's next chunk for this process (caller holds the job's row lock and commits).

		First a Pending chunk; when none is left, a Queued one whose RQ job has not started yet (its
		RQ job is then dropped, see _flush), which saves a fresh work horse per chunk at the end of a
		job. The chunk becomes Running under a new token and epoch, with this RQ job's id: recovery
		sees a live RQ job while this process runs, and a lost chunk if it dies and no RQ retry of
		this job adopts it (_claim). It counts in the job's window like any other chunk.
		"""
		columns = (
			"name, bulk_job, chunk_no, status, token, epoch, names, total, done_upto, lost_count, lost_at"
		)
		rows = (
			frappe.db.sql(
				f"""select {columns}, rq_job_id from `tab{CHUNK}` where bulk_job=%s and status='Pending'
				order by chunk_no limit 1 for update""",
				job.name,
				as_dict=True,
			)
			if pending
			else []
		)
		replaces = None
		if not rows:
			queued = frappe.db.sql(
				f"""select {columns}, rq_job_id from `tab{CHUNK}` where bulk_job=%s and status='Queued'
				order by chunk_no limit 5 for update""",
				job.name,
				as_dict=True,
			)
			rows = [row for row in queued if _not_started(row.rq_job_id)][:1]
			replaces = rows[0].rq_job_id if rows else None
		if not rows:
			return None
		row = rows[0]
		row.token += 1
		row.epoch += 1
		row.status = "Running"
		row.replaces = replaces
		now = now_datetime()
		frappe.db.sql(
			f"""update `tab{CHUNK}` set status='Running', token=%s, epoch=%s, queued_at=%s,
				started_at=coalesce(started_at, %s), heartbeat=%s, worker=%s, rq_job_id=%s, modified=%s
			where name=%s""",
			(row.token, row.epoch, now, now, now, _worker_label(), self.rq_job_id, now, row.name),
		)
		return row

	def _take(self, row: frappe._dict) -> None:
		"""Switch this runner to a chunk claimed by _claim_continuation (already committed)."""
		self.next_chunk = None
		self.chunk, self.token, self.epoch = row.name, row.token, row.epoch
		self._load_chunk(row)

	def _reload(self) -> bool:
		"""After a lost transaction: resume from the committed watermark if this run still owns it."""
		row = frappe.db.get_value(CHUNK, self.chunk, ["token", "epoch", "status", "done_upto"], as_dict=True)
		if not self._owns(row):
			return False
		self.idx = row.done_upto
		self.items = {}  # what was not committed is done again from the watermark
		return True

	def _reset_transaction(self) -> None:
		try:
			frappe.db.rollback()
		except Exception:
			try:
				frappe.db.close()
			except Exception:
				pass
			frappe.db.connect()

	# -- the loop ---------------------------------------------------------------------------------

	def _process(self) -> None:
		self._start_batch()
		while self.idx < len(self.names):
			if time.monotonic() >= self.deadline:
				self._flush(continue_later=True)
				return
			if self.refused:
				# The requester's account is disabled or gone: nothing more is done in their name.
				self._record_failure(self.names[self.idx], "PermissionError", self.refused, "", 0)
				self.idx += 1
			elif self.action.apply_batch and self.idx >= self.one_by_one_until:
				self._hold_back(min(self._batch_size(), len(self.names) - self.idx))
				self._apply_batch()
			else:
				self._hold_back(1)
				self._apply(self.names[self.idx])
				self.idx += 1
			if self.idx < len(self.names) and (
				self.tx_event == "commit"  # the action committed: make the watermark follow at once
				or self.idx - self.batch.start >= self.commit_every
				or time.monotonic() - self.batch_started >= self.commit_interval
			):
				self._flush()
		# The chunk's last records commit with its end (and the claim of its next chunk), at once.
		self._flush(final=True)

	def _hold_back(self, records: int) -> None:
		"""Wait while the database is busy, and for the job's rate limit to allow ``records`` more.

		A wait longer than a moment commits first (no row stays locked while we sleep); one that
		would outlast this try's deadline hands the chunk to a fresh try instead."""
		while True:
			wait = self.pressure.wait_needed()
			if not wait:
				break
			throttle.mark(self.job.name, "database")
			self._sleep(wait)
		rate = self.job.get("rate_limit")
		if rate:
			room = self.deadline - time.monotonic() - 1.0
			wait, reserved = throttle.reserve(self.job.name, records, rate, room)
			if not reserved:
				# Other workers hold the turns until past this try's deadline: wait out what is left of
				# it (holding nothing), then let a fresh try queue for its turn.
				self._sleep(max(0.0, room))
				self._flush(continue_later=True)
			self._sleep(wait)

	def _sleep(self, seconds: float) -> None:
		if seconds <= 0:
			return
		if time.monotonic() + seconds >= self.deadline:
			self._flush(continue_later=True)  # raises _Stop
		if seconds > 0.2 and self.idx > self.batch.start:
			self._flush()
		time.sleep(seconds)

	def _batch_size(self) -> int:
		"""Records per call of a batch action: one per commit after a lost chunk, and never more than
		a second's worth under a rate limit."""
		if self.commit_every == 1:
			return 1
		size = max(self.commit_every, FAST_BATCH)
		rate = self.job.get("rate_limit")
		return min(size, max(1, int(rate))) if rate else size

	def _start_batch(self) -> None:
		# Each transaction acts for the requester as they are now: a disabled account fails the rest
		# of the job, and roles and permissions are read afresh (a lost role fails the next records).
		# At most every second: after a lost chunk every record is its own transaction.
		if time.monotonic() - self.acted_as_at >= 1.0:
			self.refused = access.act_as(
				self.job.user, self.job.reference_doctype, self.job.action, power=self.action.power
			)
			self.acted_as_at = time.monotonic()
		self.batch = _Batch(start=self.idx)
		self.batch_started = time.monotonic()
		self.tx_event = None
		self.counted = None
		# Once per transaction (a chunk taken over in this process starts its first one right after
		# the last commit, which already registered them).
		_add_once(frappe.db.before_commit, self._before_commit)
		_add_once(frappe.db.after_commit, self._on_commit)
		_add_once(frappe.db.after_rollback, self._on_rollback)

	def _before_commit(self) -> None:
		"""Runs in the commits of this transaction; acts only in a commit the action makes by itself
		(``applying`` is set), fencing it like our own commits: a run that no longer owns the chunk,
		or whose job was cancelled, rolls back and raises ``_Fenced`` (past ``except Exception``), so
		the action's commit does not happen and no later commit of it either. Otherwise the first such
		commit for a record carries the chunk's watermark past that record (and the counters of the
		batch before it, and of this record as succeeded): a crash right after it never applies the
		record again. ``_on_commit`` registers it again for the action's next commit, if any.
		"""
		if self.applying is None:
			return
		job = dispatch.lock_job(self.job.name)
		row = self._lock_chunk(names=False)
		if not job or not self._owns(row):
			frappe.db.rollback()
			self._refuse_commits()
		if job.status not in dispatch.OPEN:
			try:
				self._stop_cancelled()
			except _Stop:
				pass
			self._refuse_commits()
		if self.counted == self.applying:
			return
		succeeded, failed = self.batch.succeeded + 1, self.batch.failed
		retries = self.unflushed_retries
		self.errors.write(self.job.user)
		now = now_datetime()
		frappe.db.sql(
			f"""update `tab{CHUNK}` set done_upto=%s, succeeded=succeeded+%s, failed=failed+%s,
				heartbeat=%s, modified=%s where name=%s""",
			(self.applying + 1, succeeded, failed, now, now, self.chunk),
		)
		frappe.db.sql(
			f"""update `tab{JOB}` set processed=processed+%s, succeeded=succeeded+%s,
				failed=failed+%s, unchanged=unchanged+%s, retries=retries+%s where name=%s""",
			(succeeded + failed, succeeded, failed, self.batch.unchanged, retries, self.job.name),
		)
		applying = self.applying

		def committed():
			# Only once the COMMIT went through: what it carried no longer counts in this batch.
			self.batch = _Batch(start=applying + 1)
			self.unflushed_retries -= retries
			self.counted = applying

		frappe.db.after_commit.add(committed)

	def _refuse_commits(self) -> None:
		"""This run may not commit (any more): nor may the action, whatever it catches."""
		frappe.db.before_commit.add(self._before_commit)
		raise _Fenced

	def _on_commit(self) -> None:
		self.tx_event = "commit"
		self.errors.committed()
		if self.applying is not None:
			# The action may commit again: that commit is fenced too.
			_add_once(frappe.db.before_commit, self._before_commit)

	def _on_rollback(self) -> None:
		self.tx_event = "rollback"
		self.errors.rolled_back()

	def _apply(self, name: str) -> None:
		"""Apply the action to one record inside its own savepoint; record a failure if it fails."""
		if self.idx in self.forced_failures:
			self._record_failure(name, *self.forced_failures.pop(self.idx))
			return
		savepoint = f"bq_rec_{self.idx}"
		while True:
			prior = self.transient_failures.get(self.idx, 0)
			marks = callback_marks()
			try:
				frappe.db.savepoint(savepoint)
			except Exception as e:
				raise _TransactionLost from e
			try:
				self.applying = self.idx
				piece = self._run_action(name)
			except (JobTimeoutException, _Stop, _Fenced):
				raise
			except Skipped as e:
				# Nothing to do for this record: left as is, whatever the action had touched.
				if self.tx_event == "rollback":
					self._refuse_rolled_back(prior)
				if self.tx_event is None and not self._rollback_to(savepoint, marks):
					raise _TransactionLost from None
				reason = secrets.scrub(str(e), self.secrets)
				self._journal([(name, changes.LEFT_AS_IS, None, None, reason)])
				if self.counted != self.idx:
					self.batch.succeeded += 1
				self.batch.unchanged += 1
				return
			except Exception as e:
				transient = is_transient(e)
				error = _error_tuple(e)
				attempts = prior + 1
				retry = transient and attempts < self.max_attempts
				if transient:
					self.transient_failures[self.idx] = attempts
				if self.tx_event == "commit":
					# The action committed before it failed: what came before is durable and this
					# record cannot be undone. Record it as failed (its commit counted it as succeeded);
					# _process commits that right after.
					self._record_failure(name, *error, attempts)
					if self.counted == self.idx:
						self.batch.succeeded -= 1
					return
				if not self._rollback_to(savepoint, marks):
					if not retry:
						self.forced_failures[self.idx] = (*error, attempts)
					elif transient:
						self.unflushed_retries += 1
					raise _TransactionLost from e
				if retry:
					self.unflushed_retries += 1
					time.sleep(backoff_delay(attempts))
					continue
				self._record_failure(name, *error, attempts)
				return
			else:
				if self.tx_event == "rollback":
					self._refuse_rolled_back(prior)
				if self.tx_event is None:
					try:
						frappe.db.release_savepoint(savepoint)
					except Exception as e:
						raise _TransactionLost from e
				if self.counted != self.idx:
					self.batch.succeeded += 1
				if self.output and piece is not None:
					self.items[self.idx] = piece
				return
			finally:
				self.applying = None
				frappe.local.message_log = []

	def _refuse_rolled_back(self, prior: int) -> None:
		"""The action rolled back the whole transaction: the batch before it is gone, so it is redone
		from the watermark, and this record fails."""
		self.forced_failures[self.idx] = (
			"TransactionRolledBack",
			"The action rolled back the transaction; bulk actions must not commit or roll back.",
			"",
			prior + 1,
		)
		raise _TransactionLost

	def _apply_batch(self) -> None:
		"""Apply a batch action (e.g. ``set_value_fast``) to the next records in one savepoint.

		Its per-record failures (not found, no permission, not a draft) are recorded. If the batch
		itself raises, it is rolled back and - after transient errors were retried - its records go
		one at a time through ``_apply`` (and the usual commit points), so the record to blame is found
		and the others still succeed. A batch that keeps losing its transaction goes one at a time too.
		"""
		size = self._batch_size()
		start = self.idx
		names = self.names[start : start + size]
		savepoint = f"bq_batch_{start}"
		attempts = 0
		while True:
			marks = callback_marks()
			try:
				frappe.db.savepoint(savepoint)
			except Exception as e:
				raise _TransactionLost from e
			try:
				doctype = self.job.reference_doctype
				before = changes.read_states(doctype, names, self.undo_keys, for_update=True)
				with commits_held() if self.output else nullcontext():
					failed = self.action.apply_batch(doctype, names, self.values, self.job.user)
				if self.undo_keys:
					done = [n for n in names if n not in (failed[0] if self.output else failed)]
					self._journal_changes(before, changes.read_states(doctype, done, self.undo_keys))
			except JobTimeoutException:
				raise
			except Exception as e:
				attempts += 1
				if not self._rollback_to(savepoint, marks):
					self.batch_losses[start] = self.batch_losses.get(start, 0) + 1
					if self.batch_losses[start] >= self.max_attempts:
						self.one_by_one_until = start + len(names)
					self.unflushed_retries += 1
					raise _TransactionLost from e
				if is_transient(e) and attempts < self.max_attempts:
					self.unflushed_retries += 1
					time.sleep(backoff_delay(attempts))
					continue
				self.one_by_one_until = start + len(names)
				return
			finally:
				frappe.local.message_log = []
			try:
				frappe.db.release_savepoint(savepoint)
			except Exception as e:
				raise _TransactionLost from e
			if self.output:
				failed, pieces = failed
				self.items.update(
					{start + i: pieces[n] for i, n in enumerate(names) if n in pieces and n not in failed}
				)
			for name in names:
				if name in failed:
					self._record_failure(name, *failed[name], "", 1)
			self.batch.succeeded += len(names) - len(failed)
			self.idx += len(names)
			return

	def _run_action(self, name: str):
		doctype = self.job.reference_doctype
		doc = frappe.get_doc(doctype, name)  # DoesNotExistError when it is gone
		doc.check_permission(self.action.ptype)
		before = changes.read_states(doctype, [doc.name], self.undo_keys, for_update=True)
		# A notification queued only with the record's commit; an output action's own commits (the
		# print view's Access Log) wait for the one that carries its piece.
		with enqueues_after_commit(), commits_held() if self.output else nullcontext():
			result = self.action.apply(doc, self.values)
		if self.undo_keys:
			self._journal_changes(before, changes.read_states(doctype, [doc.name], self.undo_keys))
		return result

	def _journal_changes(self, before: dict[str, dict], after: dict[str, dict]) -> None:
		"""Journal what each record had and has now in the keys the action replaces (in the record's
		savepoint: it commits with the change, or goes with its rollback)."""
		self._journal(
			[
				(name, changes.CHANGED, before[name], state, None)
				for name, state in after.items()
				if name in before and state != before[name]
			]
		)

	def _journal(self, rows: list) -> None:
		changes.insert(
			bulk_job=self.job.name, owner=self.job.user, doctype=self.job.reference_doctype, rows=rows
		)

	def _rollback_to(self, savepoint: str, marks: tuple[int, int, int]) -> bool:
		"""Undo one record; False when the transaction itself is gone (deadlock, lost connection)."""
		try:
			frappe.db.rollback(save_point=savepoint)
		except Exception:
			return False
		drop_callbacks_after(marks)
		return True

	def _record_failure(self, name: str, exc_type: str, message: str, tb: str, attempts: int) -> None:
		"""The record's failure row now; its error's count in the commit that carries it."""
		message, tb = secrets.scrub(message, self.secrets), secrets.scrub(tb, self.secrets)
		failures.insert_failure(
			bulk_job=self.job.name,
			owner=self.job.user,
			doctype=self.job.reference_doctype,
			name=name,
			exception_type=exc_type,
			message=message,
			error=self.errors.add(name, exc_type, message, tb),
			attempts=attempts,
		)
		self.batch.failed += 1

	# -- commit boundary --------------------------------------------------------------------------

	def _flush(self, *, final: bool = False, continue_later: bool = False) -> None:
		"""Commit the batch together with the watermark and counters, or drop it if we lost the chunk."""
		try:
			job = dispatch.lock_job(self.job.name)
			row = self._lock_chunk(names=False)
		except Exception as e:
			if is_transient(e):
				raise _TransactionLost from e
			raise
		if not job or not self._owns(row):
			frappe.db.rollback()
			raise _Stop
		paused = job.status in dispatch.WAITING
		if not paused and job.status not in dispatch.ACTIVE:
			self._stop_cancelled()

		if self.items:
			# The pieces of the records this commit carries: one part, committed with the watermark.
			first = min(self.items)
			outputs.write_part(
				self.job.name,
				self.chunk,
				row.chunk_no,
				first,
				self.epoch,
				self.output,
				[self.items[i] for i in sorted(self.items)],
			)
		now = now_datetime()
		succeeded, failed, unchanged = self.batch.succeeded, self.batch.failed, self.batch.unchanged
		retries, self.unflushed_retries = self.unflushed_retries, 0
		self.errors.write(self.job.user)
		if paused and not final:
			# Keep what this batch did; the chunk waits at its new watermark for the resume.
			status, token, continue_later = "Pending", self.token + 1, False
		else:
			status = "Done" if final else ("Queued" if continue_later else "Running")
			token = self.token + 1 if continue_later else self.token
		frappe.db.sql(
			f"""update `tab{CHUNK}` set done_upto=%s, succeeded=succeeded+%s, failed=failed+%s,
				status=%s, token=%s, heartbeat=%s, modified=%s,
				ended_at=if(%s, %s, ended_at), queued_at=if(%s, %s, queued_at),
				rq_job_id=if(%s, %s, rq_job_id)
			where name=%s""",
			(
				self.idx,
				succeeded,
				failed,
				status,
				token,
				now,
				now,
				final,
				now,
				continue_later,
				now,
				# A new try gets its own RQ job; otherwise the chunk keeps the RQ job running it (for a
				# chunk taken over by a chain, that is the chain's RQ job, which recovery checks).
				continue_later,
				dispatch.rq_job_id(self.job.name, row.chunk_no, token),
				self.chunk,
			),
		)
		frappe.db.sql(
			f"""update `tab{JOB}` set processed=processed+%s, succeeded=succeeded+%s,
				failed=failed+%s, unchanged=unchanged+%s, retries=retries+%s where name=%s""",
			(succeeded + failed, succeeded, failed, unchanged, retries, self.job.name),
		)
		following = self._claim_continuation(job) if final and not paused and self._may_continue() else None
		claimed = dispatch.claim_window(job) if final else []
		finished = lifecycle.finish_if_done(self.job.name) if final else None
		try:
			frappe.db.commit()
		except Exception as e:
			self.unflushed_retries += retries
			if is_transient(e):
				raise _TransactionLost from e
			raise

		self.items = {}
		self.next_chunk = following
		if following and following.replaces:
			# Its queued try would only find the token changed and exit: spare it the work horse.
			dispatch.drop_rq_jobs([following.replaces])
		dispatch.enqueue_chunks(job, claimed)
		if continue_later:
			self.token = token
			dispatch.enqueue_chunks(job, [frappe._dict(name=self.chunk, chunk_no=row.chunk_no, token=token)])
		progress.publish(self.job.name, force=bool(finished))
		if finished:
			completion.after_end(self.job.name)
		elif final:
			# Look for lost siblings: every few seconds while this process goes on with the job's next
			# chunk, and always when it stops (it may be the job's last running chunk).
			recovery.check_job(self.job.name, throttle=bool(following))
		if continue_later or (paused and not final):
			raise _Stop
		self._start_batch()

	def _stop_cancelled(self) -> None:
		"""The job was cancelled while this batch ran: drop the batch, close the chunk, stop."""
		frappe.db.rollback()
		dispatch.lock_job(self.job.name)
		now = now_datetime()
		frappe.db.sql(
			f"""update `tab{CHUNK}` set status='Cancelled', ended_at=%s, modified=%s
			where name=%s and token=%s""",
			(now, now, self.chunk, self.token),
		)
		frappe.db.commit()
		raise _Stop

	def _owns(self, row: frappe._dict | None) -> bool:
		"""Whether this run may still commit: same try (token), same run (epoch), still Running."""
		return bool(row) and row.token == self.token and row.epoch == self.epoch and row.status == "Running"

	def _lock_chunk(self, *, names: bool = True) -> frappe._dict | None:
		# A commit needs only the fencing columns, not the chunk's list of names.
		rows = frappe.db.sql(
			f"""select name, bulk_job, chunk_no, status, token, epoch, {"names" if names else "null as names"},
				total, done_upto, lost_count, lost_at
			from `tab{CHUNK}` where name=%s for update""",
			self.chunk,
			as_dict=True,
		)
		return rows[0] if rows else None


def _add_once(callbacks, function) -> None:
	"""Add ``function`` to one of Frappe's commit/rollback callback managers unless it is there."""
	if function not in getattr(callbacks, "_functions", ()):
		callbacks.add(function)


def is_transient(e: BaseException) -> bool:
	"""Errors worth retrying: lock conflicts, a lost connection, or an explicit retry request."""
	if isinstance(e, (frappe.QueryDeadlockError, frappe.QueryTimeoutError, frappe.RetryBackgroundJobError)):
		return True
	errors, interface = driver_errors()
	if isinstance(e, interface):
		return True
	if isinstance(e, errors) and e.args:
		return e.args[0] in CONNECTION_LOST or e.args[0] in (1205, 1213)
	cause = e.__cause__ or e.__context__
	return cause is not None and cause is not e and isinstance(cause, errors) and is_transient(cause)


def _current_rq_job_id() -> str | None:
	"""This RQ job's id as chunk rows store it (without Frappe's ``<site>::`` prefix), or None."""
	from rq import get_current_job

	rq_job = get_current_job()
	if not rq_job:
		return None
	return rq_job.id.split("::", 1)[1] if "::" in rq_job.id else rq_job.id


def _not_started(rq_job_id: str | None) -> bool:
	"""Whether a chunk's RQ job is still waiting on its queue (so taking its chunk wastes nothing)."""
	from frappe.utils.background_jobs import get_job
	from rq.job import JobStatus

	try:
		rq_job = get_job(rq_job_id) if rq_job_id else None
		return bool(rq_job) and rq_job.get_status(refresh=False) == JobStatus.QUEUED
	except Exception:
		return False


def _others_waiting(bulk_job: str) -> bool:
	"""Whether jobs other than this bulk job's own chunks (and our recovery scan) wait on this queue."""
	from rq import get_current_job
	from rq.queue import Queue

	rq_job = get_current_job()
	if not rq_job:
		return True
	try:
		waiting = Queue(rq_job.origin, connection=rq_job.connection).get_job_ids(0, 200)
	except Exception:
		return True
	ours = (f"{frappe.local.site}::bulk_queue:{bulk_job}:", f"{frappe.local.site}::bulk_queue:recover")
	return any(not job_id.startswith(ours) for job_id in waiting)


def _worker_label() -> str:
	"""``host:rq-worker-name`` of the worker running this try (the work horse's pid as a fallback)."""
	from rq import get_current_job

	rq_job = get_current_job()
	return f"{socket.gethostname()}:{(rq_job and rq_job.worker_name) or os.getpid()}"


def _error_tuple(e: BaseException) -> tuple[str, str, str]:
	# frappe.PermissionError usually carries its text in frappe.flags.error_message, not in args.
	message = str(e) or frappe.flags.pop("error_message", None) or type(e).__name__
	try:
		message = frappe.utils.strip_html_tags(message)
	except Exception:
		pass
	return type(e).__name__, message.strip() or type(e).__name__, frappe.get_traceback(with_context=False)
