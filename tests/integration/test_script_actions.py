# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Server Script actions: a bulk action without an app. A Server Script of type API, listed in Bulk
Queue Settings, runs per record in Frappe's safe execution environment as the requester, with ``doc``
and the job's ``values``, inside the job's savepoint."""

from __future__ import annotations

import json
import uuid

import frappe
import pytest

from bulk_queue.actions.server_script import action_name
from bulk_queue.api.bulk import get_bulk_options, preview_bulk

from .conftest import BENCH, enqueue, ensure_user, failures, wait_for_job, write_atomically
from .test_child_rows import ORDER, make_order, warehouses

RAISE_QTY = """
if doc.title == values.get("refuse"):
    frappe.throw("Refused by the script: " + doc.title)
if not doc.items:
    skip = "no items"
else:
    for row in doc.items:
        row.qty = (row.qty or 0) + values.get("by", 1)
    doc.save()
"""


@pytest.fixture
def scripts_enabled(site):
	"""Server scripts enabled in common_site_config.json (Frappe's only switch for them) for one test."""
	path = BENCH / "sites" / "common_site_config.json"
	original = path.read_text()
	write_atomically(path, json.dumps({**json.loads(original), "server_script_enabled": 1}, indent=1))
	yield
	write_atomically(path, original)


@pytest.fixture
def script_action(site, bq_settings):
	"""``script_action(code, doctype=ORDER, ptype="write")``: a Server Script of type API listed as a
	bulk action on ``doctype``; returns the action's name."""
	created = []

	def make(code: str, doctype: str = ORDER, ptype: str = "write") -> str:
		name = f"BQ Script {uuid.uuid4().hex[:6]}"
		frappe.get_doc(
			{
				"doctype": "Server Script",
				"name": name,
				"script_type": "API",
				"api_method": f"bq_script_{uuid.uuid4().hex[:6]}",
				"script": code,
			}
		).insert(ignore_permissions=True)
		frappe.db.commit()
		created.append(name)
		settings = frappe.get_single("Bulk Queue Settings")
		settings.append(
			"script_actions",
			{"server_script": name, "document_type": doctype, "label": "Raise Qty", "ptype": ptype},
		)
		settings.save()
		frappe.db.commit()
		return action_name(name)

	yield make
	frappe.db.rollback()
	settings = frappe.get_single("Bulk Queue Settings")
	settings.set("script_actions", [])
	settings.save()
	for name in created:
		frappe.delete_doc("Server Script", name, ignore_permissions=True, force=True)
	frappe.db.commit()


def orders(count: int, *, empty: int = 0) -> tuple[str, list[str]]:
	warehouses("Stores")
	tag = f"bq-{uuid.uuid4().hex[:8]}"
	names = [
		make_order(f"{tag}-{i}", [] if i < empty else [{"item": "Bolt", "warehouse": "Stores", "qty": 1}])
		for i in range(count)
	]
	return tag, names


def test_a_script_action_runs_per_record_as_the_requester_and_one_record_fails(
	scripts_enabled, script_action, workers
):
	"""An ordinary user runs the script on five orders: the script's change is saved (totals by the
	order's own validate), the record it refuses fails with its message, the order without items is
	left as is; each record once."""
	action = script_action(RAISE_QTY)
	tag, names = orders(5, empty=1)
	user = ensure_user(f"bq-script-{uuid.uuid4().hex[:8]}@example.com", ["Blogger"])
	frappe.set_user(user)
	options = get_bulk_options(doctype=ORDER, ids=names)
	assert action in {a["name"] for a in options["actions"]}
	workers.start(1)
	job = enqueue(doctype=ORDER, action=action, ids=names, values={"by": 4, "refuse": f"{tag}-2"})
	frappe.set_user("Administrator")
	done = wait_for_job(job["bulk_job"])
	assert (done.status, done.succeeded, done.failed, done.unchanged) == ("Completed with Errors", 4, 1, 1)
	[failure] = failures(job["bulk_job"])
	assert failure.reference_name == names[2] and f"Refused by the script: {tag}-2" in failure.error
	qty = {n: frappe.db.get_value(ORDER, n, "total_qty") for n in names}
	assert qty == {names[0]: 0, names[1]: 5, names[2]: 1, names[3]: 5, names[4]: 5}
	assert frappe.db.get_value(ORDER, names[1], "modified_by") == user


def test_a_script_cannot_commit(scripts_enabled, script_action, workers):
	"""``frappe.db.commit`` is not there for it (as for a DocType Event script): the record fails,
	rolled back."""
	action = script_action("doc.title = 'changed'\ndoc.save()\nfrappe.db.commit()")
	_tag, names = orders(2)
	workers.start(1)
	job = enqueue(doctype=ORDER, action=action, ids=names)
	done = wait_for_job(job["bulk_job"])
	assert (done.status, done.failed) == ("Failed", 2)  # every record failed
	assert all("commit" in f.error for f in failures(job["bulk_job"])), failures(job["bulk_job"])
	assert all(frappe.db.get_value(ORDER, n, "title") != "changed" for n in names)


def test_a_dry_run_runs_the_script_and_keeps_nothing(scripts_enabled, script_action):
	"""The script runs in the dry run's rollback: its change and its skip are shown, nothing kept."""
	action = script_action(RAISE_QTY)
	_tag, names = orders(2, empty=1)
	result = preview_bulk(doctype=ORDER, action=action, ids=names, values={"by": 2})
	by_name = {r["name"]: r for r in result["records"]}
	assert by_name[names[0]]["skipped"] == "no items"
	assert ("Total Qty", 1, 3) in {(c["label"], c["old"], c["new"]) for c in by_name[names[1]]["changes"]}
	assert frappe.db.get_value(ORDER, names[1], "total_qty") == 1


def test_without_server_scripts_enabled_the_action_is_not_offered_and_is_refused_with_the_reason(
	script_action,
):
	"""The bench has server scripts off: the dialog does not list the action; a request says why."""
	action = script_action(RAISE_QTY)
	_tag, names = orders(1)
	assert action not in {a["name"] for a in get_bulk_options(doctype=ORDER, ids=names)["actions"]}
	with pytest.raises(frappe.ValidationError, match="server_script_enabled"):
		enqueue(doctype=ORDER, action=action, ids=names)


def test_a_script_action_is_offered_only_on_its_doctypes(scripts_enabled, script_action):
	"""Listed for BQ Order: not offered on ToDo, and a request for it there is refused."""
	action = script_action(RAISE_QTY)
	options = get_bulk_options(doctype="ToDo", ids=[])
	assert action not in {a["name"] for a in options["actions"]}
	with pytest.raises(frappe.ValidationError, match="not available"):
		enqueue(doctype="ToDo", action=action, ids=["x"])


def test_settings_refuse_a_script_that_is_not_of_type_api(site, bq_settings):
	"""Only an API script may be a bulk action (a DocType Event script runs on its own events)."""
	name = f"BQ Event {uuid.uuid4().hex[:6]}"
	frappe.get_doc(
		{
			"doctype": "Server Script",
			"name": name,
			"script_type": "DocType Event",
			"reference_doctype": ORDER,
			"doctype_event": "Before Save",
			"script": "pass",
		}
	).insert(ignore_permissions=True)
	settings = frappe.get_single("Bulk Queue Settings")
	settings.append("script_actions", {"server_script": name, "document_type": ORDER})
	with pytest.raises(frappe.ValidationError, match="type API"):
		settings.save()
	frappe.db.rollback()
