# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Recording a bulk job and putting its chunks on the RQ queues.

Lock order, everywhere in the app: the Bulk Queue Job row first (``SELECT ... FOR UPDATE``), then its
chunk rows. Every change to a chunk's status or token happens under the job's row lock, so two workers
finishing at once never queue the same chunk twice and the last one to finish sees exact counters.

At most ``bulk_queue_max_queued_chunks`` chunks of one job are Queued or Running at a time (the
window); a chunk that finishes queues the next Pending ones. A million-record job therefore never puts
thousands of jobs on Redis.
"""

from __future__ import annotations

import hashlib
import json

import frappe
from frappe.utils import now_datetime

from bulk_queue import completion, secrets, settings
from bulk_queue.states import ACTIVE, OPEN, WAITING
from bulk_queue.utils.selection import chunked

RUN_CHUNK = "bulk_queue.tasks.bulk.run_chunk"
RUN_PLANNER = "bulk_queue.tasks.planning.run_planner"
# RQ re-runs a chunk try this many times when its work horse dies or it raises; strikes at the same
# record (tasks/recovery.py) decide when that record is to blame.
CHUNK_RETRIES = 10
JOB = "Bulk Queue Job"
CHUNK = "Bulk Queue Chunk"


def rq_job_id(bulk_job: str, chunk_no: int, token: int) -> str:
	"""Readable, deterministic RQ job id of one try of one chunk (Frappe prefixes the site)."""
	return f"bulk_queue:{bulk_job}:chunk-{chunk_no:04d}:try-{token}"


def selection_hash(doctype: str, action: str, selection: list[str] | dict, values: dict) -> str:
	"""Fingerprint of a request, used to hand back the running job on a double submit.

	``selection``: the record names, or ``{"filters": [...]}`` for a selection by filters.
	"""
	if isinstance(selection, list):
		selection = sorted(selection)
	payload = json.dumps([doctype, action, selection, values], sort_keys=True, default=str)
	return hashlib.sha256(payload.encode()).hexdigest()


def create_job(
	*,
	doctype: str,
	action: str,
	names: list[str],
	values: dict,
	chunk_size: int,
	queue: str,
	timeout: int,
	user: str,
	fingerprint: str | None = None,
	title: str | None = None,
	filters: list | None = None,
	expected: int | None = None,
	email_on_finish: bool = False,
	rate_limit: float | None = None,
	start_at=None,
	skipped: str | None = None,
) -> str:
	"""Insert the Bulk Queue Job and its Pending chunks in the current transaction; return the name.

	With ``filters`` (and ``names`` empty) the job is created ``Planning``: no chunk yet, ``expected``
	records matching now; ``tasks/planning.py`` selects them and writes the chunks. With ``start_at``
	it is ``Scheduled`` until then (``start_scheduled``), and becomes Planning or Queued at that time.
	Password values are kept encrypted, never in clear (``secrets.seal``). ``skipped``: for the fast
	path, what it does not run on this DocType, in words (the job form shows it).
	"""
	values, sealed = secrets.seal(frappe.get_meta(doctype), values or {})
	planning = filters is not None and not names
	first_status = "Planning" if planning else "Queued"
	job = frappe.get_doc(
		{
			"doctype": JOB,
			"title": title or f"{action} on {len(names)} {doctype}",
			"reference_doctype": doctype,
			"action": action,
			"action_label": _action_label(action),
			"filters": json.dumps(filters, default=str) if filters else None,
			"values": json.dumps(values, sort_keys=True, default=str) if values else None,
			"sealed_values": sealed,
			"skipped": skipped or None,
			"user": user,
			"status": "Scheduled" if start_at else first_status,
			"paused_from": first_status if start_at else None,
			"start_at": start_at,
			"rate_limit": rate_limit or 0,
			"queue": queue,
			"chunk_size": chunk_size,
			"timeout": timeout,
			"total": len(names),
			"expected": expected if filters is not None else None,
			"selected_at": now_datetime() if filters is not None else None,
			"selection_hash": fingerprint,
			"email_on_finish": int(email_on_finish),
		}
	)
	job.insert(ignore_permissions=True)
	if planning:
		# Its first planner try (the job's name is known only now); recovery watches its heartbeat.
		frappe.db.set_value(
			JOB,
			job.name,
			{
				"plan_token": 0,
				"plan_rq_job_id": planner_rq_job_id(job.name, 0),
				"plan_heartbeat": now_datetime(),
			},
			update_modified=False,
		)
		return job.name
	chunks = insert_chunks(job.name, chunked(names, chunk_size), owner=user)
	frappe.db.set_value(JOB, job.name, "chunks", chunks, update_modified=False)
	return job.name


def insert_chunks(bulk_job: str, batches, *, owner: str, first_no: int = 1) -> int:
	"""Bulk-insert Pending chunk rows for ``batches`` (lists of names); return how many were added."""
	now = now_datetime()
	zero = dict.fromkeys(("docstatus", "idx", "done_upto", "succeeded", "failed", "token", "epoch"), 0)
	zero |= dict.fromkeys(("lost_count", "lost_at"), 0)
	rows: list[dict] = []
	added = 0
	for chunk_no, batch in enumerate(batches, start=first_no):
		rows.append(
			{
				**zero,
				"name": f"{bulk_job}-{chunk_no:05d}",
				"creation": now,
				"modified": now,
				"owner": owner,
				"modified_by": owner,
				"bulk_job": bulk_job,
				"chunk_no": chunk_no,
				"status": "Pending",
				"names": json.dumps(batch),
				"total": len(batch),
			}
		)
		added += 1
		if len(rows) >= 500:
			_bulk_insert(CHUNK, rows)
			rows = []
	if rows:
		_bulk_insert(CHUNK, rows)
	return added


def _bulk_insert(doctype: str, rows: list[dict]) -> None:
	fields = list(rows[0])
	frappe.db.bulk_insert(doctype, fields, [tuple(row[f] for f in fields) for row in rows])


def lock_job(bulk_job: str) -> frappe._dict | None:
	"""Lock the job row (latest committed version) and return it; None when it is gone."""
	rows = frappe.db.sql(
		f"""select name, status, reference_doctype, action, `values`, sealed_values, user, queue, timeout,
			total, processed, succeeded, failed, chunks, chunk_size, filters, started_at, selected_at,
			plan_after, plan_token, rate_limit
		from `tab{JOB}` where name=%s for update""",
		bulk_job,
		as_dict=True,
	)
	return rows[0] if rows else None


def claim_window(job: frappe._dict) -> list[frappe._dict]:
	"""Mark as many Pending chunks Queued as the window allows; the caller holds the job's row lock.

	Returns the claimed chunks with their new token; enqueue them (``enqueue_chunks``) only after the
	transaction is committed, so a worker never starts a chunk it cannot see yet.
	"""
	if job.status not in ACTIVE:
		return []
	free = window_room(job.name)
	if free <= 0:
		return []
	rows = frappe.db.sql(
		f"""select name, chunk_no, token from `tab{CHUNK}`
		where bulk_job=%s and status='Pending' order by chunk_no limit %s for update""",
		(job.name, free),
		as_dict=True,
	)
	now = now_datetime()
	for row in rows:
		row.token += 1
		row.bulk_job = job.name
		frappe.db.sql(
			f"""update `tab{CHUNK}` set status='Queued', token=%s, queued_at=%s,
				rq_job_id=%s, modified=%s where name=%s""",
			(row.token, now, rq_job_id(job.name, row.chunk_no, row.token), now, row.name),
		)
	return rows


def window_room(bulk_job: str) -> int:
	"""How many more of the job's chunks may be Queued or Running (its window, less those that are);
	the caller holds the job's row lock."""
	in_flight = frappe.db.sql(
		f"""select count(*) from `tab{CHUNK}`
		where bulk_job=%s and status in ('Queued', 'Running') for update""",
		bulk_job,
	)[0][0]
	return settings.get("bulk_queue_max_queued_chunks") - in_flight


def enqueue_chunks(job: frappe._dict, chunks: list[frappe._dict], *, first_at_front: bool = False) -> int:
	"""Put claimed chunks on RQ. A Redis failure is left to recovery, which re-enqueues them.

	``first_at_front``: the first chunk goes to the head of the queue (a job that just started, while
	another bulk job's window waits there), so a small job's first records start within seconds
	instead of behind a large job's queued chunks; the rest queue behind as usual.
	"""
	enqueued = 0
	for i, chunk in enumerate(chunks):
		try:
			enqueue_chunk(job, chunk, at_front=first_at_front and i == 0)
			enqueued += 1
		except Exception:
			frappe.log_error(
				title=f"bulk_queue: could not enqueue {chunk.name}",
				reference_doctype=JOB,
				reference_name=job.name,
			)
			break
	return enqueued


def enqueue_chunk(job: frappe._dict, chunk: frappe._dict, *, at_front: bool = False):
	"""Enqueue one try of a chunk (``run_chunk`` with its name and token)."""
	return enqueue_task(
		job,
		at_front=at_front,
		method=RUN_CHUNK,
		rq_id=rq_job_id(job.name, chunk.chunk_no, chunk.token),
		# What Desk -> Background Jobs shows as Job Name.
		job_name=f"{job.name} · chunk {chunk.chunk_no} of {_chunks_of(job)} · {_describe(job)}",
		kwargs={"chunk": chunk.name, "token": chunk.token},
	)


def start_planner(job: frappe._dict) -> None:
	"""Enqueue the planner try ``job.plan_token`` of a job recorded as Planning (after its commit);
	when the queue cannot be reached, recovery enqueues it later."""
	try:
		enqueue_planner(job, job.plan_token or 0)
	except Exception:
		frappe.log_error(
			title=f"bulk_queue: could not enqueue the planner of {job.name}",
			reference_doctype=JOB,
			reference_name=job.name,
		)


def planner_rq_job_id(bulk_job: str, token: int) -> str:
	"""Readable, deterministic RQ job id of one try of a job's planner."""
	return f"bulk_queue:{bulk_job}:plan:try-{token}"


def enqueue_planner(job: frappe._dict, token: int):
	"""Enqueue one try of the job's planner (``tasks/planning.py``), which selects its records."""
	return enqueue_task(
		job,
		method=RUN_PLANNER,
		rq_id=planner_rq_job_id(job.name, token),
		job_name=f"{job.name} · selecting records · {_describe(job)}",
		kwargs={"bulk_job": job.name, "token": token},
		timeout=max(300, chunk_timeout(job.queue)),
	)


def _chunks_of(job: frappe._dict) -> str:
	# While the planner selects, nobody knows yet how many chunks there will be.
	return "?" if job.get("status") == "Planning" or not job.get("chunks") else str(job.chunks)


def _describe(job: frappe._dict) -> str:
	# Not translated: Background Jobs is read by operators of every language, and this is written by
	# whichever process enqueues (a request or a worker).
	return f"{_action_label(job.action)} on {job.reference_doctype}"


def enqueue_task(
	job: frappe._dict,
	*,
	method: str,
	rq_id: str,
	job_name: str,
	kwargs: dict,
	timeout: int | None = None,
	at_front: bool = False,
):
	"""Enqueue ``method(**kwargs)`` for ``job`` through Frappe's ``execute_job``, with an RQ retry.

	The retry is what makes a killed work horse (out of memory, segfault, a record that crashes the
	process) come back at once: RQ re-queues the job as soon as the worker sees its horse die, and the
	re-run resumes at the committed watermark. ``frappe.enqueue`` (v15) has no way to pass an RQ retry,
	so the job is built exactly as ``frappe.enqueue`` builds it - Frappe's ``execute_job`` with the
	same arguments, timeouts, TTLs, failure callback and site-prefixed job id - plus the retry.
	"""
	from frappe.utils.background_jobs import (
		RQ_JOB_FAILURE_TTL,
		RQ_RESULTS_TTL,
		create_job_id,
		execute_job,
		get_queue,
		truncate_failed_registry,
	)
	from rq import Callback, Retry

	return get_queue(job.queue).enqueue_call(
		execute_job,
		on_failure=Callback(func=truncate_failed_registry),
		timeout=timeout or job.timeout or chunk_timeout(job.queue),
		kwargs={
			"site": frappe.local.site,
			"user": frappe.session.user,
			"method": method,
			"event": None,
			"job_name": job_name,
			"is_async": True,
			"kwargs": kwargs,
		},
		failure_ttl=frappe.conf.get("rq_job_failure_ttl") or RQ_JOB_FAILURE_TTL,
		result_ttl=frappe.conf.get("rq_results_ttl") or RQ_RESULTS_TTL,
		job_id=create_job_id(rq_id),
		retry=Retry(max=CHUNK_RETRIES),
		at_front=at_front,
	)


def others_waiting(job: frappe._dict) -> bool:
	"""Whether chunks of another bulk job wait on ``job``'s queue (the head of it), so a job starting
	now should not queue behind them."""
	from frappe.utils.background_jobs import get_queue

	try:
		waiting = get_queue(job.queue).get_job_ids(0, 200)
	except Exception:
		return False
	prefix, own = f"{frappe.local.site}::bulk_queue:", f"{frappe.local.site}::bulk_queue:{job.name}:"
	return any(i.startswith(prefix) and ":chunk-" in i and not i.startswith(own) for i in waiting)


def _action_label(action: str) -> str:
	from bulk_queue.actions import get_actions

	found = get_actions().get(action)
	return found.label if found else action


def chunk_timeout(queue: str, requested: int | None = None) -> int:
	"""Seconds one chunk job may run: the request, the site setting, or the queue's own timeout."""
	from frappe.utils.background_jobs import get_queues_timeout

	return (
		int(requested or 0)
		or settings.get("bulk_queue_chunk_timeout")
		or get_queues_timeout().get(queue)
		or 300
	)


def finish_if_done(bulk_job: str) -> str | None:
	"""Set the final status once every record is processed and no chunk is open; return it.

	Caller holds the job's row lock (so exactly one finisher sees the last count) and commits. A job
	still Planning is never done: its total is not known yet.
	"""
	counts = frappe.db.sql(
		f"select status, total, processed, succeeded, failed from `tab{JOB}` where name=%s for update",
		bulk_job,
		as_dict=True,
	)[0]
	if counts.status not in ("Queued", "Running") or counts.processed < counts.total:
		return None
	open_chunks = frappe.db.sql(
		f"""select count(*) from `tab{CHUNK}` where bulk_job=%s
		and status in ('Pending', 'Queued', 'Running') for update""",
		bulk_job,
	)[0][0]
	if open_chunks:
		return None
	status = final_status(counts)
	frappe.db.sql(
		f"update `tab{JOB}` set status=%s, ended_at=%s where name=%s", (status, now_datetime(), bulk_job)
	)
	return status


def final_status(counts: frappe._dict) -> str:
	"""Completed, Completed with Errors or Failed, from the job's counters."""
	if not counts.failed:
		return "Completed"
	if counts.succeeded:
		return "Completed with Errors"
	return "Failed"


def cancel_job(bulk_job: str) -> frappe._dict:
	"""Cancel an active job: queued chunks never run, running ones stop at their next commit.

	Uncommitted work of a running chunk is rolled back by its worker, so the counters keep matching the
	database. Returns the job's row after the change.
	"""
	job = lock_job(bulk_job)
	if not job:
		frappe.throw(frappe._("Bulk Queue Job {0} not found").format(bulk_job), frappe.DoesNotExistError)
	if job.status not in OPEN:
		frappe.db.rollback()
		return job
	now = now_datetime()
	planner = frappe.db.get_value(JOB, bulk_job, "plan_rq_job_id") if job.status == "Planning" else None
	queued = frappe.db.sql(
		f"""select name, rq_job_id from `tab{CHUNK}` where bulk_job=%s and status in ('Pending', 'Queued')
		for update""",
		bulk_job,
		as_dict=True,
	)
	frappe.db.sql(
		f"""update `tab{CHUNK}` set status='Cancelled', ended_at=%s, modified=%s
		where bulk_job=%s and status in ('Pending', 'Queued')""",
		(now, now, bulk_job),
	)
	frappe.db.sql(f"update `tab{JOB}` set status='Cancelled', ended_at=%s where name=%s", (now, bulk_job))
	frappe.db.commit()
	dropped = [c.rq_job_id for c in queued if c.rq_job_id]
	if planner:
		dropped.append(planner)  # a planner that already runs stops at its next page
	drop_rq_jobs(dropped)
	job.status = "Cancelled"
	from bulk_queue import completion

	completion.after_end(bulk_job)
	return job


def start_scheduled(bulk_job: str) -> bool:
	"""Start a Scheduled job whose time has come: Queued with its window on RQ, or Planning with its
	planner enqueued. Returns whether it started; commits."""
	job = lock_job(bulk_job)
	details = frappe.db.get_value(JOB, bulk_job, ["start_at", "paused_from"], as_dict=True) if job else None
	if not job or job.status != "Scheduled" or (details.start_at and details.start_at > now_datetime()):
		frappe.db.rollback()
		return False
	status = details.paused_from if details.paused_from in ACTIVE else "Queued"
	frappe.db.sql(f"update `tab{JOB}` set status=%s, paused_from=null where name=%s", (status, bulk_job))
	job.status = status
	if status == "Planning":
		# The planner selects what existed when the job was requested (selected_at), as always.
		frappe.db.set_value(JOB, bulk_job, "plan_heartbeat", now_datetime(), update_modified=False)
	claimed = claim_window(job)
	frappe.db.commit()
	enqueue_chunks(job, claimed, first_at_front=others_waiting(job))
	if status == "Planning":
		start_planner(job)
	return True


def pause_job(bulk_job: str) -> frappe._dict:
	"""Pause an active job: nothing of it stays on RQ, running chunks stop at their next commit keeping
	what they committed (their chunk goes back to Pending at its watermark), a planner stops before
	its next page. Returns the job's row after the change; commits."""
	job = lock_job(bulk_job)
	if not job:
		frappe.throw(frappe._("Bulk Queue Job {0} not found").format(bulk_job), frappe.DoesNotExistError)
	if job.status not in ACTIVE:
		frappe.db.rollback()
		frappe.throw(
			frappe._(
				"Bulk Queue Job {0} is {1}; only a planning, queued or running job can be paused."
			).format(bulk_job, frappe._(job.status)),
			title=frappe._("Cannot Pause"),
		)
	now = now_datetime()
	queued = frappe.db.sql(
		f"select name, rq_job_id from `tab{CHUNK}` where bulk_job=%s and status='Queued' for update",
		bulk_job,
		as_dict=True,
	)
	# A new token fences the dropped tries: one that starts anyway finds the chunk not its own.
	frappe.db.sql(
		f"""update `tab{CHUNK}` set status='Pending', token=token+1, rq_job_id=null, modified=%s
		where bulk_job=%s and status='Queued'""",
		(now, bulk_job),
	)
	dropped = [c.rq_job_id for c in queued if c.rq_job_id]
	if job.status == "Planning":
		dropped.append(frappe.db.get_value(JOB, bulk_job, "plan_rq_job_id"))
	frappe.db.sql(
		f"update `tab{JOB}` set status='Paused', paused_from=%s, paused_at=%s where name=%s",
		(job.status, now, bulk_job),
	)
	frappe.db.commit()
	drop_rq_jobs([d for d in dropped if d])
	drop_queued_of(job)
	job.paused_from, job.status = job.status, "Paused"
	return job


def drop_queued_of(job: frappe._dict) -> int:
	"""Remove every RQ job of ``job`` still waiting on its queue (a try enqueued by a process that
	committed just before the pause, and enqueued just after it). Returns how many."""
	from frappe.utils.background_jobs import get_queue

	prefix = f"{frappe.local.site}::bulk_queue:{job.name}:"
	try:
		waiting = [i for i in get_queue(job.queue).get_job_ids() if i.startswith(prefix)]
	except Exception:
		return 0
	drop_rq_jobs([i.split("::", 1)[1] for i in waiting])
	return len(waiting)


def resume_job(bulk_job: str) -> frappe._dict:
	"""Resume a paused job from its chunks' watermarks: its window is enqueued again, and a planner
	that had not finished selecting gets a new try. Returns the job's row after the change; commits.
	The caller then has recovery look for chunks whose run was lost while paused."""
	job = lock_job(bulk_job)
	if not job:
		frappe.throw(frappe._("Bulk Queue Job {0} not found").format(bulk_job), frappe.DoesNotExistError)
	if job.status != "Paused":
		frappe.db.rollback()
		frappe.throw(
			frappe._("Bulk Queue Job {0} is {1}, not Paused.").format(bulk_job, frappe._(job.status)),
			title=frappe._("Cannot Resume"),
		)
	paused_from = frappe.db.get_value(JOB, bulk_job, "paused_from")
	status = paused_from if paused_from in ACTIVE else ("Running" if job.started_at else "Queued")
	frappe.db.sql(
		f"update `tab{JOB}` set status=%s, paused_from=null, paused_at=null where name=%s",
		(status, bulk_job),
	)
	job.status = status
	replan = status == "Planning"
	if replan:
		job.plan_token = (job.plan_token or 0) + 1
		frappe.db.set_value(
			JOB,
			bulk_job,
			{
				"plan_token": job.plan_token,
				"plan_rq_job_id": planner_rq_job_id(bulk_job, job.plan_token),
				"plan_heartbeat": now_datetime(),
			},
			update_modified=False,
		)
	claimed = claim_window(job)
	finished = finish_if_done(bulk_job)  # every chunk may have ended while it was paused
	frappe.db.commit()
	enqueue_chunks(job, claimed)
	if replan:
		start_planner(job)
	if finished:
		job.status = finished
		completion.after_end(bulk_job)
	return job


def fail_job(bulk_job: str, error: str) -> None:
	"""End an active job as Failed with ``error`` (its planner could not select the records): chunks
	not started never run, running ones stop at their next commit. Caller holds the job's row lock
	and commits; the job's queued RQ jobs are dropped after."""
	now = now_datetime()
	queued = frappe.db.sql_list(
		f"""select rq_job_id from `tab{CHUNK}` where bulk_job=%s and status in ('Pending', 'Queued')
		and rq_job_id is not null""",
		bulk_job,
	)
	frappe.db.sql(
		f"""update `tab{CHUNK}` set status='Cancelled', ended_at=%s, modified=%s
		where bulk_job=%s and status in ('Pending', 'Queued')""",
		(now, now, bulk_job),
	)
	frappe.db.sql(
		f"update `tab{JOB}` set status='Failed', error=%s, ended_at=%s where name=%s", (error, now, bulk_job)
	)
	frappe.db.after_commit.add(lambda: drop_rq_jobs(queued))


def drop_rq_jobs(job_ids: list[str]) -> None:
	"""Remove queued RQ jobs (best effort: one that starts anyway finds its chunk cancelled or taken by
	another run, and exits)."""
	from frappe.utils.background_jobs import get_job

	for job_id in job_ids:
		try:
			rq_job = get_job(job_id)
			if rq_job and rq_job.get_status() == "queued":
				rq_job.cancel()
				rq_job.delete()
		except Exception:
			pass


def retry_failed(bulk_job: str) -> int:
	"""Re-enqueue the failed records of a finished job as new chunks; return how many.

	The failure rows stay as history, marked ``retried``; the job's ``processed`` and ``failed``
	counters drop by the retried records and grow again as the new chunks report.
	"""
	job = lock_job(bulk_job)
	if not job:
		frappe.throw(frappe._("Bulk Queue Job {0} not found").format(bulk_job), frappe.DoesNotExistError)
	if job.status not in ("Completed with Errors", "Failed"):
		frappe.throw(
			frappe._("Only failures of a finished job can be retried; Bulk Queue Job {0} is {1}.").format(
				bulk_job, frappe._(job.status)
			)
		)
	if frappe.db.get_value(JOB, bulk_job, "error") or frappe.db.exists(
		CHUNK, {"bulk_job": bulk_job, "status": "Cancelled"}
	):
		frappe.db.rollback()
		frappe.throw(
			frappe._(
				"Bulk Queue Job {0} did not run all its records (it was cancelled, or its records could not be "
				"selected); start a new job instead."
			).format(bulk_job)
		)
	failures = frappe.db.sql(
		"""select name, reference_name from `tabBulk Queue Failure`
		where bulk_job=%s and retried=0 order by creation for update""",
		bulk_job,
		as_dict=True,
	)
	if not failures:
		frappe.db.rollback()
		return 0
	names = list(dict.fromkeys(f.reference_name for f in failures))
	frappe.db.sql(
		"update `tabBulk Queue Failure` set retried=1 where bulk_job=%s and retried=0",
		bulk_job,
	)
	last_no = frappe.db.sql(
		f"select coalesce(max(chunk_no), 0) from `tab{CHUNK}` where bulk_job=%s", bulk_job
	)[0][0]
	size = frappe.db.get_value(JOB, bulk_job, "chunk_size") or settings.get("bulk_queue_default_chunk_size")
	added = insert_chunks(
		bulk_job, chunked(names, size), owner=job.user or frappe.session.user, first_no=last_no + 1
	)
	# A cancelled job's never-run records are not failures; only the failed ones are retried here.
	frappe.db.sql(
		f"""update `tab{JOB}` set status='Queued', ended_at=null, notified=0, processed=processed-%s,
			failed=failed-%s, chunks=chunks+%s, total=total-%s+%s where name=%s""",
		(len(failures), len(failures), added, len(failures), len(names), bulk_job),
	)
	job.status = "Queued"
	claimed = claim_window(job)
	frappe.db.commit()
	enqueue_chunks(job, claimed)
	return len(names)
