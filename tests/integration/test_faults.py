# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Faults the way production meets them: killed workers, a Redis restart, deadlocks, timeouts, cancel.

Every test uses the fixture app's ``increment_counter`` action, which adds one to a record's counter,
and asserts each counter is exactly 1 at the end (or 0 for records never applied): nothing lost,
nothing applied twice, and the job ends on its own.
"""

import subprocess
import time

import frappe
import pytest

from .conftest import (
	BENCH,
	assert_exactly_once,
	counters,
	enqueue,
	failures,
	make_records,
	restart_queue_redis,
	wait_for_job,
	wait_until,
)

pytestmark = pytest.mark.slow

# bench worker (a work horse forked per job), bench worker-pool, and a worker that does not fork.
WORKER_KINDS = [
	"worker",
	pytest.param("pool", marks=pytest.mark.slow),
	pytest.param("simple", marks=pytest.mark.slow),
]


def _processed(job):
	return frappe.db.get_value("Bulk Queue Job", job, "processed")


@pytest.mark.parametrize("kind", WORKER_KINDS)
def test_sigkill_workers_mid_chunk_repeatedly(workers, kind):
	"""Workers SIGKILLed mid-chunk three times (twice with their work horse, once leaving the horse
	orphaned and still running): the job still ends Completed with every record applied once."""
	workers.kind = kind
	tag, names = make_records(600)
	result = enqueue(
		doctype="BQ Test Record", ids=names, action="increment_counter", values={"sleep": 0.01}, chunk_size=50
	)
	job = result["bulk_job"]
	# The scheduler runs, as on every production bench: a kill that lands after the other workers have
	# finished every other chunk leaves nothing running to notice it but the scheduler's minute tick.
	workers.start(2, scheduler=True)
	for kill_no in range(3):
		floor = 80 * (kill_no + 1)
		wait_until(lambda: _processed(job) >= floor, timeout=120, message=f"{floor} processed")
		time.sleep(0.3)  # land inside a batch, not on a commit
		workers.kill(0, horse=kill_no != 1)
		workers.start(1)
	done = wait_for_job(job, timeout=240)
	assert done.status == "Completed", failures(job)
	assert_exactly_once(tag, done)
	tries = frappe.get_all("Bulk Queue Chunk", {"bulk_job": job}, pluck="token")
	assert max(tries) >= 2, "at least one chunk was recovered and re-run"


@pytest.mark.parametrize("kind", WORKER_KINDS)
def test_record_that_kills_its_worker_is_failed_not_retried_forever(workers, kind):
	"""A record that kills the work horse every time is failed after a few losses; the rest complete.

	A worker that does not fork dies with its job, and nobody tells RQ: its supervisor starts it again
	and the scheduler's recovery (every minute) finds the chunk lost - as on a production bench."""
	workers.kind = kind
	tag, names = make_records(40)
	poison = names[2]
	result = enqueue(
		doctype="BQ Test Record",
		ids=names,
		action="increment_counter",
		values={"kill": poison, "sleep": 0.1},
		chunk_size=5,
	)
	job = result["bulk_job"]
	workers.start(1, scheduler=kind == "simple")
	done = wait_for_job(job, timeout=420 if kind == "simple" else 180)
	assert done.status == "Completed with Errors"
	assert (done.succeeded, done.failed) == (39, 1)
	[failure] = failures(job)
	assert failure.reference_name == poison and failure.exception_type == "WorkerLost"
	assert failure.attempts == 3 and "lost 3 times" in failure.error
	values = counters(tag)
	assert values.pop(poison) == 0
	assert set(values.values()) == {1}


@pytest.mark.parametrize("kind", WORKER_KINDS)
def test_redis_restart_mid_run(workers, kind):
	"""The queue's Redis restarts (losing every queued job) mid-run: the job recovers and completes."""
	workers.kind = kind
	tag, names = make_records(400)
	result = enqueue(
		doctype="BQ Test Record", ids=names, action="increment_counter", values={"sleep": 0.01}, chunk_size=40
	)
	job = result["bulk_job"]
	workers.start(2, scheduler=True)
	wait_until(lambda: _processed(job) >= 60, timeout=120, message="60 processed")
	restart_queue_redis()
	done = wait_for_job(job, timeout=300)
	assert done.status == "Completed", failures(job)
	assert_exactly_once(tag, done)


def test_deadlock_is_retried_not_lost(workers):
	"""A deadlock that makes the worker the victim is retried; every record is applied once."""
	tag, names = make_records(40)
	_, ballast = make_records(300)
	blocker = names[30]
	result = enqueue(
		doctype="BQ Test Record", ids=names, action="increment_counter", values={"sleep": 0.03}, chunk_size=40
	)
	job = result["bulk_job"]

	import pymysql

	conf = frappe.conf
	conn = pymysql.connect(
		host=conf.db_host or "127.0.0.1", port=int(conf.db_port or 3306), user=conf.db_name,
		password=conf.db_password, database=conf.db_name, autocommit=False,
	)  # fmt: skip
	deadlocked = False
	try:
		cur = conn.cursor()
		# A heavy transaction (300 rows changed) so InnoDB picks the worker as the deadlock victim.
		# Row by row: one UPDATE ... IN (300 names) may scan and lock the whole table.
		cur.executemany("update `tabBQ Test Record` set title=concat(title, '!') where name=%s", ballast)
		cur.execute("select name from `tabBQ Test Record` where name=%s for update", (blocker,))
		workers.start(1)
		# The worker runs records 0..29 in one transaction, then waits for our lock on record 30.
		try:
			wait_until(lambda: _waiting_on(blocker), timeout=60, message="the worker to wait on our lock")
		except AssertionError:
			raise AssertionError(f"worker not waiting on {blocker}: {_sessions()}") from None
		try:
			cur.execute("select name from `tabBQ Test Record` where name=%s for update", (names[5],))
		except pymysql.err.OperationalError as e:
			deadlocked = e.args[0] == 1213
	finally:
		conn.rollback()
		conn.close()

	done = wait_for_job(job, timeout=120)
	assert done.status == "Completed", failures(job)
	assert_exactly_once(tag, done)
	assert not deadlocked, "the heavier test transaction survived; the worker was the victim"
	assert done.retries >= 1, "the worker retried after the deadlock"


def test_timeout_shorter_than_chunk(workers):
	"""A chunk needing ~12 s with a 6 s timeout is continued in further tries, nothing lost or doubled."""
	tag, names = make_records(120)
	result = enqueue(
		doctype="BQ Test Record",
		ids=names,
		action="increment_counter",
		values={"sleep": 0.1},
		chunk_size=120,
		timeout=6,
	)
	workers.start(1)
	done = wait_for_job(result["bulk_job"], timeout=180)
	assert done.status == "Completed", failures(result["bulk_job"])
	assert_exactly_once(tag, done)
	token = frappe.db.get_value("Bulk Queue Chunk", {"bulk_job": done.name}, "token")
	assert token >= 3, "the chunk was continued in several tries"


def test_cancel_mid_run(workers):
	"""After cancel returns, no record is applied any more and the counters match the database."""
	from bulk_queue.api.bulk import cancel_bulk_job

	tag, names = make_records(500)
	result = enqueue(
		doctype="BQ Test Record", ids=names, action="increment_counter", values={"sleep": 0.01}, chunk_size=50
	)
	job = result["bulk_job"]
	workers.start(2)
	wait_until(lambda: _processed(job) >= 100, timeout=120, message="100 processed")
	cancel_bulk_job(job)
	applied_at_cancel = sum(counters(tag).values())
	time.sleep(6)  # longer than a commit interval: any in-flight batch has reached its boundary

	done = wait_for_job(job, statuses=("Cancelled",))
	values = counters(tag)
	assert sum(values.values()) == applied_at_cancel, "nothing applied after the cancel"
	assert set(values.values()) <= {0, 1}
	assert done.succeeded == sum(values.values()) == done.processed
	assert done.processed < 500
	wait_until(
		lambda: (
			not frappe.db.count(
				"Bulk Queue Chunk", {"bulk_job": job, "status": ("in", ["Pending", "Queued", "Running"])}
			)
		),
		timeout=30,
		message="every chunk closed",
	)


def test_retry_failed_after_fixing_the_cause(workers):
	"""retry_failed re-runs only the failed records; counts end consistent and history is kept."""
	from bulk_queue.api.bulk import retry_failed

	tag, names = make_records(50, fail_every=5)
	result = enqueue(doctype="BQ Test Record", ids=names, action="increment_counter", chunk_size=20)
	job = result["bulk_job"]
	workers.start(1)
	first = wait_for_job(job)
	assert (first.status, first.succeeded, first.failed) == ("Completed with Errors", 40, 10)

	frappe.db.sql("update `tabBQ Test Record` set fail_validation=0 where tag=%s", tag)
	frappe.db.commit()
	assert retry_failed(job)["retried"] == 10
	done = wait_for_job(job)
	assert done.status == "Completed"
	assert (done.total, done.processed, done.succeeded, done.failed) == (50, 50, 50, 0)
	assert set(counters(tag).values()) == {1}
	history = failures(job)
	assert len(history) == 10 and all(f.retried for f in history)


def test_action_that_commits_is_not_applied_twice(workers):
	"""An action that commits by itself (and sometimes fails after committing) never runs twice."""
	tag, names = make_records(30)
	bad = names[4:6]
	result = enqueue(
		doctype="BQ Test Record",
		ids=names,
		action="increment_and_commit",
		values={"raise_on": bad},
		chunk_size=30,
	)
	workers.start(1)
	done = wait_for_job(result["bulk_job"])
	assert set(counters(tag).values()) == {1}
	assert (done.status, done.succeeded, done.failed) == ("Completed with Errors", 28, 2)
	assert {f.reference_name for f in failures(done.name)} == set(bad)


def test_double_submit_while_running(workers):
	"""Submitting the same selection while it runs returns the running job, which applies once."""
	tag, names = make_records(100)
	args = dict(
		doctype="BQ Test Record", ids=names, action="increment_counter", values={"sleep": 0.01}, chunk_size=25
	)
	first = enqueue(**args)
	workers.start(1)
	wait_until(lambda: _processed(first["bulk_job"]) >= 1, timeout=60, message="the job to start")
	second = enqueue(**args)
	assert second["bulk_job"] == first["bulk_job"] and second["existing"]
	done = wait_for_job(first["bulk_job"])
	assert_exactly_once(tag, done)


# -- helpers --------------------------------------------------------------------------------------


def _waiting_on(name):
	"""Whether another session of the site's DB user has sat on a locking read of ``name`` for a while."""
	return frappe.db.sql(
		"""select count(*) from information_schema.processlist
		where id != connection_id() and info like %s and info like '%%for update%%' and time_ms > 300""",
		f"%{name}%",
	)[0][0]


def _sessions():
	return frappe.db.sql(
		"select id, time_ms, state, left(info, 160) from information_schema.processlist where id != connection_id()"
	)
