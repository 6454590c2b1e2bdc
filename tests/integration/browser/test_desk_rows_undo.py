# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""What no list action offers, in Desk as an ordinary user: Set Child Value from the Bulk Process
dialog (the child table's own controls, a row-by-row preview), and Undo from a finished job's form."""

from __future__ import annotations

import uuid

import frappe

from ..conftest import enqueue, make_todos, wait_for_job
from ..test_child_rows import ORDER, make_order, rows_of, warehouses
from .test_desk import DIALOG, _newest_job, _open_from_actions, _select_rows, _start, _user


def test_set_child_value_from_the_dialog_changes_only_matching_rows(open_desk, desk_workers):
	"""An ordinary user selects three orders, picks Set Child Value, builds "Items where Item Group
	is Raw: Warehouse = Annex" with the child fields' own controls, previews it row by row, and
	starts: the two orders with Raw rows change, the third is left as is."""
	user = _user("bq-desk-rows")
	warehouses("Stores", "Yard", "Annex")
	tag = f"bq-{uuid.uuid4().hex[:8]}"
	a = make_order(tag, [
		{"item": "Bolt", "item_group": "Raw", "warehouse": "Stores", "qty": 2},
		{"item": "Crate", "item_group": "Finished", "warehouse": "Stores", "qty": 1},
	])  # fmt: skip
	b = make_order(tag, [{"item": "Nut", "item_group": "Raw", "warehouse": "Yard", "qty": 10}])
	c = make_order(tag, [{"item": "Box", "item_group": "Finished", "warehouse": "Stores", "qty": 4}])
	desk = open_desk(user)
	desk.open(f"/app/bq-order?tag={tag}")
	_select_rows(desk.page, 3)
	_open_from_actions(desk.page)
	dialog = desk.page.locator(DIALOG)
	dialog.locator("select[data-fieldname='action']").select_option("set_child_value")
	field = "bq_set_child_value_"
	assert dialog.locator(f"select[data-fieldname='{field}table']").input_value() == "items"
	dialog.locator(f"select[data-fieldname='{field}where_field']").select_option("item_group")
	dialog.locator(f"[data-fieldname='{field}where_value'] input").fill("Raw")
	dialog.locator(f"select[data-fieldname='{field}set_field']").select_option("warehouse")
	# The child's Warehouse is a Link: its own control, suggesting warehouses.
	value = dialog.locator(f"[data-fieldname='{field}set_value'] input")
	value.click()
	value.fill("Annex")
	dialog.locator(f"[data-fieldname='{field}set_value'] [role='option']", has_text="Annex").first.click()
	desk.screenshot("dialog-set-child-value")

	dialog.locator(".btn-secondary", has_text="Preview").click()
	preview = desk.page.locator(".modal.show .bq-preview")
	preview.wait_for()
	desk.page.wait_for_timeout(600)  # the preview's dialog done sliding in, for the screenshot
	text = preview.inner_text()
	assert "Items, row 1: Warehouse" in text and "Stores → Annex" in text and "Yard → Annex" in text, text
	assert "Left as is: No row of Items matches." in text, text
	desk.screenshot("preview-set-child-value")
	desk.page.locator(".modal.show .btn-primary", has_text="Close").click()

	_start(desk.page)
	done = wait_for_job(_newest_job(user))
	assert (done.status, done.succeeded, done.unchanged) == ("Completed", 3, 1), done
	assert [r.warehouse for r in rows_of(a)] == ["Annex", "Stores"]
	assert [r.warehouse for r in rows_of(b)] == ["Annex"]
	assert [r.warehouse for r in rows_of(c)] == ["Stores"]
	assert frappe.db.get_value(ORDER, a, "modified_by") == user
	assert not desk.real_errors(), desk.real_errors()


def test_undo_from_a_finished_jobs_form(open_desk, desk_workers):
	"""A user's Set Value closed three of their ToDos; a colleague then reopened one as Cancelled. On
	the job's form the user clicks Undo: a new job puts the other two back to Open and leaves the
	edited one as is, and its form says why."""
	user = _user("bq-desk-undo")
	_, names = make_todos(3, allocated_to=user)
	frappe.set_user(user)
	job = enqueue(doctype="ToDo", action="set_value", ids=names, values={"status": "Closed"})["bulk_job"]
	frappe.set_user("Administrator")
	assert wait_for_job(job).status == "Completed"
	todo = frappe.get_doc("ToDo", names[0])
	todo.status = "Cancelled"
	todo.save()
	frappe.db.commit()

	desk = open_desk(user)
	desk.open(f"/app/bulk-queue-job/{job}")
	desk.page.locator(".bq-undo").click()
	desk.page.locator(".modal.show .btn-primary", has_text="Yes").click()
	desk.page.wait_for_function("([job]) => cur_frm && cur_frm.doc.name !== job", arg=[job])
	undo_job = _newest_job(user)
	done = wait_for_job(undo_job)
	assert (done.status, done.succeeded, done.unchanged) == ("Completed", 3, 1), done
	frappe.db.rollback()
	statuses = dict(frappe.get_all("ToDo", {"name": ("in", names)}, ["name", "status"], as_list=True))
	assert statuses == {names[0]: "Cancelled", names[1]: "Open", names[2]: "Open"}

	desk.open(f"/app/bulk-queue-job/{undo_job}")
	desk.page.locator(".section-head", has_text="Left As Is").click()
	table = desk.page.locator(".bq-left-as-is")
	table.wait_for()
	assert names[0] in table.inner_text() and "Changed since by Administrator" in table.inner_text()
	desk.screenshot("job-form-undo-left-as-is", full_page=True)
	assert not desk.real_errors(), desk.real_errors()
