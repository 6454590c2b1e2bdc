# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Automatic recovery of chunks whose RQ job is gone, failed or abandoned.

Frappe re-runs nothing when a worker is killed, times out or loses Redis. This module finds Queued or
Running chunks of active bulk jobs whose try is dead and re-enqueues them with a new token; the re-run
resumes at the chunk's committed watermark, so nothing is applied twice. A chunk lost again and again
at the same record (a record that kills its worker, or outlasts the timeout) has that one record marked
failed after ``bulk_queue_max_chunk_attempts`` losses, and the rest continues.

It runs from the scheduler every minute, and from the ``before_job`` hook (throttled) so that any job a
worker starts - including one of our own chunks - triggers it even when the scheduler is off or the
site is dormant.
"""

from __future__ import annotations

import json
from datetime import datetime

import frappe
from frappe.utils import now_datetime
from frappe.utils.background_jobs import get_job, get_redis_conn
from rq.job import JobStatus
from rq.worker import Worker

from bulk_queue import completion, dispatch, failures, lifecycle, progress, settings
from bulk_queue.workers import note_namespace, process_alive

RECOVER = "bulk_queue.tasks.recovery.recover"
# Seconds a Queued chunk whose RQ job is missing waits before re-enqueueing (covers the moment between
# committing the chunk as Queued and the enqueue call).
QUEUED_GRACE = 2
THROTTLE = 20


def maybe_recover(method: str | None = None, **kwargs) -> None:
	"""``before_job`` hook: note which PID namespace this job's RQ worker lives in (see ``workers``),
	and enqueue a recovery scan at most every THROTTLE seconds per site."""
	try:
		from rq import get_current_job

		rq_job = get_current_job()
		note_namespace(rq_job and rq_job.worker_name)
	except Exception:
		pass
	if method == RECOVER:
		return
	try:
		key = frappe.cache.make_key("bulk_queue:recovery-tick")
		if not frappe.cache.set(key, 1, nx=True, ex=THROTTLE):
			return
		if not frappe.db.sql(
			"""select 1 from `tabBulk Queue Job` where status in %s
			or (status='Scheduled' and start_at <= %s) limit 1""",
			[dispatch.ACTIVE, now_datetime()],
		):
			return
		frappe.enqueue(RECOVER, queue="short", job_id="bulk_queue:recover", deduplicate=True)
	except Exception:
		# Never break somebody else's job because recovery could not be scheduled.
		pass


def recover() -> dict:
	"""Start Scheduled jobs whose time has come; re-enqueue lost chunks of every active bulk job;
	finish jobs whose chunks are all done.

	Returns counts: ``{"started": scheduled jobs started, "jobs": scanned, "requeued": chunks,
	"failed_records": poisoned records, "ends_handled": ended jobs whose notification and hooks had
	not run}``.
	"""
	stats = {"jobs": 0, "requeued": 0, "failed_records": 0, "started": start_due()}
	jobs = frappe.db.sql_list(
		"select name from `tabBulk Queue Job` where status in %s order by creation", [dispatch.ACTIVE]
	)
	for bulk_job in jobs:
		stats["jobs"] += 1
		requeued, poisoned = recover_job(bulk_job)
		stats["requeued"] += requeued
		stats["failed_records"] += poisoned
	# Paused jobs are not recovered; a try that slipped onto the queue as they paused is removed.
	for job in frappe.get_all("Bulk Queue Job", {"status": "Paused"}, ["name", "queue"]):
		lifecycle.drop_queued_of(job)
	stats["ends_handled"] = completion.sweep()
	return stats


def start_due() -> int:
	"""Start Scheduled jobs whose start time has come (every minute, from the scheduler); returns how
	many started."""
	started = 0
	due = frappe.db.sql_list(
		"select name from `tabBulk Queue Job` where status='Scheduled' and start_at <= %s order by start_at",
		now_datetime(),
	)
	for bulk_job in due:
		try:
			if lifecycle.start_scheduled(bulk_job):
				started += 1
				progress.publish(bulk_job, force=True)
		except Exception:
			frappe.db.rollback()
			frappe.log_error(
				title=f"bulk_queue: could not start scheduled job {bulk_job}",
				reference_doctype=dispatch.JOB,
				reference_name=bulk_job,
			)
	return started


def check_job(bulk_job: str, *, throttle: bool = True) -> None:
	"""Sibling check run by a chunk when it starts (throttled to every few seconds per job) and when it
	ends (always): recover the job's lost chunks now instead of waiting for the scheduler, which runs
	only once a day on a dormant site."""
	try:
		key = frappe.cache.make_key(f"bulk_queue:check:{bulk_job}")
		if throttle and not frappe.cache.set(key, 1, nx=True, ex=3):
			return
		recover_job(bulk_job)
	except Exception:
		frappe.db.rollback()
		frappe.log_error(
			title="bulk_queue: recovery check failed", reference_doctype=dispatch.JOB, reference_name=bulk_job
		)


def recover_job(bulk_job: str) -> tuple[int, int]:
	"""Recover one bulk job; returns (chunks re-enqueued, records failed as poison)."""
	frappe.db.rollback()
	candidates = frappe.db.sql(
		f"""select name, chunk_no, status, token, rq_job_id, heartbeat, queued_at
		from `tab{dispatch.CHUNK}` where bulk_job=%s and status in ('Queued', 'Running')""",
		bulk_job,
		as_dict=True,
	)
	lost = [c for c in candidates if is_lost(c)]
	planner = _planner(bulk_job)
	planner_lost = bool(planner) and is_lost(planner)

	job = dispatch.lock_job(bulk_job)
	if not job or job.status not in dispatch.ACTIVE:
		frappe.db.rollback()
		return 0, 0
	replan = None
	if planner_lost and job.status == "Planning" and job.plan_token == planner.token:
		replan = _replan(job)
	requeue, poisoned = [], 0
	for chunk in lost:
		row = frappe.db.sql(
			f"""select name, chunk_no, status, token, names, done_upto, total, lost_count, lost_at
			from `tab{dispatch.CHUNK}` where name=%s for update""",
			chunk.name,
			as_dict=True,
		)[0]
		if row.token != chunk.token or row.status not in ("Queued", "Running"):
			continue  # it moved on since we looked
		poisoned += _requeue(job, row)
		requeue.append(row)

	claimed = dispatch.claim_window(job)
	finished = lifecycle.finish_if_done(bulk_job)
	frappe.db.commit()
	if finished:
		completion.after_end(bulk_job)
	requeued = dispatch.enqueue_chunks(job, [r for r in requeue if r.status == "Queued"])
	dispatch.enqueue_chunks(job, claimed)
	if replan is not None:
		dispatch.start_planner(job)
	if requeue or finished:
		progress.publish(bulk_job, force=True)
	return requeued, poisoned


def _planner(bulk_job: str) -> frappe._dict | None:
	"""The planner try of a Planning job, shaped like a chunk for ``is_lost``."""
	row = frappe.db.get_value(
		dispatch.JOB,
		bulk_job,
		["status", "plan_token", "plan_rq_job_id", "plan_heartbeat"],
		as_dict=True,
	)
	if not row or row.status != "Planning":
		return None
	return frappe._dict(
		status="Running",
		token=row.plan_token,
		rq_job_id=row.plan_rq_job_id,
		heartbeat=row.plan_heartbeat,
		queued_at=None,
	)


def _replan(job: frappe._dict) -> int:
	"""Give a lost planner a new try (token); it resumes after the job's watermark. Caller holds the
	job's row lock, commits, then calls ``dispatch.start_planner``."""
	job.plan_token += 1
	frappe.db.set_value(
		dispatch.JOB,
		job.name,
		{
			"plan_token": job.plan_token,
			"plan_rq_job_id": dispatch.planner_rq_job_id(job.name, job.plan_token),
			"plan_heartbeat": now_datetime(),
		},
		update_modified=False,
	)
	return job.plan_token


def is_lost(chunk: frappe._dict) -> bool:
	"""Whether the RQ try of a Queued/Running chunk can no longer finish it.

	Re-enqueueing a chunk that was not really lost costs one wasted run, never a double effect: the old
	try finds the token changed and rolls back. So this errs on the side of recovering.
	"""
	now = now_datetime()
	last_sign = chunk.heartbeat or chunk.queued_at
	quiet_for = (now - last_sign).total_seconds() if last_sign else 10**9
	job = get_job(chunk.rq_job_id) if chunk.rq_job_id else None
	if job is None:
		# Gone from Redis (restart, flush, or the enqueue itself failed). A running try may still be
		# alive and committing, so give it time to show a heartbeat.
		grace = QUEUED_GRACE if chunk.status == "Queued" else running_grace()
		return quiet_for > grace
	status = job.get_status(refresh=False)
	if status in (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED):
		return False
	if status != JobStatus.STARTED:
		# failed (exception, timeout, killed work horse), stopped, canceled, or finished early
		return True
	if _worker_dead(job):
		return True
	stale_after = settings.get("bulk_queue_stale_after")
	return quiet_for > stale_after and _heartbeat_age(job) > stale_after


def running_grace() -> float:
	"""Seconds a running chunk may go without committing before a missing RQ job means it is lost."""
	return max(30.0, settings.get("bulk_queue_commit_interval") * 3)


def _worker_dead(job) -> bool:
	"""True when the worker that started ``job`` is gone: unregistered, or a dead pid on this host."""
	if not job.worker_name:
		return False
	worker = Worker.find_by_key(
		Worker.redis_worker_namespace_prefix + job.worker_name, connection=get_redis_conn()
	)
	return worker is None or not process_alive(worker)


def _heartbeat_age(job) -> float:
	beat = job.last_heartbeat or job.started_at
	if not beat:
		return 0.0
	return (datetime.utcnow() - beat.replace(tzinfo=None)).total_seconds()


def _requeue(job: frappe._dict, row: frappe._dict) -> int:
	"""Give a lost chunk a new token (status Queued), counting the loss against its record.

	Returns how many records were failed as poison (0 or 1). Caller holds the job's row lock and commits.
	"""
	poisoned = register_loss(job, row) if row.status == "Running" else 0
	now = now_datetime()
	if row.done_upto >= row.total:
		row.status = "Done"
		frappe.db.sql(
			f"update `tab{dispatch.CHUNK}` set status='Done', ended_at=%s, modified=%s where name=%s",
			(now, now, row.name),
		)
		return poisoned
	row.token += 1
	row.status = "Queued"
	frappe.db.sql(
		f"""update `tab{dispatch.CHUNK}` set status='Queued', token=%s, queued_at=%s, rq_job_id=%s,
			modified=%s where name=%s""",
		(row.token, now, dispatch.rq_job_id(job.name, row.chunk_no, row.token), now, row.name),
	)
	return poisoned


def register_loss(job: frappe._dict, row: frappe._dict) -> int:
	"""A run of this Running chunk died. Count a strike at its watermark; after
	``bulk_queue_max_chunk_attempts`` strikes at the same record, fail that record and move past it.

	A loss after progress starts a new count, and a chunk that was lost once commits every record
	(tasks/bulk.py), so the record under the watermark is exactly the one that was running. Updates
	``row`` and the database; returns how many records were failed (0 or 1). Caller holds the job lock.
	"""
	names = json.loads(row.names or "[]")
	strikes = row.lost_count + 1 if row.lost_at == row.done_upto else 1
	poisoned = 0
	if strikes >= settings.get("bulk_queue_max_chunk_attempts") and row.done_upto < len(names):
		_fail_poison_record(job, row, names[row.done_upto], strikes)
		row.done_upto += 1
		strikes, poisoned = 0, 1
	row.lost_count, row.lost_at = strikes, row.done_upto
	frappe.db.sql(
		f"update `tab{dispatch.CHUNK}` set done_upto=%s, lost_count=%s, lost_at=%s where name=%s",
		(row.done_upto, row.lost_count, row.lost_at, row.name),
	)
	return poisoned


def _fail_poison_record(job: frappe._dict, row: frappe._dict, name: str, strikes: int) -> None:
	message = frappe._(
		"The worker processing this record was lost {0} times (killed, out of memory or timed out); "
		"it was not applied."
	).format(strikes)
	errors = failures.ErrorCounts(job.name, known=failures.known_errors(job.name))
	failures.insert_failure(
		bulk_job=job.name,
		owner=job.user,
		doctype=job.reference_doctype,
		name=name,
		exception_type="WorkerLost",
		message=message,
		error=errors.add(name, "WorkerLost", message, ""),
		attempts=strikes,
	)
	errors.write(job.user)  # the caller holds the job's row lock and commits
	frappe.db.sql(
		f"""update `tab{dispatch.CHUNK}` set failed=failed+1 where name=%s""",
		row.name,
	)
	frappe.db.sql(
		f"""update `tab{dispatch.JOB}` set processed=processed+1, failed=failed+1 where name=%s""",
		job.name,
	)
