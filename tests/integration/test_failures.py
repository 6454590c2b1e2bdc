# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Failures at scale: grouped by error with the traceback stored once, pages by keyset, a Retry Failed
of one error or of all that answers at once and re-queues in the background past 10,000."""

from __future__ import annotations

import json
import subprocess

import frappe

from bulk_queue.api.bulk import get_error_traceback, get_errors, get_failures, retry_failed

from .conftest import BENCH, SITE, counters, enqueue, make_records, wait_for_job


def _job_with_two_errors(workers, count=60):
	"""A job whose records fail two ways: every 3rd is flagged to fail validation, every 5th (not 3rd)
	is deleted before it runs. Returns (tag, names, job row, flagged, deleted)."""
	tag, names = make_records(count, fail_every=3)
	flagged = [n for i, n in enumerate(names) if i % 3 == 2]
	deleted = [n for i, n in enumerate(names) if i % 5 == 4 and n not in flagged]
	job = enqueue(doctype="BQ Test Record", ids=names, action="increment_counter", chunk_size=10)["bulk_job"]
	frappe.db.delete("BQ Test Record", {"name": ("in", deleted)})
	frappe.db.commit()
	workers.start(1)
	return tag, names, wait_for_job(job), flagged, deleted


def test_failures_are_grouped_by_error_with_one_traceback_each(workers):
	"""Two errors, not 28: each with its count, a message with the record's name taken out, a few
	example records and one traceback; the failure rows hold no traceback of their own."""
	_, _names, job, flagged, deleted = _job_with_two_errors(workers)
	assert (job.status, job.failed) == ("Completed with Errors", len(flagged) + len(deleted))
	errors = get_errors(job.name)
	assert errors["failed"] == len(flagged) + len(deleted)
	by_type = {e.exception_type: e for e in errors["errors"]}
	assert set(by_type) == {"ValidationError", "DoesNotExistError"}, by_type
	validation, missing = by_type["ValidationError"], by_type["DoesNotExistError"]
	assert (validation.failures, missing.failures) == (len(flagged), len(deleted))
	assert errors["errors"][0].failures >= errors["errors"][1].failures, "most failures first"
	assert validation.message == "Record {name} is flagged to fail validation"
	assert validation.example == f"Record {validation.example_record} is flagged to fail validation"
	assert set(validation.examples) <= set(flagged) and len(validation.examples) == 3
	assert "Traceback" in get_error_traceback(job.name, validation.name)
	assert frappe.db.count("Bulk Queue Error", {"bulk_job": job.name}) == 2
	rows = frappe.get_all(
		"Bulk Queue Failure", {"bulk_job": job.name}, ["reference_name", "error_group", "traceback"]
	)
	assert len(rows) == len(flagged) + len(deleted)
	assert not any(r.traceback for r in rows)
	assert {r.reference_name for r in rows if r.error_group == validation.name} == set(flagged)


def test_failure_pages_follow_a_keyset_and_an_error(workers):
	"""Pages of 7 after the last name of the previous one: every failure once, in name order; the
	same for one error; an error of another job is refused."""
	_, _, job, flagged, deleted = _job_with_two_errors(workers)
	seen, after = [], None
	while True:
		page = get_failures(job.name, page_length=7, after=after)
		assert page["total"] == len(flagged) + len(deleted)
		seen += [f.name for f in page["failures"]]
		after = page["after"]
		if not after:
			break
	assert seen == sorted(seen) and len(seen) == len(set(seen)) == len(flagged) + len(deleted)
	validation = next(e for e in get_errors(job.name)["errors"] if e.exception_type == "ValidationError")
	only = get_failures(job.name, page_length=500, error=validation.name)
	assert {f.reference_name for f in only["failures"]} == set(flagged)
	assert only["total"] == len(flagged) and only["after"] is None
	# The old way still works: an offset.
	assert get_failures(job.name, start=7, page_length=7)["failures"][0].name == seen[7]


def test_the_command_shows_errors_then_records(workers):
	"""`bulk-queue failures JOB`: one line per error with its count and examples; --error lists that
	error's records; --csv every record."""
	_, _, job, flagged, deleted = _job_with_two_errors(workers)
	validation = next(e for e in get_errors(job.name)["errors"] if e.exception_type == "ValidationError")

	def run(*args):
		return subprocess.run(
			[
				str(BENCH / "env/bin/python"),
				"-m",
				"frappe.utils.bench_helper",
				"frappe",
				"--site",
				SITE,
				"bulk-queue",
				"failures",
				job.name,
				*args,
			],
			cwd=BENCH / "sites",
			capture_output=True,
			text=True,
			timeout=120,
		)

	summary = run()
	assert summary.returncode == 0, summary.stderr
	assert f"{len(flagged) + len(deleted)} failed records, 2 errors" in summary.stdout
	assert (
		f"{len(flagged)} × ValidationError: Record {{name}} is flagged to fail validation" in summary.stdout
	)
	assert f"--error {validation.name}" in summary.stdout
	listed = run("--error", validation.name)
	assert listed.returncode == 0 and {line.split()[0] for line in listed.stdout.splitlines()} == set(flagged)
	csv_rows = run("--csv").stdout.splitlines()
	assert csv_rows[0] == "name,exception,error,attempts,retried" and len(csv_rows) == 1 + len(flagged) + len(
		deleted
	)


def test_retry_one_error_runs_only_its_records(workers):
	"""Retry the validation error after fixing its cause: only those records run again; the deleted
	ones stay failed, the job ends Completed with Errors with one error left."""
	tag, _, job, flagged, deleted = _job_with_two_errors(workers)
	validation = next(e for e in get_errors(job.name)["errors"] if e.exception_type == "ValidationError")
	frappe.db.sql("update `tabBQ Test Record` set fail_validation=0 where tag=%s", tag)
	frappe.db.commit()
	assert retry_failed(job.name, error=validation.name)["retried"] == len(flagged)
	done = wait_for_job(job.name)
	assert (done.status, done.failed) == ("Completed with Errors", len(deleted))
	assert {e.exception_type for e in get_errors(job.name)["errors"]} == {"DoesNotExistError"}
	assert set(counters(tag).values()) == {1}


def test_retry_past_the_inline_limit_answers_at_once_and_plans_in_the_background(workers, site_conf):
	"""More failures than a request reads (the limit set to 25 here, 10,000 by default): the answer
	says how many at once, the job is Planning while the planner turns the failures into chunks a page
	at a time, and every record runs again exactly once."""
	site_conf(bulk_queue_plan_inline_max=25, bulk_queue_plan_page_size=20)
	tag, names = make_records(90, fail_every=2)
	job = enqueue(doctype="BQ Test Record", ids=names, action="increment_counter", chunk_size=10)["bulk_job"]
	workers.start(1)
	first = wait_for_job(job)
	assert (first.status, first.failed) == ("Completed with Errors", 45)
	frappe.db.sql("update `tabBQ Test Record` set fail_validation=0 where tag=%s", tag)
	frappe.db.commit()
	answer = retry_failed(job)
	assert answer["retried"] == 45 and answer["status"] == "Planning"
	done = wait_for_job(job, timeout=120)
	assert (done.status, done.total, done.processed, done.succeeded, done.failed) == (
		"Completed",
		90,
		90,
		90,
		0,
	)
	assert set(counters(tag).values()) == {1}
	assert frappe.db.count("Bulk Queue Failure", {"bulk_job": job, "retried": 0}) == 0
	assert not frappe.db.get_value("Bulk Queue Job", job, "plan_retry")
	assert json.loads(json.dumps(get_errors(job)))["failed"] == 0
