# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Large filter selections: answered at once, planned in the background, exactly once even when the
planning worker is killed, and only the records the requesting user may see."""

import datetime
import math
import random
import time

import frappe
import pytest

from .conftest import (
	assert_exactly_once,
	counters,
	enqueue,
	ensure_user,
	failures,
	make_records,
	make_todos,
	wait_for_job,
	wait_until,
)


def _small_planning_pages(site_conf, page_size: int = 50, inline_max: int = 100) -> None:
	"""Send selections above ``inline_max`` records to the planner, in pages of ``page_size``."""
	site_conf(bulk_queue_plan_inline_max=inline_max, bulk_queue_plan_page_size=page_size)


def test_large_selection_returns_at_once_and_is_planned_in_the_background(workers, site_conf):
	"""Above the inline limit the answer comes at once with status Planning and no chunk yet; the
	planner writes full chunks page by page, the job ends with the exact total, and records created
	after the job was started are not part of it."""
	_small_planning_pages(site_conf, page_size=40)
	tag, names = make_records(330)
	result = enqueue(
		doctype="BQ Test Record",
		action="increment_counter",
		filters={"tag": tag},
		chunk_size=20,
	)
	job = result["bulk_job"]
	assert result["progress"]["status"] == "Planning"
	assert (result["total"], result["queued_now"]) == (330, 0)
	assert not frappe.db.count("Bulk Queue Chunk", {"bulk_job": job}), "chunks are the planner's"
	late_tag, late = make_records(3)
	frappe.db.sql("update `tabBQ Test Record` set tag=%s where tag=%s", (tag, late_tag))
	frappe.db.commit()

	workers.start(1)
	done = wait_for_job(job, timeout=180)
	assert done.status == "Completed", failures(job)
	values = counters(tag)
	assert [values[n] for n in late] == [0, 0, 0], "created after the job started"
	assert {values[n] for n in names} == {1}
	assert (done.total, done.expected, done.processed) == (330, 330, 330)
	sizes = frappe.get_all("Bulk Queue Chunk", {"bulk_job": job}, pluck="total", order_by="chunk_no")
	assert sizes == [20] * 16 + [10]
	assert done.selected_at and done.plan_after == max(names)


def test_planning_worker_killed_midway_50k_rows(workers, site_conf):
	"""50,000 records selected by filters; the worker running the planner is SIGKILLed with its work
	horse in the middle of planning. The planner is tried again (RQ's retry, or recovery with a new
	token) and resumes after the committed watermark: every record is applied exactly once and the
	total is exact."""
	from bulk_queue_fixtures.actions import SLOW_READS

	_small_planning_pages(site_conf, page_size=500, inline_max=1000)
	tag, _ = make_records(50_000)
	result = enqueue(
		doctype="BQ Test Record",
		action="bump_counter",
		filters=[["tag", "=", tag]],
		chunk_size=500,
	)
	job = result["bulk_job"]
	# A planner reads 50,000 names in well under a second on a fast machine: slow its pages (0.3 s
	# each, so they do not grow either) until it has been caught midway.
	frappe.cache.set_value(SLOW_READS, 0.3, expires_in_sec=300)
	try:
		workers.start(1)  # the only worker takes the planner first
		wait_until(
			lambda: 2_000 <= (frappe.db.get_value("Bulk Queue Job", job, "total") or 0) <= 40_000,
			timeout=120,
			interval=0.05,
			message="planning under way",
		)
		workers.kill(0, horse=True)
	finally:
		frappe.cache.delete_value(SLOW_READS)
	mid = frappe.db.get_value("Bulk Queue Job", job, ["status", "total"], as_dict=True)
	assert mid.status == "Planning" and mid.total < 50_000, mid
	workers.start(2)
	done = wait_for_job(job, timeout=600)
	assert done.status == "Completed", failures(job)
	assert_exactly_once(tag, done)
	assert done.total == 50_000 and done.chunks == math.ceil(50_000 / 500)
	chunk_names = frappe.get_all("Bulk Queue Chunk", {"bulk_job": job}, pluck="names")
	assert sum(len(frappe.parse_json(n)) for n in chunk_names) == 50_000, "no record planned twice"


def test_filter_selection_only_takes_what_the_user_may_see(workers, site_conf):
	"""A user who sees only the ToDos allocated to them (ToDo's permission query) selects, by the same
	filters that match everyone's ToDos, only their own - in the request and in the background."""
	user = ensure_user("bq-planner-user@example.com", ["Blogger"])
	other = ensure_user("bq-planner-other@example.com", ["Blogger"])
	tag, mine = make_todos(60, allocated_to=user, owner=other)
	frappe.db.sql("update `tabToDo` set description=%s where name in %s", (f"<p>{tag}</p>", mine))
	_, theirs = make_todos(45, allocated_to=other, owner=other)
	frappe.db.sql("update `tabToDo` set description=%s where name in %s", (f"<p>{tag}</p>", theirs))
	frappe.db.commit()
	jobs = []
	for inline_max, marker in ((1_000, "[inline]"), (10, "[planned]")):
		_small_planning_pages(site_conf, page_size=20, inline_max=inline_max)
		frappe.set_user(user)
		result = enqueue(
			doctype="ToDo",
			action="append_marker",
			filters=[["description", "like", f"%{tag}%"]],
			values={"marker": marker},
		)
		frappe.set_user("Administrator")
		assert result["total"] == 60, "only the user's own ToDos match for them"
		jobs.append(result["bulk_job"])
	workers.start(1)
	for job in jobs:
		done = wait_for_job(job, timeout=180)
		assert done.status == "Completed" and done.total == 60, failures(job)
	rows = dict(frappe.db.sql("select name, description from `tabToDo` where name in %s", [mine + theirs]))
	assert all("[inline]" in rows[n] and "[planned]" in rows[n] for n in mine)
	assert not any("[" in rows[n] for n in theirs), "no record outside the user's permissions"


def test_cancel_while_planning_stops_the_planner(workers, site_conf):
	"""Cancelling a Planning job drops its queued planner; nothing is planned or processed after."""
	_small_planning_pages(site_conf, page_size=20, inline_max=10)
	tag, _ = make_records(200)
	result = enqueue(doctype="BQ Test Record", action="increment_counter", filters={"tag": tag})
	job = result["bulk_job"]
	from bulk_queue.api.bulk import cancel_bulk_job

	cancel_bulk_job(job)
	workers.start(1)
	done = wait_for_job(job, timeout=60)
	assert done.status == "Cancelled"
	frappe.db.rollback()
	assert set(counters(tag).values()) == {0}
	assert not frappe.db.count("Bulk Queue Chunk", {"bulk_job": job, "status": ("!=", "Cancelled")})


def test_planner_that_cannot_select_fails_the_job_with_the_reason(workers, site_conf):
	"""The requester loses the role that let them read the records before the planner runs: the
	planner gives up at once, the job ends Failed with the reason, nothing is processed."""
	_small_planning_pages(site_conf, page_size=20, inline_max=10)
	user = ensure_user("bq-planner-loses-role@example.com", ["Blogger"])
	tag, _ = make_records(50)
	frappe.set_user(user)
	job = enqueue(doctype="BQ Test Record", action="increment_counter", filters={"tag": tag})["bulk_job"]
	frappe.set_user("Administrator")
	ensure_user(user, [])
	workers.start(1)
	done = wait_for_job(job, timeout=120)
	assert done.status == "Failed", dict(done)
	assert "could not be selected" in done.error
	assert set(counters(tag).values()) == {0}
	from bulk_queue.lifecycle import retry_failed

	with pytest.raises(frappe.ValidationError, match="start a new job"):
		retry_failed(job)


@pytest.mark.parametrize("where", ["inline", "planner"])
def test_filter_on_an_indexed_column_selects_each_record_once(workers, site_conf, where):
	"""A filter the database answers from another index (a ``modified`` range, newest names oldest)
	still gives keyset pages in name order: every matching record is selected once, none twice."""
	if where == "planner":
		_small_planning_pages(site_conf, page_size=200, inline_max=500)
	tag, names = make_records(2_500)
	# Two days of their own far in the past, descending while names ascend: only `modified`'s index
	# finds these rows quickly, and it returns them newest first.
	start = datetime.date(1990, 1, 1) + datetime.timedelta(days=2 * random.randrange(5_000))
	frappe.db.sql(
		"""update `tabBQ Test Record` set modified = timestampadd(second, 100000 - cast(right(name, 6) as
		integer), %s) where tag=%s""",
		(start, tag),
	)
	frappe.db.commit()
	result = enqueue(
		doctype="BQ Test Record",
		action="increment_counter",
		filters=[["modified", "between", [str(start), str(start + datetime.timedelta(days=1))]]],
		chunk_size=100,
	)
	assert (result["progress"]["status"] == "Planning") == (where == "planner")
	workers.start(1)
	done = wait_for_job(result["bulk_job"], timeout=240)
	assert done.status == "Completed", failures(result["bulk_job"])
	assert done.total == len(names)
	assert_exactly_once(tag, done)


def _chunk_rows(job: str) -> list:
	frappe.db.rollback()
	return frappe.get_all(
		"Bulk Queue Chunk",
		{"bulk_job": job},
		["chunk_no", "status", "rq_job_id", "lost_count"],
		order_by="chunk_no",
	)


def test_planner_goes_on_with_the_chunks_in_its_own_process(workers, site_conf):
	"""Once the records are selected, the planner's work horse processes the chunks itself (no fresh
	work horse between the last page and the first record); each record exactly once."""
	_small_planning_pages(site_conf, page_size=40)
	tag, _ = make_records(330)
	result = enqueue(
		doctype="BQ Test Record", action="increment_counter", filters={"tag": tag}, chunk_size=20
	)
	workers.start(1)
	done = wait_for_job(result["bulk_job"], timeout=180)
	assert done.status == "Completed", failures(done.name)
	assert_exactly_once(tag, done)
	held = [c for c in _chunk_rows(done.name) if ":plan:" in (c.rq_job_id or "")]
	assert held, "chunks were processed by the planner's RQ job"


def test_killed_planner_horse_while_it_runs_chunks_is_finished_by_its_retry(workers, site_conf):
	"""The planner's work horse killed while it processes a chunk after planning: RQ's retry of the
	planner finds the chunk it held and finishes it; every record applied once."""
	_small_planning_pages(site_conf, page_size=40)
	tag, _ = make_records(300)
	result = enqueue(
		doctype="BQ Test Record",
		action="increment_counter",
		filters={"tag": tag},
		values={"sleep": 0.05},
		chunk_size=20,
	)
	job = result["bulk_job"]
	workers.start(1)

	def held_by_planner():
		return any(c.status == "Running" and ":plan:" in (c.rq_job_id or "") for c in _chunk_rows(job))

	wait_until(held_by_planner, timeout=90, interval=0.05, message="a chunk run by the planner")
	time.sleep(0.3)  # inside its 1 s of work, before its only commit
	workers.kill_horses()
	done = wait_for_job(job, timeout=180)
	assert done.status == "Completed", failures(job)
	assert_exactly_once(tag, done)
	lost = [c for c in _chunk_rows(job) if c.lost_count]
	assert lost, "the killed run was counted as a loss"
