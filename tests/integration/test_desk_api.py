# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""What Desk calls: options for the dialog, selection by filters, job pages, readable RQ job names."""

import json

import frappe
import pytest

from .conftest import enqueue, ensure_user, make_records, make_todos, rq_jobs_of


def _counts():
	frappe.db.rollback()
	return frappe.db.count("Bulk Queue Job"), frappe.db.count("Bulk Queue Chunk")


@pytest.fixture
def todo_user():
	"""An ordinary System User: ToDo rights only through Frappe's defaults (rows allocated to them)."""
	return ensure_user("bq-desk-api@example.com", ["Blogger"])


@pytest.fixture
def jobs_of_two_users(todo_user):
	"""(a Queued job of todo_user, a Queued job of Administrator)."""
	_, names = make_todos(2, allocated_to=todo_user)
	frappe.set_user(todo_user)
	mine = enqueue(doctype="ToDo", ids=names, action="save")["bulk_job"]
	frappe.set_user("Administrator")
	theirs = enqueue(doctype="ToDo", ids=make_todos(2)[1], action="save")["bulk_job"]
	return mine, theirs


def test_options_for_an_ordinary_user(todo_user):
	"""The dialog offers a ToDo user Save, Set Value and Delete (not Submit/Cancel), and value fields
	they may edit, never identity or audit fields."""
	from bulk_queue.api.bulk import get_bulk_options

	frappe.set_user(todo_user)
	options = get_bulk_options("ToDo")
	actions = {a["name"]: a["label"] for a in options["actions"]}
	assert actions["save"] == "Save" and actions["set_value"] == "Set Value" and actions["delete"] == "Delete"
	assert "submit" not in actions and "cancel" not in actions
	assert "increment_counter" not in actions, "an action registered for another DocType only"
	assert "append_marker" in actions and actions["append_marker"] == "Append Marker"
	fields = {f["fieldname"]: f for f in options["fields"]}
	assert fields["status"]["fieldtype"] == "Select" and "Closed" in fields["status"]["options"]
	assert fields["allocated_to"]["fieldtype"] == "Link" and fields["allocated_to"]["options"] == "User"
	assert not {"name", "owner", "modified", "docstatus"} & set(fields)
	limits = (options["chunk_size"], options["queue"], options["max_records"], options["max_ids"])
	assert limits == (200, "default", 1_000_000, 10_000)


def test_options_follow_submittable_and_permlevel():
	"""Submit and Cancel appear on a submittable DocType; a field above the user's permlevel does not."""
	from bulk_queue.api.bulk import get_bulk_options

	admin = {a["name"] for a in get_bulk_options("BQ Test Record")["actions"]}
	assert {"submit", "cancel", "increment_counter"} <= admin
	user = ensure_user("bq-desk-blogger@example.com", ["Blogger"])
	frappe.set_user(user)
	options = get_bulk_options("BQ Test Record")
	assert {a["name"] for a in options["actions"]} >= {"save", "set_value", "increment_counter"}
	assert not {"submit", "cancel", "delete"} & {a["name"] for a in options["actions"]}
	assert "secret" not in {f["fieldname"] for f in options["fields"]}, "permlevel 1 is not theirs"


def test_options_count_only_what_the_user_can_read(todo_user):
	"""With filters, the count is of matching rows the user can read, however many the page shows."""
	from bulk_queue.api.bulk import get_bulk_options

	tag, _ = make_todos(30, allocated_to=todo_user)
	make_todos(12, allocated_to="Administrator")
	filters = json.dumps([["ToDo", "description", "like", f"%{tag}%"]])
	frappe.set_user(todo_user)
	assert get_bulk_options("ToDo", filters=filters)["matching"] == 30
	assert get_bulk_options("ToDo", filters=[["status", "=", "Open"]])["matching"] >= 30


def test_filters_select_every_matching_row_with_permissions(todo_user):
	"""enqueue_bulk(filters=...) takes every row the user can read that matches, and records the filters."""
	tag, mine = make_todos(250, allocated_to=todo_user)
	_, theirs = make_todos(20, allocated_to="Administrator")
	# The same description on rows the user cannot read: permissions, not the filter, keep them out.
	frappe.db.sql("update tabToDo set description=%s where name in %s", (f"<p>{tag}</p>", theirs))
	frappe.db.commit()
	frappe.set_user(todo_user)
	result = enqueue(
		doctype="ToDo",
		action="set_value",
		values={"status": "Closed"},
		filters={"status": "Open", "description": ["like", f"%{tag}%"]},
		chunk_size=100,
	)
	frappe.set_user("Administrator")
	assert result["total"] == 250 and result["enqueued"] == 3
	chunks = frappe.get_all("Bulk Queue Chunk", {"bulk_job": result["bulk_job"]}, pluck="names")
	assert sorted(n for c in chunks for n in json.loads(c)) == sorted(mine)
	job = frappe.get_doc("Bulk Queue Job", result["bulk_job"])
	assert json.loads(job.filters) == [
		["ToDo", "status", "=", "Open"],
		["ToDo", "description", "like", f"%{tag}%"],
	]
	assert result["title"] == job.title == "Set Value on 250 ToDo"
	assert job.action_label == "Set Value"
	assert result["progress"]["bulk_job"] == job.name and result["progress"]["status"] == "Queued"


def test_empty_filters_select_all_the_user_can_read(todo_user):
	"""filters=[] means every record the user can read, as the unfiltered list view shows them."""
	make_todos(7, allocated_to=todo_user)
	frappe.set_user(todo_user)
	readable = len(frappe.get_list("ToDo", pluck="name", limit_page_length=0))
	result = enqueue(doctype="ToDo", action="save", filters="[]")
	assert result["total"] == readable


@pytest.mark.parametrize(
	"kwargs, message",
	[
		({"filters": {"no_such_field": "x"}}, "cannot be applied"),
		({"filters": "{not json"}, "JSON"),
		({"filters": [["status"]]}, "[field, operator, value]"),
		({"filters": {"status": "No Such Status"}}, "No ToDo records match"),
		({"filters": {"status": "Open"}, "ids": ["a", "b"]}, "either ids or filters"),
	],
	ids=["unknown-field", "bad-json", "short-filter", "no-match", "ids-and-filters"],
)
def test_bad_filters_are_refused_and_nothing_recorded(kwargs, message):
	"""Bad filters get a clear error; no job, no chunk, nothing on the queue."""
	before = _counts()
	with pytest.raises(frappe.ValidationError) as raised:
		enqueue(doctype="ToDo", action="save", **kwargs)
	assert message in str(raised.value)
	assert _counts() == before


def test_too_many_matching_rows_are_refused():
	"""More matching rows than the limit: a clear error naming both numbers, nothing enqueued."""
	frappe.local.conf["bulk_queue_max_records"] = 50
	tag, _ = make_todos(60)
	before = _counts()
	with pytest.raises(frappe.ValidationError, match="60 records match these filters; at most 50"):
		enqueue(doctype="ToDo", action="save", filters=[["description", "like", f"%{tag}%"]])
	assert _counts() == before


def test_background_jobs_show_readable_job_names():
	"""Desk -> Background Jobs (RQ Job) names each chunk: job, chunk n of m, action and DocType."""
	from frappe.core.doctype.rq_job.rq_job import serialize_job

	_, names = make_todos(30)
	result = enqueue(
		doctype="ToDo", ids=names, action="set_value", values={"status": "Closed"}, chunk_size=10
	)
	job = result["bulk_job"]
	listed = sorted(serialize_job(j).job_name for j in rq_jobs_of(job))
	assert listed == [f"{job} · chunk {n} of 3 · Set Value on ToDo" for n in (1, 2, 3)]
	assert all(
		j.id == f"{frappe.local.site}::bulk_queue:{job}:chunk-{n:04d}:try-1"
		for n, j in zip((1, 2, 3), sorted(rq_jobs_of(job), key=lambda j: j.id), strict=False)
	)


def test_failures_are_paged_and_private(todo_user):
	"""get_failures returns one page and the total, to the requester or a System Manager only."""
	from bulk_queue.api.bulk import get_failures

	_, names = make_todos(3, allocated_to=todo_user)
	result = enqueue(doctype="ToDo", ids=names, action="save")
	page = get_failures(result["bulk_job"], start=0, page_length=2)
	assert page == {"failures": [], "total": 0, "start": 0, "page_length": 2, "after": None}
	frappe.set_user(todo_user)
	with pytest.raises(frappe.PermissionError):
		get_failures(result["bulk_job"])


def test_active_jobs_and_boot_info_are_the_users_own(todo_user, jobs_of_two_users):
	"""Desk learns the user's running jobs at page load (boot info), and only theirs."""
	from bulk_queue.boot import extend_bootinfo

	mine, theirs = jobs_of_two_users
	frappe.set_user(todo_user)
	boot = frappe._dict()
	extend_bootinfo(boot)
	active = {j["bulk_job"] for j in boot.bulk_queue["active_jobs"]}
	assert mine in active and theirs not in active
	assert {a["name"] for a in boot.bulk_queue["actions"]} >= {"save", "set_value", "delete"}
	assert "Bulk Queue Job" in boot.bulk_queue["excluded_doctypes"]


def test_users_see_their_own_jobs_system_managers_all(todo_user, jobs_of_two_users):
	"""The Bulk Queue Job list: a user's own jobs; a System Manager's list has everyone's."""
	mine, theirs = jobs_of_two_users
	frappe.set_user(todo_user)
	listed = set(frappe.get_list("Bulk Queue Job", pluck="name", limit_page_length=0))
	assert mine in listed and theirs not in listed
	assert frappe.has_permission("Bulk Queue Job", "read", doc=mine)
	assert not frappe.has_permission("Bulk Queue Job", "read", doc=theirs)
	frappe.set_user("Administrator")
	assert {mine, theirs} <= set(frappe.get_list("Bulk Queue Job", pluck="name", limit_page_length=0))


def test_own_doctypes_are_not_processed():
	"""bulk_queue's own records are not offered and not accepted."""
	from bulk_queue.api.bulk import get_bulk_options

	_, _names = make_records(1)
	for doctype in ("Bulk Queue Job", "Bulk Queue Failure", "Bulk Queue Chunk"):
		with pytest.raises(frappe.ValidationError, match="not processed in bulk"):
			get_bulk_options(doctype)
