# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Bulk Queue Settings in Desk, in real headless Chromium: the form a System Manager sees, and what its
lists change for an ordinary user."""

from __future__ import annotations

import uuid

import frappe

from ..conftest import make_records
from .conftest import ensure_desk_user


def _user(prefix: str, roles) -> str:
	return ensure_desk_user(f"{prefix}-{uuid.uuid4().hex[:8]}@example.com", list(roles))


def test_settings_form_explains_every_field_and_shows_overrides(open_desk, site_conf):
	"""A System Manager sees every field with its help text, the actions that can be allowed, and which
	fields the site config overrides (read-only, with the value that applies)."""
	site_conf(bulk_queue_max_queued_chunks=16)
	desk = open_desk(_user("bq-desk-admin", ["System Manager"]))
	desk.open("/app/bulk-queue-settings")
	page = desk.page
	page.wait_for_selector(".frappe-control[data-fieldname='max_records']")
	meta = frappe.get_meta("Bulk Queue Settings")
	for df in meta.fields:
		if df.fieldtype in ("Section Break", "Column Break", "HTML"):
			continue
		control = page.locator(f".frappe-control[data-fieldname='{df.fieldname}']")
		# A table (Server Script Actions) shows its description above its grid.
		help_box = ".grid-description" if df.fieldtype == "Table" else ".help-box"
		help_text = control.locator(help_box).inner_text().strip()
		assert help_text, f"{df.fieldname} has no help text on the form"
	actions_help = page.locator(".frappe-control[data-fieldname='allowed_actions'] .help-box").inner_text()
	assert "set_value_fast" in actions_help and "increment_counter" in actions_help
	warning = page.locator(".frappe-control[data-fieldname='overrides_html'] .alert-warning")
	assert "Chunk Jobs on the Queue per Job: 16" in warning.inner_text()
	queued = page.locator(".frappe-control[data-fieldname='max_queued_chunks']")
	assert "Overridden by the site config: 16 applies." in queued.inner_text()
	assert not queued.locator("input").is_visible()  # read-only: shown as a value, not an input
	# The picture in README: the page as loaded, tall enough for the whole form.
	page.set_viewport_size({"width": 1400, "height": 1560})
	desk.open("/app/bulk-queue-settings")
	page.wait_for_selector(".frappe-control[data-fieldname='overrides_html'] .alert-warning")
	desk.screenshot("bulk-queue-settings")
	assert not desk.real_errors(), desk.real_errors()


def test_settings_saved_in_desk_apply_to_the_list_views(open_desk, bq_settings):
	"""Saving Allowed DocTypes in the form takes Bulk Process off other DocTypes' lists for an ordinary
	user at their next page load; the Settings form itself is not theirs to open."""
	bq_settings(allowed_doctypes=[])
	admin = open_desk(_user("bq-desk-admin", ["System Manager"]))
	admin.open("/app/bulk-queue-settings")
	page = admin.page
	field = page.locator(".frappe-control[data-fieldname='allowed_doctypes'] input")
	field.click()
	field.press_sequentially("ToDo", delay=50)
	page.locator("[role='option']", has_text="ToDo").first.click()
	page.keyboard.press("Control+s")
	page.wait_for_function(
		"() => cur_frm && !cur_frm.is_dirty() && (cur_frm.doc.allowed_doctypes || []).length === 1"
	)
	frappe.db.rollback()
	assert [r.document_type for r in frappe.get_single("Bulk Queue Settings").allowed_doctypes] == ["ToDo"]

	user = _user("bq-desk-writer", ["Blogger"])
	make_records(2, owner=user)
	desk = open_desk(user)
	desk.open("/app/bq-test-record")
	desk.page.wait_for_selector(".list-row-checkbox")
	desk.page.locator(".result .list-row-checkbox").first.check()
	desk.page.locator(".actions-btn-group > button").click()
	items = desk.page.locator(".actions-btn-group .dropdown-menu .dropdown-item").all_inner_texts()
	assert items and not any("Bulk Process" in i for i in items), items
	desk.page.keyboard.press("Escape")
	desk.open("/app/todo")
	assert desk.page.evaluate("() => bulk_queue.can_bulk_process('ToDo')")
	desk.page.goto("/app/bulk-queue-settings")
	# Desk does not even know the DocType for a user without access: "Not found".
	desk.page.wait_for_selector("text=/not (found|permitted)/i", timeout=20_000)
	assert not desk.page.locator(".frappe-control[data-fieldname='max_records']").count()
