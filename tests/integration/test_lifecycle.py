# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""The job's state machine: lifecycle.py's table is the one the code checks, every transition in it is
a function of that module, and a move the table does not have is refused without changing the job."""

from __future__ import annotations

import inspect

import frappe
import pytest
from frappe.utils import add_to_date, now_datetime

from bulk_queue import lifecycle
from bulk_queue.states import FINISHED, OPEN

from .conftest import enqueue, make_records, wait_for_job


def test_the_table_at_the_top_is_the_one_the_code_checks():
	"""Every row of TRANSITIONS is a function of lifecycle.py named in the docstring's table, every
	status it names exists, and each function checks its own row."""
	doc = lifecycle.__doc__
	for by, (from_, to) in lifecycle.TRANSITIONS.items():
		fn = getattr(lifecycle, by, None)
		assert inspect.isfunction(fn), by
		assert by in doc, f"{by} is missing from the table in lifecycle's docstring"
		assert set(from_) | set(to) <= set(OPEN) | set(FINISHED), by
		assert f'check_transition("{by}"' in inspect.getsource(fn), f"{by} does not check its row"
	# The only status change outside lifecycle.py is a job's first one, when it is recorded.
	row = next(line for line in doc.splitlines() if "(new)" in line)
	assert "dispatch.create_job" in row


def test_a_move_the_table_does_not_have_is_refused_and_changes_nothing():
	"""The planner's hand-over on a job that is not Planning, a Queued job marked started from a status
	it cannot leave: InvalidTransition (a bug, not user input), the job as it was."""
	with pytest.raises(lifecycle.InvalidTransition):
		lifecycle.check_transition("planned", "Queued", "Running")
	with pytest.raises(lifecycle.InvalidTransition):
		lifecycle.check_transition("resume_job", "Paused", "Completed")
	lifecycle.check_transition("mark_started", "Queued", "Running")

	_, names = make_records(3)
	tomorrow = str(add_to_date(now_datetime(), days=1))
	job = enqueue(doctype="BQ Test Record", action="save", ids=names, start_at=tomorrow)
	frappe.db.commit()
	name = job["bulk_job"]
	row = frappe.db.get_value("Bulk Queue Job", name, "*", as_dict=True)
	assert row.status == "Scheduled"
	with pytest.raises(lifecycle.InvalidTransition):
		lifecycle.planned(row, "x")
	frappe.db.rollback()
	assert frappe.db.get_value("Bulk Queue Job", name, ["status", "title"]) == ("Scheduled", job["title"])
	# A Scheduled job is not started by a chunk (its chunks wait at their watermark).
	with pytest.raises(lifecycle.InvalidTransition):
		lifecycle.mark_started(row)
	frappe.db.rollback()
	assert frappe.db.get_value("Bulk Queue Job", name, "status") == "Scheduled"
	lifecycle.cancel_job(name)
	assert frappe.db.get_value("Bulk Queue Job", name, "status") == "Cancelled"


def test_a_run_goes_through_the_table(workers):
	"""Queued -> Running (mark_started) -> Completed (finish_if_done), with its start and end times."""
	_, names = make_records(30)
	name = enqueue(doctype="BQ Test Record", action="save", ids=names, chunk_size=10)["bulk_job"]
	frappe.db.commit()
	workers.start(1)
	wait_for_job(name)
	row = frappe.db.get_value("Bulk Queue Job", name, ["status", "started_at", "ended_at"], as_dict=True)
	assert row.status == "Completed"
	assert row.started_at and row.ended_at and row.started_at <= row.ended_at
