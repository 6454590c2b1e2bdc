# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""The job's life after it is recorded: every change of its status but the first.

Each function below takes (or is called holding) the job's row lock (``dispatch.lock_job``: the job
row first, then its chunk rows - the one lock order of the app), checks with ``TRANSITIONS`` that the
change it makes is one of these, makes it and commits (or leaves the commit to its caller, where it
says so); what must happen next is done through the RQ layer below (``dispatch``: the window,
enqueueing, dropping RQ jobs, the planner) or left to the caller. Workers, recovery, the planner, the
API and the commands call this module; it calls none of them.

    from                             to                                        by
    (new)                            Scheduled | Planning | Queued             dispatch.create_job
    Scheduled                        Planning | Queued                         start_scheduled
    Queued                           Running                                   mark_started (a chunk's first try)
    Planning                         Queued | Running                          planned (the planner's last page)
    Planning | Queued | Running      Paused                                    pause_job
    Paused                           Planning | Queued | Running               resume_job
    Scheduled | Planning | Queued |  Cancelled                                 cancel_job
      Running | Paused
    Planning | Queued | Running      Failed (the records could not be selected) fail_job
    Queued | Running                 Completed | Completed with Errors | Failed finish_if_done
    Completed with Errors | Failed   Queued | Planning (its failures only)     retry_failed

``TRANSITIONS`` is this table as the code checks it. The status names and their groups are in
``states.py``.
"""

from __future__ import annotations

import frappe
from frappe.utils import now_datetime

from bulk_queue import completion, dispatch, failures, settings
from bulk_queue.states import ACTIVE, OPEN
from bulk_queue.utils.selection import chunked

ENDED_BY_RECORDS = ("Completed", "Completed with Errors", "Failed")

# by: (from, to) - the table above, as every function below checks it.
TRANSITIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
	"start_scheduled": (("Scheduled",), ("Planning", "Queued")),
	"mark_started": (("Queued",), ("Running",)),
	"planned": (("Planning",), ("Queued", "Running")),
	"pause_job": (ACTIVE, ("Paused",)),
	"resume_job": (("Paused",), ACTIVE),
	"cancel_job": (OPEN, ("Cancelled",)),
	"fail_job": (ACTIVE, ("Failed",)),
	"finish_if_done": (("Queued", "Running"), ENDED_BY_RECORDS),
	"retry_failed": (("Completed with Errors", "Failed"), ("Queued", "Planning")),
}


class InvalidTransition(frappe.ValidationError):
	"""A status change the table does not have: a bug in the caller, never the user's input."""


def check_transition(by: str, current: str, new: str) -> None:
	"""Raise ``InvalidTransition`` unless ``by`` may move a job from ``current`` to ``new``."""
	allowed_from, allowed_to = TRANSITIONS[by]
	if current not in allowed_from or new not in allowed_to:
		raise InvalidTransition(f"{by} may not move a Bulk Queue Job from {current} to {new}")


def finish_if_done(bulk_job: str) -> str | None:
	"""Set the final status once every record is processed and no chunk is open; return it.

	Caller holds the job's row lock (so exactly one finisher sees the last count) and commits. A job
	still Planning is never done: its total is not known yet.
	"""
	counts = frappe.db.sql(
		f"select status, total, processed, succeeded, failed from `tab{dispatch.JOB}` where name=%s for update",
		bulk_job,
		as_dict=True,
	)[0]
	if counts.status not in ("Queued", "Running") or counts.processed < counts.total:
		return None
	open_chunks = frappe.db.sql(
		f"""select count(*) from `tab{dispatch.CHUNK}` where bulk_job=%s
		and status in ('Pending', 'Queued', 'Running') for update""",
		bulk_job,
	)[0][0]
	if open_chunks:
		return None
	status = final_status(counts)
	check_transition("finish_if_done", counts.status, status)
	frappe.db.sql(
		f"update `tab{dispatch.JOB}` set status=%s, ended_at=%s where name=%s",
		(status, now_datetime(), bulk_job),
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
	job = dispatch.lock_job(bulk_job)
	if not job:
		frappe.throw(frappe._("Bulk Queue Job {0} not found").format(bulk_job), frappe.DoesNotExistError)
	if job.status not in OPEN:
		frappe.db.rollback()
		return job
	check_transition("cancel_job", job.status, "Cancelled")
	now = now_datetime()
	planner = (
		frappe.db.get_value(dispatch.JOB, bulk_job, "plan_rq_job_id") if job.status == "Planning" else None
	)
	queued = frappe.db.sql(
		f"""select name, rq_job_id from `tab{dispatch.CHUNK}` where bulk_job=%s and status in ('Pending', 'Queued')
		for update""",
		bulk_job,
		as_dict=True,
	)
	frappe.db.sql(
		f"""update `tab{dispatch.CHUNK}` set status='Cancelled', ended_at=%s, modified=%s
		where bulk_job=%s and status in ('Pending', 'Queued')""",
		(now, now, bulk_job),
	)
	frappe.db.sql(
		f"update `tab{dispatch.JOB}` set status='Cancelled', ended_at=%s where name=%s", (now, bulk_job)
	)
	frappe.db.commit()
	dropped = [c.rq_job_id for c in queued if c.rq_job_id]
	if planner:
		dropped.append(planner)  # a planner that already runs stops at its next page
	dispatch.drop_rq_jobs(dropped)
	job.status = "Cancelled"
	completion.after_end(bulk_job)
	return job


def start_scheduled(bulk_job: str) -> bool:
	"""Start a Scheduled job whose time has come: Queued with its window on RQ, or Planning with its
	planner enqueued. Returns whether it started; commits."""
	job = dispatch.lock_job(bulk_job)
	details = (
		frappe.db.get_value(dispatch.JOB, bulk_job, ["start_at", "paused_from"], as_dict=True)
		if job
		else None
	)
	if not job or job.status != "Scheduled" or (details.start_at and details.start_at > now_datetime()):
		frappe.db.rollback()
		return False
	status = details.paused_from if details.paused_from in ACTIVE else "Queued"
	check_transition("start_scheduled", job.status, status)
	frappe.db.sql(
		f"update `tab{dispatch.JOB}` set status=%s, paused_from=null where name=%s", (status, bulk_job)
	)
	job.status = status
	if status == "Planning":
		# The planner selects what existed when the job was requested (selected_at), as always.
		frappe.db.set_value(dispatch.JOB, bulk_job, "plan_heartbeat", now_datetime(), update_modified=False)
	claimed = dispatch.claim_window(job)
	frappe.db.commit()
	dispatch.enqueue_chunks(job, claimed, first_at_front=dispatch.others_waiting(job))
	if status == "Planning":
		dispatch.start_planner(job)
	return True


def pause_job(bulk_job: str) -> frappe._dict:
	"""Pause an active job: nothing of it stays on RQ, running chunks stop at their next commit keeping
	what they committed (their chunk goes back to Pending at its watermark), a planner stops before
	its next page. Returns the job's row after the change; commits."""
	job = dispatch.lock_job(bulk_job)
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
	check_transition("pause_job", job.status, "Paused")
	now = now_datetime()
	queued = frappe.db.sql(
		f"select name, rq_job_id from `tab{dispatch.CHUNK}` where bulk_job=%s and status='Queued' for update",
		bulk_job,
		as_dict=True,
	)
	# A new token fences the dropped tries: one that starts anyway finds the chunk not its own.
	frappe.db.sql(
		f"""update `tab{dispatch.CHUNK}` set status='Pending', token=token+1, rq_job_id=null, modified=%s
		where bulk_job=%s and status='Queued'""",
		(now, bulk_job),
	)
	dropped = [c.rq_job_id for c in queued if c.rq_job_id]
	if job.status == "Planning":
		dropped.append(frappe.db.get_value(dispatch.JOB, bulk_job, "plan_rq_job_id"))
	frappe.db.sql(
		f"update `tab{dispatch.JOB}` set status='Paused', paused_from=%s, paused_at=%s where name=%s",
		(job.status, now, bulk_job),
	)
	frappe.db.commit()
	dispatch.drop_rq_jobs([d for d in dropped if d])
	drop_queued_of(job)
	job.paused_from, job.status = job.status, "Paused"
	return job


def drop_queued_of(job: frappe._dict) -> int:
	"""Remove every RQ job of ``job`` still waiting on its queue that is no longer a current try (one
	enqueued by a process that committed just before the pause, and enqueued just after it). A try a
	resume made since is current - its chunk row names it, committed before it was enqueued - and
	stays. Returns how many were removed."""
	from frappe.utils.background_jobs import get_queue

	prefix = f"{frappe.local.site}::bulk_queue:{job.name}:"
	try:
		waiting = [i.split("::", 1)[1] for i in get_queue(job.queue).get_job_ids() if i.startswith(prefix)]
	except Exception:
		return 0
	if not waiting:
		return 0
	frappe.db.rollback()  # read what is committed now, after the listing
	current = set(
		frappe.db.sql_list(
			f"""select rq_job_id from `tab{dispatch.CHUNK}` where bulk_job=%s and status in ('Queued', 'Running')
			and rq_job_id is not null""",
			job.name,
		)
	)
	current |= set(
		frappe.db.sql_list(
			f"select plan_rq_job_id from `tab{dispatch.JOB}` where name=%s and status='Planning'", job.name
		)
	)
	stale = [i for i in waiting if i not in current]
	dispatch.drop_rq_jobs(stale)
	return len(stale)


def resume_job(bulk_job: str) -> frappe._dict:
	"""Resume a paused job from its chunks' watermarks: its window is enqueued again, and a planner
	that had not finished selecting gets a new try. Returns the job's row after the change; commits.
	The caller then has recovery look for chunks whose run was lost while paused."""
	job = dispatch.lock_job(bulk_job)
	if not job:
		frappe.throw(frappe._("Bulk Queue Job {0} not found").format(bulk_job), frappe.DoesNotExistError)
	if job.status != "Paused":
		frappe.db.rollback()
		frappe.throw(
			frappe._("Bulk Queue Job {0} is {1}, not Paused.").format(bulk_job, frappe._(job.status)),
			title=frappe._("Cannot Resume"),
		)
	paused_from = frappe.db.get_value(dispatch.JOB, bulk_job, "paused_from")
	status = paused_from if paused_from in ACTIVE else ("Running" if job.started_at else "Queued")
	check_transition("resume_job", job.status, status)
	frappe.db.sql(
		f"update `tab{dispatch.JOB}` set status=%s, paused_from=null, paused_at=null where name=%s",
		(status, bulk_job),
	)
	job.status = status
	replan = status == "Planning"
	if replan:
		job.plan_token = (job.plan_token or 0) + 1
		frappe.db.set_value(
			dispatch.JOB,
			bulk_job,
			{
				"plan_token": job.plan_token,
				"plan_rq_job_id": dispatch.planner_rq_job_id(bulk_job, job.plan_token),
				"plan_heartbeat": now_datetime(),
			},
			update_modified=False,
		)
	claimed = dispatch.claim_window(job)
	finished = finish_if_done(bulk_job)  # every chunk may have ended while it was paused
	frappe.db.commit()
	dispatch.enqueue_chunks(job, claimed)
	if replan:
		dispatch.start_planner(job)
	if finished:
		job.status = finished
		completion.after_end(bulk_job)
	return job


def mark_started(job: frappe._dict) -> bool:
	"""A chunk's try starts: a Queued job becomes Running, and any job not started yet gets its start
	time (one still Planning stays Planning: ``planned`` makes it Running). Caller holds the job's row
	lock and commits. Returns whether the job became Running."""
	became_running = job.status == "Queued"
	if job.status not in ("Planning", "Running"):
		check_transition("mark_started", job.status, "Running")  # of the rest, only Queued may start
	if became_running or not job.started_at:
		job.started_at = job.started_at or now_datetime()
		frappe.db.sql(
			f"""update `tab{dispatch.JOB}` set status=if(status='Queued', 'Running', status),
			started_at=coalesce(started_at, %s) where name=%s""",
			(job.started_at, job.name),
		)
	if became_running:
		job.status = "Running"
	return became_running


def planned(job: frappe._dict, title: str) -> str:
	"""The planner has selected every record of a Planning job (its total is known): from now on it
	is an ordinary job, Running when a chunk has started, else Queued, and titled ``title``. Caller
	holds the job's row lock and commits. Returns the new status."""
	status = "Running" if job.started_at else "Queued"
	check_transition("planned", job.status, status)
	frappe.db.set_value(
		dispatch.JOB, job.name, {"status": status, "title": title, "plan_retry": None}, update_modified=False
	)
	job.update(status=status, title=title)
	return status


def fail_job(bulk_job: str, error: str) -> None:
	"""End an active job as Failed with ``error`` (its planner could not select the records): chunks
	not started never run, running ones stop at their next commit. Caller holds the job's row lock
	and commits; the job's queued RQ jobs are dropped after."""
	check_transition("fail_job", frappe.db.get_value(dispatch.JOB, bulk_job, "status"), "Failed")
	now = now_datetime()
	queued = frappe.db.sql_list(
		f"""select rq_job_id from `tab{dispatch.CHUNK}` where bulk_job=%s and status in ('Pending', 'Queued')
		and rq_job_id is not null""",
		bulk_job,
	)
	frappe.db.sql(
		f"""update `tab{dispatch.CHUNK}` set status='Cancelled', ended_at=%s, modified=%s
		where bulk_job=%s and status in ('Pending', 'Queued')""",
		(now, now, bulk_job),
	)
	frappe.db.sql(
		f"update `tab{dispatch.JOB}` set status='Failed', error=%s, ended_at=%s where name=%s",
		(error, now, bulk_job),
	)
	frappe.db.after_commit.add(lambda: dispatch.drop_rq_jobs(queued))


def retry_failed(bulk_job: str, error: str | None = None) -> int:
	"""Run a finished job's failed records again (all, or those of one Bulk Queue Error); return how
	many failures that is. Commits.

	Up to ``bulk_queue_plan_inline_max`` (10,000) failures become new chunks here, the job Queued;
	more are left to the planner (the job Planning, answered at once): it reads them a page at a time
	in the background and writes their chunks, whatever the count. The failure rows stay as history,
	marked ``retried``; the job's ``processed`` and ``failed`` counters drop by the retried records and
	grow again as the new chunks report.
	"""
	job = dispatch.lock_job(bulk_job)
	if not job:
		frappe.throw(frappe._("Bulk Queue Job {0} not found").format(bulk_job), frappe.DoesNotExistError)
	if job.status not in TRANSITIONS["retry_failed"][0]:
		frappe.db.rollback()
		frappe.throw(
			frappe._("Only failures of a finished job can be retried; Bulk Queue Job {0} is {1}.").format(
				bulk_job, frappe._(job.status)
			)
		)
	if frappe.db.get_value(dispatch.JOB, bulk_job, "error") or frappe.db.exists(
		dispatch.CHUNK, {"bulk_job": bulk_job, "status": "Cancelled"}
	):
		frappe.db.rollback()
		frappe.throw(
			frappe._(
				"Bulk Queue Job {0} did not run all its records (it was cancelled, or its records could not be "
				"selected); start a new job instead."
			).format(bulk_job)
		)
	if error and frappe.db.get_value(failures.ERROR, error, "bulk_job") != bulk_job:
		frappe.db.rollback()
		frappe.throw(frappe._("{0} is not an error of Bulk Queue Job {1}.").format(error, bulk_job))
	inline_max = settings.get("bulk_queue_plan_inline_max")
	rows = failures.retry_rows(bulk_job, error, limit=inline_max + 1)
	if not rows:
		frappe.db.rollback()
		return 0
	if len(rows) > inline_max:
		return _retry_in_background(job, error)
	names = list(dict.fromkeys(f.reference_name for f in rows))
	failures.mark_retried([f.name for f in rows])
	failures.clear_counts(bulk_job, error)
	last_no = frappe.db.sql(
		f"select coalesce(max(chunk_no), 0) from `tab{dispatch.CHUNK}` where bulk_job=%s", bulk_job
	)[0][0]
	size = job.chunk_size or settings.get("bulk_queue_default_chunk_size")
	added = dispatch.insert_chunks(
		bulk_job, chunked(names, size), owner=job.user or frappe.session.user, first_no=last_no + 1
	)
	check_transition("retry_failed", job.status, "Queued")
	frappe.db.sql(
		f"""update `tab{dispatch.JOB}` set status='Queued', ended_at=null, notified=0, end_steps=null,
			processed=processed-%s, failed=failed-%s, chunks=chunks+%s, total=total-%s+%s where name=%s""",
		(len(rows), len(rows), added, len(rows), len(names), bulk_job),
	)
	job.status = "Queued"
	claimed = dispatch.claim_window(job)
	frappe.db.commit()
	dispatch.enqueue_chunks(job, claimed)
	return len(rows)


def _retry_in_background(job: frappe._dict, error: str | None) -> int:
	"""More failures than one request should read: the job goes Planning and its planner turns them
	into chunks a page at a time (``tasks/planning.py``, ``plan_retry``). Returns how many."""
	count = (
		frappe.db.get_value(failures.ERROR, error, "failures")
		if error
		else frappe.db.get_value(dispatch.JOB, job.name, "failed")
	)
	check_transition("retry_failed", job.status, "Planning")
	token = (job.plan_token or 0) + 1
	now = now_datetime()
	frappe.db.set_value(
		dispatch.JOB,
		job.name,
		{
			"status": "Planning",
			"ended_at": None,
			"notified": 0,
			"end_steps": None,
			"plan_retry": error or "*",
			"plan_after": None,
			"plan_token": token,
			"plan_rq_job_id": dispatch.planner_rq_job_id(job.name, token),
			"plan_heartbeat": now,
			"plan_failures": 0,
			"selected_at": now,  # failures recorded from now on are the retry's own
			"expected": job.total,
		},
		update_modified=False,
	)
	failures.clear_counts(job.name, error)
	job.update(status="Planning", plan_token=token)
	frappe.db.commit()
	dispatch.start_planner(job)
	return count or 0
