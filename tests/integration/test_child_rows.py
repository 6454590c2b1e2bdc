# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Set Child Value: the rows of a child table that match a condition, changed in many records through
each record's own save (BQ Order computes its totals and refuses a negative quantity on save)."""

from __future__ import annotations

import uuid

import frappe
import pytest

from bulk_queue.api.bulk import get_bulk_options, preview_bulk

from .conftest import enqueue, ensure_user, failures, wait_for_job

ORDER = "BQ Order"
WAREHOUSE = "BQ Warehouse"


def warehouses(*names: str) -> None:
	for name in names:
		if not frappe.db.exists(WAREHOUSE, name):
			frappe.get_doc({"doctype": WAREHOUSE, "warehouse_name": name}).insert(ignore_permissions=True)
	frappe.db.commit()


def make_order(tag: str, rows: list[dict], owner: str | None = None) -> str:
	doc = frappe.get_doc({"doctype": ORDER, "title": tag, "tag": tag, "items": rows})
	doc.insert(ignore_permissions=True)
	if owner:
		frappe.db.set_value(ORDER, doc.name, "owner", owner, update_modified=False)
	frappe.db.commit()
	return doc.name


def rows_of(name: str) -> list[frappe._dict]:
	frappe.db.rollback()
	return frappe.get_doc(ORDER, name).items


@pytest.fixture
def three_orders(site):
	"""Three orders: two with a Raw row (and a Finished one), one with none."""
	warehouses("Stores", "Yard", "Annex")
	tag = f"bq-{uuid.uuid4().hex[:8]}"
	a = make_order(tag, [
		{"item": "Bolt", "item_group": "Raw", "warehouse": "Stores", "qty": 2, "rate": 5},
		{"item": "Crate", "item_group": "Finished", "warehouse": "Stores", "qty": 1, "rate": 50},
	])  # fmt: skip
	b = make_order(tag, [
		{"item": "Nut", "item_group": "Raw", "warehouse": "Stores", "qty": 10, "rate": 1},
		{"item": "Washer", "item_group": "Raw", "warehouse": "Yard", "qty": 3, "rate": 1},
	])  # fmt: skip
	c = make_order(
		tag, [{"item": "Box", "item_group": "Finished", "warehouse": "Stores", "qty": 4, "rate": 10}]
	)
	return [a, b, c]


def test_matching_rows_change_through_the_parents_save_and_a_parent_without_one_is_left_as_is(
	three_orders, workers
):
	"""Two orders of three have Raw rows: only those rows get the new warehouse and quantity, the
	order's totals are recomputed by its own validate, and the third order is left as is - counted,
	not failed, and not saved."""
	a, b, c = three_orders
	workers.start(1)
	c_modified = frappe.db.get_value(ORDER, c, "modified")
	job = enqueue(
		doctype=ORDER,
		action="set_child_value",
		ids=[a, b, c],
		values={"table": "items", "where": {"item_group": "Raw"}, "set": {"warehouse": "Annex", "qty": 7}},
	)
	done = wait_for_job(job["bulk_job"])
	assert done.status == "Completed", done
	assert (done.processed, done.succeeded, done.failed, done.unchanged) == (3, 3, 0, 1)
	assert [(r.item, r.warehouse, r.qty) for r in rows_of(a)] == [
		("Bolt", "Annex", 7),
		("Crate", "Stores", 1),
	]
	assert [(r.item, r.warehouse, r.qty) for r in rows_of(b)] == [("Nut", "Annex", 7), ("Washer", "Annex", 7)]
	assert frappe.db.get_value(ORDER, a, ["total_qty", "total"]) == (8, 85.0)  # 7*5 + 1*50
	assert frappe.db.get_value(ORDER, c, "modified") == c_modified
	assert not failures(job["bulk_job"])


def test_a_row_the_parents_validation_refuses_fails_only_its_record(three_orders, workers):
	"""A negative quantity on the Raw rows: the order's validate refuses it, so both orders with Raw
	rows fail with its message, rolled back; the third is left as is."""
	a, b, c = three_orders
	workers.start(1)
	job = enqueue(
		doctype=ORDER,
		action="set_child_value",
		ids=[a, b, c],
		values={"table": "items", "where": {"item_group": "Raw"}, "set": {"qty": -1}},
	)
	done = wait_for_job(job["bulk_job"])
	assert (done.status, done.failed, done.unchanged) == ("Completed with Errors", 2, 1)
	assert {f.reference_name for f in failures(job["bulk_job"])} == {a, b}
	assert all("Qty must not be negative" in f.error for f in failures(job["bulk_job"]))
	assert [r.qty for r in rows_of(a)] == [2, 1]


def test_remove_and_add_rows(three_orders, workers):
	"""remove takes the matching rows out; add appends a row to every record."""
	a, b, c = three_orders
	workers.start(1)
	job = enqueue(
		doctype=ORDER,
		action="set_child_value",
		ids=[a, b, c],
		values={
			"table": "items",
			"where": {"item_group": "Raw"},
			"remove": True,
			"add": {"item": "Label", "item_group": "Service", "qty": 1},
		},
	)
	done = wait_for_job(job["bulk_job"])
	assert (done.status, done.unchanged) == ("Completed", 0)
	assert [r.item for r in rows_of(a)] == ["Crate", "Label"]
	assert [r.item for r in rows_of(b)] == ["Label"]
	assert [r.item for r in rows_of(c)] == ["Box", "Label"]
	assert frappe.db.get_value(ORDER, b, "total_qty") == 1


def test_conditions_take_operators(three_orders, workers):
	"""A condition with an operator: rows with qty above 3 only."""
	a, b, c = three_orders
	workers.start(1)
	job = enqueue(
		doctype=ORDER,
		action="set_child_value",
		ids=[a, b, c],
		values={"table": "items", "where": {"qty": [">", 3]}, "set": {"item_group": "Bulk"}},
	)
	done = wait_for_job(job["bulk_job"])
	assert (done.status, done.unchanged) == ("Completed", 1)  # a: qty 2 and 1
	assert [r.item_group for r in rows_of(b)] == ["Bulk", "Raw"]
	assert [r.item_group for r in rows_of(c)] == ["Bulk"]
	job = enqueue(
		doctype=ORDER,
		action="set_child_value",
		ids=[a, b, c],
		values={"table": "items", "where": {"item": ["like", "%ash%"]}, "set": {"qty": 9}},
	)
	done = wait_for_job(job["bulk_job"])
	assert (done.status, done.unchanged) == ("Completed", 2)
	assert [r.qty for r in rows_of(b)] == [10, 9]  # Washer only


@pytest.fixture
def order_user(site):
	"""An ordinary user (Blogger: orders at permlevel 0 only)."""
	user = ensure_user(f"bq-order-{uuid.uuid4().hex[:8]}@example.com", ["Blogger"])
	yield user
	frappe.set_user("Administrator")
	frappe.db.delete("User Permission", {"user": user})
	frappe.db.commit()


@pytest.mark.parametrize(
	"values, error, message",
	[
		({"table": "lines", "set": {"qty": 1}}, frappe.ValidationError, "not a child table"),
		({"table": "items", "set": {"rate": 9}}, frappe.PermissionError, "permission to change field"),
		({"table": "items", "where": {"rate": 5}, "set": {"qty": 1}}, frappe.ValidationError, "condition"),
		({"table": "items", "set": {"parent": "x"}}, frappe.ValidationError, "not a field"),
		({"table": "items", "set": {"qty": 1}, "remove": True}, frappe.ValidationError, "not both"),
		(
			{"table": "items", "where": {"item": ["~", "x"]}, "set": {"qty": 1}},
			frappe.ValidationError,
			"operator",
		),
		({"table": "items"}, frappe.ValidationError, "needs set"),
		({"table": "items", "set": {"qty": 1}, "extra": 1}, frappe.ValidationError, "takes only"),
	],
)
def test_bad_values_and_fields_above_the_users_permlevel_are_refused_at_enqueue(
	three_orders, order_user, values, error, message
):
	"""Rate is permlevel 1 on the order: an ordinary user may neither set it nor match on it; other
	mistakes are refused by name. Nothing is recorded."""
	names = three_orders
	before = frappe.db.count("Bulk Queue Job")
	frappe.set_user(order_user)
	with pytest.raises(error, match=message):
		enqueue(doctype=ORDER, action="set_child_value", ids=names, values=values)
	frappe.set_user("Administrator")
	assert frappe.db.count("Bulk Queue Job") == before


def test_a_link_value_outside_the_users_user_permissions_is_refused(three_orders, order_user):
	"""The requester may only use warehouse Stores (a User Permission): setting Yard on rows is
	refused at once, as a save of the order would refuse it."""
	names = three_orders
	frappe.get_doc(
		{"doctype": "User Permission", "user": order_user, "allow": WAREHOUSE, "for_value": "Stores"}
	).insert(ignore_permissions=True)
	frappe.db.commit()
	frappe.set_user(order_user)
	with pytest.raises(frappe.PermissionError, match="Yard"):
		enqueue(
			doctype=ORDER, action="set_child_value", ids=names,
			values={"table": "items", "set": {"warehouse": "Yard"}},
		)  # fmt: skip


def test_a_dry_run_shows_each_rows_old_and_new_values(three_orders):
	"""The dry run lists row by row what changes (and the recomputed totals), says which records are
	left as is, and keeps nothing."""
	a, b, c = three_orders
	result = preview_bulk(
		doctype=ORDER,
		action="set_child_value",
		ids=[a, b, c],
		values={"table": "items", "where": {"item_group": "Raw"}, "set": {"warehouse": "Annex"}},
	)
	by_name = {r["name"]: r for r in result["records"]}
	changes = {(c["label"], c["old"], c["new"]) for c in by_name[b]["changes"]}
	assert ("Items, row 1: Warehouse", "Stores", "Annex") in changes
	assert ("Items, row 2: Warehouse", "Yard", "Annex") in changes
	assert by_name[c]["skipped"] == "No row of Items matches."
	assert by_name[c]["error"] is None and result["would_fail"] == 0
	assert [r.warehouse for r in rows_of(b)] == ["Stores", "Yard"]


def test_the_dialog_offers_the_tables_and_their_fields_for_the_user(three_orders, order_user):
	"""Set Child Value is offered with Items and the child's fields the user may set (not Rate,
	permlevel 1; not Amount, read-only) and match on."""
	names = three_orders
	frappe.set_user(order_user)
	options = get_bulk_options(doctype=ORDER, ids=names)
	action = next(a for a in options["actions"] if a["name"] == "set_child_value")
	table = next(f for f in action["form"] if f["fieldname"] == "table")
	items = table["tables"]["items"]
	settable = {f["fieldname"] for f in items["settable"]}
	assert {"item", "item_group", "warehouse", "qty"} <= settable
	assert not settable & {"rate", "amount", "parent", "idx"}
	assert "rate" not in {f["fieldname"] for f in items["matchable"]}


def test_clearing_a_date_on_rows_empties_it_and_rows_already_empty_are_left_as_is(three_orders, workers):
	"""Set a Date child field to nothing: the matching rows are emptied (not set to today, as Frappe's
	cast of an empty Date would); an order whose matching rows are empty already is left as is."""
	a, b, _c = three_orders
	frappe.db.sql(
		"update `tabBQ Order Item` set delivery_date='2026-01-15' where parent in %s and item_group='Raw'",
		((a,),),
	)
	frappe.db.commit()
	workers.start(1)
	job = enqueue(
		doctype=ORDER,
		action="set_child_value",
		ids=[a, b],
		values={"table": "items", "where": {"item_group": "Raw"}, "set": {"delivery_date": None}},
	)
	done = wait_for_job(job["bulk_job"])
	assert (done.status, done.succeeded, done.unchanged) == ("Completed", 2, 1)
	assert [r.delivery_date for r in rows_of(a)] == [None, None]


def test_a_password_field_of_a_child_table_is_not_set_in_bulk(three_orders):
	"""A job's values are shown on its form: a child row's password would be kept there in clear."""
	with pytest.raises(frappe.ValidationError, match="Password"):
		enqueue(
			doctype=ORDER,
			action="set_child_value",
			ids=three_orders,
			values={"table": "items", "set": {"access_code": "s3cret"}},
		)
