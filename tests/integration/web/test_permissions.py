# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Who may start, see and steer bulk jobs, over real HTTP with real users: Guest, users without the
role, read-only users, users restricted by user permissions, "if owner" and sharing, a job's owner
against another user and a System Manager, Bulk Queue Settings' roles, DocTypes, actions and limits,
and a user disabled (or stripped of their role) while their job runs."""

from __future__ import annotations

import frappe
import pytest

from ..conftest import make_records, wait_for_job, wait_until
from .conftest import Client, messages, snapshot, web_user

ENQUEUE = "bulk_queue.api.bulk.enqueue_bulk"
API = "bulk_queue.api.bulk."
DOCTYPE = "BQ Test Record"

OWNER = "bq-http-owner@example.com"
OTHER = "bq-http-other@example.com"
NO_ROLE = "bq-http-norole@example.com"
READER = "bq-http-reader@example.com"
EXPORTER = "bq-http-exporter@example.com"
RESTRICTED = "bq-http-restricted@example.com"
OWN_WRITER = "bq-http-ownwriter@example.com"
OPERATOR = "bq-http-operator@example.com"
MANAGER = "bq-http-manager@example.com"


def _role(name: str, *, read: int = 0, write: int = 0, if_owner: int = 0, export: int = 0) -> str:
	"""A desk role with exactly these rights on BQ Test Record (none when all are 0); a new permission
	row would also give Export and Print, which Bulk Process offers to readers."""
	if not frappe.db.exists("Role", name):
		frappe.get_doc({"doctype": "Role", "role_name": name, "desk_access": 1}).insert(
			ignore_permissions=True
		)
	if read or write:
		from frappe.permissions import add_permission, update_permission_property

		add_permission(DOCTYPE, name, 0)
		rights = (("read", read), ("write", write), ("if_owner", if_owner), ("export", export), ("print", 0))
		for ptype, value in rights:
			update_permission_property(DOCTYPE, name, 0, ptype, value)
	frappe.db.commit()
	return name


@pytest.fixture(scope="module")
def users(desk):
	"""Every kind of user the battery needs."""
	_role("BQ No Access")
	_role("BQ Reader", read=1)
	_role("BQ Exporter", read=1, export=1)
	_role("BQ Own Writer", read=1, write=1, if_owner=1)
	_role("BQ Operator")
	web_user(OWNER, ["Blogger"])
	web_user(OTHER, ["Blogger"])
	web_user(NO_ROLE, ["BQ No Access"])
	web_user(READER, ["BQ Reader"])
	web_user(EXPORTER, ["BQ Exporter"])
	web_user(RESTRICTED, ["Blogger"])
	web_user(OWN_WRITER, ["BQ Own Writer"])
	web_user(OPERATOR, ["Blogger", "BQ Operator"])
	web_user(MANAGER, ["System Manager"])
	return desk


@pytest.fixture(autouse=True)
def _no_rate_limit(site_conf):
	site_conf(bulk_queue_rate_limit=0)  # except where a test sets its own


def _start(client: Client, names: list[str], action: str = "increment_counter", **extra):
	"""Ask to start a job; the response carries what the tables and queues held just before."""
	payload = {"doctype": DOCTYPE, "action": action, "ids": names, **extra}
	before = snapshot()
	response = client.call(ENQUEUE, payload)
	response.bq_before = before
	return response


def _refused(response, status: int, words: str, before: dict | None = None) -> None:
	"""``response`` was refused with ``status`` saying ``words``, and nothing changed since ``before``
	(by default, the snapshot ``_start`` took before asking)."""
	before = before if before is not None else response.bq_before
	text = messages(response)
	assert response.status_code == status, f"{response.status_code}: {text[:400]}"
	assert words.lower() in text.lower(), text[:400]
	assert snapshot() == before, "a refused request recorded or queued something"


def _cancel(job: str) -> None:
	from bulk_queue import lifecycle

	frappe.db.rollback()
	lifecycle.cancel_job(job)
	frappe.db.commit()


def test_guest_can_neither_start_nor_read(users):
	"""Guest gets 403 from every entry point and from the job DocTypes."""
	guest = Client(users)
	_, names = make_records(1, owner=OWNER)
	before = snapshot()
	_refused(_start(guest, names), 403, "not permitted", before)
	for method in ("get_bulk_job_status", "get_failures", "get_active_jobs", "get_bulk_options"):
		response = guest.call(API + method, {"bulk_job": "BQJ-00001", "doctype": DOCTYPE})
		assert response.status_code == 403, (method, response.status_code)
	for doctype in ("Bulk Queue Job", "Bulk Queue Failure", "Bulk Queue Chunk", "Bulk Queue Settings"):
		assert guest.resource(doctype).status_code == 403


def test_user_without_permission_on_the_doctype_is_refused(users):
	"""A desk user whose roles give nothing on the DocType: 403, nothing recorded."""
	client = Client(users, NO_ROLE)
	_, names = make_records(2, owner=NO_ROLE)
	_refused(_start(client, names), 403, "You do not have write permission")
	options = client.call(API + "get_bulk_options", {"doctype": DOCTYPE}, http_method="GET")
	assert options.status_code == 200 and options.json()["message"]["actions"] == []


def test_read_only_user_may_not_change_records(users):
	"""Read permission is not enough for any action that writes, and none is offered."""
	client = Client(users, READER)
	_, names = make_records(2, owner=OWNER)
	_refused(_start(client, names, "set_value", values={"title": "x"}), 403, "write permission")
	_refused(_start(client, names, "delete"), 403, "delete permission")
	options = client.call(API + "get_bulk_options", {"doctype": DOCTYPE}, http_method="GET").json()
	assert options["message"]["actions"] == []


def test_a_reader_who_may_export_is_offered_export_and_nothing_that_writes(users):
	"""Read and Export (what Desk's own Export needs): Bulk Process offers Export only, and refuses
	Set Value."""
	client = Client(users, EXPORTER)
	options = client.call(API + "get_bulk_options", {"doctype": DOCTYPE}, http_method="GET").json()
	assert [a["name"] for a in options["message"]["actions"]] == ["export"]
	_, names = make_records(2, owner=OWNER)
	_refused(_start(client, names, "set_value", values={"title": "x"}), 403, "write permission")


def test_user_permissions_limit_the_records_processed(users, workers):
	"""A user restricted by User Permissions: records outside them are listed as failed with a
	permission error (by ids), or not selected at all (by filters); never applied."""
	tag, names = make_records(4, owner=OWNER)
	allowed, forbidden = names[:2], names[2:]
	for name in allowed:
		frappe.get_doc(
			{"doctype": "User Permission", "user": RESTRICTED, "allow": DOCTYPE, "for_value": name}
		).insert(ignore_permissions=True)
	frappe.db.commit()
	try:
		workers.start(1)
		client = Client(users, RESTRICTED, api_key=True)
		response = _start(client, names)
		assert response.status_code == 200, messages(response)
		job = wait_for_job(response.json()["message"]["bulk_job"])
		assert (job.succeeded, job.failed) == (2, 2)
		failed = frappe.get_all(
			"Bulk Queue Failure", {"bulk_job": job.name}, ["reference_name", "exception_type"]
		)
		assert {f.reference_name: f.exception_type for f in failed} == dict.fromkeys(
			forbidden, "PermissionError"
		)
		counters = dict(frappe.get_all(DOCTYPE, {"tag": tag}, ["name", "counter"], as_list=True))
		assert counters == {**dict.fromkeys(allowed, 1), **dict.fromkeys(forbidden, 0)}

		by_filters = client.call(
			ENQUEUE, {"doctype": DOCTYPE, "action": "increment_counter", "filters": {"tag": tag}}
		)
		assert by_filters.status_code == 200, messages(by_filters)
		assert by_filters.json()["message"]["total"] == 2
		wait_for_job(by_filters.json()["message"]["bulk_job"])
		counters = dict(frappe.get_all(DOCTYPE, {"tag": tag}, ["name", "counter"], as_list=True))
		assert counters == {**dict.fromkeys(allowed, 2), **dict.fromkeys(forbidden, 0)}
	finally:
		frappe.db.delete("User Permission", {"user": RESTRICTED})
		frappe.db.commit()
		frappe.clear_cache(user=RESTRICTED)


def test_if_owner_and_sharing_decide_per_record(users, workers):
	"""With "if owner" write: own records and records shared for writing are applied, the others are
	failed with a permission error."""
	_, own = make_records(2, owner=OWN_WRITER)
	_, others = make_records(2, owner=OWNER)
	frappe.share.add_docshare(
		DOCTYPE, others[0], OWN_WRITER, read=1, write=1, flags={"ignore_share_permission": True}
	)
	frappe.db.commit()
	workers.start(1)
	response = _start(Client(users, OWN_WRITER), [*own, *others])
	assert response.status_code == 200, messages(response)
	job = wait_for_job(response.json()["message"]["bulk_job"])
	failed = frappe.get_all(
		"Bulk Queue Failure", {"bulk_job": job.name}, ["reference_name", "exception_type"]
	)
	assert [(f.reference_name, f.exception_type) for f in failed] == [(others[1], "PermissionError")]
	assert frappe.db.get_value(DOCTYPE, others[1], "counter") == 0
	assert [frappe.db.get_value(DOCTYPE, n, "counter") for n in [*own, others[0]]] == [1, 1, 1]


def test_only_the_owner_or_a_system_manager_steers_a_job(users):
	"""Status, failures, chunk jobs, cancel and retry: the job's owner or a System Manager; another
	user gets 403 and changes nothing."""
	_, names = make_records(3, owner=OWNER)
	owner = Client(users, OWNER)
	started = _start(owner, names)
	assert started.status_code == 200, messages(started)
	job = started.json()["message"]["bulk_job"]
	other = Client(users, OTHER, api_key=True)
	for method in ("get_bulk_job_status", "get_failures", "get_chunk_jobs"):
		response = other.call(API + method, {"bulk_job": job}, http_method="GET")
		assert response.status_code == 403, (method, response.status_code)
	before = snapshot()
	for method in ("cancel_bulk_job", "retry_failed"):
		_refused(other.call(API + method, {"bulk_job": job}), 403, "Only the user who started", before)
	frappe.db.rollback()
	assert frappe.db.get_value("Bulk Queue Job", job, "status") == "Queued"
	manager = Client(users, MANAGER)
	assert manager.call(API + "get_bulk_job_status", {"bulk_job": job}, http_method="GET").status_code == 200
	cancelled = owner.call(API + "cancel_bulk_job", {"bulk_job": job})
	assert cancelled.status_code == 200 and cancelled.json()["message"]["status"] == "Cancelled"
	missing = owner.call(API + "get_bulk_job_status", {"bulk_job": "BQJ-NO-SUCH"}, http_method="GET")
	assert missing.status_code == 404


def test_jobs_and_failures_are_read_by_their_owner_only(users, workers):
	"""Through /api/resource, frappe.client, the report view, link search and global search, a user
	reads their own jobs, chunks and failure rows (tracebacks carry data), never another user's; a
	System Manager reads all."""
	workers.start(1)
	jobs = {}
	for user in (OWNER, OTHER):
		tag, names = make_records(3, owner=user, fail_every=3)
		response = _start(Client(users, user), names, "set_value", values={"title": f"{tag}-x"})
		assert response.status_code == 200, messages(response)
		jobs[user] = wait_for_job(response.json()["message"]["bulk_job"]).name
	assert all(frappe.db.count("Bulk Queue Failure", {"bulk_job": job}) == 1 for job in jobs.values())
	mine, theirs = jobs[OTHER], jobs[OWNER]
	own_jobs = set(frappe.get_all("Bulk Queue Job", {"user": OTHER}, pluck="name"))
	client = Client(users, OTHER)

	def names_in(response) -> set[str]:
		assert response.status_code == 200, messages(response)
		data = response.json()
		rows = data.get("data", data.get("message"))
		if isinstance(rows, dict):  # the report view: {"keys": [...], "values": [[...]]}
			return {row[0] for row in rows.get("values", [])}
		return {row["name"] if isinstance(row, dict) else row[0] for row in rows}

	job_list = names_in(client.resource("Bulk Queue Job", {"limit_page_length": 0}))
	assert mine in job_list and job_list <= own_jobs
	assert client.resource(f"Bulk Queue Job/{theirs}").status_code == 403
	assert client.resource(f"Bulk Queue Job/{mine}").status_code == 200

	def failure_jobs(response) -> set[str]:
		assert response.status_code == 200, messages(response)
		return {row["bulk_job"] for row in response.json().get("data", response.json().get("message"))}

	fields = '["name", "bulk_job", "traceback", "error"]'
	for response in (
		client.resource("Bulk Queue Failure", {"fields": fields, "limit_page_length": 0}),
		client.call(
			"frappe.client.get_list",
			{"doctype": "Bulk Queue Failure", "fields": fields, "limit_page_length": 0},
			http_method="GET",
		),
	):
		readable = failure_jobs(response)
		assert mine in readable and readable <= own_jobs, readable
	count = client.call(
		"frappe.client.get_count",
		{"doctype": "Bulk Queue Failure", "filters": {"bulk_job": theirs}},
		http_method="GET",
	)
	assert count.status_code == 200 and count.json()["message"] == 0
	value = client.call(
		"frappe.client.get_value",
		{"doctype": "Bulk Queue Failure", "fieldname": "traceback", "filters": {"bulk_job": theirs}},
		http_method="GET",
	)
	assert value.status_code in (200, 403), messages(value)
	assert not (value.json().get("message") or {}).get("traceback")
	report = client.call(
		"frappe.desk.reportview.get",
		{
			"doctype": "Bulk Queue Job",
			"fields": ["`tabBulk Queue Job`.`name`"],
			"filters": [],
			"page_length": 500,
		},
	)
	assert theirs not in names_in(report)
	chunks = {
		row["bulk_job"]
		for row in client.resource(
			"Bulk Queue Chunk", {"fields": '["bulk_job"]', "limit_page_length": 0}
		).json()["data"]
	}
	assert mine in chunks and chunks <= own_jobs
	search = client.call(
		"frappe.desk.search.search_link", {"doctype": "Bulk Queue Job", "txt": "BQJ"}, http_method="GET"
	)
	assert search.status_code == 200, messages(search)
	found = {row.get("value") for row in search.json().get("message") or search.json().get("results") or []}
	assert theirs not in found
	global_search = client.call("frappe.utils.global_search.search", {"text": theirs}, http_method="GET")
	assert global_search.status_code == 200 and theirs not in global_search.text

	manager_list = names_in(Client(users, MANAGER).resource("Bulk Queue Job", {"limit_page_length": 0}))
	assert {mine, theirs} <= manager_list


def test_settings_roles_decide_who_may_start(users, bq_settings):
	"""With roles named in Bulk Queue Settings only users with one of them start jobs (and are
	offered actions); the others get 403 and nothing is recorded."""
	bq_settings(allowed_roles=["BQ Operator"])
	_, names = make_records(2, owner=OWNER)
	owner = Client(users, OWNER)
	_refused(_start(owner, names), 403, "Only users with one of these roles")
	options = owner.call(API + "get_bulk_options", {"doctype": DOCTYPE}, http_method="GET").json()
	assert options["message"]["actions"] == []
	operator = Client(users, OPERATOR)
	response = _start(operator, names)
	assert response.status_code == 200, messages(response)
	_cancel(response.json()["message"]["bulk_job"])


def test_settings_limit_doctypes_and_actions(users, bq_settings):
	"""DocTypes and actions outside Bulk Queue Settings' lists are refused with 403."""
	_, names = make_records(2, owner=OWNER)
	owner = Client(users, OWNER)
	bq_settings(allowed_doctypes=["ToDo"])
	_refused(_start(owner, names), 403, "not allowed on this site")
	bq_settings(allowed_doctypes=[], allowed_actions="set_value\nsave")
	_refused(_start(owner, names), 403, "increment_counter")
	options = owner.call(API + "get_bulk_options", {"doctype": DOCTYPE}, http_method="GET").json()
	assert {a["name"] for a in options["message"]["actions"]} == {"set_value", "save"}


def test_starting_too_often_gets_429(users, bq_settings, site_conf):
	"""Over Bulk Queue Settings' jobs-per-minute limit a user gets HTTP 429 Too Many Requests and no
	job; requests refused for their input do not count, and another user is not affected."""
	site_conf(bulk_queue_rate_limit=None)  # Settings decide here
	bq_settings(rate_limit=3)
	frappe.cache.delete(frappe.cache.make_key(f"rl:bulk_queue.enqueue_bulk:{OWNER}"))
	owner = Client(users, OWNER)
	for _ in range(5):
		assert _start(owner, []).status_code == 417  # bad input: refused, not counted
	started = []
	for _ in range(3):
		_, names = make_records(1, owner=OWNER)
		response = _start(owner, names)
		assert response.status_code == 200, messages(response)
		started.append(response.json()["message"]["bulk_job"])
	_, names = make_records(1, owner=OWNER)
	_refused(_start(owner, names), 429, "too many bulk jobs")
	_, others = make_records(1, owner=OTHER)
	response = _start(Client(users, OTHER), others)
	assert response.status_code == 200, messages(response)
	for job in [*started, response.json()["message"]["bulk_job"]]:
		_cancel(job)


def test_active_job_limit_per_user(users, bq_settings):
	"""A user at Bulk Queue Settings' active-job limit cannot start another until one ends."""
	bq_settings(max_active_jobs=1)
	owner = Client(users, OWNER)
	frappe.db.rollback()
	for job in frappe.get_all(
		"Bulk Queue Job", {"user": OWNER, "status": ("in", ("Planning", "Queued", "Running"))}, pluck="name"
	):
		_cancel(job)
	_, first = make_records(1, owner=OWNER)
	_, second = make_records(1, owner=OWNER)
	started = _start(owner, first)
	assert started.status_code == 200, messages(started)
	_refused(_start(owner, second), 417, "at most 1 at once")
	again = _start(owner, first)  # the same request again is the same job, not another one
	assert again.status_code == 200 and again.json()["message"]["existing"]
	_cancel(started.json()["message"]["bulk_job"])
	assert _start(owner, second).status_code == 200


def test_api_keys_and_bad_tokens(users):
	"""An API key works without a CSRF token; a wrong secret gets 401 and records nothing."""
	_, names = make_records(1, owner=OWNER)
	response = _start(Client(users, OWNER, api_key=True), names)
	assert response.status_code == 200, messages(response)
	_cancel(response.json()["message"]["bulk_job"])
	bad = Client(users)
	bad.http.headers["Authorization"] = "token not-a-key:not-a-secret"
	before = snapshot()
	assert _start(bad, names).status_code == 401
	assert snapshot() == before


@pytest.mark.parametrize("change", ["disable the account", "remove the role", "remove the Settings role"])
def test_user_losing_access_mid_job(users, workers, bq_settings, change):
	"""When the requester is disabled, loses the role the DocType needs, or loses the role Bulk Queue
	Settings require while their job runs, the records not yet done fail with a clear error; every
	record is either applied once or failed, none runs as anyone else."""
	slug = change.lower().replace(" ", "-")
	user = web_user(f"bq-http-midjob-{slug}@example.com", ["Blogger", "BQ Operator"])
	if change == "remove the Settings role":
		bq_settings(allowed_roles=["BQ Operator"])
	tag, names = make_records(60, owner=user, sleep_ms=50)
	workers.start(1)
	response = _start(Client(users, user), names, chunk_size=10)
	assert response.status_code == 200, messages(response)
	job = response.json()["message"]["bulk_job"]
	wait_until(
		lambda: frappe.db.rollback() or frappe.db.get_value("Bulk Queue Job", job, "processed") >= 10,
		timeout=60,
		message="the first records",
	)
	doc = frappe.get_doc("User", user)
	if change == "disable the account":
		doc.enabled = 0
	elif change == "remove the role":
		doc.set("roles", [r for r in doc.roles if r.role != "Blogger"])
	else:
		doc.set("roles", [r for r in doc.roles if r.role != "BQ Operator"])
	doc.save(ignore_permissions=True)
	frappe.db.commit()
	try:
		done = wait_for_job(job, timeout=120)
		failed = frappe.get_all(
			"Bulk Queue Failure", {"bulk_job": job}, ["reference_name", "exception_type", "error"]
		)
		counters = dict(frappe.get_all(DOCTYPE, {"tag": tag}, ["name", "counter"], as_list=True))
		failed_names = {f.reference_name for f in failed}
		assert done.succeeded + done.failed == 60 and len(failed) == done.failed
		assert 0 < done.failed < 60
		assert all(counters[n] == (0 if n in failed_names else 1) for n in names)
		assert all(f.exception_type == "PermissionError" for f in failed)
		expected = {
			"disable the account": "is disabled",
			"remove the role": "Insufficient Permission for BQ Test Record",
			"remove the Settings role": "no longer let",
		}[change]
		assert all(expected in f.error for f in failed), failed[0].error
		modified_by = set(frappe.get_all(DOCTYPE, {"tag": tag, "counter": 1}, pluck="modified_by"))
		assert modified_by == {user}
	finally:
		web_user(user, ["Blogger", "BQ Operator"])


def test_the_fast_path_is_refused_to_an_ordinary_user(users):
	"""A Blogger who may write the records is refused the fast path (403, naming who may use it) and
	not offered it; Set Value stays theirs."""
	client = Client(users, OWNER)
	_, names = make_records(2, owner=OWNER)
	_refused(_start(client, names, "set_value_fast", values={"title": "x"}), 403, "System Manager")
	options = client.call(API + "get_bulk_options", {"doctype": DOCTYPE}, http_method="GET").json()
	offered = [a["name"] for a in options["message"]["actions"]]
	assert "set_value" in offered and "set_value_fast" not in offered


def test_a_link_value_outside_user_permissions_is_refused_over_http(users):
	"""A user limited to Region North asks to move their deals to South: 403 naming the field and the
	value, nothing recorded."""
	from ..test_beyond_save import make_deals

	_, names = make_deals(2, owner=RESTRICTED)
	frappe.get_doc(
		{"doctype": "User Permission", "user": RESTRICTED, "allow": "BQ Region", "for_value": "North"}
	).insert(ignore_permissions=True)
	frappe.db.commit()
	try:
		client = Client(users, RESTRICTED)
		before = snapshot()
		response = client.call(
			ENQUEUE,
			{"doctype": "BQ Deal", "action": "set_value", "ids": names, "values": {"region": "South"}},
		)
		_refused(response, 403, "South", before)
		assert "Region" in messages(response)
	finally:
		frappe.db.delete("User Permission", {"user": RESTRICTED, "allow": "BQ Region"})
		frappe.db.commit()
