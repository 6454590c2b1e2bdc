# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""The core path with real workers: enqueue, chunks on RQ, records changed, job record, realtime."""

import time

import frappe

from .conftest import (
	counters,
	enqueue,
	ensure_user,
	failures,
	make_records,
	make_todos,
	rq_jobs_of,
	wait_for_job,
	wait_until,
)


def test_two_thousand_todos_closed_by_two_workers(workers, realtime):
	"""2,000 ToDos are closed across 40 chunks by two workers at once; the job ends Completed."""
	_, names = make_todos(2000)
	result = enqueue(
		doctype="ToDo",
		ids=names,
		action="set_value",
		values={"status": "Closed"},
		chunk_size=50,
		queue="short",
	)
	assert result["enqueued"] == 40
	workers.start(2)
	job = wait_for_job(result["bulk_job"], timeout=240)

	assert job.status == "Completed"
	assert (job.total, job.processed, job.succeeded, job.failed) == (2000, 2000, 2000, 0)
	assert job.started_at and job.ended_at and job.ended_at >= job.started_at
	statuses = frappe.db.sql("select status, count(*) from tabToDo where name in %s group by status", [names])
	assert dict(statuses) == {"Closed": 2000}
	chunks = frappe.get_all(
		"Bulk Queue Chunk", filters={"bulk_job": job.name}, fields=["status", "worker", "done_upto", "total"]
	)
	assert len(chunks) == 40 and {c.status for c in chunks} == {"Done"}
	assert all(c.done_upto == c.total == 50 for c in chunks)
	assert len({c.worker for c in chunks}) == 2, "both workers took chunks"

	everywhere = realtime.for_job(job.name)
	assert {e["room"] for e in everywhere} == {"user:Administrator", f"doc:Bulk Queue Job/{job.name}"}
	events = [e for e in everywhere if e["room"] == "user:Administrator"]
	assert events, "progress was published"
	# The final event follows the commit the test has just read: give it a moment to arrive.
	deadline = time.monotonic() + 10
	while events[-1]["message"]["status"] != "Completed" and time.monotonic() < deadline:
		time.sleep(0.1)
		events = [e for e in realtime.for_job(job.name) if e["room"] == "user:Administrator"]
	last = events[-1]["message"]
	assert last["status"] == "Completed" and last["processed"] == 2000 and last["percent"] == 100
	processed = [e["message"]["processed"] for e in events]
	assert processed == sorted(processed), "progress never goes backwards"
	span = events[-1]["received_at"] - events[0]["received_at"]
	assert len(events) <= span / 0.5 + 6, f"{len(events)} events in {span:.1f}s is more than a few per second"


def test_failures_are_recorded_and_the_rest_applied(workers):
	"""Records failing validation are listed with their error; the others are applied."""
	tag, names = make_records(60, fail_every=6)
	result = enqueue(doctype="BQ Test Record", ids=names, action="increment_counter", chunk_size=20)
	workers.start(1)
	job = wait_for_job(result["bulk_job"])

	assert job.status == "Completed with Errors"
	assert (job.processed, job.succeeded, job.failed) == (60, 50, 10)
	failed = failures(job.name)
	bad = {n for i, n in enumerate(names) if i % 6 == 5}
	assert {f.reference_name for f in failed} == bad
	for f in failed:
		assert f.exception_type == "ValidationError"
		assert "flagged to fail validation" in f.error
		assert f.attempts == 1
	# One error for the ten: its traceback is stored once.
	[error] = {f.error_group for f in failed}
	assert "Traceback" in frappe.db.get_value("Bulk Queue Error", error, "traceback")
	values = counters(tag)
	assert all(values[n] == (0 if n in bad else 1) for n in names)


def test_all_failing_ends_failed(workers):
	"""A job whose every record fails ends Failed."""
	_, names = make_records(5, fail_every=1)
	result = enqueue(doctype="BQ Test Record", ids=names, action="save")
	workers.start(1)
	job = wait_for_job(result["bulk_job"])
	assert job.status == "Failed" and job.failed == 5


def test_records_deleted_before_processing(workers):
	"""Records deleted between enqueue and processing are failed as not found; the rest close."""
	_, names = make_todos(30)
	result = enqueue(
		doctype="ToDo", ids=names, action="set_value", values={"status": "Closed"}, chunk_size=10
	)
	gone = names[3:8]
	frappe.db.delete("ToDo", {"name": ("in", gone)})
	frappe.db.commit()
	workers.start(1)
	job = wait_for_job(result["bulk_job"])

	assert job.status == "Completed with Errors"
	assert (job.succeeded, job.failed) == (25, 5)
	failed = failures(job.name)
	assert {f.reference_name for f in failed} == set(gone)
	assert all(f.exception_type == "DoesNotExistError" and "not found" in f.error for f in failed)


def test_action_registered_by_another_app(workers):
	"""An action from an app's bulk_queue_actions hook runs on each record, once."""
	tag, names = make_records(25)
	result = enqueue(doctype="BQ Test Record", ids=names, action="increment_counter", chunk_size=7)
	workers.start(1)
	job = wait_for_job(result["bulk_job"])
	assert job.status == "Completed"
	assert set(counters(tag).values()) == {1}
	# The completion hook runs right after the final commit, so give it a moment.
	wait_until(
		lambda: job.name.encode() in frappe.cache.smembers("bulk_queue_fixtures:completed"),
		timeout=15,
		message="the bulk_queue_on_complete hook",
	)


def test_builtin_submit_cancel_delete(workers):
	"""submit, cancel and delete go through the document model."""
	_, names = make_records(6)
	workers.start(1)
	for action, docstatus in (("submit", 1), ("cancel", 2)):
		job = wait_for_job(enqueue(doctype="BQ Test Record", ids=names, action=action)["bulk_job"])
		assert job.status == "Completed", failures(job.name)
		assert set(frappe.get_all("BQ Test Record", {"name": ("in", names)}, pluck="docstatus")) == {
			docstatus
		}
	job = wait_for_job(enqueue(doctype="BQ Test Record", ids=names, action="delete")["bulk_job"])
	assert job.status == "Completed"
	assert not frappe.get_all("BQ Test Record", {"name": ("in", names)})


def test_permissions_are_checked_for_the_requesting_user(workers, realtime):
	"""A worker acts as the requester: records that user may not write fail with PermissionError."""
	user = ensure_user("bq-todo-user@example.com", ["Blogger"])
	_, mine = make_todos(4, allocated_to=user)  # ToDo lets a user write what is allocated to them
	_, theirs = make_todos(3, allocated_to="Administrator")
	frappe.set_user(user)
	result = enqueue(doctype="ToDo", ids=mine + theirs, action="set_value", values={"status": "Closed"})
	frappe.set_user("Administrator")
	workers.start(1)
	job = wait_for_job(result["bulk_job"])

	assert job.user == user and (job.succeeded, job.failed) == (4, 3)
	assert {f.reference_name for f in failures(job.name)} == set(theirs)
	assert {f.exception_type for f in failures(job.name)} == {"PermissionError"}
	assert set(frappe.get_all("ToDo", {"name": ("in", theirs)}, pluck="status")) == {"Open"}
	# Only the requester, and whoever has the job's form open (Frappe checks read access to join it).
	assert {e["room"] for e in realtime.for_job(job.name)} == {
		f"user:{user}",
		f"doc:Bulk Queue Job/{job.name}",
	}


def test_window_bounds_jobs_on_the_queue(workers):
	"""However many chunks a job has, at most the window sits on RQ; the rest follow as chunks end."""
	frappe.local.conf["bulk_queue_max_queued_chunks"] = 3
	_, names = make_todos(300)
	result = enqueue(doctype="ToDo", ids=names, action="save", chunk_size=10, queue="short")
	assert result["enqueued"] == 30 and result["queued_now"] == 3
	assert len(rq_jobs_of(result["bulk_job"])) == 3
	workers.start(2)
	job = wait_for_job(result["bulk_job"], timeout=180)
	assert job.status == "Completed" and job.succeeded == 300
