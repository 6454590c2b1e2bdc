# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""The fast path in Desk, as the people who see it: not offered to an ordinary user; for a System
Manager it names what it skips on the DocType, offers only fields a person may type into, and the job
form keeps what it skipped. A preview of a Password never shows it."""

from __future__ import annotations

import uuid

import frappe

from ..conftest import wait_for_job
from ..test_beyond_save import make_deals
from .test_desk import DIALOG, _newest_job, _open_from_actions, _select_rows, _start, _user


def _dialog_on_own_deals(open_desk, prefix: str, count: int, roles=("Blogger",)):
	"""A fresh user with ``count`` deals of their own, all selected in /app/bq-deal and the Bulk
	Process dialog opened from Actions. Returns (desk, user, deal names)."""
	user = _user(prefix, roles=roles)
	_, names = make_deals(count, owner=user)
	desk = open_desk(user)
	desk.open("/app/bq-deal")
	_select_rows(desk.page, count)
	_open_from_actions(desk.page)
	return desk, user, names


def test_an_ordinary_user_is_not_offered_the_fast_path(open_desk):
	"""A user without System Manager (and no role named in Settings) sees Set Value, not the fast path."""
	desk, _user_name, _names = _dialog_on_own_deals(open_desk, "bq-desk-nofast", 2)
	actions = desk.page.locator(f"{DIALOG} select[data-fieldname='action'] option").evaluate_all(
		"(options) => options.map((o) => o.value)"
	)
	assert "set_value" in actions and "set_value_fast" not in actions, actions
	assert not desk.real_errors(), desk.real_errors()


def test_the_fast_path_names_what_it_skips(open_desk, desk_workers):
	"""A System Manager choosing the fast path on BQ Deal reads, by name, the controller method and
	the app hooks it skips; set-once and read-only fields are not offered; the finished job's form keeps
	the list."""
	desk, user, names = _dialog_on_own_deals(open_desk, "bq-desk-fast", 3, roles=("System Manager",))
	dialog = desk.page.locator(DIALOG)
	dialog.locator("select[data-fieldname='action']").select_option("set_value_fast")
	skips = dialog.locator(".bq-fast-note .bq-skip").all_inner_texts()
	assert any("BQDeal.validate" in s and "bulk_queue_fixtures" in s for s in skips), skips
	assert any("deal_on_update" in s for s in skips), skips
	offered = dialog.locator("select[data-fieldname='field'] option").evaluate_all(
		"(options) => options.map((o) => o.value)"
	)
	assert "note" in offered and "code" not in offered and "computed" not in offered, offered
	dialog.locator("select[data-fieldname='field']").select_option("note")
	dialog.locator("input[data-fieldname='value']").fill("set fast")
	desk.screenshot("dialog-fast-path-skips")
	_start(desk.page)
	job = _newest_job(user)
	assert wait_for_job(job).status == "Completed"
	desk.open(f"/app/bulk-queue-job/{job}")
	skipped = desk.page.locator("[data-fieldname='skipped'] .control-value")
	skipped.wait_for()
	assert "BQDeal.validate" in skipped.inner_text()
	desk.screenshot("job-form-fast-path-skipped", full_page=True)
	frappe.db.rollback()
	assert set(frappe.get_all("BQ Deal", {"name": ("in", names)}, pluck="note")) == {"set fast"}
	assert not desk.real_errors(), desk.real_errors()


def test_a_preview_never_shows_a_password(open_desk):
	"""Previewing Set Value on a Password field shows that it would be set, never the value."""
	desk, _user_name, _names = _dialog_on_own_deals(open_desk, "bq-desk-secret", 2, roles=("System Manager",))
	password = f"hunter2-{uuid.uuid4().hex[:8]}"
	dialog = desk.page.locator(DIALOG)
	dialog.locator("select[data-fieldname='action']").select_option("set_value")
	dialog.locator("select[data-fieldname='field']").select_option("deal_pass")
	dialog.locator("input[data-fieldname='value']").fill(password)
	dialog.locator(".btn-secondary", has_text="Preview").click()
	table = desk.page.locator(".bq-preview")
	table.wait_for()
	text = table.inner_text()
	assert "Deal Pass" in text and "********" in text and password not in table.inner_html()
	desk.screenshot("preview-password-masked")
	assert not desk.real_errors(), desk.real_errors()
