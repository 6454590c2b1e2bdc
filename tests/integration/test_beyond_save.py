# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Nothing Frappe's save would refuse gets through the paths around it: the fast path and the dry run
check, hide and refuse what a save does, Password values are never kept in clear, and an action that
commits by itself is still applied once.

Run on BQ Deal, shaped like the records people run bulk jobs on: a Link restricted by User
Permissions, a Password, fields only its controller sets (read-only, "Read Only", hidden, virtual),
one that can be set only once, a permlevel-1 field recomputed on save, a ``has_permission`` hook that
reads a field a job may change, a ``doc_events`` hook, attachments."""

from __future__ import annotations

import json
import os
import time
import uuid

import frappe
import pytest

from bulk_queue.api.bulk import get_bulk_options, preview_bulk
from bulk_queue.secrets import MASK

from .conftest import (
	BENCH,
	_insert_rows,
	assert_exactly_once,
	counters,
	enqueue,
	ensure_user,
	failures,
	make_records,
	wait_for_job,
	wait_until,
	write_atomically,
)

DEAL = "BQ Deal"


def make_deals(count: int, *, owner: str = "Administrator", **values) -> tuple[str, list[str]]:
	"""Insert ``count`` deals (in North unless told) and commit; returns (tag, names)."""
	_regions()
	row = {"title": "", "region": "North", "amount": 100, "note": "", "margin": 10, "computed": ""}
	row.update(values)
	return _insert_rows(DEAL, count, owner, lambda tag, i: {**row, "tag": tag, "title": f"{tag}-{i}"})


def _regions() -> None:
	for region in ("North", "South"):
		if not frappe.db.exists("BQ Region", region):
			frappe.get_doc({"doctype": "BQ Region", "region_name": region}).insert(ignore_permissions=True)
	frappe.db.commit()


def _deals(names: list[str], *fields: str) -> dict[str, frappe._dict]:
	frappe.db.rollback()
	rows = frappe.get_all(DEAL, {"name": ("in", names)}, ["name", *fields])
	return {row.name: row for row in rows}


def _counts() -> tuple[int, int]:
	frappe.db.rollback()
	return frappe.db.count("Bulk Queue Job"), frappe.db.count("Bulk Queue Chunk")


@pytest.fixture
def deal_user(bq_settings):
	"""An ordinary user (Blogger: writes deals at permlevel 0 only) who may use the fast path."""
	bq_settings(fast_path_roles=["Blogger"])
	user = ensure_user(f"bq-deal-{uuid.uuid4().hex[:8]}@example.com", ["Blogger"])
	yield user
	frappe.set_user("Administrator")
	frappe.db.delete("User Permission", {"user": user})
	frappe.db.commit()


def _restrict_to_north(user: str) -> None:
	_regions()
	frappe.get_doc(
		{"doctype": "User Permission", "user": user, "allow": "BQ Region", "for_value": "North"}
	).insert(ignore_permissions=True)
	frappe.db.commit()


def _outcomes(job: str, names: list[str]) -> dict[str, str]:
	"""Each record's outcome in a finished job: the failure's exception type, or "ok"."""
	failed = {f.reference_name: f.exception_type for f in failures(job)}
	return {name: failed.get(name, "ok") for name in names}


# -- the fast path decides on the record as it will be -----------------------------------------------


def test_a_link_value_outside_user_permissions_is_refused_at_enqueue(deal_user):
	"""A user limited to Region North asks for South: both Set Value and the fast path are refused at
	once (403), naming the field and the value; no job is recorded."""
	_restrict_to_north(deal_user)
	_, names = make_deals(5, owner=deal_user)
	before = _counts()
	frappe.set_user(deal_user)
	for action in ("set_value", "set_value_fast"):
		with pytest.raises(frappe.PermissionError, match=r"Region.*South"):
			enqueue(doctype=DEAL, action=action, ids=names, values={"region": "South"})
	frappe.set_user("Administrator")
	assert _counts() == before


def test_new_link_values_are_checked_in_the_worker_like_a_save(deal_user, workers):
	"""User Permissions given after the jobs were accepted: the fast path fails every record with a
	permission error, exactly as Set Value's save does on the same records; nothing moves to South."""
	_, save_names = make_deals(5, owner=deal_user)
	_, fast_names = make_deals(5, owner=deal_user)
	frappe.set_user(deal_user)
	save = enqueue(doctype=DEAL, action="set_value", ids=save_names, values={"region": "South"})
	fast = enqueue(doctype=DEAL, action="set_value_fast", ids=fast_names, values={"region": "South"})
	frappe.set_user("Administrator")
	_restrict_to_north(deal_user)
	workers.start(1)
	for job, names in ((save, save_names), (fast, fast_names)):
		done = wait_for_job(job["bulk_job"])
		assert (done.status, done.failed) == ("Failed", 5)
		assert set(_outcomes(done.name, names).values()) == {"PermissionError"}
		assert {row.region for row in _deals(names, "region").values()} == {"North"}
	reasons = {f.error for f in failures(fast["bulk_job"])}
	assert all("South" in reason for reason in reasons), reasons


def test_a_permission_hook_sees_the_new_values(deal_user, workers):
	"""A ``has_permission`` hook that refuses deals noted "forbidden": the fast path and Set Value
	fail the same records; an allowed note goes through on both."""
	_, names = make_deals(6, owner=deal_user)
	groups = {
		("set_value", "forbidden"): names[0:3],
		("set_value_fast", "forbidden"): names[3:6],
	}
	_, allowed = make_deals(4, owner=deal_user)
	groups[("set_value", "fine")] = allowed[0:2]
	groups[("set_value_fast", "fine")] = allowed[2:4]
	frappe.set_user(deal_user)
	jobs = {
		key: enqueue(doctype=DEAL, action=key[0], ids=ids, values={"note": key[1]})["bulk_job"]
		for key, ids in groups.items()
	}
	frappe.set_user("Administrator")
	workers.start(1)
	outcomes = {key: _outcomes(wait_for_job(job).name, groups[key]) for key, job in jobs.items()}
	for action in ("set_value", "set_value_fast"):
		assert set(outcomes[(action, "forbidden")].values()) == {"PermissionError"}, action
		assert set(outcomes[(action, "fine")].values()) == {"ok"}, action
	notes = {row.name: row.note for row in _deals(names + allowed, "note").values()}
	assert [notes[n] for n in names] == [""] * 6 or [notes[n] for n in names] == [None] * 6
	assert {notes[n] for n in allowed} == {"fine"}


# -- what the fast path refuses -------------------------------------------------------------------


@pytest.mark.parametrize(
	"doctype, values, message",
	[
		(DEAL, {"computed": "forged"}, "cannot be typed into"),
		(DEAL, {"summary": "forged"}, "cannot be typed into"),
		(DEAL, {"internal_ref": "x"}, "cannot be typed into"),
		(DEAL, {"display_title": "x"}, "is not a field that can be set"),
		(DEAL, {"code": "C-1"}, "can be set only when a record is created"),
		(DEAL, {"deal_pass": "x"}, "is stored by its controller"),
		("ToDo", {"status": "Closed"}, "assignments"),
		("ToDo", {"allocated_to": "Administrator"}, "assignments"),
		("ToDo", {"role": "No Such Role Anywhere"}, "does not exist"),
		("BQ Territory", {"parent_bq_territory": "All BQ Territories"}, "tree"),
		("BQ Territory", {"is_group": 1}, "tree"),
		("BQ Territory", {"lft": 5}, "tree"),
		("BQ Org Unit", {"reports_to": "Top"}, "tree"),
		(DEAL, {"quantity": -1}, "cannot be negative"),
		(DEAL, {"contact_email": "not-an-email"}, "not a valid"),
		("BQ Region", {"enabled": 0}, "regions feed a cache"),
		(DEAL, {"amount": 5}, "reprices the deal"),
		("Webhook", {"enabled": 0}, "cannot be changed without its controller"),
		("Notification", {"enabled": 0}, "cannot be changed without its controller"),
		("Assignment Rule", {"disabled": 1}, "cannot be changed without its controller"),
	],
)
def test_the_fast_path_refuses_what_its_skipped_controller_decides(doctype, values, message):
	"""Fields a person cannot type into, set-once fields, fields a controller mirrors elsewhere, a
	tree's structure and DocTypes whose controllers keep other data in step: refused with the reason,
	nothing recorded."""
	before = _counts()
	with pytest.raises(frappe.ValidationError, match=message):
		enqueue(doctype=doctype, action="set_value_fast", ids=["any"], values=values)
	assert _counts() == before


def test_a_link_value_is_stored_as_the_record_is_named(workers):
	"""A Link value typed in another letter case is stored as the linked record is named, as a save
	does (User Permissions compare names exactly)."""
	_, names = make_deals(2)
	job = enqueue(doctype=DEAL, action="set_value_fast", ids=names, values={"region": "south"})
	workers.start(1)
	assert wait_for_job(job["bulk_job"]).status == "Completed"
	assert {row.region for row in _deals(names, "region").values()} == {"South"}


def test_a_set_once_field_is_refused_by_a_save_too(workers):
	"""What the fast path refuses for Code, a save refuses on every existing record, empty or not."""
	_, names = make_deals(2)
	frappe.db.set_value(DEAL, names[0], "code", "C-0")
	frappe.db.commit()
	job = enqueue(doctype=DEAL, action="set_value", ids=names, values={"code": "C-9"})
	workers.start(1)
	done = wait_for_job(job["bulk_job"])
	assert set(_outcomes(done.name, names).values()) == {"CannotChangeConstantError"}


def test_the_fast_path_is_for_system_managers_unless_settings_name_a_role(bq_settings):
	"""An ordinary user is not offered the fast path and is refused it (403); once Bulk Queue Settings
	name their role, they are offered it and may start it."""
	_, names = make_records(2)
	user = ensure_user(f"bq-power-{uuid.uuid4().hex[:8]}@example.com", ["Blogger"])
	frappe.set_user(user)
	try:
		offered = [a["name"] for a in get_bulk_options("BQ Test Record")["actions"]]
		assert "set_value" in offered and "set_value_fast" not in offered
		with pytest.raises(frappe.PermissionError, match="System Manager"):
			enqueue(doctype="BQ Test Record", action="set_value_fast", ids=names, values={"stage": "Done"})
		frappe.set_user("Administrator")
		bq_settings(fast_path_roles=["Blogger"])
		frappe.set_user(user)
		offered = [a["name"] for a in get_bulk_options("BQ Test Record")["actions"]]
		assert "set_value_fast" in offered
		result = enqueue(
			doctype="BQ Test Record", action="set_value_fast", ids=names, values={"stage": "Done"}
		)
		assert result["bulk_job"]
	finally:
		frappe.set_user("Administrator")


def test_what_the_fast_path_skips_is_named(site):
	"""The dialog's options, the API's answer and the job record name what a save runs on BQ Deal and
	the fast path does not: its controller's methods and installed apps' hooks, with the app."""
	options = get_bulk_options(DEAL)
	fast = next(a for a in options["actions"] if a["name"] == "set_value_fast")
	skips = {(s["kind"], s["name"], s["source"]) for s in fast["skips"]}
	assert ("controller", "BQDeal.validate", "bulk_queue_fixtures") in skips
	assert ("hook", "on_update: bulk_queue_fixtures.actions.deal_on_update", "bulk_queue_fixtures") in skips
	assert any(kind == "hook" and source == "frappe" for kind, _, source in skips)
	assert "code" in fast["refused_fields"] and "note" not in fast["refused_fields"]
	assert "skips" not in next(a for a in options["actions"] if a["name"] == "set_value")

	_, names = make_deals(2)
	result = enqueue(doctype=DEAL, action="set_value_fast", ids=names, values={"note": "n"})
	assert {(s["kind"], s["name"], s["source"]) for s in result["skips"]} == skips
	stored = frappe.db.get_value("Bulk Queue Job", result["bulk_job"], "skipped")
	assert "BQDeal.validate (bulk_queue_fixtures)" in stored
	assert "deal_on_update" in stored


# -- Server Scripts -------------------------------------------------------------------------------


@pytest.fixture
def server_script(site):
	"""``server_script(event, script[, doctype])``: a DocType Event Server Script (on BQ Deal unless
	told), with Server Scripts
	enabled in common_site_config.json (the only place Frappe v15 reads that switch) for this test."""
	path = BENCH / "sites" / "common_site_config.json"
	original = path.read_text()
	write_atomically(path, json.dumps({**json.loads(original), "server_script_enabled": 1}, indent=1))
	created = []

	def make(event: str, script: str, doctype: str = DEAL) -> str:
		doc = frappe.get_doc(
			{
				"doctype": "Server Script",
				"name": f"{doctype} {event} {uuid.uuid4().hex[:6]}",
				"script_type": "DocType Event",
				"reference_doctype": doctype,
				"doctype_event": event,
				"script": script,
			}
		).insert(ignore_permissions=True)
		frappe.db.commit()
		created.append(doc.name)
		return doc.name

	try:
		yield make
	finally:
		frappe.db.rollback()
		for name in created:
			frappe.delete_doc("Server Script", name, ignore_permissions=True, force=True)
		frappe.db.commit()
		write_atomically(path, original)


def test_a_server_script_is_named_among_what_the_fast_path_skips(server_script):
	"""An enabled "Before Save" Server Script on the DocType is listed, by name, as skipped."""
	name = server_script("Before Save", "doc.note = (doc.note or '') + '!'")
	fast = next(a for a in get_bulk_options(DEAL)["actions"] if a["name"] == "set_value_fast")
	assert ("server_script", name, "Server Script") in {
		(s["kind"], s["name"], s["source"]) for s in fast["skips"]
	}


def test_a_dry_run_runs_server_scripts_but_sends_nothing_they_enqueue(server_script):
	"""A "Before Save" Server Script that recomputes the permlevel-1 Margin and enqueues a background
	job: the dry run shows the script's change to a System Manager, keeps Margin from a user who may not
	read it, and nothing reaches the queue."""
	from frappe.utils.background_jobs import get_queue

	server_script(
		"Before Save",
		"doc.margin = 4242\nfrappe.enqueue('frappe.ping', queue='short')",
	)
	user = ensure_user(f"bq-deal-script-{uuid.uuid4().hex[:8]}@example.com", ["Blogger"])
	_, names = make_deals(2, owner=user)

	def queued() -> int:
		return sum(len(get_queue(q)) for q in ("short", "default", "long"))

	before = queued()
	mine = preview_bulk(doctype=DEAL, action="set_value", ids=names, values={"note": "n2"})
	frappe.set_user(user)
	try:
		theirs = preview_bulk(doctype=DEAL, action="set_value", ids=names, values={"note": "n2"})
	finally:
		frappe.set_user("Administrator")
	assert queued() == before, "a job the Server Script enqueued reached the queue"
	assert mine["would_fail"] == 0 and theirs["would_fail"] == 0
	for record in mine["records"]:
		margin = [c["new"] for c in record["changes"] if c["field"] == "margin"]
		assert margin == [4242], record
	for record in theirs["records"]:
		assert "margin" not in {c["field"] for c in record["changes"]}, record


# -- passwords ------------------------------------------------------------------------------------


def _text_columns_containing(needle: str) -> list[str]:
	"""``table.column`` of every bulk_queue table, Error Log and Activity Log holding ``needle``."""
	frappe.db.rollback()
	columns = frappe.db.sql(
		"""select table_name, column_name from information_schema.columns
		where table_schema=database() and data_type in ('varchar', 'text', 'longtext', 'mediumtext')
		and (table_name like 'tabBulk Queue%%' or table_name in ('tabError Log', 'tabActivity Log'))"""
	)
	found = []
	for table, column in columns:
		hit = frappe.db.sql(f"select 1 from `{table}` where `{column}` like %s limit 1", f"%{needle}%")
		if hit:
			found.append(f"{table}.{column}")
	return found


def test_password_values_are_never_kept_in_clear(workers):
	"""Set Value on a Password field: the records get it (Frappe's encryption); the job keeps it
	masked and sealed, its fingerprint and every bulk_queue table, log, error and preview are free of
	it - even where a validation put it in its error message."""
	password = f"hunter2-{uuid.uuid4().hex[:8]}"
	_, names = make_deals(3)
	frappe.db.set_value(DEAL, names[2], "note", "echo-pass")
	frappe.db.commit()

	preview = preview_bulk(doctype=DEAL, action="set_value", ids=names, values={"deal_pass": password})
	assert password not in json.dumps(preview, default=str)
	first = next(r for r in preview["records"] if r["name"] == names[0])
	assert first["error"] is None, first
	secret = [(c["old"], c["new"]) for c in first["changes"] if c["field"] == "deal_pass"]
	assert secret == [(None, MASK)]
	assert MASK in next(r for r in preview["records"] if r["name"] == names[2])["error"]

	job = enqueue(doctype=DEAL, action="set_value", ids=names, values={"deal_pass": password})
	again = enqueue(doctype=DEAL, action="set_value", ids=names, values={"deal_pass": password})
	assert again["existing"] and again["bulk_job"] == job["bulk_job"]
	stored = frappe.db.get_value("Bulk Queue Job", job["bulk_job"], ["values", "sealed_values"], as_dict=True)
	assert json.loads(stored["values"]) == {"deal_pass": MASK} and stored["sealed_values"]

	workers.start(1)
	done = wait_for_job(job["bulk_job"])
	assert (done.succeeded, done.failed) == (2, 1)
	from frappe.utils.password import get_decrypted_password

	assert get_decrypted_password(DEAL, names[0], "deal_pass") == password
	(failure,) = failures(done.name)
	error = frappe.db.get_value(
		"Bulk Queue Error", failure.error_group, ["message", "example", "traceback"], as_dict=True
	)
	assert MASK in failure.error and password not in failure.error + "".join(v or "" for v in error.values())
	assert _text_columns_containing(password) == []


# -- the dry run ----------------------------------------------------------------------------------


def _attach(name: str, private: bool) -> str:
	"""Attach a small file to deal ``name``; returns its path on disk."""
	file = frappe.get_doc(
		{
			"doctype": "File",
			"file_name": f"{name}-{'private' if private else 'public'}.txt",
			"attached_to_doctype": DEAL,
			"attached_to_name": name,
			"is_private": int(private),
			"content": f"{name} {uuid.uuid4().hex}",
		}
	).insert(ignore_permissions=True)
	return file.get_full_path()


def test_a_dry_run_leaves_files_on_disk(site):
	"""Previewing Delete, and an action that deletes attachments, on deals with a public and a private
	file each: every file is still on disk, every row still there; Delete's preview lists the record and
	its attachments."""
	_, names = make_deals(3)
	paths = [_attach(name, private) for name in names for private in (False, True)]
	frappe.db.commit()
	files_before = frappe.db.count("File", {"attached_to_doctype": DEAL, "attached_to_name": ("in", names)})
	assert files_before == 6 and all(os.path.exists(p) for p in paths)

	deleted = preview_bulk(doctype=DEAL, action="delete", ids=names)
	removed = preview_bulk(doctype=DEAL, action="remove_attachments", ids=names)
	frappe.db.commit()

	missing = [p for p in paths if not os.path.exists(p)]
	assert not missing, f"the dry run removed {missing}"
	assert frappe.db.count(DEAL, {"name": ("in", names)}) == 3
	assert frappe.db.count("File", {"attached_to_doctype": DEAL, "attached_to_name": ("in", names)}) == 6
	assert deleted["would_fail"] == 0 and removed["would_fail"] == 0
	for record in deleted["records"]:
		changes = {c["field"]: c for c in record["changes"]}
		assert changes["name"]["new"] == "(deleted)"
		assert f"{record['name']}-public.txt (public)" in changes["_attachments"]["old"]
		assert f"{record['name']}-private.txt (private)" in changes["_attachments"]["old"]


def test_a_dry_run_removes_the_files_a_failed_record_wrote(site):
	"""A previewed record writes a file and then fails: its file does not stay behind on disk."""
	from pathlib import Path

	_, names = make_deals(2)
	folders = [Path(frappe.get_site_path(kind, "files")) for kind in ("public", "private")]

	def generated():
		return [p for folder in folders for name in names for p in folder.glob(f"{name}-generated*")]

	result = preview_bulk(doctype=DEAL, action="attach_then_fail", ids=names)
	assert result["would_fail"] == 2
	assert generated() == []


def test_a_dry_run_of_delete_says_what_blocks_it(site):
	"""A record other records link to: Delete's preview fails it with Frappe's own reason."""
	make_deals(1, region="South")
	result = preview_bulk(doctype="BQ Region", action="delete", ids=["South"])
	(record,) = result["records"]
	assert record["exception_type"] == "LinkExistsError"
	assert frappe.db.exists("BQ Region", "South")


def test_a_dry_run_shows_only_what_the_requester_may_read(deal_user):
	"""An ordinary user previews a new note: the Margin it recomputes (permlevel 1, which they cannot
	read) is not shown, old or new; a System Manager sees it."""
	_, names = make_deals(2, owner=deal_user)
	frappe.set_user(deal_user)
	try:
		theirs = preview_bulk(doctype=DEAL, action="set_value", ids=names, values={"note": "n1"})
	finally:
		frappe.set_user("Administrator")
	mine = preview_bulk(doctype=DEAL, action="set_value", ids=names, values={"note": "n1"})
	for result, sees_margin in ((theirs, False), (mine, True)):
		assert result["would_fail"] == 0, result
		for record in result["records"]:
			fields = {c["field"] for c in record["changes"]}
			assert "note" in fields
			assert ("margin" in fields) is sees_margin, (sees_margin, record)


# -- an action that commits by itself -------------------------------------------------------------


def test_an_action_that_commits_is_counted_once_across_chained_chunks(workers):
	"""A committing action over several chunks that one work horse takes one after another: every
	record applied once, and the job's counters say exactly that."""
	tag, names = make_records(20)
	job = enqueue(doctype="BQ Test Record", action="commit_then_die", ids=names, chunk_size=4)
	workers.start(1)
	done = wait_for_job(job["bulk_job"], timeout=180)
	assert_exactly_once(tag, done)
	assert (done.status, done.total) == ("Completed", 20)


def test_a_cancelled_job_fences_the_actions_own_commit(workers):
	"""The job is cancelled while an action that commits by itself is working on a record: its commit
	is refused (even when it catches the error and tries again), the record is left as it was, and the
	counters match the records."""
	from bulk_queue.api.bulk import cancel_bulk_job

	tag, names = make_records(3)
	job = enqueue(
		doctype="BQ Test Record", action="sleep_then_commit", ids=names, values={"sleep": 3}, chunk_size=3
	)["bulk_job"]
	workers.start(1)
	wait_until(
		lambda: frappe.db.get_value("Bulk Queue Chunk", {"bulk_job": job}, "status") == "Running",
		timeout=60,
		interval=0.1,
		message="the chunk running",
	)
	cancel_bulk_job(job)
	done = wait_for_job(job)
	time.sleep(4)  # past the action's commit
	assert done.status == "Cancelled"
	values = counters(tag)
	assert set(values.values()) == {0}, values
	frappe.db.rollback()
	final = frappe.db.get_value("Bulk Queue Job", job, ["processed", "succeeded"], as_dict=True)
	assert (final.processed, final.succeeded) == (0, 0)


def test_a_traceback_never_shows_a_password_value(site):
	"""Frappe's with-context traceback (what the Error Log keeps of a crashed job or request) prints
	local variables; a job's Password values appear in it as the mask."""
	from bulk_queue import secrets

	meta = frappe.get_meta(DEAL)
	password = f"hunter2-{uuid.uuid4().hex[:8]}"
	shown, sealed = secrets.seal(meta, secrets.protect(meta, {"deal_pass": password, "note": "n"}))
	values = secrets.unseal(shown, sealed)
	assert values["deal_pass"] == password
	try:
		raise RuntimeError("boom")
	except RuntimeError:
		traceback = frappe.get_traceback(with_context=True)
	assert "values" in traceback and password not in traceback


def test_an_action_that_commits_is_applied_once_when_killed_right_after(workers):
	"""The work horse dies right after the action's own commit: the record is not applied again (the
	commit carried the watermark), every record is applied exactly once and the job completes."""
	tag, names = make_records(12)
	job = enqueue(
		doctype="BQ Test Record",
		action="commit_then_die",
		ids=names,
		values={"kill": names[5]},
		chunk_size=12,
	)
	workers.start(1)
	done = wait_for_job(job["bulk_job"], timeout=180)
	assert_exactly_once(tag, done)
	assert done.status == "Completed"
