# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""The list's own bulk actions, without their limits: workflow transitions, Assign To, Clear
Assignment, Apply Assignment Rule, Add and Remove Tags - each through Frappe's own machinery, as the
requester, once per record.

Workflow tests run on BQ Claim (submittable) under a Workflow made here: Draft -(Submit, Blogger)->
Pending -(Approve, BQ Approver, amount below 1,000)-> Approved (submitted) | -(Reject)-> Rejected."""

from __future__ import annotations

import time
import uuid

import frappe
import pytest

from bulk_queue.api.bulk import get_bulk_options, preview_bulk

from .conftest import (
	_insert_rows,
	enqueue,
	ensure_user,
	failures,
	rq_jobs_of,
	wait_for_job,
	wait_until,
)
from .test_beyond_save import DEAL, _restrict_to_north, deal_user, make_deals, server_script

CLAIM = "BQ Claim"
WORKFLOW = "BQ Claim Approval"


# -- workflow ---------------------------------------------------------------------------------------


@pytest.fixture
def claim_workflow(site):
	"""BQ Claim's approval workflow, active for one test."""
	for state, style in (
		("Draft", ""),
		("Pending", "Warning"),
		("Approved", "Success"),
		("Rejected", "Danger"),
	):
		if not frappe.db.exists("Workflow State", state):
			frappe.get_doc(
				{"doctype": "Workflow State", "workflow_state_name": state, "style": style}
			).insert()
	for action in ("Submit", "Approve", "Reject"):
		if not frappe.db.exists("Workflow Action Master", action):
			frappe.get_doc({"doctype": "Workflow Action Master", "workflow_action_name": action}).insert()
	if frappe.db.exists("Workflow", WORKFLOW):
		frappe.delete_doc("Workflow", WORKFLOW, force=True)
	frappe.get_doc(
		{
			"doctype": "Workflow",
			"workflow_name": WORKFLOW,
			"document_type": CLAIM,
			"is_active": 1,
			"workflow_state_field": "workflow_state",
			"send_email_alert": 0,
			"states": [
				{"state": "Draft", "doc_status": "0", "allow_edit": "Blogger"},
				{"state": "Pending", "doc_status": "0", "allow_edit": "BQ Approver"},
				{"state": "Approved", "doc_status": "1", "allow_edit": "BQ Approver"},
				{"state": "Rejected", "doc_status": "0", "allow_edit": "BQ Approver"},
			],
			"transitions": [
				{"state": "Draft", "action": "Submit", "next_state": "Pending", "allowed": "Blogger"},
				{
					"state": "Pending",
					"action": "Approve",
					"next_state": "Approved",
					"allowed": "BQ Approver",
					"allow_self_approval": 0,
					"condition": "doc.amount < 1000",
				},
				{"state": "Pending", "action": "Reject", "next_state": "Rejected", "allowed": "BQ Approver"},
			],
		}
	).insert()
	frappe.db.commit()
	yield WORKFLOW
	frappe.db.rollback()
	frappe.delete_doc("Workflow", WORKFLOW, force=True)
	frappe.db.commit()


# Users are made once and kept (Frappe refuses more than 60 new users a minute).


@pytest.fixture
def approver(site):
	return ensure_user("bq-approver@example.com", ["BQ Approver"])


@pytest.fixture
def clerk(site):
	return ensure_user("bq-clerk@example.com", ["Blogger"])


def make_claims(
	count: int, *, state: str = "Pending", owner: str = "Administrator", **values
) -> tuple[str, list[str]]:
	row = {"title": "", "amount": 100, "sleep_ms": 0, "workflow_state": state}
	row.update(values)
	return _insert_rows(CLAIM, count, owner, lambda tag, i: {**row, "tag": tag, "title": f"{tag}-{i}"})


def _claims(names: list[str]) -> dict[str, frappe._dict]:
	frappe.db.rollback()
	rows = frappe.get_all(CLAIM, {"name": ("in", names)}, ["name", "workflow_state", "docstatus"])
	return {row.name: row for row in rows}


def _workflow_comments(names: list[str]) -> dict[str, int]:
	rows = frappe.get_all(
		"Comment",
		filters={"reference_doctype": CLAIM, "reference_name": ("in", names), "comment_type": "Workflow"},
		fields=["reference_name", "count(*) as n"],
		group_by="reference_name",
	)
	return {row.reference_name: row.n for row in rows}


def test_a_workflow_transition_on_all_matching_records_goes_through_apply_workflow(
	claim_workflow, approver, workers
):
	"""Approve on every claim matching a filter, as an approver: each Pending claim below the limit is
	Approved and submitted with one Workflow comment; the others fail with the reason."""
	tag, pending = make_claims(12)
	_, large = make_claims(2, amount=5000)
	_, drafts = make_claims(2, state="Draft")
	frappe.db.set_value(CLAIM, {"name": ("in", large + drafts)}, "tag", tag)  # one filter selects all
	frappe.db.commit()
	frappe.set_user(approver)
	result = enqueue(
		doctype=CLAIM,
		action="apply_workflow",
		filters={"tag": tag},
		values={"action": "Approve"},
		chunk_size=5,
	)
	frappe.set_user("Administrator")
	workers.start(1)
	done = wait_for_job(result["bulk_job"])
	assert (done.status, done.succeeded, done.failed) == ("Completed with Errors", 12, 4)
	claims = _claims(pending + large + drafts)
	assert {(claims[n].workflow_state, claims[n].docstatus) for n in pending} == {("Approved", 1)}
	assert {claims[n].workflow_state for n in large} == {"Pending"}
	assert {claims[n].workflow_state for n in drafts} == {"Draft"}
	assert set(_workflow_comments(pending).values()) == {1}
	reasons = {f.reference_name: f.error for f in failures(done.name)}
	assert all("does not hold" in reasons[n] and "doc.amount < 1000" in reasons[n] for n in large), reasons
	assert all("No transition" in reasons[n] and "Draft" in reasons[n] for n in drafts), reasons


def test_self_approval_is_refused_as_frappe_refuses_it(claim_workflow, approver, workers):
	"""Claims the approver drafted themselves fail as Frappe's own Approve would: self approval."""
	_, own = make_claims(3, owner=approver)
	frappe.set_user(approver)
	result = enqueue(doctype=CLAIM, action="apply_workflow", ids=own, values={"action": "Approve"})
	frappe.set_user("Administrator")
	workers.start(1)
	done = wait_for_job(result["bulk_job"])
	assert (done.status, done.failed) == ("Failed", 3)
	assert {f.error for f in failures(done.name)} == {"Self approval is not allowed"}
	assert {c.workflow_state for c in _claims(own).values()} == {"Pending"}


def test_a_workflow_action_none_of_the_users_roles_may_take_is_refused_at_enqueue(claim_workflow, clerk):
	"""A clerk (Submit only) asking to Approve gets a permission error; nothing is recorded."""
	_, names = make_claims(2)
	before = frappe.db.count("Bulk Queue Job")
	frappe.set_user(clerk)
	with pytest.raises(frappe.PermissionError, match="None of your roles"):
		enqueue(doctype=CLAIM, action="apply_workflow", ids=names, values={"action": "Approve"})
	with pytest.raises(frappe.ValidationError, match="not an action of Workflow"):
		enqueue(doctype=CLAIM, action="apply_workflow", ids=names, values={"action": "Publish"})
	frappe.set_user("Administrator")
	assert frappe.db.count("Bulk Queue Job") == before


def test_the_dialog_offers_the_transitions_of_the_selection_with_counts(claim_workflow, approver, clerk):
	"""For 3 Pending and 2 Draft claims an approver is offered Approve and Reject (3 of 5 records each),
	a clerk Submit (2 of 5); on a DocType without an active workflow it is not offered."""
	_, pending = make_claims(3)
	_, drafts = make_claims(2, state="Draft")
	names = pending + drafts

	def offered(user):
		frappe.set_user(user)
		try:
			options = get_bulk_options(doctype=CLAIM, ids=names)
		finally:
			frappe.set_user("Administrator")
		[action] = [a for a in options["actions"] if a["name"] == "apply_workflow"] or [None]
		return action and {o["value"]: o["label"] for o in action["form"][0]["options"]}

	approve = offered(approver)
	assert set(approve) == {"Approve", "Reject"}
	assert "3 of 5" in approve["Approve"] and "Pending" in approve["Approve"]
	clerk_offer = offered(clerk)
	assert set(clerk_offer) == {"Submit"} and "2 of 5" in clerk_offer["Submit"]
	deal_actions = {a["name"] for a in get_bulk_options(doctype=DEAL)["actions"]}
	assert "apply_workflow" not in deal_actions and "assign_to" in deal_actions
	with pytest.raises(frappe.ValidationError, match=r"not available.*BQ Deal has no active Workflow"):
		enqueue(doctype=DEAL, action="apply_workflow", ids=make_deals(1)[1], values={"action": "Approve"})
	outsider = ensure_user("bq-outsider@example.com", ["System Manager"])
	frappe.set_user(outsider)
	try:
		with pytest.raises(frappe.ValidationError, match="None of the transitions of Workflow"):
			enqueue(doctype=CLAIM, action="apply_workflow", ids=names, values={"action": "Approve"})
	finally:
		frappe.set_user("Administrator")


def test_a_server_script_refusing_the_submit_fails_only_its_claims(
	claim_workflow,
	approver,
	server_script,  # noqa: F811 (a fixture)
	workers,
):
	"""A "Before Submit" Server Script refusing claims above 500: Approve submits the others; those fail
	with the script's message, stay Pending and get no Workflow comment."""
	server_script(
		"Before Submit", "if doc.amount > 500:\n    frappe.throw('Needs a second approver')", doctype=CLAIM
	)
	_, small = make_claims(3, amount=100)
	_, large = make_claims(2, amount=700)
	frappe.set_user(approver)
	result = enqueue(doctype=CLAIM, action="apply_workflow", ids=small + large, values={"action": "Approve"})
	frappe.set_user("Administrator")
	workers.start(1)
	done = wait_for_job(result["bulk_job"])
	assert (done.succeeded, done.failed) == (3, 2)
	assert {f.reference_name: f.error for f in failures(done.name)} == dict.fromkeys(
		large, "Needs a second approver"
	)
	claims = _claims(small + large)
	assert {claims[n].workflow_state for n in large} == {"Pending"}
	assert {(claims[n].workflow_state, claims[n].docstatus) for n in small} == {("Approved", 1)}
	assert set(_workflow_comments(small + large)) == set(small)


@pytest.mark.slow
def test_a_worker_killed_mid_chunk_transitions_no_claim_twice(claim_workflow, approver, workers):
	"""A worker SIGKILLed with its work horse in the middle of a chunk of approvals: every claim is
	Approved once - one Workflow comment each - and none is left half done."""
	_, names = make_claims(60, sleep_ms=60)
	frappe.set_user(approver)
	result = enqueue(
		doctype=CLAIM, action="apply_workflow", ids=names, values={"action": "Approve"}, chunk_size=30
	)
	frappe.set_user("Administrator")
	job = result["bulk_job"]
	workers.start(1, scheduler=True)
	wait_until(
		lambda: (frappe.db.get_value("Bulk Queue Job", job, "processed") or 0) >= 10,
		timeout=120,
		message="10 approved",
	)
	time.sleep(0.4)  # inside a batch, not on a commit
	workers.kill(0)
	workers.start(1)
	done = wait_for_job(job, timeout=300)
	assert (done.status, done.succeeded) == ("Completed", 60), failures(job)
	assert {(c.workflow_state, c.docstatus) for c in _claims(names).values()} == {("Approved", 1)}
	assert _workflow_comments(names) == dict.fromkeys(names, 1)


# -- assignments ------------------------------------------------------------------------------------


@pytest.fixture
def assignees(site):
	return [ensure_user(f"bq-assignee-{i}@example.com", ["Blogger"]) for i in range(2)]


def _todos(names: list[str], **filters) -> list[frappe._dict]:
	frappe.db.rollback()
	return frappe.get_all(
		"ToDo",
		filters={"reference_type": DEAL, "reference_name": ("in", names), **filters},
		fields=["reference_name", "allocated_to", "status", "assignment_rule", "priority", "date"],
	)


def _notifications(user: str, names: list[str]) -> int:
	frappe.db.rollback()
	return frappe.db.count(
		"Notification Log",
		{"for_user": user, "document_type": DEAL, "document_name": ("in", names), "type": "Assignment"},
	)


def test_assign_to_makes_what_one_assignment_from_the_form_makes_once(assignees, workers):
	"""Assign To two users on 30 deals (one already assigned to the first): one open ToDo per user and
	deal, ``_assign`` lists both, one notification per new assignment; running it again adds nothing."""
	first, second = assignees
	_, names = make_deals(30)
	from frappe.desk.form import assign_to

	assign_to.add({"assign_to": [first], "doctype": DEAL, "name": names[0]})
	frappe.db.commit()
	values = {"assign_to": [first, second], "priority": "High", "date": "2026-12-31"}
	done = (
		wait_for_job(
			enqueue(doctype=DEAL, action="assign_to", ids=names, values=values, chunk_size=8)["bulk_job"]
		)
		if workers.start(1) is None
		else None
	)
	assert (done.status, done.succeeded, done.failed) == ("Completed", 30, 0)
	todos = _todos(names, status="Open")
	assert sorted((t.reference_name, t.allocated_to) for t in todos) == sorted(
		(n, u) for n in names for u in (first, second)
	)
	assert {(t.priority, str(t.date)) for t in todos if t.reference_name != names[0]} == {
		("High", "2026-12-31")
	}
	assigned = frappe.get_all(DEAL, {"name": ("in", names)}, ["name", "_assign"])
	assert all(set(frappe.parse_json(row._assign)) == {first, second} for row in assigned)
	wait_until(lambda: _notifications(second, names) == 30, message="30 notifications")
	again = wait_for_job(enqueue(doctype=DEAL, action="assign_to", ids=names, values=values)["bulk_job"])
	assert (again.status, again.succeeded) == ("Completed", 30)
	assert len(_todos(names, status="Open")) == 60
	time.sleep(2)
	assert _notifications(second, names) == 30


def test_a_record_rolled_back_notifies_nobody(assignees, workers):
	"""Assign To a user who may read the deals and one who may not, with document sharing off: every
	record fails (Frappe refuses the second), and the first user gets no ToDo and no notification."""
	_, reader = assignees
	outsider = ensure_user("bq-outsider@example.com", ["Website Manager"])
	_, names = make_deals(4)
	sharing = frappe.db.get_single_value("System Settings", "disable_document_sharing")
	frappe.db.set_single_value("System Settings", "disable_document_sharing", 1)
	frappe.db.commit()
	try:
		workers.start(1)
		result = enqueue(
			doctype=DEAL, action="assign_to", ids=names, values={"assign_to": [reader, outsider]}
		)
		done = wait_for_job(result["bulk_job"])
	finally:
		frappe.db.set_single_value("System Settings", "disable_document_sharing", sharing or 0)
		frappe.db.commit()
	assert (done.status, done.failed) == ("Failed", 4)
	assert all("not permitted" in f.error for f in failures(done.name))
	assert _todos(names) == []
	time.sleep(3)  # a notification queued anyway would have been made by now
	assert _notifications(reader, names) == 0


def test_a_job_the_action_queues_goes_on_the_queue_only_with_the_records_commit(workers):
	"""An action that queues a background job (as an assignment queues its notification) and then fails
	on some records: the jobs of the failed records never run; each other record's runs once."""
	from .conftest import make_records

	_, names = make_records(6)
	fail = names[1::2]
	workers.start(1)
	result = enqueue(
		doctype="BQ Test Record", action="enqueue_then_fail", ids=names, values={"fail": fail}, chunk_size=3
	)
	done = wait_for_job(result["bulk_job"])
	assert (done.succeeded, done.failed) == (3, 3)

	def runs(name):
		return int(frappe.cache.incrby(f"bq_test_enqueued:{name}", 0))

	wait_until(lambda: all(runs(n) for n in names if n not in fail), message="the queued jobs ran")
	time.sleep(2)
	assert {n: runs(n) for n in names} == {n: 0 if n in fail else 1 for n in names}


def test_assign_to_holds_the_requesters_user_permissions(deal_user, assignees, workers):  # noqa: F811
	"""A user whose User Permissions allow only North assigns North and South deals: the North deals
	are assigned, the South ones fail with a permission error and get no ToDo."""
	_restrict_to_north(deal_user)
	_, north = make_deals(3)
	_, south = make_deals(2, region="South")
	frappe.set_user(deal_user)
	result = enqueue(
		doctype=DEAL, action="assign_to", ids=north + south, values={"assign_to": [assignees[0]]}
	)
	frappe.set_user("Administrator")
	workers.start(1)
	done = wait_for_job(result["bulk_job"])
	assert (done.succeeded, done.failed) == (3, 2)
	assert {f.reference_name: f.exception_type for f in failures(done.name)} == dict.fromkeys(
		south, "PermissionError"
	)
	assert sorted(t.reference_name for t in _todos(north + south)) == sorted(north)


def test_clear_assignment_cancels_open_assignments_once(assignees, workers):
	"""Clear Assignment of one user leaves the other's; then of everyone; a second run changes and
	notifies nothing."""
	first, second = assignees
	_, names = make_deals(6)
	from frappe.desk.form import assign_to

	for name in names:
		assign_to.add({"assign_to": [first, second], "doctype": DEAL, "name": name})
	frappe.db.commit()
	workers.start(1)
	only = wait_for_job(
		enqueue(doctype=DEAL, action="clear_assignment", ids=names, values={"assign_to": [first]})["bulk_job"]
	)
	assert (only.status, only.succeeded) == ("Completed", 6)
	assert {t.allocated_to for t in _todos(names, status="Open")} == {second}
	every = wait_for_job(enqueue(doctype=DEAL, action="clear_assignment", ids=names)["bulk_job"])
	assert every.status == "Completed"
	assert _todos(names, status="Open") == []
	assert all(
		not row._assign or frappe.parse_json(row._assign) == []
		for row in frappe.get_all(DEAL, {"name": ("in", names)}, ["_assign"])
	)
	modified = _last_todo_change(names)
	again = wait_for_job(enqueue(doctype=DEAL, action="clear_assignment", ids=names)["bulk_job"])
	assert again.status == "Completed"
	assert _last_todo_change(names) == modified


def _last_todo_change(names: list[str]) -> dict:
	"""When each assignee's ToDos on ``names`` last changed."""
	rows = frappe.get_all(
		"ToDo",
		{"reference_name": ("in", names)},
		["allocated_to", "max(modified) as modified"],
		group_by="allocated_to",
	)
	return {row.allocated_to: row.modified for row in rows}


@pytest.fixture
def deal_rule(assignees):
	"""A round-robin Assignment Rule on BQ Deal for deals above 50."""
	name = f"bq-rule-{uuid.uuid4().hex[:6]}"
	frappe.get_doc(
		{
			"doctype": "Assignment Rule",
			"name": name,
			"document_type": DEAL,
			"priority": 1,
			"rule": "Round Robin",
			"assign_condition": "amount > 50",
			"description": "Review {{ title }}",
			"users": [{"user": u} for u in assignees],
			"assignment_days": [
				{"day": day}
				for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
			],
		}
	).insert()
	frappe.db.commit()
	yield name
	frappe.db.rollback()
	frappe.delete_doc("Assignment Rule", name, force=True)
	frappe.db.commit()


def test_apply_assignment_rule_runs_in_chunks_not_one_job_per_document(deal_rule, assignees, workers):
	"""The rule applied to 24 deals (20 above 50): each of those gets one ToDo from the rule, shared
	round robin; the others none; RQ saw one job per chunk, not one per deal."""
	_, names = make_deals(20, amount=100)
	_, small = make_deals(4, amount=10)
	result = enqueue(doctype=DEAL, action="apply_assignment_rule", ids=names + small, chunk_size=12)
	assert len(rq_jobs_of(result["bulk_job"])) == 2
	workers.start(1)
	done = wait_for_job(result["bulk_job"])
	assert (done.status, done.succeeded) == ("Completed", 24)
	todos = _todos(names + small, status="Open")
	assert sorted(t.reference_name for t in todos) == sorted(names)
	assert {t.assignment_rule for t in todos} == {deal_rule}
	counts = [sum(1 for t in todos if t.allocated_to == u) for u in assignees]
	assert sum(counts) == 20 and min(counts) >= 5, counts


def test_apply_assignment_rule_is_offered_only_where_a_rule_exists(site):
	"""No enabled Assignment Rule on BQ Claim: not offered, and refused when asked for."""
	actions = {a["name"] for a in get_bulk_options(doctype=CLAIM)["actions"]}
	assert "apply_assignment_rule" not in actions and "assign_to" in actions
	_, names = make_claims(1)
	with pytest.raises(
		frappe.ValidationError, match=r"not available.*BQ Claim has no enabled Assignment Rule"
	):
		enqueue(doctype=CLAIM, action="apply_assignment_rule", ids=names)


# -- tags -------------------------------------------------------------------------------------------


def _tags(names: list[str]) -> dict[str, list[str]]:
	frappe.db.rollback()
	rows = frappe.get_all(DEAL, {"name": ("in", names)}, ["name", "_user_tags"])
	return {row.name: [t for t in (row._user_tags or "").split(",") if t] for row in rows}


def test_add_and_remove_tags_through_frappes_tags(workers):
	"""Add Tags with a new tag on 20 deals from two workers: each deal has it once (a Tag record made
	once, one Tag Link per deal), also after running it again; Remove Tags takes it off."""
	_, names = make_deals(20)
	new_tag = f"bq-new-{uuid.uuid4().hex[:6]}"
	workers.start(2)
	for _ in range(2):
		done = wait_for_job(
			enqueue(
				doctype=DEAL, action="add_tags", ids=names, values={"tags": [new_tag, "urgent"]}, chunk_size=5
			)["bulk_job"]
		)
		assert (done.status, done.succeeded) == ("Completed", 20), failures(done.name)
	assert all(sorted(tags) == sorted([new_tag, "urgent"]) for tags in _tags(names).values())
	assert frappe.db.count("Tag", {"name": new_tag}) == 1
	assert (
		frappe.db.count("Tag Link", {"document_type": DEAL, "document_name": ("in", names), "tag": new_tag})
		== 20
	)
	removed = wait_for_job(
		enqueue(doctype=DEAL, action="remove_tags", ids=names, values={"tags": [new_tag]})["bulk_job"]
	)
	assert removed.status == "Completed"
	assert set(map(tuple, _tags(names).values())) == {("urgent",)}
	assert (
		frappe.db.count("Tag Link", {"document_type": DEAL, "document_name": ("in", names), "tag": new_tag})
		== 0
	)


# -- checks and dry runs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
	("action", "values", "message"),
	[
		("assign_to", {}, "assign_to must be a list"),
		("assign_to", {"assign_to": ["nobody-here@example.com"]}, "No enabled user"),
		("assign_to", {"assign_to": ["Administrator"], "priority": "Urgent"}, "priority must be one of"),
		("assign_to", {"assign_to": ["Administrator"], "owner": "x"}, "not owner"),
		("clear_assignment", {"assign_to": "nobody-here@example.com"}, "No enabled user"),
		("add_tags", {"tags": []}, "tags must be a list"),
		("remove_tags", {"tags": "a", "other": 1}, "only tags"),
		("apply_workflow", {}, "not available"),
	],
)
def test_bad_values_are_refused_before_anything_is_recorded(action, values, message):
	"""Values an action cannot use get a clear error and no job."""
	_, names = make_deals(1)
	before = frappe.db.count("Bulk Queue Job")
	with pytest.raises(frappe.ValidationError, match=message):
		enqueue(doctype=DEAL, action=action, ids=names, values=values)
	assert frappe.db.count("Bulk Queue Job") == before


def test_a_dry_run_shows_assignments_and_tags_and_keeps_nothing(assignees):
	"""The dry run of Assign To and Add Tags shows the change of Assigned To and Tags; no ToDo, tag or
	notification is left."""
	first, _ = assignees
	_, names = make_deals(2)
	assign = preview_bulk(doctype=DEAL, action="assign_to", ids=names, values={"assign_to": [first]})
	tags = preview_bulk(doctype=DEAL, action="add_tags", ids=names, values={"tags": ["bq-preview-tag"]})
	assert [c for r in assign["records"] for c in r["changes"]] == [
		{"field": "_assign", "label": "Assigned To", "old": None, "new": first}
	] * 2
	assert {c["new"] for r in tags["records"] for c in r["changes"]} == {"bq-preview-tag"}
	assert _todos(names) == []
	assert not frappe.db.exists("Tag", "bq-preview-tag")
	assert all(tags == [] for tags in _tags(names).values())


def test_a_user_without_write_is_not_offered_assignments_or_tags(site):
	"""Assignments and tags need write, as Desk's own list actions: a reader is not offered them."""
	reader = ensure_user("bq-reader@example.com", ["Blogger"])
	frappe.set_user(reader)
	try:
		actions = {a["name"] for a in get_bulk_options(doctype="ToDo")["actions"]}
	finally:
		frappe.set_user("Administrator")
	assert {"assign_to", "add_tags"} <= actions  # Blogger may write its own ToDos...
	frappe.set_user(reader)
	try:
		offered = {a["name"] for a in get_bulk_options(doctype="Role")["actions"]}
	finally:
		frappe.set_user("Administrator")
	assert not offered & {"assign_to", "clear_assignment", "add_tags", "remove_tags"}
