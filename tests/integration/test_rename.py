# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Rename at scale: Frappe's ``rename_doc`` per record, as the requester, each rename with all its link
updates in the record's savepoint and the chunk's commit - exactly once, even when the work horse dies
in the middle of one.

BQ Warehouse (Allow Rename) is linked from BQ Order (its Default Warehouse and its item rows) and from
ToDos (a Dynamic Link); its ``after_rename`` can SIGKILL the work horse after Frappe has updated every
link and before the commit."""

from __future__ import annotations

import uuid

import frappe
import pytest

from bulk_queue.api.bulk import preview_bulk

from .conftest import BENCH, SITE, enqueue, ensure_user, failures, wait_for_job
from .test_child_rows import ORDER, WAREHOUSE, make_order, warehouses
from .test_operations import bench


def linked_warehouses(count: int, *, todos: bool = True) -> tuple[str, list[str], list[str]]:
	"""``count`` warehouses, each linked from an order (its own field and two item rows) and a ToDo;
	returns (tag, warehouse names, order names)."""
	tag = f"bq-{uuid.uuid4().hex[:8]}"
	names = [f"{tag}-w{i}" for i in range(count)]
	warehouses(*names)
	orders = []
	for name in names:
		orders.append(
			make_order(
				tag,
				[
					{"item": "Bolt", "item_group": "Raw", "warehouse": name, "qty": 1},
					{"item": "Nut", "item_group": "Raw", "warehouse": name, "qty": 2},
				],
			)
		)
		frappe.db.set_value(ORDER, orders[-1], "default_warehouse", name)
		if not todos:
			continue
		frappe.get_doc(
			{"doctype": "ToDo", "description": tag, "reference_type": WAREHOUSE, "reference_name": name}
		).insert(ignore_permissions=True)
	frappe.db.commit()
	return tag, names, orders


def die_in_rename(old: str):
	"""Arm BQ Warehouse's after_rename to SIGKILL its process once, inside the rename of ``old``. (A
	file, not a cache key: every rename clears the site's whole cache.)"""
	from pathlib import Path

	marker = Path(BENCH / "sites" / SITE / "private" / f"bq-die-in-rename-{old}")
	marker.write_text("armed")
	return marker


def links_to(name: str) -> int:
	"""How many places still point at warehouse ``name``."""
	frappe.db.rollback()
	return (
		frappe.db.count(ORDER, {"default_warehouse": name})
		+ frappe.db.count("BQ Order Item", {"warehouse": name})
		+ frappe.db.count("ToDo", {"reference_type": WAREHOUSE, "reference_name": name})
	)


def renamed_comments(name: str) -> int:
	return frappe.db.count(
		"Comment",
		{"reference_doctype": WAREHOUSE, "reference_name": name, "content": ("like", "%renamed from%")},
	)


def test_renames_update_every_link_and_the_rename_is_recorded_once(workers):
	"""Ten warehouses renamed: the records, their links from orders (field and child rows) and ToDos
	all carry the new names, nothing points at the old ones, and each has one "renamed from"."""
	_tag, names, _orders = linked_warehouses(10)
	renames = {name: name.replace("-w", "-renamed-") for name in names}
	workers.start(1)
	job = enqueue(doctype=WAREHOUSE, action="rename", values={"renames": renames}, chunk_size=4)
	done = wait_for_job(job["bulk_job"])
	assert (done.status, done.succeeded, done.failed) == ("Completed", 10, 0), done
	for old, new in renames.items():
		assert not frappe.db.exists(WAREHOUSE, old) and frappe.db.exists(WAREHOUSE, new)
		assert links_to(old) == 0 and links_to(new) == 4
		assert renamed_comments(new) == 1


def test_a_work_horse_killed_inside_a_rename_leaves_no_half_rename_and_renames_once(workers, site_conf):
	"""The work horse dies inside the 3rd rename, after Frappe updated its links and before the
	commit; the two before it are committed (a commit per record). The job ends Completed: the two
	committed renames are not repeated, the killed one is redone whole, every warehouse is renamed
	once (one "renamed from" each) and no link points at an old name."""
	site_conf(bulk_queue_commit_every=1)
	_tag, names, _orders = linked_warehouses(6)
	renames = {name: name.replace("-w", "-moved-") for name in names}
	armed = die_in_rename(names[2])
	workers.start(1)
	job = enqueue(doctype=WAREHOUSE, action="rename", values={"renames": renames}, chunk_size=6)
	done = wait_for_job(job["bulk_job"], timeout=240)
	assert not armed.exists(), "the work horse was not killed"
	assert (done.status, done.succeeded, done.failed) == ("Completed", 6, 0), done
	for old, new in renames.items():
		assert not frappe.db.exists(WAREHOUSE, old), old
		assert links_to(old) == 0 and links_to(new) == 4
		assert renamed_comments(new) == 1, new


def test_a_rename_frappe_refuses_fails_only_its_record(workers):
	"""A new name that exists already (without merge) fails that record with Frappe's message,
	rolled back whole; the others are renamed."""
	tag, names, _orders = linked_warehouses(3)
	renames = {names[0]: f"{tag}-a", names[1]: names[2].replace("-w2", "-taken"), names[2]: f"{tag}-c"}
	warehouses(renames[names[1]])
	workers.start(1)
	job = enqueue(doctype=WAREHOUSE, action="rename", values={"renames": renames})
	done = wait_for_job(job["bulk_job"])
	assert (done.status, done.succeeded, done.failed) == ("Completed with Errors", 2, 1)
	[failure] = failures(job["bulk_job"])
	assert failure.reference_name == names[1] and "exists" in failure.error
	assert links_to(names[1]) == 4 and frappe.db.exists(WAREHOUSE, names[1])


def test_merge_moves_the_links_to_the_existing_record(workers):
	"""merge: two records' links move to an existing one, and the merged records are gone. (Without
	ToDos: Frappe v15's merge cannot read the empty assignment list a closed ToDo leaves behind.)"""
	_tag, names, _orders = linked_warehouses(3, todos=False)
	workers.start(1)
	values = {"renames": {names[0]: names[2], names[1]: names[2]}, "merge": True}
	job = enqueue(doctype=WAREHOUSE, action="rename", values=values)
	done = wait_for_job(job["bulk_job"])
	assert (done.status, done.succeeded) == ("Completed", 2), failures(job["bulk_job"])
	assert not frappe.db.exists(WAREHOUSE, names[0]) and not frappe.db.exists(WAREHOUSE, names[1])
	assert links_to(names[0]) == links_to(names[1]) == 0
	assert frappe.db.count("BQ Order Item", {"warehouse": names[2]}) == 6


@pytest.mark.parametrize(
	"doctype, values, ids, message",
	[
		("BQ Region", {"renames": {"North": "Nord"}}, None, "does not allow renaming"),
		(WAREHOUSE, {"renames": {"a": "b", "b": "c"}}, None, "chain or a swap"),
		(WAREHOUSE, {"renames": {"a": "x", "b": "x"}}, None, "more than one record"),
		(WAREHOUSE, {"renames": {"a": "a"}}, None, "to itself"),
		(WAREHOUSE, {"renames": "a"}, None, "two columns"),
		(WAREHOUSE, {"renames": {"a": "b"}, "extra": 1}, None, "takes only"),
		(WAREHOUSE, {"renames": {"a": "b"}}, ["c"], "must be the same names"),
	],
)
def test_bad_renames_are_refused_before_anything_is_recorded(doctype, values, ids, message):
	"""What would go wrong or depend on order is refused at once, by name; no job is recorded."""
	warehouses("a", "b", "c")
	frappe.db.rollback()
	before = frappe.db.count("Bulk Queue Job")
	with pytest.raises(frappe.ValidationError, match=message):
		enqueue(doctype=doctype, action="rename", values=values, ids=ids)
	assert frappe.db.count("Bulk Queue Job") == before


def test_a_user_who_may_not_write_cannot_rename(site):
	"""Renaming needs write permission, as Frappe's rename does (a Guest-like role here)."""
	user = ensure_user(f"bq-reader-{uuid.uuid4().hex[:8]}@example.com", ["Website Manager"])
	warehouses("a", "b")
	frappe.set_user(user)
	with pytest.raises(frappe.PermissionError):
		enqueue(doctype=WAREHOUSE, action="rename", values={"renames": {"a": "z"}})


def test_a_dry_run_shows_the_new_name_and_keeps_nothing():
	"""The dry run renames inside its rollback and shows Name old -> new."""
	tag, names, _orders = linked_warehouses(1)
	result = preview_bulk(doctype=WAREHOUSE, action="rename", values={"renames": {names[0]: f"{tag}-new"}})
	[record] = result["records"]
	assert record["error"] is None, record
	assert record["changes"][0] == {"field": "name", "label": "Name", "old": names[0], "new": f"{tag}-new"}
	assert frappe.db.exists(WAREHOUSE, names[0]) and links_to(names[0]) == 4


def test_the_command_takes_two_columns_of_names(workers):
	"""``bench bulk-queue run <DocType> --action rename --ids renames.csv --wait``: old name, new name."""
	tag, names, _orders = linked_warehouses(3)
	csv_file = BENCH / "sites" / SITE / "private" / f"{tag}.csv"
	csv_file.write_text("old,new\n" + "".join(f"{n},{n}-cli\n" for n in names))
	workers.start(1)
	try:
		done = bench("bulk-queue", "run", WAREHOUSE, "--action", "rename", "--ids", str(csv_file), "--wait")
	finally:
		csv_file.unlink()
	assert done.returncode == 0, done.stdout + done.stderr
	assert "succeeded 3   failed 0   of 3" in done.stdout
	assert all(frappe.db.exists(WAREHOUSE, f"{n}-cli") and links_to(f"{n}-cli") == 4 for n in names)
