# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Control while a job runs: pause and resume, a records-per-second limit, a start time, fair
sharing of a queue between jobs. Real workers; every record applied exactly once."""

from __future__ import annotations

import time

import frappe

from bulk_queue.api.bulk import cancel_bulk_job, pause_bulk_job, resume_bulk_job
from bulk_queue.tasks import recovery

from .conftest import (
	assert_exactly_once,
	counters,
	enqueue,
	make_records,
	restart_queue_redis,
	rq_jobs_of,
	wait_for_job,
	wait_until,
)


def _job(name: str) -> frappe._dict:
	frappe.db.rollback()
	return frappe.db.get_value("Bulk Queue Job", name, "*", as_dict=True)


def _chunks(job: str, status: str) -> int:
	frappe.db.rollback()
	return frappe.db.count("Bulk Queue Chunk", {"bulk_job": job, "status": status})


def test_pause_mid_run_survives_restarts_and_resumes_exactly_once(workers):
	"""Pause mid-run: the counters stop, nothing of the job is left on RQ, workers and Redis restart
	without waking it, recovery leaves it alone; resume finishes every record exactly once."""
	tag, names = make_records(400)
	job = enqueue(
		doctype="BQ Test Record", ids=names, action="increment_counter", values={"sleep": 0.02}, chunk_size=40
	)["bulk_job"]
	workers.start(2)
	wait_until(lambda: _job(job).processed >= 80, timeout=120, message="80 processed")
	paused = pause_bulk_job(job)
	assert paused["status"] == "Paused"
	wait_until(lambda: not _chunks(job, "Running"), timeout=60, message="running chunks stopped")
	applied = sum(counters(tag).values())
	held = _job(job)
	assert held.processed == applied < 400, "the counters are what was committed"
	assert not rq_jobs_of(job) and not _chunks(job, "Queued")

	workers.stop()
	restart_queue_redis()
	workers.start(2)
	recovery.recover()
	time.sleep(3)
	assert _job(job).status == "Paused" and _job(job).processed == held.processed
	assert sum(counters(tag).values()) == applied and not rq_jobs_of(job)

	assert resume_bulk_job(job)["status"] in ("Queued", "Running")
	done = wait_for_job(job, timeout=180)
	assert done.status == "Completed"
	assert_exactly_once(tag, done)


def test_paused_job_without_workers_can_be_cancelled(site):
	"""Pausing a queued job takes its chunks off RQ; cancelling the paused job ends it."""
	_, names = make_records(30)
	job = enqueue(doctype="BQ Test Record", ids=names, action="increment_counter", chunk_size=10)["bulk_job"]
	assert len(rq_jobs_of(job)) == 3
	pause_bulk_job(job)
	assert not rq_jobs_of(job) and _chunks(job, "Pending") == 3
	again = enqueue(doctype="BQ Test Record", ids=names, action="increment_counter", chunk_size=10)
	assert again["existing"] and again["bulk_job"] == job, "the same request finds the paused job"
	assert cancel_bulk_job(job)["status"] == "Cancelled"
	assert _chunks(job, "Cancelled") == 3


def test_rate_limit_holds_across_two_workers(workers):
	"""A 20 records/s limit on 200 records, two workers: about 10 s, evenly spread (the rate read from
	the records' own save times, within a broad band)."""
	tag, names = make_records(200)
	job = enqueue(
		doctype="BQ Test Record", ids=names, action="increment_counter", chunk_size=20, rate_limit=20
	)["bulk_job"]
	workers.start(2)
	done = wait_for_job(job, timeout=120)
	assert done.status == "Completed" and done.rate_limit == 20
	assert_exactly_once(tag, done)
	saved = sorted(frappe.get_all("BQ Test Record", {"tag": tag}, pluck="modified"))
	span = (saved[-1] - saved[0]).total_seconds()
	rate = (len(saved) - 1) / span
	print(f"rate limit 20/s, 2 workers: {len(saved)} records in {span:.1f} s = {rate:.1f} records/s")
	assert 14 <= rate <= 22, rate
	assert 8.5 <= span <= 14, span


def test_start_at_waits_as_scheduled_then_runs(workers):
	"""A job with a start time waits as Scheduled with nothing on RQ, even past workers; the
	scheduler's minute tick starts it once the time has come, and it runs exactly once."""
	from frappe.utils import add_to_date, now_datetime

	tag, names = make_records(30)
	start_at = add_to_date(now_datetime(), seconds=3)
	result = enqueue(
		doctype="BQ Test Record",
		ids=names,
		action="increment_counter",
		chunk_size=10,
		start_at=str(start_at),
	)
	job = result["bulk_job"]
	assert result["progress"]["status"] == "Scheduled" and result["queued_now"] == 0
	workers.start(1)
	assert recovery.recover()["started"] == 0, "not before its time"
	assert not rq_jobs_of(job) and _job(job).status == "Scheduled"
	time.sleep(max(0.0, (start_at - now_datetime()).total_seconds()) + 0.5)
	assert _job(job).status == "Scheduled", "nothing starts it but the scheduler"
	assert recovery.recover()["started"] == 1  # what the scheduler runs every minute
	done = wait_for_job(job, timeout=60)
	assert done.status == "Completed" and done.started_at >= start_at
	assert_exactly_once(tag, done)


def test_start_at_takes_datetimes_dates_and_iso_strings_with_an_offset():
	"""What console and app callers pass: a naive datetime (site time), an aware one in another zone,
	a date (its midnight), an ISO string with an offset - each stored as the same instant in site time.
	Text that is no time is refused with nothing recorded."""
	from datetime import datetime, timedelta, timezone
	from zoneinfo import ZoneInfo

	from frappe.utils import add_to_date, get_system_timezone, now_datetime

	site_zone = ZoneInfo(get_system_timezone())
	in_an_hour = add_to_date(now_datetime(), hours=1).replace(microsecond=0)
	aware = in_an_hour.replace(tzinfo=site_zone).astimezone(ZoneInfo("Asia/Kolkata"))
	as_utc = in_an_hour.replace(tzinfo=site_zone).astimezone(timezone.utc)
	tomorrow = (now_datetime() + timedelta(days=1)).date()
	cases = {
		"naive datetime": (in_an_hour, in_an_hour),
		"aware datetime": (aware, in_an_hour),
		"ISO string with an offset": (as_utc.isoformat(), in_an_hour),
		"ISO string with Z": (as_utc.strftime("%Y-%m-%dT%H:%M:%SZ"), in_an_hour),
		"date": (tomorrow, datetime.combine(tomorrow, datetime.min.time())),
	}
	for label, (given, expected) in cases.items():
		_, names = make_records(2)
		job = enqueue(doctype="BQ Test Record", action="save", ids=names, start_at=given)["bulk_job"]
		frappe.db.commit()
		row = _job(job)
		assert row.status == "Scheduled", label
		assert row.start_at == expected, (label, row.start_at, expected)
		cancel_bulk_job(job)
	before = frappe.db.count("Bulk Queue Job")
	for bad in ("tomorrow-ish", 12, ["2026-12-01"]):
		try:
			enqueue(doctype="BQ Test Record", action="save", ids=make_records(1)[1], start_at=bad)
		except frappe.ValidationError as e:
			assert "start_at" in str(e), e
		else:
			raise AssertionError(f"{bad!r} accepted")
		frappe.db.rollback()
	assert frappe.db.count("Bulk Queue Job") == before


def test_a_small_job_is_not_stuck_behind_a_big_one(workers):
	"""While a 20,000-record job keeps two workers busy, a 100-record job started on the same queue
	gets its first record processed within 10 s (its first chunk goes to the head of the queue, and
	the big job's chunks stop chaining while it waits)."""
	big_tag, _big = make_records(20_000)
	_, small = make_records(100)
	big_job = enqueue(
		doctype="BQ Test Record", filters={"tag": big_tag}, action="bump_counter", chunk_size=200
	)["bulk_job"]
	workers.start(2)
	wait_until(lambda: _job(big_job).processed >= 1_000, timeout=120, message="the big job under way")
	started = time.monotonic()
	small_job = enqueue(doctype="BQ Test Record", ids=small, action="increment_counter", chunk_size=50)[
		"bulk_job"
	]
	wait_until(lambda: _job(small_job).processed >= 1, timeout=60, message="the small job's first record")
	waited = time.monotonic() - started
	big_at_that_time = _job(big_job).processed
	print(f"small job's first record after {waited:.1f} s; the big job at {big_at_that_time:,} of 20,000")
	assert big_at_that_time < 20_000, "the big job was still running"
	assert waited < 10, waited
	assert wait_for_job(small_job, timeout=120).status == "Completed"
	cancel_bulk_job(big_job)


def test_workers_back_off_while_the_database_is_busy(workers, site_conf):
	"""With Threads_running above the configured threshold the workers wait (the job says why) and go
	on once the database is quiet again."""
	import threading

	import pymysql

	from bulk_queue import progress

	site_conf(bulk_queue_throttle_threads_running=2)

	credentials = {
		"host": frappe.conf.db_host or "127.0.0.1",
		"port": int(frappe.conf.db_port or 3306),
		"user": frappe.conf.db_name,
		"password": frappe.conf.db_password,
		"database": frappe.conf.db_name,
	}

	def busy(seconds: int) -> None:  # in its own thread: no frappe.local here
		connection = pymysql.connect(**credentials)
		with connection.cursor() as cursor:
			cursor.execute("select sleep(%s)", (seconds,))
		connection.close()

	load = [threading.Thread(target=busy, args=(10,)) for _ in range(4)]
	for thread in load:
		thread.start()
	time.sleep(0.5)
	tag, names = make_records(20)
	job = enqueue(doctype="BQ Test Record", ids=names, action="increment_counter")["bulk_job"]
	workers.start(1)
	wait_until(
		lambda: progress.current(job)["throttled"] == "database", timeout=30, message="the back-off shown"
	)
	assert _job(job).processed == 0, "nothing is done while the database is busy"
	for thread in load:
		thread.join()
	done = wait_for_job(job, timeout=120)
	assert done.status == "Completed"
	assert_exactly_once(tag, done)


def test_scheduled_selection_by_filters_is_planned_when_it_starts(workers, site_conf):
	"""A large filter selection with a start time waits as Scheduled (no planner on RQ either); at its
	time it is planned in the background and processed exactly once."""
	from frappe.utils import add_to_date, now_datetime

	site_conf(bulk_queue_plan_inline_max=10, bulk_queue_plan_page_size=20)
	tag, _names = make_records(50)
	start_at = add_to_date(now_datetime(), seconds=2)
	result = enqueue(
		doctype="BQ Test Record",
		filters={"tag": tag},
		action="increment_counter",
		chunk_size=10,
		start_at=str(start_at),
	)
	job = result["bulk_job"]
	assert result["progress"]["status"] == "Scheduled" and result["total"] == 50
	workers.start(1)
	time.sleep(max(0.0, (start_at - now_datetime()).total_seconds()) + 0.5)
	assert not rq_jobs_of(job) and _job(job).status == "Scheduled"
	assert recovery.recover()["started"] == 1
	done = wait_for_job(job, timeout=90)
	assert done.status == "Completed" and done.total == 50
	assert_exactly_once(tag, done)


def _queued_tries_on_rq(job: str) -> tuple[set, set]:
	"""(RQ ids the job's Queued chunks name, RQ ids of the job waiting on RQ)."""
	frappe.db.rollback()
	named = set(frappe.get_all("Bulk Queue Chunk", {"bulk_job": job, "status": "Queued"}, pluck="rq_job_id"))
	waiting = {r.id.split("::", 1)[1] for r in rq_jobs_of(job)}
	return named, waiting


def test_a_resume_between_a_pauses_commit_and_its_cleanup_keeps_its_tries(workers, monkeypatch):
	"""pause_job commits, then removes what is left of the job on RQ. A resume that commits and
	enqueues in between keeps its fresh tries: every Queued chunk has its RQ job waiting, and the job
	finishes on its own (no recovery pass), each record once."""
	from bulk_queue import lifecycle

	tag, names = make_records(60)
	job = enqueue(doctype="BQ Test Record", ids=names, action="increment_counter", chunk_size=10)["bulk_job"]
	real_drop = lifecycle.drop_queued_of

	def resume_in_between(row):
		lifecycle.resume_job(row.name)
		return real_drop(row)

	monkeypatch.setattr(lifecycle, "drop_queued_of", resume_in_between)
	lifecycle.pause_job(job)
	monkeypatch.undo()
	assert _job(job).status == "Queued"
	named, waiting = _queued_tries_on_rq(job)
	assert named and named <= waiting, f"tries lost: {sorted(named - waiting)}"
	workers.start(1)
	assert_exactly_once(tag, wait_for_job(job, timeout=60))


def test_a_pause_between_a_resumes_commit_and_its_enqueue_runs_nothing(workers, monkeypatch):
	"""The other order: a resume commits, a pause commits before the resume enqueues. The tries the
	resume then enqueues are stale (their chunks are Pending under a newer token): nothing runs while
	paused, recovery removes them, and a resume finishes each record once."""
	from bulk_queue import dispatch, lifecycle

	tag, names = make_records(60)
	job = enqueue(doctype="BQ Test Record", ids=names, action="increment_counter", chunk_size=10)["bulk_job"]
	lifecycle.pause_job(job)
	real_enqueue = dispatch.enqueue_chunks

	def pause_in_between(row, claimed, **kwargs):
		monkeypatch.setattr(dispatch, "enqueue_chunks", real_enqueue)
		lifecycle.pause_job(row.name)
		return real_enqueue(row, claimed, **kwargs)

	monkeypatch.setattr(dispatch, "enqueue_chunks", pause_in_between)
	lifecycle.resume_job(job)
	monkeypatch.undo()
	assert _job(job).status == "Paused"
	assert rq_jobs_of(job), "the resume's late tries are on RQ"
	workers.start(1)
	time.sleep(3)
	assert set(counters(tag).values()) == {0}, "nothing runs while paused"
	assert _chunks(job, "Pending") == 6 and _job(job).status == "Paused"
	recovery.recover()
	assert not rq_jobs_of(job)
	resume_bulk_job(job)
	assert_exactly_once(tag, wait_for_job(job, timeout=60))


def test_a_custom_queue_of_the_bench_is_offered_accepted_and_served(workers, bench_conf, bq_settings):
	"""A queue the bench configures (``workers`` in common_site_config.json, with its timeout) is
	offered by the dialog, accepted by the API and Settings' Default Queue, gives chunk jobs its
	timeout; the job form says no worker listens on it until ``bench worker --queue`` runs; an unknown
	queue is refused with nothing recorded."""
	from bulk_queue.api.bulk import get_bulk_options

	bench_conf(workers={"bq-bulk": {"timeout": 900}})
	assert "bq-bulk" in get_bulk_options("BQ Test Record")["queues"]
	tag, names = make_records(30)
	job = enqueue(
		doctype="BQ Test Record", ids=names, action="increment_counter", chunk_size=10, queue="bq-bulk"
	)["bulk_job"]
	frappe.db.commit()
	row = _job(job)
	assert (row.queue, row.timeout) == ("bq-bulk", 900)
	assert {r.origin.rsplit(":", 1)[-1] for r in rq_jobs_of(job)} == {"bq-bulk"}
	doc = frappe.get_doc("Bulk Queue Job", job)
	doc.run_method("onload")
	assert doc.get_onload().get("no_worker") == "bq-bulk", "the form says nobody serves the queue"

	workers.start(1, queues="bq-bulk")
	assert_exactly_once(tag, wait_for_job(job, timeout=60))

	bq_settings(default_queue="bq-bulk")
	_, more = make_records(2)
	assert _job(enqueue(doctype="BQ Test Record", ids=more, action="save")["bulk_job"]).queue == "bq-bulk"
	settings_doc = frappe.get_single("Bulk Queue Settings")
	settings_doc.default_queue = "no-such-queue"
	try:
		settings_doc.save()
	except frappe.ValidationError as e:
		assert "common_site_config" in str(e)
	else:
		raise AssertionError("an unknown Default Queue was saved")
	frappe.db.rollback()

	before = frappe.db.count("Bulk Queue Job")
	try:
		enqueue(doctype="BQ Test Record", ids=more, action="save", queue="no-such-queue")
	except frappe.ValidationError as e:
		assert "bq-bulk" in str(e) and "workers" in str(e)
	else:
		raise AssertionError("an unknown queue was accepted")
	frappe.db.rollback()
	assert frappe.db.count("Bulk Queue Job") == before
