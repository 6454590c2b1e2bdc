# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""A selection too large to take in the request, from Desk: the job shows Planning with an estimate
until its planner has selected the records, then runs to the exact total. And the fast path's
warning and chunk size in the dialog."""

from __future__ import annotations

import frappe

from ..conftest import Workers, make_todos
from .test_desk import DIALOG, _card, _newest_job, _open_from_menu, _start, _user, _wait_for_card_status


def test_large_selection_shows_planning_then_the_exact_total(open_desk, site_conf, bq_settings):
	"""No worker yet: the tray card and the job form say Planning, ~N and when the selection was
	taken; once a worker runs, the planner selects, the job completes with the exact total. The fast
	path (offered to the user's role by Bulk Queue Settings) names what it skips on ToDo and does not
	offer the fields ToDo's controller mirrors elsewhere."""
	site_conf(bulk_queue_plan_inline_max=50, bulk_queue_plan_page_size=40)
	bq_settings(fast_path_roles=["Blogger"])
	user = _user("bq-desk-planning")
	_, mine = make_todos(130, allocated_to=user)
	desk = open_desk(user)
	desk.open("/app/todo?status=Open")
	desk.wait_for_realtime()
	_open_from_menu(desk.page)
	dialog = desk.page.locator(DIALOG)
	action = dialog.locator("select[data-fieldname='action']")
	chunk_input = dialog.locator("input[data-fieldname='chunk_size']")

	def chunk_size() -> str:
		return "".join(c for c in chunk_input.input_value() if c.isdigit())

	# Each action's own default chunk size, as long as the user has not typed one.
	action.select_option("set_value")
	assert chunk_size() == "200"
	action.select_option("set_value_fast")
	assert chunk_size() == "1000"
	assert dialog.locator(".bq-fast-note").is_visible()
	skips = dialog.locator(".bq-fast-note .bq-skip").all_inner_texts()
	assert any("ToDo.on_update" in s and "frappe" in s for s in skips), skips
	offered = dialog.locator("select[data-fieldname='field'] option").evaluate_all(
		"(options) => options.map((o) => o.value)"
	)
	assert "priority" in offered and "status" not in offered and "allocated_to" not in offered
	dialog.locator("select[data-fieldname='field']").select_option("priority")
	dialog.locator("select[data-fieldname='value']").select_option("High")
	desk.screenshot("dialog-fast-path")
	_start(desk.page)

	job = _newest_job(user)
	desk.page.wait_for_selector(DIALOG, state="detached")
	card = _card(desk.page, job)
	assert card.get_attribute("data-status") == "Planning"
	assert "~130" in card.locator(".bq-count").inner_text()
	assert "Selecting records" in card.locator(".bq-speed").inner_text()
	desk.screenshot("tray-planning")
	desk.open(f"/app/bulk-queue-job/{job}")
	desk.page.wait_for_selector(".indicator-pill:has-text('Planning')")
	assert "Selecting records" in desk.page.locator(".form-dashboard .progress-area").inner_text()
	assert desk.page.locator("[data-fieldname='selected_at'] .control-value").inner_text().strip()
	desk.screenshot("job-form-planning")

	# Back on the list (the tray follows the Planning job from the page's boot info), then a worker:
	# the job can end within a second, before a page opened after it would know about it.
	desk.open("/app/todo?status=Open")
	_card(desk.page, job).wait_for()
	desk.wait_for_realtime()
	workers = Workers()
	try:
		workers.start(1)
		_wait_for_card_status(desk.page, job, ("Completed",), timeout=120_000)
	finally:
		workers.stop()
	card = _card(desk.page, job)
	assert "130 of 130" in card.locator(".bq-count").inner_text()
	frappe.db.rollback()
	assert set(frappe.get_all("ToDo", {"name": ("in", mine)}, pluck="priority")) == {"High"}
	saved = frappe.db.get_value(
		"Bulk Queue Job", job, ["total", "expected", "title", "chunk_size"], as_dict=True
	)
	assert (saved.total, saved.expected, saved.chunk_size) == (130, 130, 1000) and "130" in saved.title
	assert not desk.real_errors(), desk.real_errors()
