# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Recording a bulk job and putting its chunks on the RQ queues: the job and chunk rows, the window,
enqueueing chunk and planner tries with their RQ ids and retries, dropping RQ jobs. Every later change
of a job's status is in ``lifecycle.py``, which builds on this module (never the other way).

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

from bulk_queue import secrets, settings
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
	output=None,
) -> str:
	"""Insert the Bulk Queue Job and its Pending chunks in the current transaction; return the name.

	With ``filters`` (and ``names`` empty) the job is created ``Planning``: no chunk yet, ``expected``
	records matching now; ``tasks/planning.py`` selects them and writes the chunks. With ``start_at``
	it is ``Scheduled`` until then (``start_scheduled``), and becomes Planning or Queued at that time.
	Password values are kept encrypted, never in clear (``secrets.seal``). ``skipped``: for the fast
	path, what it does not run on this DocType, in words (the job form shows it). ``output``: the
	``outputs.Spec`` of an action that makes one file of the job (Print, Export).
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
			"output_format": output.format if output else None,
			"output_header": json.dumps(list(output.header)) if output and output.header else None,
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
			plan_after, plan_token, rate_limit, output_format
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
