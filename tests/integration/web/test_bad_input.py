# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Bad input over real HTTP: every request below gets a clear message and a 4xx status (never a 500),
records no job, puts nothing on a queue and changes no record."""

from __future__ import annotations

import json

import pytest

from ..conftest import make_records
from .conftest import Client, messages, snapshot, web_user

ENQUEUE = "bulk_queue.api.bulk.enqueue_bulk"
WRITER = "bq-http-writer@example.com"
DOCTYPE = "BQ Test Record"


def valid(**changes) -> dict:
	"""A request that would start a job; each case breaks one thing."""
	payload = {"doctype": DOCTYPE, "action": "set_value", "ids": ["{record}"], "values": {"title": "x"}}
	payload.update(changes)
	return {k: v for k, v in payload.items() if v is not _DROP}


_DROP = object()
LONG = "x" * 141

# (case, request, expected status, words the message must contain). A request is the form Desk sends
# unless it says "json" (a JSON body, as a script sends). "{record}" stands for a real record's name.
CASES = [
	# what and how
	("no doctype", valid(doctype=_DROP), 417, "doctype is required"),
	("no action", valid(action=_DROP), 417, "action is required"),
	("nothing at all", {}, 417, "doctype is required"),
	(
		"doctype is a list",
		{"json": valid(doctype=["ToDo"])},
		417,
		"doctype must be the name of a DocType, not a list",
	),
	("doctype is an object", {"json": valid(doctype={"name": "ToDo"})}, 417, "not an object"),
	("doctype is a number", {"json": valid(doctype=7)}, 417, "not a number"),
	("action is a list", {"json": valid(action=["save"])}, 417, "action must be the name of an action"),
	("unknown doctype", valid(doctype="No Such DocType"), 404, "does not exist"),
	("oversized doctype", valid(doctype="D" * 5000), 404, "does not exist"),
	("SQL in the doctype", valid(doctype="ToDo`; drop table `tabToDo"), 404, "does not exist"),
	("child table doctype", valid(doctype="Has Role"), 417, "child table"),
	("single doctype", valid(doctype="System Settings"), 417, "single"),
	("virtual doctype", valid(doctype="RQ Job"), 417, "virtual"),
	("bulk_queue's own doctype", valid(doctype="Bulk Queue Job"), 417, "not processed in bulk"),
	("unknown action", valid(action="explode"), 417, "Unknown bulk action"),
	("SQL in the action", valid(action="save'; --"), 417, "Unknown bulk action"),
	("submit on a non-submittable doctype", valid(doctype="ToDo", action="submit"), 417, "not submittable"),
	("action of another doctype", valid(action="increment_counter", doctype="ToDo"), 417, "not available"),
	# chunks, queue, timeout
	("chunk size 0", valid(chunk_size=0), 417, "chunk_size must be a whole number"),
	("negative chunk size", valid(chunk_size=-5), 417, "chunk_size must be a whole number"),
	("huge chunk size", valid(chunk_size=10**9), 417, "chunk_size must be a whole number"),
	("chunk size in words", valid(chunk_size="ten"), 417, "chunk_size must be a whole number"),
	("fractional chunk size", valid(chunk_size="2.5"), 417, "chunk_size must be a whole number"),
	("unknown queue", valid(queue="urgent"), 417, "Queue must be one of"),
	("SQL in the queue", valid(queue="default; flushall"), 417, "Queue must be one of"),
	("timeout too short", valid(timeout=1), 417, "timeout must be a number of seconds"),
	("timeout too long", valid(timeout=10**7), 417, "timeout must be a number of seconds"),
	("timeout in words", valid(timeout="soon"), 417, "timeout must be a number of seconds"),
	# the selection
	("empty id list", valid(ids=[]), 417, "No records selected"),
	("no ids and no filters", valid(ids=_DROP), 417, "No records selected"),
	("malformed JSON ids", valid(ids='["a", "b"'), 417, "ids must be a list"),
	("ids as an object", valid(ids='{"name": "a"}'), 417, "ids must be a list"),
	("ids and filters", valid(filters={"title": "x"}), 417, "either ids or filters"),
	("too many ids", valid(ids=[f"r{i}" for i in range(10_001)]), 417, "at most 10000"),
	("oversized name", valid(ids=[LONG]), 417, "longer than 140 characters"),
	("SQL-looking names", valid(ids=["x'; drop table `tabToDo`; --", "1 or 1=1"]), 417, "None of the 2"),
	("names that do not exist", valid(ids=["bq-no-such-1", "bq-no-such-2"]), 417, "None of the 2"),
	("malformed JSON filters", valid(ids=_DROP, filters='{"title": '), 417, "filters must be"),
	("filters of the wrong type", valid(ids=_DROP, filters="42"), 417, "filters must be"),
	(
		"filter on an unknown field",
		valid(ids=_DROP, filters=[["no_such_field", "=", "x"]]),
		417,
		"no_such_field",
	),
	("SQL as a filter field", valid(ids=_DROP, filters=[["title`=1 or 1=1 --", "=", "x"]]), 417, "filter"),
	("unknown filter operator", valid(ids=_DROP, filters=[["title", "drop", "x"]]), 417, "operator"),
	(
		"filters matching nothing",
		valid(ids=_DROP, filters={"title": "x' or '1'='1"}),
		417,
		"No BQ Test Record records match",
	),
	# values
	("malformed JSON values", valid(values='{"title": '), 417, "values must be an object"),
	("values as a list", valid(values='["title"]'), 417, "values must be an object"),
	("set_value without values", valid(values={}), 417, "needs values"),
	("unknown field in values", valid(values={"no_such_field": 1}), 417, "is not a field"),
	("SQL as a field name", valid(values={"title`='x'; drop table t; --": 1}), 417, "is not a field"),
	("protected field: owner", valid(values={"owner": "Administrator"}), 417, "is not a field"),
	("protected field: docstatus", valid(values={"docstatus": 1}), 417, "is not a field"),
	("protected field: name", valid(values={"name": "other"}), 417, "is not a field"),
	("table-less layout field", valid(values={"section_break_x": 1}), 417, "is not a field"),
	("field above the user's permlevel", valid(values={"secret": "x"}), 403, "permission to change field"),
	(
		"invalid Select option (fast path)",
		valid(action="set_value_fast", values={"stage": "Nope"}),
		417,
		"stage",
	),
	# the other entry points
	("cancel without a job", {"method": "cancel_bulk_job", "data": {}}, 417, "bulk_job is required"),
	(
		"cancel with an object as job",
		{"method": "cancel_bulk_job", "json": {"bulk_job": {"user": WRITER}}},
		417,
		"not an object",
	),
	(
		"retry with a list as job",
		{"method": "retry_failed", "json": {"bulk_job": ["BQJ-00001"]}},
		417,
		"not a list",
	),
	(
		"failures with an object as job",
		{"method": "get_failures", "json": {"bulk_job": {"name": ["like", "%"]}}},
		417,
		"not an object",
	),
	(
		"status of an unknown job",
		{"method": "get_bulk_job_status", "data": {"bulk_job": "BQJ-NO-SUCH"}},
		404,
		"not found",
	),
	(
		"options for an unknown doctype",
		{"method": "get_bulk_options", "data": {"doctype": "No Such DocType"}},
		404,
		"does not exist",
	),
	# the request itself
	("oversized JSON body (26 MB)", {"json": valid(ids=["x" * 96] * 270_000)}, 413, "too large"),
	(
		"a 1 MB form of 11,000 long names",
		valid(ids="\n".join(f"{i:05d}" + "y" * 90 for i in range(11_000))),
		417,
		"at most 10000",
	),
	("GET instead of POST", {"http": "GET", "data": valid()}, 403, "Not permitted"),
	("session without the CSRF token", {"csrf": False, "data": valid()}, 400, "Invalid Request"),
]


@pytest.fixture(scope="module")
def writer(desk):
	"""A Blogger who may write the records, and use the fast path (its bad input is tested too)."""
	import frappe

	web_user(WRITER, ["Blogger"])
	settings = frappe.get_single("Bulk Queue Settings")
	before = [row.role for row in settings.fast_path_roles]
	settings.set("fast_path_roles", [{"role": "Blogger"}])
	settings.save()
	frappe.db.commit()
	yield Client(desk, WRITER)
	settings = frappe.get_single("Bulk Queue Settings")
	settings.set("fast_path_roles", [{"role": role} for role in before])
	settings.save()
	frappe.db.commit()


@pytest.fixture(scope="module")
def record(site):
	"""A record the writer may change: the one a valid request would process."""
	_, names = make_records(1, owner=WRITER)
	return names[0]


def _fill(value, record: str):
	"""Put the real record's name where a case says {record}."""
	return json.loads(json.dumps(value).replace("{record}", record))


def test_battery_has_at_least_40_cases():
	"""The table holds at least 40 distinct bad inputs."""
	assert len({case[0] for case in CASES}) == len(CASES) >= 40


@pytest.mark.parametrize(("case", "request_", "status", "words"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_clearly_and_changes_nothing(
	writer, record, site_conf, case, request_, status, words
):
	"""A bad request gets its 4xx and a clear message; no job, no queued chunk, no record changed."""
	import frappe

	site_conf(bulk_queue_rate_limit=0)  # this battery sends far more than a user's per-minute allowance
	request_ = _fill(request_, record)
	modified = frappe.db.get_value(DOCTYPE, record, "modified")
	before = snapshot()
	if "method" in request_:
		method = "bulk_queue.api.bulk." + request_["method"]
		if "json" in request_:
			response = writer.call(method, request_["json"], as_json=True)
		else:
			response = writer.call(method, request_["data"])
	elif "json" in request_:
		response = writer.call(ENQUEUE, request_["json"], as_json=True)
	elif "http" in request_:
		response = writer.call(ENQUEUE, request_["data"], http_method=request_["http"])
	elif "csrf" in request_:
		response = writer.call(ENQUEUE, request_["data"], csrf=False)
	else:
		response = writer.call(ENQUEUE, request_)
	text = messages(response)
	assert response.status_code == status, f"{case}: {response.status_code} {text[:500]}"
	assert words.lower() in text.lower(), f"{case}: message was {text[:500]!r}"
	assert "Traceback" not in text, f"{case}: a traceback reached the client"
	assert snapshot() == before, f"{case}: something was recorded or queued"
	assert frappe.db.get_value(DOCTYPE, record, "modified") == modified
