# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""A chunk job that finishes its chunk goes on with the job's next chunks in the same process, so a
fresh work horse (and Frappe's first-save start-up cost) is paid once per chain, not once per chunk -
without giving up exactly-once, recovery or fairness to other work on the queue."""

import time
import uuid

import frappe
import pytest

from .conftest import (
	assert_exactly_once,
	enqueue,
	failures,
	make_records,
	purge_queues,
	wait_for_job,
	wait_until,
)


@pytest.fixture(autouse=True)
def quiet_queues():
	"""Chains yield to any other work on the queue, so start from empty queues: earlier tests leave
	bulk jobs Queued without workers, and recovery would put their chunks back on the queue."""
	from bulk_queue.lifecycle import cancel_job

	for name in frappe.get_all(
		"Bulk Queue Job", {"status": ("in", ("Planning", "Queued", "Running"))}, pluck="name"
	):
		cancel_job(name)
	purge_queues()


def _chunks(job: str) -> list:
	frappe.db.rollback()
	return frappe.get_all(
		"Bulk Queue Chunk",
		{"bulk_job": job},
		["name", "chunk_no", "status", "rq_job_id", "token", "lost_count", "done_upto", "total"],
		order_by="chunk_no",
	)


def test_one_worker_runs_many_chunks_in_one_process(workers):
	"""With one worker, twenty chunks run in a handful of RQ jobs, each record exactly once."""
	tag, names = make_records(200)
	result = enqueue(doctype="BQ Test Record", ids=names, action="increment_counter", chunk_size=10)
	workers.start(1)
	done = wait_for_job(result["bulk_job"])
	assert done.status == "Completed", failures(done.name)
	assert_exactly_once(tag, done)
	chunks = _chunks(done.name)
	assert len(chunks) == 20 and {c.status for c in chunks} == {"Done"}
	rq_jobs = {c.rq_job_id for c in chunks}
	assert len(rq_jobs) <= 3, f"{len(rq_jobs)} RQ jobs ran 20 chunks"


def test_chain_yields_to_other_work_on_the_queue(workers):
	"""A chain stops taking chunks when another job waits on its queue: that job runs before the bulk
	job ends, not after it."""
	key = f"bq-fair-{uuid.uuid4().hex[:8]}"
	tag, names = make_records(240)
	result = enqueue(
		doctype="BQ Test Record",
		ids=names,
		action="increment_counter",
		values={"sleep": 0.03},
		chunk_size=20,
		queue="default",
	)
	workers.start(1)
	wait_until(lambda: frappe.db.get_value("Bulk Queue Job", result["bulk_job"], "processed") >= 30)
	frappe.enqueue("bulk_queue_fixtures.actions.remember_when_run", queue="default", key=key)
	done = wait_for_job(result["bulk_job"], timeout=180)
	ran_at = frappe.cache.get_value(key)
	assert ran_at, "the other job ran"
	assert ran_at < done.ended_at.timestamp() - 1, "it ran while the bulk job was still going"
	assert_exactly_once(tag, done)


def test_killed_horse_in_a_continued_chunk_is_taken_up_by_its_retry(workers):
	"""A work horse killed while it runs a chunk it took over: RQ's retry of that job finds the chunk
	and finishes it; every record applied once."""
	tag, names = make_records(200)
	result = enqueue(
		doctype="BQ Test Record",
		ids=names,
		action="increment_counter",
		values={"sleep": 0.05},
		chunk_size=20,
	)
	job = result["bulk_job"]
	workers.start(1)

	def continued_and_busy():
		for c in _chunks(job):
			own = f":chunk-{c.chunk_no:04d}:"
			if c.status == "Running" and c.rq_job_id and own not in c.rq_job_id:
				return c
		return None

	wait_until(continued_and_busy, timeout=60, interval=0.05, message="a continued chunk")
	time.sleep(0.3)  # inside its 1 s of work, before its only commit
	workers.kill_horses()
	done = wait_for_job(job, timeout=180)
	assert done.status == "Completed", failures(job)
	assert_exactly_once(tag, done)
	lost = [c for c in _chunks(job) if c.lost_count]
	assert lost, "the killed run was counted as a loss"
	for c in lost:
		assert f":chunk-{c.chunk_no:04d}:" not in c.rq_job_id, "finished by the retried RQ job, not re-queued"
