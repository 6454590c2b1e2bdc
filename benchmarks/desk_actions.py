# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""The ``actions`` benchmark of ``scale.py``: each of Desk's own list actions against bulk_queue's, on
the same records, round by round, with one and two ``bench worker`` processes.

=====================  ============================================================  ===============
action                 Frappe's own way, timed as Desk runs it                        records
=====================  ============================================================  ===============
workflow transition    ``workflow._bulk_workflow_action`` in one process (what          ``--workflow``
                       ``bulk_workflow_approval`` runs, at most 500)                   (500)
assignment rule        ``assignment_rule.bulk_apply``: one RQ job per record, run by   ``--rule``
                       the same 1 or 2 workers, until every record is assigned         (1,000)
Assign To              ``assign_to.add_multiple`` in one process (the web request)     ``--assign``
Add Tags               ``tag.add_tags`` in one process (the web request)               ``--assign``
Print                  ``print_format._download_multi_pdf`` in one process (its        ``--print``
                       background job), against bulk_queue's PDF merged at the end    (200)
Export                 ``reportview.export_query`` to CSV in one process (the web     ``--export``
                       request)                                                        (20,000)
Rename                 ``rename_doc.bulk_rename`` in one process (what the Rename      ``--rename``
                       Tool's upload runs, at most 500 rows); then bulk_queue alone    (500), and
                       on ``--rename-large`` records, two workers                      (20,000)
=====================  ============================================================  ===============

Renames run on BQ Warehouse records, each linked from an order (its Default Warehouse) and from two of
its item rows, so every rename updates three links in two tables, besides Frappe's own (versions,
comments, attachments, dynamic links).

bulk_queue is timed from ``enqueue_bulk`` to the job's final status, and for Print and Export until its
file is merged. Both ways are timed until the queues are empty too: an assignment queues its
notification as a background job (Frappe's way and bulk_queue's alike), and that work is part of it.
Frappe's in-process ways run with one worker there to take those jobs. Needs the test DocTypes (``bulk_queue_fixtures``: BQ Claim, BQ Deal) and wkhtmltopdf;
a web server is started for the print view's styles, as a production site has one.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from scale import USER, record
from speed import wait_for

CLAIM = "BQ Claim"
DEAL = "BQ Deal"
WORKFLOW = "BQ Bench Approval"
RULE = "BQ Bench Rule"
ASSIGNEE = "bq-bench-assignee@example.com"
WAREHOUSE = "BQ Warehouse"
ORDER = "BQ Order"
ORDER_ITEM = "BQ Order Item"


def bench_actions(frappe, args, workers, rows) -> None:
	from failures import WebServer

	_setup(frappe)
	server = WebServer(Path(args.bench), frappe.local.site)
	from speed import set_site_config

	set_site_config(workers.config, "host_name", f"http://{frappe.local.site}:{server.port}")
	frappe.local.conf.host_name = f"http://{frappe.local.site}:{server.port}"
	try:
		workers.ensure(1, chain=True)
		_drain(frappe)  # what others left on the queues is not counted in the first scenario
		chosen = [a.strip() for a in args.actions.split(",") if a.strip()]
		for round_no in range(1, args.rounds + 1):
			for name in chosen:
				ACTIONS[name](frappe, args, workers, rows, round_no)
	finally:
		server.stop()
		_teardown(frappe)


# -- each action ---------------------------------------------------------------------------------------


def _workflow(frappe, args, workers, rows, round_no) -> None:
	from frappe.model.workflow import _bulk_workflow_action

	n = args.workflow
	workers.ensure(1, chain=True)
	names = _insert(frappe, CLAIM, n, workflow_state="Pending", amount=100)
	frappe.set_user(USER)
	started = time.perf_counter()
	_bulk_workflow_action(names, CLAIM, "Approve")
	frappe.db.commit()
	_drain(frappe)
	own = time.perf_counter() - started
	frappe.set_user("Administrator")
	_check(frappe, CLAIM, names, workflow_state="Approved", docstatus=1)
	record(rows, "actions", round_no, f"frappe_workflow_{n}", n, own)
	for count in (1, 2):
		workers.ensure(count, chain=True)
		names = _insert(frappe, CLAIM, n, workflow_state="Pending", amount=100)
		seconds = _run(frappe, CLAIM, "apply_workflow", names, {"action": "Approve"})
		_check(frappe, CLAIM, names, workflow_state="Approved", docstatus=1)
		_record_bq(rows, round_no, "workflow", count, n, seconds, own)


def _assignment_rule(frappe, args, workers, rows, round_no) -> None:
	from frappe.automation.doctype.assignment_rule.assignment_rule import bulk_apply

	n = args.rule
	for count in (1, 2):
		workers.ensure(count, chain=True)
		names = _insert(frappe, DEAL, n)
		frappe.set_user(USER)
		started = time.perf_counter()
		bulk_apply(DEAL, json.dumps(names))
		frappe.db.commit()
		_wait_assigned(frappe, names)
		_drain(frappe)
		own = time.perf_counter() - started
		frappe.set_user("Administrator")
		record(rows, "actions", round_no, f"frappe_rule_{count}w_{n}", n, own, note="one RQ job per record")
		names = _insert(frappe, DEAL, n)
		seconds = _run(frappe, DEAL, "apply_assignment_rule", names, {})
		_wait_assigned(frappe, names)
		_record_bq(rows, round_no, "rule", count, n, seconds, own, per_workers=True)


def _assign_to(frappe, args, workers, rows, round_no) -> None:
	from frappe.desk.form.assign_to import add_multiple

	n = args.assign
	workers.ensure(1, chain=True)
	names = _insert(frappe, DEAL, n)
	frappe.set_user(USER)
	started = time.perf_counter()
	add_multiple({"doctype": DEAL, "name": json.dumps(names), "assign_to": json.dumps([ASSIGNEE])})
	frappe.db.commit()
	_drain(frappe)
	own = time.perf_counter() - started
	frappe.set_user("Administrator")
	_wait_assigned(frappe, names, timeout=5)
	record(rows, "actions", round_no, f"frappe_assign_to_{n}", n, own)
	for count in (1, 2):
		workers.ensure(count, chain=True)
		names = _insert(frappe, DEAL, n)
		seconds = _run(frappe, DEAL, "assign_to", names, {"assign_to": [ASSIGNEE]})
		_wait_assigned(frappe, names, timeout=5)
		_record_bq(rows, round_no, "assign_to", count, n, seconds, own)


def _add_tags(frappe, args, workers, rows, round_no) -> None:
	from frappe.desk.doctype.tag.tag import add_tags

	n = args.assign
	tag = f"bench-{uuid.uuid4().hex[:6]}"
	workers.ensure(1, chain=True)
	names = _insert(frappe, DEAL, n)
	frappe.set_user(USER)
	started = time.perf_counter()
	add_tags(json.dumps([tag]), DEAL, json.dumps(names))
	frappe.db.commit()
	_drain(frappe)
	own = time.perf_counter() - started
	frappe.set_user("Administrator")
	_check_tagged(frappe, names, tag)
	record(rows, "actions", round_no, f"frappe_add_tags_{n}", n, own)
	for count in (1, 2):
		workers.ensure(count, chain=True)
		names = _insert(frappe, DEAL, n)
		seconds = _run(frappe, DEAL, "add_tags", names, {"tags": [tag]})
		_check_tagged(frappe, names, tag)
		_record_bq(rows, round_no, "add_tags", count, n, seconds, own)


def _print(frappe, args, workers, rows, round_no) -> None:
	from frappe.utils.print_format import _download_multi_pdf

	from bulk_queue.utils import files

	n = args.print
	workers.ensure(1, chain=True)
	names = _insert(frappe, CLAIM, n, workflow_state="Approved", docstatus=1)
	frappe.set_user(USER)
	started = time.perf_counter()
	_download_multi_pdf(CLAIM, json.dumps(names), "Standard")
	frappe.db.commit()
	_drain(frappe)
	own = time.perf_counter() - started
	pages = len(files.pdf_page_texts(bytes(frappe.local.response.filecontent)))
	frappe.set_user("Administrator")
	frappe.db.commit()
	assert pages == n, f"Frappe's PDF has {pages} pages for {n} records"
	record(rows, "actions", round_no, f"frappe_print_{n}", n, own)
	for count in (1, 2):
		workers.ensure(count, chain=True)
		names = _insert(frappe, CLAIM, n, workflow_state="Approved", docstatus=1)
		seconds, url = _run(frappe, CLAIM, "print_pdf", names, {"print_format": "Standard"}, output=True)
		pages = len(files.pdf_page_texts(_path(frappe, url)))
		assert pages == n, f"bulk_queue's PDF has {pages} pages for {n} records"
		_record_bq(rows, round_no, "print", count, n, seconds, own)


def _export(frappe, args, workers, rows, round_no) -> None:
	from frappe.desk.reportview import export_query

	n = args.export
	names = _insert(frappe, DEAL, n, amount=10)
	tag = names[0].rsplit("-", 1)[0]
	frappe.set_user(USER)
	frappe.local.form_dict = frappe._dict(
		doctype=DEAL,
		file_format_type="CSV",
		fields=json.dumps([f"`tab{DEAL}`.`name`", f"`tab{DEAL}`.`title`", f"`tab{DEAL}`.`amount`"]),
		filters=json.dumps([[DEAL, "tag", "=", tag]]),
	)
	workers.ensure(1, chain=True)
	started = time.perf_counter()
	export_query()
	frappe.db.commit()
	_drain(frappe)
	own = time.perf_counter() - started
	lines = bytes(frappe.local.response.filecontent).decode().count("\n")
	frappe.set_user("Administrator")
	frappe.db.commit()
	assert lines == n + 1, f"Frappe's CSV has {lines} lines for {n} records"
	record(rows, "actions", round_no, f"frappe_export_{n}", n, own)
	for count in (1, 2):
		workers.ensure(count, chain=True)
		names = _insert(frappe, DEAL, n, amount=10)
		tag = names[0].rsplit("-", 1)[0]
		seconds, url = _run(
			frappe,
			DEAL,
			"export",
			None,
			{"fields": ["title", "amount"], "file_type": "CSV"},
			filters=[["tag", "=", tag]],
			output=True,
		)
		with open(_path(frappe, url), encoding="utf-8") as f:
			lines = sum(1 for _ in f)
		assert lines == n + 1, f"bulk_queue's CSV has {lines} lines for {n} records"
		_record_bq(rows, round_no, "export", count, n, seconds, own)


def _rename(frappe, args, workers, rows, round_no) -> None:
	from frappe.model.rename_doc import bulk_rename
	from speed import set_site_config

	n = args.rename
	workers.ensure(1, chain=True)
	olds = _warehouses(frappe, n)
	frappe.set_user(USER)
	started = time.perf_counter()
	log = bulk_rename(WAREHOUSE, rows=[[old, f"{old}-r"] for old in olds])
	frappe.db.commit()
	_drain(frappe)
	own = time.perf_counter() - started
	frappe.set_user("Administrator")
	assert not [line for line in log if "Failed" in line], log[:3]
	_check_renamed(frappe, [f"{old}-r" for old in olds])
	record(rows, "actions", round_no, f"frappe_rename_{n}", n, own)
	for count in (1, 2):
		workers.ensure(count, chain=True)
		olds = _warehouses(frappe, n)
		seconds = _run(frappe, WAREHOUSE, "rename", None, {"renames": {old: f"{old}-r" for old in olds}})
		_check_renamed(frappe, [f"{old}-r" for old in olds])
		_record_bq(rows, round_no, "rename", count, n, seconds, own)
	large = args.rename_large
	if large and round_no == 1:
		# One job of them all: more names than a request lists by default.
		set_site_config(workers.config, "bulk_queue_max_ids", max(large, 10_000))
		frappe.local.conf.bulk_queue_max_ids = max(large, 10_000)
		workers.ensure(2, chain=True)
		try:
			olds = _warehouses(frappe, large)
			renames = {old: f"{old}-r" for old in olds}
			seconds = _run(frappe, WAREHOUSE, "rename", None, {"renames": renames})
		finally:
			set_site_config(workers.config, "bulk_queue_max_ids", None)
			frappe.local.conf.pop("bulk_queue_max_ids", None)
		_check_renamed(frappe, [f"{old}-r" for old in olds])
		record(rows, "actions", round_no, f"bq_rename_2w_{large}", large, seconds)


def _warehouses(frappe, count: int) -> list[str]:
	"""``count`` warehouses, each linked from an order and two of its item rows."""
	from frappe.utils import now_datetime

	tag = f"bench-{uuid.uuid4().hex[:10]}"
	now = now_datetime()
	names = [f"{tag}-{i:07d}" for i in range(count)]
	meta = ["creation", "modified", "owner", "modified_by", "docstatus", "idx"]
	audit = [now, now, "Administrator", "Administrator", 0]
	for i in range(0, count, 5000):
		page = names[i : i + 5000]
		frappe.db.bulk_insert(
			WAREHOUSE, ["name", *meta, "warehouse_name", "tag"], [(n, *audit, 0, n, tag) for n in page]
		)
		frappe.db.bulk_insert(
			ORDER,
			["name", *meta, "title", "tag", "default_warehouse", "total_qty"],
			[(f"o-{n}", *audit, 0, n, tag, n, 3) for n in page],
		)
		frappe.db.bulk_insert(
			ORDER_ITEM,
			["name", *meta, "parent", "parenttype", "parentfield", "item", "warehouse", "qty"],
			[
				(f"i{k}-{n}", *audit, k, f"o-{n}", ORDER, "items", f"item-{k}", n, k)
				for n in page
				for k in (1, 2)
			],
		)
	frappe.db.commit()
	return names


def _check_renamed(frappe, names) -> None:
	frappe.db.rollback()
	for i in range(0, len(names), 5000):
		page = names[i : i + 5000]
		assert frappe.db.count(WAREHOUSE, {"name": ("in", page)}) == len(page)
		linked = frappe.db.count(ORDER_ITEM, {"warehouse": ("in", page)})
		assert linked == 2 * len(page), f"{linked} item rows of {2 * len(page)} point at the new names"


def _record_bq(rows, round_no, action, count, n, seconds, own, *, per_workers=False) -> None:
	"""bulk_queue's row for ``action`` with ``count`` workers, against Frappe's own (which, for
	``per_workers``, ran on the same number of workers)."""
	own_name = f"frappe_{action}_{count}w_{n}" if per_workers else f"frappe_{action}_{n}"
	record(
		rows,
		"actions",
		round_no,
		f"bq_{action}_{count}w_{n}",
		n,
		seconds,
		ratio=own / seconds,
		ratio_to=own_name,
	)


ACTIONS = {
	"workflow": _workflow,
	"rule": _assignment_rule,
	"assign_to": _assign_to,
	"add_tags": _add_tags,
	"print": _print,
	"export": _export,
	"rename": _rename,
}


# -- helpers ------------------------------------------------------------------------------------------


def _run(frappe, doctype, action, names, values, *, filters=None, output=False):
	"""Seconds from ``enqueue_bulk`` (as the benchmark user) to the job's end - for Print and Export,
	to its file merged (and the file's URL)."""
	from bulk_queue.api.bulk import enqueue_bulk

	frappe.set_user(USER)
	started = time.perf_counter()
	result = enqueue_bulk(doctype=doctype, action=action, ids=names, filters=filters, values=values)
	frappe.set_user("Administrator")
	job = wait_for(frappe, result["bulk_job"], timeout=3600)
	assert job.status == "Completed", dict(job)
	url = None
	while output and not url:
		frappe.db.rollback()
		url = frappe.db.get_value("Bulk Queue Job", result["bulk_job"], "output_file")
		time.sleep(0.02)
	_drain(frappe)
	seconds = time.perf_counter() - started
	return (seconds, url) if output else seconds


def _drain(frappe, timeout: float = 3600) -> None:
	"""Until every queue is empty and no worker is busy: the background jobs the action queued
	(an assignment's notification) are done."""
	from frappe.utils.background_jobs import get_queue, get_workers

	deadline = time.monotonic() + timeout
	while time.monotonic() < deadline:
		queued = sum(get_queue(name).count for name in ("short", "default", "long"))
		if not queued and not any(w.get_current_job_id() for w in get_workers()):
			return
		time.sleep(0.05)
	raise TimeoutError("the queues did not drain")


def _path(frappe, url: str) -> str:
	return frappe.get_site_path("private", "files", *url.split("/private/files/", 1)[1].split("/"))


def _insert(frappe, doctype: str, count: int, **values) -> list[str]:
	from frappe.utils import now_datetime

	tag = f"bench-{uuid.uuid4().hex[:10]}"
	now = now_datetime()
	names = [f"{tag}-{i:07d}" for i in range(count)]
	base = {"docstatus": 0, "idx": 0, "title": "", "tag": tag, "amount": 100}
	if doctype == DEAL:
		base["region"] = "North"
	base.update(values)
	fields = ["name", "creation", "modified", "owner", "modified_by", *base]
	data = [(n, now, now, "Administrator", "Administrator", *base.values()) for n in names]
	for i in range(0, len(data), 5000):
		frappe.db.bulk_insert(doctype, fields, data[i : i + 5000])
	frappe.db.commit()
	return names


def _check(frappe, doctype, names, **expected) -> None:
	frappe.db.rollback()
	done = frappe.db.count(doctype, {"name": ("in", names), **expected})
	assert done == len(names), f"{done} of {len(names)} {doctype} are {expected}"


def _wait_assigned(frappe, names, timeout: float = 3600) -> None:
	"""Until every record has its one open ToDo (Frappe's RQ jobs run after bulk_apply returns)."""
	deadline = time.monotonic() + timeout
	while True:
		frappe.db.rollback()
		assigned = frappe.db.sql(
			"""select count(distinct reference_name), count(*) from `tabToDo`
			where reference_type=%s and reference_name in %s and status='Open'""",
			(DEAL, names),
		)[0]
		if assigned[0] == len(names):
			assert assigned[1] == len(names), f"{assigned[1]} ToDos for {len(names)} records"
			return
		if time.monotonic() > deadline:
			raise TimeoutError(f"{assigned[0]} of {len(names)} assigned")
		time.sleep(0.05)


def _check_tagged(frappe, names, tag) -> None:
	frappe.db.rollback()
	tagged = frappe.db.count(DEAL, {"name": ("in", names), "_user_tags": ("like", f"%{tag}%")})
	assert tagged == len(names), f"{tagged} of {len(names)} tagged"


def _setup(frappe) -> None:
	"""The benchmark user approves claims; a workflow on claims and an assignment rule on deals."""
	from frappe.utils.password import update_password

	user = frappe.get_doc("User", USER)
	if "BQ Approver" not in frappe.get_roles(USER):
		user.add_roles("BQ Approver")
	if not frappe.db.exists("User", ASSIGNEE):
		frappe.get_doc(
			{"doctype": "User", "email": ASSIGNEE, "first_name": "Assignee", "send_welcome_email": 0}
		).insert(ignore_permissions=True)
		frappe.get_doc("User", ASSIGNEE).add_roles("System Manager")
		update_password(ASSIGNEE, uuid.uuid4().hex)
	for region in ("North",):
		if not frappe.db.exists("BQ Region", region):
			frappe.get_doc({"doctype": "BQ Region", "region_name": region}).insert(ignore_permissions=True)
	for state in ("Pending", "Approved"):
		if not frappe.db.exists("Workflow State", state):
			frappe.get_doc({"doctype": "Workflow State", "workflow_state_name": state}).insert()
	if not frappe.db.exists("Workflow Action Master", "Approve"):
		frappe.get_doc({"doctype": "Workflow Action Master", "workflow_action_name": "Approve"}).insert()
	frappe.db.commit()
	_teardown(frappe)
	frappe.get_doc(
		{
			"doctype": "Workflow",
			"workflow_name": WORKFLOW,
			"document_type": CLAIM,
			"is_active": 1,
			"workflow_state_field": "workflow_state",
			"send_email_alert": 0,
			"states": [
				{"state": "Pending", "doc_status": "0", "allow_edit": "BQ Approver"},
				{"state": "Approved", "doc_status": "1", "allow_edit": "BQ Approver"},
			],
			"transitions": [
				{
					"state": "Pending",
					"action": "Approve",
					"next_state": "Approved",
					"allowed": "BQ Approver",
					"allow_self_approval": 1,
				}
			],
		}
	).insert()
	frappe.get_doc(
		{
			"doctype": "Assignment Rule",
			"name": RULE,
			"document_type": DEAL,
			"priority": 1,
			"rule": "Round Robin",
			"assign_condition": "amount > 0",
			"description": "Review {{ title }}",
			"users": [{"user": ASSIGNEE}],
			"assignment_days": [
				{"day": day}
				for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
			],
		}
	).insert()
	frappe.db.commit()


def _teardown(frappe) -> None:
	frappe.db.rollback()
	if frappe.db.exists("Workflow", WORKFLOW):
		frappe.delete_doc("Workflow", WORKFLOW, force=True)
	if frappe.db.exists("Assignment Rule", RULE):
		frappe.delete_doc("Assignment Rule", RULE, force=True)
	frappe.db.commit()
