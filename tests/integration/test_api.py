# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""enqueue_bulk on a real site: what it accepts, what it refuses, and what it records and enqueues."""

import json
import time

import pytest

from .conftest import enqueue, ensure_user, make_records, make_todos, rq_jobs_of


def _counts():
	import frappe

	frappe.db.rollback()
	return frappe.db.count("Bulk Queue Job"), frappe.db.count("Bulk Queue Chunk")


def test_returns_job_and_records_it():
	"""A valid call returns the job name, chunk jobs and total, and records the job as Queued."""
	import frappe

	_, names = make_todos(120)
	result = enqueue(
		doctype="ToDo",
		ids=names,
		action="set_value",
		values={"status": "Closed"},
		chunk_size=50,
		queue="short",
	)
	assert result["total"] == 120
	assert result["enqueued"] == 3
	job = frappe.get_doc("Bulk Queue Job", result["bulk_job"])
	assert job.status == "Queued"
	assert (job.reference_doctype, job.action, job.queue, job.user) == (
		"ToDo",
		"set_value",
		"short",
		"Administrator",
	)
	assert json.loads(job.values) == {"status": "Closed"}
	assert (job.total, job.processed, job.chunk_size, job.chunks) == (120, 0, 50, 3)


def test_fast_path_chunks_default_to_the_largest_size():
	"""Without chunk_size the fast path takes the largest chunk size (a chunk is a statement or two
	for it), other actions the default; the dialog's options give each action its own."""
	import frappe

	from bulk_queue.api.bulk import cancel_bulk_job, get_bulk_options

	_, names = make_todos(1_200)
	fast = enqueue(doctype="ToDo", ids=names, action="set_value_fast", values={"priority": "High"})
	save = enqueue(doctype="ToDo", ids=names, action="save")
	for result in (fast, save):
		cancel_bulk_job(result["bulk_job"])
	sizes = {
		r["bulk_job"]: frappe.db.get_value("Bulk Queue Job", r["bulk_job"], "chunk_size")
		for r in (fast, save)
	}
	assert (sizes[fast["bulk_job"]], fast["enqueued"]) == (1_000, 2)
	assert (sizes[save["bulk_job"]], save["enqueued"]) == (200, 6)
	by_action = {a["name"]: a["chunk_size"] for a in get_bulk_options("ToDo")["actions"]}
	assert (by_action["set_value_fast"], by_action["save"]) == (1_000, 200)


@pytest.mark.parametrize(
	"ids",
	[
		lambda names: json.dumps(names + names[:3]),
		lambda names: ",".join(names) + ",, ,",
		lambda names: "\n".join(names) + "\n\n",
		lambda names: [*names, " ", names[0]],
	],
	ids=["json-with-duplicates", "csv-with-blanks", "newlines", "list-with-blanks"],
)
def test_accepts_what_desk_and_rest_send(ids):
	"""ids as a JSON string, CSV, newline text or list all give the same clean selection."""
	_, names = make_todos(7)
	result = enqueue(doctype="ToDo", ids=ids(names), action="save", queue="short")
	assert result["total"] == 7


def test_values_as_json_string():
	"""values may be a JSON object string, as Desk sends it."""
	import frappe

	_, names = make_todos(2)
	result = enqueue(doctype="ToDo", ids=names, action="set_value", values='{"priority": "High"}')
	assert json.loads(frappe.db.get_value("Bulk Queue Job", result["bulk_job"], "values")) == {
		"priority": "High"
	}


def test_chunk_ids_are_readable_and_deterministic():
	"""Each chunk's RQ job id names the bulk job and the chunk number; at most the window is queued."""
	import frappe

	frappe.local.conf["bulk_queue_max_queued_chunks"] = 4
	_, names = make_todos(100)
	result = enqueue(doctype="ToDo", ids=names, action="save", chunk_size=10, queue="short")
	job = result["bulk_job"]
	ids = sorted(j.id for j in rq_jobs_of(job))
	site = frappe.local.site
	assert ids == [f"{site}::bulk_queue:{job}:chunk-{n:04d}:try-1" for n in range(1, 5)]
	assert result["queued_now"] == 4 and result["enqueued"] == 10
	for rq_job in rq_jobs_of(job):
		assert rq_job.origin.endswith(":short")
		assert rq_job.timeout == 300
		rq_job.delete()
	frappe.db.set_value("Bulk Queue Job", job, "status", "Cancelled")
	frappe.db.commit()


def test_ten_thousand_names_return_quickly():
	"""10,000 names are recorded and the first window enqueued in well under a second."""
	import frappe

	_, names = make_todos(10_000)
	started = time.perf_counter()
	result = enqueue(doctype="ToDo", ids=names, action="save", chunk_size=200, queue="short")
	elapsed = time.perf_counter() - started
	print(f"enqueue_bulk(10,000 names): {elapsed * 1000:.0f} ms")
	assert result["enqueued"] == 50 and result["total"] == 10_000
	for rq_job in rq_jobs_of(result["bulk_job"]):
		rq_job.delete()
	frappe.db.set_value("Bulk Queue Job", result["bulk_job"], "status", "Cancelled")
	frappe.db.commit()


def test_double_submit_returns_the_same_job():
	"""The same user submitting the same selection again gets the queued job back."""
	import frappe

	_, names = make_todos(5)
	first = enqueue(doctype="ToDo", ids=names, action="set_value", values={"status": "Closed"})
	again = enqueue(
		doctype="ToDo", ids=list(reversed(names)), action="set_value", values={"status": "Closed"}
	)
	other = enqueue(doctype="ToDo", ids=names, action="set_value", values={"status": "Cancelled"})
	assert again["bulk_job"] == first["bulk_job"] and again["existing"] is True
	assert other["bulk_job"] != first["bulk_job"]
	for job in (first["bulk_job"], other["bulk_job"]):
		for rq_job in rq_jobs_of(job):
			rq_job.delete()
		frappe.db.set_value("Bulk Queue Job", job, "status", "Cancelled")
	frappe.db.commit()


BAD_INPUT = [
	({"doctype": "No Such DocType", "action": "save", "ids": ["x"]}, "does not exist"),
	({"doctype": "ToDo", "action": "explode", "ids": ["x"]}, "Unknown bulk action"),
	({"doctype": "ToDo", "action": "save", "ids": []}, "No records selected"),
	({"doctype": "ToDo", "action": "save", "ids": " , \n"}, "No records selected"),
	({"doctype": "ToDo", "action": "save", "ids": {"a": 1}}, "ids must be"),
	({"doctype": "ToDo", "action": "save", "ids": '["a",'}, "ids must be"),
	({"doctype": "ToDo", "action": "save", "ids": ["x"], "chunk_size": 0}, "chunk_size"),
	({"doctype": "ToDo", "action": "save", "ids": ["x"], "chunk_size": 1001}, "chunk_size"),
	({"doctype": "ToDo", "action": "save", "ids": ["x"], "chunk_size": "ten"}, "chunk_size"),
	({"doctype": "ToDo", "action": "save", "ids": ["x"], "queue": "urgent"}, "Queue must be one of"),
	({"doctype": "ToDo", "action": "save", "ids": ["x"], "timeout": 1}, "timeout"),
	({"doctype": "ToDo", "action": "set_value", "ids": ["x"]}, "needs values"),
	({"doctype": "ToDo", "action": "set_value", "ids": ["x"], "values": "[1]"}, "values must be"),
	({"doctype": "ToDo", "action": "set_value", "ids": ["x"], "values": {"owner": "a@b.c"}}, "can be set"),
	({"doctype": "ToDo", "action": "set_value", "ids": ["x"], "values": {"no_such_field": 1}}, "not a field"),
	({"doctype": "ToDo", "action": "submit", "ids": ["x"]}, "not submittable"),
	({"doctype": "DocField", "action": "save", "ids": ["x"]}, "child table"),
	({"doctype": "System Settings", "action": "save", "ids": ["x"]}, "child table, single"),
]


@pytest.mark.parametrize("kwargs,message", BAD_INPUT, ids=[m for _, m in BAD_INPUT])
def test_bad_input_is_refused_and_leaves_nothing(kwargs, message):
	"""Invalid input raises a clear error; no job, chunk or RQ job is left behind."""
	import frappe

	before = _counts()
	with pytest.raises(
		frappe.ValidationError if "does not exist" not in message else frappe.DoesNotExistError
	) as info:
		enqueue(**kwargs)
	assert message.lower() in str(info.value).lower()
	assert _counts() == before


def test_too_many_records_is_refused():
	"""More than the per-call limit is refused before anything is recorded."""
	import frappe

	frappe.local.conf["bulk_queue_max_records"] = 10
	before = _counts()
	with pytest.raises(frappe.ValidationError, match="at most 10"):
		enqueue(doctype="ToDo", ids=[f"n{i}" for i in range(11)], action="save")
	assert _counts() == before


def test_user_without_permission_is_refused():
	"""A user lacking the action's permission on the DocType gets PermissionError and nothing queued."""
	import frappe

	user = ensure_user("bq-blogger@example.com", ["Blogger"])
	_, names = make_records(3)
	before = _counts()
	frappe.set_user(user)
	with pytest.raises(frappe.PermissionError):
		enqueue(doctype="BQ Test Record", ids=names, action="submit")
	with pytest.raises(frappe.PermissionError):
		enqueue(doctype="BQ Test Record", ids=names, action="set_value", values={"secret": "x"})
	frappe.set_user("Administrator")
	assert _counts() == before


def test_whitelisted_for_rest():
	"""enqueue_bulk, cancel_bulk_job, retry_failed and get_bulk_job_status are whitelisted."""
	import frappe

	from bulk_queue.api import bulk

	for fn in (bulk.enqueue_bulk, bulk.cancel_bulk_job, bulk.retry_failed, bulk.get_bulk_job_status):
		assert fn in frappe.whitelisted


def test_log_clearing_is_registered_and_clears_old_jobs():
	"""Install registers Bulk Queue Job in Log Settings; clearing drops old finished jobs with their rows."""
	import frappe

	from bulk_queue.bulk_queue.doctype.bulk_queue_job.bulk_queue_job import BulkQueueJob

	assert frappe.db.exists("Logs To Clear", {"ref_doctype": "Bulk Queue Job"})
	_, names = make_todos(3)
	old = enqueue(doctype="ToDo", ids=names, action="save")["bulk_job"]
	for rq_job in rq_jobs_of(old):
		rq_job.delete()
	frappe.db.sql(
		"update `tabBulk Queue Job` set status='Completed', modified=now() - interval 100 day where name=%s",
		old,
	)
	frappe.db.commit()
	BulkQueueJob.clear_old_logs(days=90)
	frappe.db.commit()
	assert not frappe.db.exists("Bulk Queue Job", old)
	assert not frappe.db.exists("Bulk Queue Chunk", {"bulk_job": old})
