# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""The list's own bulk actions in Desk, as ordinary users see them: a workflow transition on every
claim matching a filter, Assign To on selected rows, and Bulk Process from a document's own form."""

from __future__ import annotations

import uuid

import frappe

from ..conftest import wait_for_job
from ..test_beyond_save import make_deals
from ..test_desk_actions import CLAIM, claim_workflow, make_claims
from .conftest import ensure_desk_user
from .test_desk import DIALOG, _newest_job, _open_from_actions, _open_from_menu, _select_rows, _start, _user


def test_a_workflow_transition_on_all_claims_matching_a_filter(open_desk, desk_workers, claim_workflow):  # noqa: F811
	"""An approver filters the claim list by tag, opens Bulk Process from the menu, is offered Approve
	and Reject with how many claims each applies to, and approves them all."""
	approver = ensure_desk_user("bq-desk-approver@example.com", ["BQ Approver"])
	tag, names = make_claims(5)
	desk = open_desk(approver)
	desk.open(f"/app/bq-claim?tag={tag}")
	_open_from_menu(desk.page)
	dialog = desk.page.locator(DIALOG)
	assert "5" in dialog.locator(".bq-count").inner_text()
	dialog.locator("select[data-fieldname='action']").select_option("apply_workflow")
	choice = dialog.locator("select[data-fieldname='bq_apply_workflow_action']")
	labels = choice.locator("option").all_inner_texts()
	assert any(label.startswith("Approve") and "5 of 5" in label for label in labels), labels
	assert any(label.startswith("Reject") for label in labels), labels
	choice.select_option("Approve")
	desk.screenshot("dialog-workflow-transition")
	_start(desk.page)
	job = _newest_job(approver)
	done = wait_for_job(job)
	assert (done.status, done.succeeded) == ("Completed", 5)
	frappe.db.rollback()
	states = frappe.get_all(CLAIM, {"name": ("in", names)}, ["workflow_state", "docstatus"])
	assert {(s.workflow_state, s.docstatus) for s in states} == {("Approved", 1)}
	assert not desk.real_errors(), desk.real_errors()


def test_assign_to_on_selected_rows(open_desk, desk_workers):
	"""A user selects two of their deals, picks Assign To, chooses a colleague from the user list and
	starts: both deals are assigned to the colleague, once."""
	colleague = ensure_desk_user("bq-desk-colleague@example.com", ["Blogger"])
	user = _user("bq-desk-assign")
	_, names = make_deals(3, owner=user)
	desk = open_desk(user)
	desk.open("/app/bq-deal")
	selected = _select_rows(desk.page, 2)
	_open_from_actions(desk.page)
	dialog = desk.page.locator(DIALOG)
	dialog.locator("select[data-fieldname='action']").select_option("assign_to")
	field = dialog.locator("[data-fieldname='bq_assign_to_assign_to'] input")
	field.click()
	field.type("bq-desk-colleague")
	option = desk.page.locator(".awesomplete li", has_text="bq-desk-colleague")
	option.first.click()
	dialog.locator("[data-fieldname='bq_assign_to_assign_to'] .tb-selected-value").first.wait_for()
	desk.screenshot("dialog-assign-to")
	_start(desk.page)
	job = _newest_job(user)
	done = wait_for_job(job)
	assert (done.status, done.succeeded) == ("Completed", 2), done
	frappe.db.rollback()
	todos = frappe.get_all(
		"ToDo",
		{"reference_type": "BQ Deal", "reference_name": ("in", names), "status": "Open"},
		["reference_name", "allocated_to"],
	)
	assert sorted((t.reference_name, t.allocated_to) for t in todos) == sorted(
		(n, colleague) for n in selected
	)
	assert not desk.real_errors(), desk.real_errors()


def test_bulk_process_from_a_documents_own_form(open_desk, desk_workers):
	"""A deal's form has Bulk Process in its menu: it opens the dialog for that one deal, and Assign To
	from it assigns the deal, the form reloading when the job ends. A new deal's form has no such item."""
	colleague = ensure_desk_user("bq-desk-colleague@example.com", ["Blogger"])
	user = _user("bq-desk-form")
	_, names = make_deals(1, owner=user)
	desk = open_desk(user)
	desk.open(f"/app/bq-deal/{names[0]}")
	desk.page.locator(".menu-btn-group > button").click()
	desk.page.locator(".menu-btn-group .dropdown-menu .dropdown-item", has_text="Bulk Process").click()
	desk.page.wait_for_selector(f"{DIALOG} .modal-title:text-is('Bulk Process')")
	dialog = desk.page.locator(DIALOG)
	assert "1 selected BQ Deal record" in dialog.locator(".bq-summary").inner_text()
	dialog.locator("select[data-fieldname='action']").select_option("assign_to")
	field = dialog.locator("[data-fieldname='bq_assign_to_assign_to'] input")
	field.click()
	field.type("bq-desk-colleague")
	desk.page.locator(".awesomplete li", has_text="bq-desk-colleague").first.click()
	dialog.locator("[data-fieldname='bq_assign_to_assign_to'] .tb-selected-value").first.wait_for()
	desk.screenshot("form-bulk-process-dialog")
	_start(desk.page)
	job = _newest_job(user)
	assert wait_for_job(job).status == "Completed"
	frappe.db.rollback()
	assert colleague in (frappe.db.get_value("BQ Deal", names[0], "_assign") or "")
	# The form reloads when the job ends: its sidebar shows the assignment without a manual reload.
	desk.page.wait_for_function(
		"(user) => (cur_frm.get_docinfo().assignments || []).some((a) => a.owner === user)",
		arg=colleague,
		timeout=30_000,
	)
	desk.screenshot("form-after-bulk-process")
	desk.open("/app/bq-deal/new")
	desk.page.wait_for_function("() => window.cur_frm && cur_frm.doctype === 'BQ Deal' && cur_frm.is_new()")
	items = desk.page.evaluate(
		"() => cur_frm.page.menu.find('.dropdown-item').toArray().map((a) => a.innerText)"
	)
	assert not any("Bulk Process" in item for item in items), items
	assert not desk.real_errors(), desk.real_errors()


def test_enter_in_a_field_adds_a_tag_and_starts_nothing(open_desk, desk_workers):
	"""Typing a new tag and pressing Enter adds it to the Tags field, as in Desk's own tag dialog; it
	does not start a bulk job (Start does)."""
	user = _user("bq-desk-tags")
	_, names = make_deals(2, owner=user)
	tag = f"bq-typed-{uuid.uuid4().hex[:6]}"
	desk = open_desk(user)
	desk.open("/app/bq-deal")
	_select_rows(desk.page, 2)
	_open_from_actions(desk.page)
	dialog = desk.page.locator(DIALOG)
	dialog.locator("select[data-fieldname='action']").select_option("add_tags")
	field = dialog.locator("[data-fieldname='bq_add_tags_tags'] input")
	field.click()
	field.type(tag)
	field.press("Enter")
	dialog.locator("[data-fieldname='bq_add_tags_tags'] .tb-selected-value", has_text=tag).wait_for()
	desk.page.wait_for_timeout(500)
	assert desk.page.evaluate("() => frappe.ui.open_dialogs.length") == 1, "only Bulk Process is open"
	frappe.db.rollback()
	assert not frappe.get_all("Bulk Queue Job", {"user": user}), "Enter started nothing"
	desk.screenshot("dialog-add-tags")
	_start(desk.page)
	job = _newest_job(user)
	assert wait_for_job(job).status == "Completed"
	frappe.db.rollback()
	assert all(
		tag in (t or "") for t in frappe.get_all("BQ Deal", {"name": ("in", names)}, pluck="_user_tags")
	)
	assert not desk.real_errors(), desk.real_errors()
