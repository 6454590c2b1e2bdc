# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Control from Desk, in real headless Chromium as an ordinary user: a dry run from the Bulk Process
dialog, Pause and Resume on the job form, a job scheduled for later."""

from __future__ import annotations

import uuid

import frappe

from ..conftest import counters, make_records, wait_for_job
from .conftest import ensure_desk_user

DIALOG = ".modal.show"


def _user(prefix: str) -> str:
	return ensure_desk_user(f"{prefix}-{uuid.uuid4().hex[:8]}@example.com", ["Blogger"])


def _open_bulk_process(desk, tag: str) -> None:
	desk.open(f"/app/bq-test-record?tag={tag}")
	page = desk.page
	page.locator(".menu-btn-group > button").click()
	page.locator(".menu-btn-group .dropdown-menu .dropdown-item", has_text="Bulk Process").click()
	page.wait_for_selector(f"{DIALOG} .modal-title:text-is('Bulk Process')")


def _checksum() -> int:
	frappe.db.rollback()
	return frappe.db.sql("checksum table `tabBQ Test Record`")[0][1]


def test_preview_from_the_dialog_shows_changes_and_failures(open_desk):
	"""Preview in the dialog lists, per record, the field's old and new value or why it would fail;
	nothing is saved and no job is started."""
	user = _user("bq-desk-preview")
	tag, names = make_records(6, fail_every=3, owner=user)
	before = _checksum()
	desk = open_desk(user)
	_open_bulk_process(desk, tag)
	dialog = desk.page.locator(DIALOG)
	dialog.locator("select[data-fieldname='action']").select_option("set_value")
	dialog.locator("select[data-fieldname='field']").select_option("title")
	dialog.locator("input[data-fieldname='value']").fill("Renamed in bulk")
	dialog.locator(".btn-secondary", has_text="Preview").click()
	preview = desk.page.locator(".modal.show table.bq-preview")
	preview.wait_for()
	rows = preview.locator("tr.bq-preview-row")
	assert rows.count() == 6
	summary = desk.page.locator(".modal.show .bq-preview-summary").inner_text()
	assert "Tried 6 of 6 records: 2 would fail" in summary, summary
	text = preview.inner_text()
	assert f"{names[0]}" in text and "→ Renamed in bulk" in text
	assert text.count("flagged to fail validation") == 2
	desk.screenshot("bulk-process-preview")
	desk.page.locator(".modal.show .btn-primary", has_text="Close").click()
	# Back in the Bulk Process dialog, with what was chosen, ready to start.
	back = desk.page.locator(f"{DIALOG} input[data-fieldname='value']")
	back.wait_for()
	assert back.input_value() == "Renamed in bulk"
	assert _checksum() == before
	assert not frappe.db.count("Bulk Queue Job", {"user": user})
	assert not desk.real_errors(), desk.real_errors()


def test_pause_and_resume_from_the_form(open_desk, desk_workers):
	"""Pause on the job form stops the job with what it committed; Resume finishes it, every record
	exactly once."""
	from bulk_queue import console

	user = _user("bq-desk-pause")
	tag, names = make_records(240, owner=user)
	frappe.set_user(user)
	try:
		job = console.enqueue(
			"BQ Test Record", "increment_counter", ids=names, values={"sleep": 0.1}, chunk_size=10
		)
	finally:
		frappe.set_user("Administrator")
	desk = open_desk(user)
	desk.open(f"/app/bulk-queue-job/{job}")
	page = desk.page
	page.wait_for_function(
		"(job) => cur_frm && cur_frm.doc.name === job && cur_frm.doc.processed > 0",
		arg=job,
		timeout=60_000,
	)
	page.locator(".page-actions button", has_text="Pause").first.click()
	page.wait_for_selector(".page-head .indicator-pill:has-text('Paused')", timeout=30_000)
	page.wait_for_selector(".form-dashboard-section:has-text('Paused: resume it to go on')")
	desk.screenshot("job-form-paused")
	held = sum(counters(tag).values())
	assert held < 240
	page.locator(".page-actions button", has_text="Resume").first.click()
	done = wait_for_job(job, timeout=120)
	assert done.status == "Completed" and set(counters(tag).values()) == {1}
	page.wait_for_selector(".page-head .indicator-pill:has-text('Completed')", timeout=30_000)
	assert not desk.real_errors(), desk.real_errors()


def test_scheduled_job_shows_when_it_starts(open_desk):
	"""A job started for later shows as Scheduled with its start time in the tray and on the form."""
	from frappe.utils import add_to_date, now_datetime

	user = _user("bq-desk-later")
	tag, _names = make_records(3, owner=user)
	desk = open_desk(user)
	_open_bulk_process(desk, tag)
	dialog = desk.page.locator(DIALOG)
	dialog.locator("select[data-fieldname='action']").select_option("increment_counter")
	dialog.locator("[data-fieldname='advanced_section'] .section-head").click()
	later = add_to_date(now_datetime(), hours=3).replace(microsecond=0)
	field = dialog.locator("input[data-fieldname='start_at']")
	field.click()
	field.fill(later.strftime("%Y-%m-%d %H:%M:%S"))  # as typed, in the site's yyyy-mm-dd format
	dialog.locator(".modal-title").click()  # leave the field; the date picker closes
	desk.page.locator(f"{DIALOG} .btn-primary", has_text="Start").click()
	desk.page.wait_for_selector(".bulk-queue-dialog", state="hidden", timeout=20_000)
	assert not desk.page.locator(".modal.show").count(), desk.page.locator(".modal.show").inner_text()
	card = desk.page.locator(".bulk-queue-tray .bq-card").first
	card.wait_for()
	assert card.get_attribute("data-status") == "Scheduled"
	assert "Starts at" in card.inner_text()
	frappe.db.rollback()
	job = frappe.get_all("Bulk Queue Job", {"user": user}, ["name", "status", "start_at"])[0]
	assert job.status == "Scheduled" and abs((job.start_at - later).total_seconds()) < 60
	desk.screenshot("tray-scheduled")
	console_cancel(job.name)
	assert not desk.real_errors(), desk.real_errors()


def console_cancel(job: str) -> None:
	from bulk_queue.api.bulk import cancel_bulk_job

	cancel_bulk_job(job)
	frappe.db.commit()
