# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Undo: a finished job's journal (what it replaced on each record, written with the change) puts the
records back - except those changed since by someone else, left as is - as a new job; undoing an Undo
redoes."""

from __future__ import annotations

import time
import uuid

import frappe
import pytest

from bulk_queue import console
from bulk_queue.api.bulk import undo_bulk_job

from .conftest import enqueue, ensure_user, failures, make_records, wait_for_job, wait_until
from .test_operations import bench

RECORD = "BQ Test Record"


def stages(names: list[str]) -> dict[str, str | None]:
	frappe.db.rollback()
	return dict(frappe.db.sql(f"select name, stage from `tab{RECORD}` where name in %s", (tuple(names),)))


def journal(job: str, outcome: str = "Changed") -> list[str]:
	frappe.db.rollback()
	return frappe.get_all(
		"Bulk Queue Change", {"bulk_job": job, "outcome": outcome}, pluck="reference_name", order_by="name"
	)


def run(**kwargs) -> frappe._dict:
	return wait_for_job(enqueue(**kwargs)["bulk_job"])


def undo(job: str) -> frappe._dict:
	return wait_for_job(undo_bulk_job(job)["bulk_job"])


def test_undo_puts_set_value_back_but_leaves_a_record_changed_since(workers):
	"""Set Value on five records; then someone edits one of them. The Undo restores four, leaves that
	one as is (its own outcome, with who changed it), and Undo of the Undo sets the value again."""
	_tag, names = make_records(5)
	frappe.db.sql(f"update `tab{RECORD}` set stage='Draft' where name in %s", (tuple(names),))
	frappe.db.commit()
	workers.start(1)
	done = run(doctype=RECORD, action="set_value", ids=names, values={"stage": "Review"})
	assert done.status == "Completed" and sorted(journal(done.name)) == sorted(names)

	editor = ensure_user(f"bq-editor-{uuid.uuid4().hex[:6]}@example.com", ["System Manager"])
	frappe.set_user(editor)
	doc = frappe.get_doc(RECORD, names[1])
	doc.stage = "Done"
	doc.save()
	frappe.db.commit()
	frappe.set_user("Administrator")

	undone = undo(done.name)
	assert (undone.status, undone.succeeded, undone.failed, undone.unchanged) == ("Completed", 5, 0, 1)
	assert stages(names) == {**dict.fromkeys(names, "Draft"), names[1]: "Done"}
	[left] = frappe.get_all(
		"Bulk Queue Change",
		{"bulk_job": undone.name, "outcome": "Left As Is"},
		["reference_name", "reason"],
	)
	assert left.reference_name == names[1] and editor in left.reason and "Stage" in left.reason

	redone = undo(undone.name)
	assert (redone.status, redone.unchanged) == ("Completed", 0)
	assert stages(names) == {**dict.fromkeys(names, "Review"), names[1]: "Done"}


def test_undo_of_the_fast_path_tags_and_assignments(workers):
	"""Set Value (fast), Add Tags, Assign To and Clear Assignment are each put back by their Undo."""
	_tag, names = make_records(4)
	workers.start(1)
	fast = run(doctype=RECORD, action="set_value_fast", ids=names, values={"stage": "Done"})
	assert fast.status == "Completed"
	assert undo(fast.name).status == "Completed" and set(stages(names).values()) == {None}

	tag = f"t-{uuid.uuid4().hex[:6]}"
	tagged = run(doctype=RECORD, action="add_tags", ids=names, values={"tags": [tag]})
	assert undo(tagged.name).status == "Completed"
	frappe.db.rollback()
	assert not frappe.db.count(RECORD, {"name": ("in", names), "_user_tags": ("like", f"%{tag}%")})

	user = ensure_user(f"bq-assignee-{uuid.uuid4().hex[:6]}@example.com", ["System Manager"])
	assigned = run(doctype=RECORD, action="assign_to", ids=names, values={"assign_to": [user]})
	assert undo(assigned.name).status == "Completed"
	frappe.db.rollback()
	open_todos = {"allocated_to": user, "reference_type": RECORD, "status": "Open"}
	assert not frappe.db.count("ToDo", {**open_todos, "reference_name": ("in", names)})

	run(doctype=RECORD, action="assign_to", ids=names, values={"assign_to": [user]})
	cleared = run(doctype=RECORD, action="clear_assignment", ids=names, values={})
	assert undo(cleared.name).status == "Completed"
	frappe.db.rollback()
	assert frappe.db.count("ToDo", {**open_todos, "reference_name": ("in", names)}) == 4


def test_the_journal_holds_each_record_once_when_a_worker_is_killed(workers):
	"""Work horses killed in the middle of a Set Value: every record changed once, and the journal
	has exactly one row for each (each row commits with its record's change)."""
	_tag, names = make_records(40, sleep_ms=60)
	workers.start(1)
	job = enqueue(doctype=RECORD, action="set_value", ids=names, values={"stage": "Review"}, chunk_size=40)
	wait_until(lambda: frappe.db.get_value("Bulk Queue Job", job["bulk_job"], "status") == "Running")
	time.sleep(1.0)  # about 15 records into the chunk's 2.4 s, none committed yet
	workers.kill_horses()
	done = wait_for_job(job["bulk_job"], timeout=240)
	assert (done.status, done.succeeded) == ("Completed", 40), done
	assert frappe.db.get_value("Bulk Queue Chunk", {"bulk_job": done.name}, "lost_count") == 1
	assert sorted(journal(done.name)) == sorted(names)
	assert undo(done.name).status == "Completed" and set(stages(names).values()) == {None}


def test_an_undo_larger_than_one_request_is_planned_from_the_journal(workers, site_conf):
	"""More changed records than a request lists: the Undo is planned page by page from the journal."""
	site_conf(bulk_queue_max_ids=5)
	_tag, names = make_records(12)
	workers.start(1)
	done = run(doctype=RECORD, action="set_value", ids=names[:5], values={"stage": "Done"})
	more = run(doctype=RECORD, action="set_value", ids=names[5:10], values={"stage": "Done"})
	assert done.status == more.status == "Completed"
	site_conf(bulk_queue_max_ids=3)
	undone = undo(done.name)
	assert (undone.status, undone.total, undone.succeeded) == ("Completed", 5, 5)
	assert stages(names[:5]) == dict.fromkeys(names[:5], None)
	assert stages(names[5:10]) == dict.fromkeys(names[5:10], "Done")


def test_what_cannot_be_undone_is_refused_with_the_reason(workers):
	"""An action that journals nothing (Save), a job still open, another user's job, a job that
	changed nothing: each refused, nothing recorded."""
	_tag, names = make_records(3)
	workers.start(1)
	saved = run(doctype=RECORD, action="save", ids=names)
	with pytest.raises(frappe.ValidationError, match="cannot be undone"):
		undo_bulk_job(saved.name)
	same = run(doctype=RECORD, action="set_value", ids=names, values={"stage": None})
	with pytest.raises(frappe.ValidationError, match="nothing to undo"):
		undo_bulk_job(same.name)
	changed = run(doctype=RECORD, action="set_value", ids=names, values={"stage": "Draft"})
	other = ensure_user(f"bq-other-{uuid.uuid4().hex[:6]}@example.com", ["Blogger"])
	frappe.set_user(other)
	with pytest.raises(frappe.PermissionError):
		undo_bulk_job(changed.name)
	frappe.set_user("Administrator")
	assert not failures(changed.name)


def test_undo_from_the_console_and_the_command(workers):
	"""``console.undo(job)`` and ``bench bulk-queue undo JOB --wait`` each start an Undo."""
	_tag, names = make_records(3)
	workers.start(1)
	done = run(doctype=RECORD, action="set_value", ids=names, values={"stage": "Review"})
	first = wait_for_job(console.undo(done.name))
	assert first.status == "Completed" and set(stages(names).values()) == {None}
	result = bench("bulk-queue", "undo", first.name, "--wait")
	assert result.returncode == 0, result.stdout + result.stderr
	assert f"Undo of {first.name}" in result.stdout and "succeeded 3" in result.stdout
	assert set(stages(names).values()) == {"Review"}


def test_a_dry_run_of_an_undo_shows_what_it_would_put_back_and_keeps_nothing(workers):
	"""Undo's dry run: the values it would restore, the record changed since as left as is."""
	from bulk_queue.api.bulk import preview_bulk

	_tag, names = make_records(3)
	workers.start(1)
	done = run(doctype=RECORD, action="set_value", ids=names, values={"stage": "Review"})
	frappe.db.sql(f"update `tab{RECORD}` set stage='Done' where name=%s", names[0])
	frappe.db.commit()
	result = preview_bulk(doctype=RECORD, action="undo", values={"of": done.name})
	by_name = {r["name"]: r for r in result["records"]}
	assert result["total"] == 3 and result["would_fail"] == 0
	assert "Changed since" in by_name[names[0]]["skipped"]
	assert ("Stage", "Review", None) in {
		(c["label"], c["old"], c["new"]) for c in by_name[names[1]]["changes"]
	}
	assert stages(names) == {names[0]: "Done", names[1]: "Review", names[2]: "Review"}


def test_the_journal_goes_with_the_job_when_old_jobs_are_cleared(workers):
	"""Retention deletes a job's journal with it."""
	from frappe.utils import add_to_date, now_datetime

	from bulk_queue.bulk_queue.doctype.bulk_queue_job.bulk_queue_job import BulkQueueJob

	_tag, names = make_records(3)
	workers.start(1)
	done = run(doctype=RECORD, action="set_value", ids=names, values={"stage": "Review"})
	assert len(journal(done.name)) == 3
	frappe.db.set_value("Bulk Queue Job", done.name, "ended_at", add_to_date(now_datetime(), days=-100))
	frappe.db.commit()
	BulkQueueJob.clear_old_logs(days=90)
	frappe.db.commit()
	assert not frappe.db.exists("Bulk Queue Job", done.name)
	assert not journal(done.name)


def test_an_action_that_rolls_back_and_then_skips_fails_and_loses_nothing(workers):
	"""An action rolls the whole transaction back and then raises Skipped: the records before it in
	the batch are done again (each once), and that record fails instead of passing as left as is."""
	tag, names = make_records(6)
	workers.start(1)
	done = run(doctype=RECORD, action="rollback_then_skip", ids=names, values={"on": names[3]})
	assert (done.status, done.failed, done.unchanged) == ("Completed with Errors", 1, 0), done
	[failure] = failures(done.name)
	assert failure.reference_name == names[3] and failure.exception_type == "TransactionRolledBack"
	counters = dict(frappe.db.sql(f"select name, counter from `tab{RECORD}` where tag=%s", tag))
	assert counters == {**dict.fromkeys(names, 1), names[3]: 0}
