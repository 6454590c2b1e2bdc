# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""``set_value_fast``: batched SQL with an outcome per record, ``modified``/``modified_by``, the
requesting user's permissions and permlevels, and clear refusals where skipping controllers is unsafe."""

import frappe
import pytest

from .conftest import enqueue, ensure_user, failures, make_records, wait_for_job


def _counts():
	frappe.db.rollback()
	return frappe.db.count("Bulk Queue Job"), frappe.db.count("Bulk Queue Chunk")


def _rows(names):
	frappe.db.rollback()
	return {
		r.name: r
		for r in frappe.get_all(
			"BQ Test Record",
			filters={"name": ("in", names)},
			fields=["name", "stage", "counter", "modified", "modified_by"],
		)
	}


def test_outcome_per_record_and_modified(workers):
	"""Drafts get the value (even one whose validation would fail: no controller runs) with
	``modified``/``modified_by`` of the requester; a submitted record and a missing one are failed
	with their reason; nothing else changes."""
	user = ensure_user("bq-fast-manager@example.com", ["System Manager"])
	_, names = make_records(30)
	submitted, flagged = names[3], names[4]
	frappe.db.sql("update `tabBQ Test Record` set docstatus=1 where name=%s", submitted)
	frappe.db.sql("update `tabBQ Test Record` set fail_validation=1 where name=%s", flagged)
	frappe.db.commit()
	before = _rows(names)
	frappe.set_user(user)
	result = enqueue(
		doctype="BQ Test Record",
		action="set_value_fast",
		ids=[*names, "bq-no-such-record"],
		values={"stage": "Review"},
		chunk_size=7,
	)
	frappe.set_user("Administrator")
	workers.start(1)
	done = wait_for_job(result["bulk_job"], timeout=120)
	assert done.status == "Completed with Errors"
	assert (done.total, done.succeeded, done.failed) == (31, 29, 2)
	reasons = {f.reference_name: f.exception_type for f in failures(done.name)}
	assert reasons == {submitted: "ValidationError", "bq-no-such-record": "DoesNotExistError"}
	after = _rows(names)
	for name in names:
		if name == submitted:
			assert after[name] == before[name], "a submitted record is not touched"
			continue
		assert after[name].stage == "Review" and after[name].counter == 0
		assert after[name].modified_by == user and after[name].modified > before[name].modified


def test_user_permissions_are_applied_per_record(workers, bq_settings):
	"""A user restricted by User Permissions to some records: the others are failed with a
	permission error, never written."""
	bq_settings(fast_path_roles=["Blogger"])
	user = ensure_user("bq-fast-blogger@example.com", ["Blogger"])
	_, names = make_records(10)
	allowed = names[:4]
	created = []
	for name in allowed:
		perm = frappe.get_doc(
			{"doctype": "User Permission", "user": user, "allow": "BQ Test Record", "for_value": name}
		).insert(ignore_permissions=True)
		created.append(perm.name)
	frappe.db.commit()
	try:
		frappe.set_user(user)
		result = enqueue(
			doctype="BQ Test Record", action="set_value_fast", ids=names, values={"stage": "Done"}
		)
		frappe.set_user("Administrator")
		workers.start(1)
		done = wait_for_job(result["bulk_job"], timeout=120)
		assert (done.succeeded, done.failed) == (4, 6)
		assert {f.exception_type for f in failures(done.name)} == {"PermissionError"}
		stages = {n: r.stage for n, r in _rows(names).items()}
		assert [stages[n] for n in names] == ["Done"] * 4 + [None] * 6
	finally:
		frappe.set_user("Administrator")
		for name in created:
			frappe.delete_doc("User Permission", name, ignore_permissions=True)
		frappe.db.commit()


def test_field_above_permlevel_is_refused(bq_settings):
	"""A field above the user's permlevel is refused at enqueue: nothing recorded."""
	bq_settings(fast_path_roles=["Blogger"])
	user = ensure_user("bq-fast-blogger@example.com", ["Blogger"])
	_, names = make_records(3)
	before = _counts()
	frappe.set_user(user)
	try:
		with pytest.raises(frappe.PermissionError, match="permission to change field"):
			enqueue(doctype="BQ Test Record", action="set_value_fast", ids=names, values={"secret": "x"})
	finally:
		frappe.set_user("Administrator")
	assert _counts() == before


@pytest.mark.parametrize(
	"doctype, values, message",
	[
		("BQ Test Record", {"assignee": "Administrator"}, "is fetched into"),
		("BQ Test Record", {"assignee_name": "Someone"}, "is fetched from"),
		("BQ Test Record", {"stage": "Bogus"}, "is not one of the options"),
		("BQ Test Record", {"counter": "ten"}, "is not a valid value"),
		("BQ Test Record", {"counter": "1.5"}, "is not a valid value"),
		("BQ Test Record", {"api_secret": "hunter2"}, "is stored by its controller"),
		("ToDo", {"role": "nobody@nowhere.invalid"}, "does not exist"),
		("User", {"bio": "x"}, "cannot be changed without its controller"),
	],
)
def test_unsafe_requests_are_refused(doctype, values, message):
	"""What skipping the controller would get wrong is refused with the reason; nothing recorded."""
	ids = make_records(2)[1] if doctype == "BQ Test Record" else ["Administrator"]
	before = _counts()
	with pytest.raises(frappe.ValidationError, match=message):
		enqueue(doctype=doctype, action="set_value_fast", ids=ids, values=values)
	assert _counts() == before


def test_html_is_sanitized_as_a_save_would(workers):
	"""Markup that a save would strip (script handlers) is stripped once, at enqueue."""
	_, names = make_records(3)
	result = enqueue(
		doctype="BQ Test Record",
		action="set_value_fast",
		ids=names,
		values={"title": '<img src="x" onerror="alert(1)">hello'},
	)
	workers.start(1)
	assert wait_for_job(result["bulk_job"], timeout=60).status == "Completed"
	titles = set(frappe.get_all("BQ Test Record", {"name": ("in", names)}, pluck="title"))
	assert len(titles) == 1 and "onerror" not in titles.pop()
