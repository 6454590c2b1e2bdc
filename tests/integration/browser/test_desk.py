# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Bulk Process from Desk, in real headless Chromium, as ordinary (non-Administrator) users."""

from __future__ import annotations

import json
import time
import uuid

import frappe

from ..conftest import LOG_DIR, make_records, make_todos, wait_for_job
from .conftest import ensure_desk_user

DIALOG = ".modal.show"


def _user(prefix: str, roles=("Blogger",)) -> str:
	"""A fresh System User per test, so their list views hold only this test's rows."""
	return ensure_desk_user(f"{prefix}-{uuid.uuid4().hex[:8]}@example.com", list(roles))


def _record_metric(name: str, value) -> None:
	path = LOG_DIR / "desk-metrics.json"
	metrics = json.loads(path.read_text()) if path.exists() else {}
	metrics[name] = value
	path.write_text(json.dumps(metrics, indent=1, sort_keys=True))


def _statuses(names: list[str]) -> dict[str, str]:
	frappe.db.rollback()
	return dict(frappe.get_all("ToDo", {"name": ("in", names)}, ["name", "status"], as_list=True))


def _listen_for_progress(page) -> None:
	"""Record every bulk_queue_progress event the page receives, with its arrival time."""
	page.evaluate(
		"""() => {
			window.__bq_events = [];
			frappe.realtime.on("bulk_queue_progress", (d) =>
				window.__bq_events.push({t: performance.now(), d}));
		}"""
	)


def _select_rows(page, count: int) -> list[str]:
	page.wait_for_selector(".list-row-checkbox")
	boxes = page.locator(".result .list-row-checkbox")
	names = []
	for i in range(count):
		box = boxes.nth(i)
		box.check()
		names.append(box.get_attribute("data-name"))
	return names


def _open_from_actions(page) -> None:
	page.locator(".actions-btn-group > button").click()
	page.locator(".actions-btn-group .dropdown-menu .dropdown-item", has_text="Bulk Process").click()
	page.wait_for_selector(f"{DIALOG} .modal-title:text-is('Bulk Process')")


def _dialog_on_own_todos(open_desk, prefix: str, count: int):
	"""A fresh user with ``count`` ToDos of their own, all selected in /app/todo and the Bulk Process
	dialog opened from Actions. Returns (desk, todo names)."""
	user = _user(prefix)
	_, names = make_todos(count, allocated_to=user)
	desk = open_desk(user)
	desk.open("/app/todo")
	_select_rows(desk.page, count)
	_open_from_actions(desk.page)
	return desk, names


def _open_from_menu(page) -> None:
	page.locator(".menu-btn-group > button").click()
	page.locator(".menu-btn-group .dropdown-menu .dropdown-item", has_text="Bulk Process").click()
	page.wait_for_selector(f"{DIALOG} .modal-title:text-is('Bulk Process')")


def _set_value(page, fieldname: str, value: str) -> None:
	dialog = page.locator(DIALOG)
	dialog.locator("select[data-fieldname='action']").select_option("set_value")
	dialog.locator("select[data-fieldname='field']").select_option(fieldname)
	dialog.locator("select[data-fieldname='value']").select_option(value)


def _start(page) -> float:
	started = page.evaluate("() => performance.now()")
	page.locator(f"{DIALOG} .btn-primary", has_text="Start").click()
	page.wait_for_selector(".bulk-queue-tray .bq-card")
	return started


def _card(page, job: str):
	return page.locator(f".bulk-queue-tray .bq-card[data-job='{job}']")


def _wait_for_card_status(page, job: str, statuses: tuple[str, ...], timeout: float = 90_000) -> None:
	page.wait_for_function(
		"""([job, statuses]) => {
			const card = document.querySelector(`.bulk-queue-tray .bq-card[data-job="${job}"]`);
			return card && statuses.includes(card.dataset.status);
		}""",
		arg=[job, list(statuses)],
		timeout=timeout,
	)


def _newest_job(user: str) -> str:
	frappe.db.rollback()
	return frappe.get_all("Bulk Queue Job", {"user": user}, pluck="name", order_by="creation desc", limit=1)[
		0
	]


def test_selected_rows_set_value(open_desk, desk_workers):
	"""Select 3 rows, Set Value Status = Closed: the tray reaches 100 % and exactly those rows close."""
	user = _user("bq-desk-select")
	_, names = make_todos(6, allocated_to=user)
	desk = open_desk(user)
	desk.open("/app/todo")
	assert desk.page.locator(".page-title .title-text").inner_text().strip() == "To Do", (
		"ToDo's own listview_settings (its onload) still runs"
	)
	desk.wait_for_realtime()
	_listen_for_progress(desk.page)

	chosen = _select_rows(desk.page, 3)
	_open_from_actions(desk.page)
	summary = desk.page.locator(f"{DIALOG} .bq-summary").inner_text()
	assert "3" in summary and "selected" in summary
	_set_value(desk.page, "status", "Closed")
	advanced = desk.page.locator(f"{DIALOG} [data-fieldname='advanced_section']")
	assert advanced.count() == 1
	desk.screenshot("dialog-set-value")
	started = _start(desk.page)

	job = _newest_job(user)
	_wait_for_card_status(desk.page, job, ("Completed",))
	card = _card(desk.page, job)
	assert card.locator(".bq-percent").inner_text() == "100%"
	assert "3 of 3" in card.locator(".bq-count").inner_text()
	desk.page.wait_for_timeout(600)  # let the bar's CSS transition finish for the screenshot
	desk.screenshot("tray-completed")

	statuses = _statuses(names)
	assert {n for n, s in statuses.items() if s == "Closed"} == set(chosen)
	events = desk.page.evaluate("() => window.__bq_events")
	assert events, "progress came through realtime"
	_record_metric("start_to_first_progress_event_ms", round(events[0]["t"] - started))
	_record_metric("start_to_final_event_ms", round(events[-1]["t"] - started))
	assert not desk.real_errors(), desk.real_errors()


def test_all_matching_filters(open_desk, desk_workers):
	"""The menu's Bulk Process takes every row matching the filters (300, the page shows 20); another
	user's matching rows are untouched."""
	user = _user("bq-desk-filters")
	other = _user("bq-desk-other")
	_, mine = make_todos(300, allocated_to=user)
	_, cancelled = make_todos(5, allocated_to=user, status="Cancelled")
	_, theirs = make_todos(40, allocated_to=other)
	desk = open_desk(user)
	desk.open("/app/todo?status=Open")
	assert desk.page.locator(".result .list-row-checkbox").count() == 20
	desk.wait_for_realtime()

	_open_from_menu(desk.page)
	summary = desk.page.locator(f"{DIALOG} .bq-summary").inner_text()
	assert "300" in summary and "match" in summary, summary
	_set_value(desk.page, "status", "Closed")
	desk.screenshot("dialog-filters")
	_start(desk.page)

	job = _newest_job(user)
	_wait_for_card_status(desk.page, job, ("Completed",), timeout=120_000)
	assert set(_statuses(mine).values()) == {"Closed"}
	assert set(_statuses(cancelled).values()) == {"Cancelled"}
	assert set(_statuses(theirs).values()) == {"Open"}
	frappe.db.rollback()
	saved = frappe.db.get_value("Bulk Queue Job", job, ["total", "succeeded", "filters"], as_dict=True)
	assert (saved.total, saved.succeeded) == (300, 300)
	assert json.loads(saved.filters) == [["ToDo", "status", "=", "Open"]]
	assert not desk.real_errors(), desk.real_errors()


def test_reload_mid_run_then_cancel_from_the_form(open_desk, desk_workers):
	"""A reload mid-run keeps showing progress; Cancel on the job form stops it, every record once."""
	user = _user("bq-desk-cancel")
	tag, _names = make_records(150, sleep_ms=120, owner=user)
	desk = open_desk(user)
	desk.open(f"/app/bq-test-record?tag={tag}")
	desk.wait_for_realtime()
	_open_from_menu(desk.page)
	dialog = desk.page.locator(DIALOG)
	dialog.locator("select[data-fieldname='action']").select_option("increment_counter")
	dialog.locator("[data-fieldname='advanced_section'] .section-head").click()
	dialog.locator("input[data-fieldname='chunk_size']").fill("10")
	_start(desk.page)
	job = _newest_job(user)

	desk.page.wait_for_function(
		"""(job) => {
			const card = document.querySelector(`.bulk-queue-tray .bq-card[data-job="${job}"]`);
			return card && parseInt(card.querySelector(".bq-percent").textContent) > 0;
		}""",
		arg=job,
		timeout=60_000,
	)
	desk.page.reload()
	desk.wait_for_desk()
	card = _card(desk.page, job)
	card.wait_for()
	assert card.get_attribute("data-status") in ("Queued", "Running")
	desk.wait_for_realtime()
	before = int(card.locator(".bq-percent").inner_text().rstrip("%"))
	desk.page.wait_for_function(
		"""([job, before]) => {
			const card = document.querySelector(`.bulk-queue-tray .bq-card[data-job="${job}"]`);
			return parseInt(card.querySelector(".bq-percent").textContent) > before;
		}""",
		arg=[job, before],
		timeout=30_000,
	)

	# The same request again while it runs shows the running job instead of starting another.
	_open_from_menu(desk.page)
	desk.page.locator(f"{DIALOG} select[data-fieldname='action']").select_option("increment_counter")
	desk.page.locator(f"{DIALOG} .btn-primary", has_text="Start").click()
	desk.page.locator("#alert-container", has_text="already running").wait_for()
	frappe.db.rollback()
	assert frappe.get_all("Bulk Queue Job", {"user": user}, pluck="name") == [job]

	card.locator(".bq-title").click()
	desk.page.wait_for_selector(".page-head .title-text:has-text('Increment Counter on 150')")
	desk.screenshot("job-form-running")
	desk.page.locator(".page-actions button", has_text="Cancel").first.click()
	desk.page.locator(f"{DIALOG} .btn-primary", has_text="Yes").click()
	desk.page.wait_for_selector(".page-head .indicator-pill:has-text('Cancelled')", timeout=30_000)

	saved = wait_for_job(job, statuses=("Cancelled",))
	time.sleep(2)  # a chunk that was running stops at its next commit
	frappe.db.rollback()
	saved = frappe.db.get_value("Bulk Queue Job", job, "*", as_dict=True)
	counters = frappe.get_all("BQ Test Record", {"tag": tag}, pluck="counter")
	assert saved.processed < saved.total
	assert set(counters) <= {0, 1}, "no record applied twice"
	assert sum(counters) == saved.succeeded, "the counters match the database"
	assert not desk.real_errors(), desk.real_errors()


def test_record_gone_before_start_is_listed_as_failed(open_desk, desk_workers):
	"""A record deleted between selection and Start is listed on the job form as failed with its
	error, and the job ends Completed with Errors."""
	user = _user("bq-desk-gone")
	_, _names = make_todos(4, allocated_to=user)
	desk = open_desk(user)
	desk.open("/app/todo")
	chosen = _select_rows(desk.page, 4)
	_open_from_actions(desk.page)
	_set_value(desk.page, "status", "Closed")
	gone = chosen[1]
	frappe.db.delete("ToDo", {"name": gone})
	frappe.db.commit()
	_start(desk.page)

	job = _newest_job(user)
	_wait_for_card_status(desk.page, job, ("Completed with Errors",))
	assert "1 failed" in _card(desk.page, job).locator(".bq-status").inner_text()

	desk.open(f"/app/bulk-queue-job/{job}")
	desk.page.wait_for_selector(".bq-failures tr.bq-failure")
	row = desk.page.locator(".bq-failures tr.bq-failure").first
	assert row.get_attribute("data-name") == gone
	assert "DoesNotExistError" in row.inner_text()
	assert desk.page.locator(".page-head .indicator-pill").inner_text().strip() == "Completed with Errors"
	assert desk.page.locator(".page-head .title-text").inner_text().startswith("Set Value on 4")
	desk.page.locator(".page-actions button", has_text="Retry Failed").wait_for()
	desk.screenshot("job-form-failures", full_page=True)

	desk.open("/app/bulk-queue-job")
	row = desk.page.locator(f".list-row-container:has(.list-row-checkbox[data-name='{job}'])")
	row.wait_for()
	assert "4 / 4" in row.inner_text() and "Completed with Errors" in row.inner_text()
	desk.screenshot("job-list")
	assert not desk.real_errors(), desk.real_errors()


def test_form_pages_thousands_of_failures(open_desk):
	"""A job with 5,000 failures opens at once: one page of 20, and Next moves on."""
	user = _user("bq-desk-many")
	job = _job_with_failures(user, 5000)
	desk = open_desk(user)
	desk.open("/app/todo")
	started = time.monotonic()
	desk.page.evaluate(f"() => frappe.set_route('Form', 'Bulk Queue Job', '{job}')")
	desk.page.wait_for_selector(".bq-failures .bq-range:has-text('5,000')")
	_record_metric("job_form_with_5000_failures_ms", round((time.monotonic() - started) * 1000))
	assert desk.page.locator(".bq-failures tr.bq-failure").count() == 20
	assert desk.page.locator(".bq-failures .bq-range").inner_text().startswith("1–20 of 5,000")
	group = desk.page.locator(".bq-errors tr.bq-error-group")
	assert group.count() == 1, "5,000 failures, one error"
	assert "5,000 ×" in group.inner_text() and "ToDo ‹record› not found" in group.inner_text()
	desk.screenshot("job-form-errors", full_page=True)
	desk.page.locator(".bq-failures .bq-next").click()
	desk.page.wait_for_selector(".bq-failures .bq-range:has-text('21–40')")
	desk.page.locator(".bq-failures .bq-prev").click()
	desk.page.wait_for_selector(".bq-failures .bq-range:has-text('1–20')")
	group.locator(".bq-traceback").click()
	desk.page.wait_for_selector(".modal.show .bq-traceback-text:has-text('get_doc')")
	desk.page.wait_for_timeout(500)  # the dialog's opening animation
	desk.screenshot("job-form-traceback")
	assert not desk.real_errors(), desk.real_errors()


def test_user_without_permission_is_not_offered_the_action(open_desk):
	"""A user who may only read a DocType (not export, nor print) sees no Bulk Process, neither in
	Actions nor in the menu."""
	from frappe.permissions import add_permission, update_permission_property

	if not frappe.db.exists("Role", "BQ Reader"):
		frappe.get_doc({"doctype": "Role", "role_name": "BQ Reader", "desk_access": 1}).insert()
	add_permission("BQ Test Record", "BQ Reader", 0, "read")
	for ptype in ("export", "print"):  # a new permission row has them: Bulk Process would offer them
		update_permission_property("BQ Test Record", "BQ Reader", 0, ptype, 0)
	frappe.db.commit()
	user = _user("bq-desk-reader", roles=("BQ Reader",))
	make_records(3)
	desk = open_desk(user)
	desk.open("/app/bq-test-record")
	_select_rows(desk.page, 1)
	desk.page.locator(".actions-btn-group > button").click()
	items = desk.page.locator(".actions-btn-group .dropdown-menu .dropdown-item").all_inner_texts()
	assert items and not any("Bulk Process" in i for i in items), items
	desk.page.keyboard.press("Escape")
	menu = desk.page.locator(".menu-btn-group .dropdown-menu .dropdown-item").all_inner_texts()
	assert not any("Bulk Process" in i for i in menu), menu
	assert not desk.real_errors(), desk.real_errors()


def test_delete_asks_for_confirmation_naming_the_count(open_desk):
	"""Choosing Delete turns Start into Delete, and a confirmation names how many records go."""
	desk, names = _dialog_on_own_todos(open_desk, "bq-desk-delete", 3)
	desk.page.locator(f"{DIALOG} select[data-fieldname='action']").select_option("delete")
	desk.page.locator(f"{DIALOG} .btn-primary", has_text="Delete").click()
	confirm = desk.page.locator(".modal.show .modal-body", has_text="Permanently delete 3")
	confirm.wait_for()
	desk.page.locator(".modal.show .btn-secondary, .modal.show .btn-default", has_text="No").last.click()
	assert set(_statuses(names).values()) == {"Open"}, "nothing deleted without confirmation"
	assert not frappe.get_all("Bulk Queue Job", {"user": desk.user})
	assert not desk.real_errors(), desk.real_errors()


def _job_with_failures(user: str, count: int) -> str:
	"""A finished job with ``count`` failure rows, written directly (fast) for the form to page."""
	from frappe.utils import now_datetime

	job = frappe.get_doc(
		{
			"doctype": "Bulk Queue Job",
			"title": f"Set Value on {count:,} ToDo",
			"reference_doctype": "ToDo",
			"action": "set_value",
			"action_label": "Set Value",
			"user": user,
			"status": "Failed",
			"queue": "default",
			"total": count,
			"processed": count,
			"failed": count,
			"chunk_size": 200,
		}
	)
	job.insert(ignore_permissions=True)
	frappe.db.set_value("Bulk Queue Job", job.name, "owner", user, update_modified=False)
	from bulk_queue import failures

	# Grouped as a worker groups them: one error, its traceback once.
	errors = failures.ErrorCounts(job.name)
	traceback = 'Traceback (most recent call last):\n  File "frappe/model/document.py", line 99, in get_doc\n'
	groups = [
		errors.add(f"missing-{i:05d}", "DoesNotExistError", f"ToDo missing-{i:05d} not found", traceback)
		for i in range(count)
	]
	errors.write(user)
	now = now_datetime()
	fields = ["name", "creation", "modified", "owner", "modified_by", "docstatus", "idx", "bulk_job"]
	fields += ["reference_doctype", "reference_name", "exception_type", "error", "error_group"]
	fields += ["attempts", "retried"]
	rows = [
		(
			f"{job.name}-f{i:05d}",
			now,
			now,
			user,
			user,
			0,
			0,
			job.name,
			"ToDo",
			f"missing-{i:05d}",
			"DoesNotExistError",
			f"ToDo missing-{i:05d} not found",
			groups[i],
			1,
			0,
		)
		for i in range(count)
	]
	frappe.db.bulk_insert("Bulk Queue Failure", fields, rows)
	frappe.db.commit()
	return job.name


def test_value_control_fits_the_field(open_desk, desk_workers):
	"""Value becomes the field's own control - a date picker for Date, a link with search for Link, a
	select for Select - and the value set through it is what lands in the records."""
	desk, names = _dialog_on_own_todos(open_desk, "bq-desk-controls", 2)
	dialog = desk.page.locator(DIALOG)
	dialog.locator("select[data-fieldname='field']").select_option("allocated_to")
	dialog.locator("input[data-fieldtype='Link'][data-fieldname='value']").wait_for()
	dialog.locator("select[data-fieldname='field']").select_option("priority")
	dialog.locator("select[data-fieldname='value']").wait_for()
	dialog.locator("select[data-fieldname='field']").select_option("date")
	dialog.locator("input[data-fieldtype='Date'][data-fieldname='value']").click()
	desk.page.locator(".datepicker.active").wait_for()
	desk.page.evaluate("() => cur_dialog.set_value('value', '2026-12-24')")
	dialog.locator(".modal-title").click()  # close the picker (Escape would close the dialog)
	_start(desk.page)
	job = _newest_job(desk.user)
	_wait_for_card_status(desk.page, job, ("Completed",))
	frappe.db.rollback()
	dates = {str(d) for d in frappe.get_all("ToDo", {"name": ("in", names)}, pluck="date")}
	assert dates == {"2026-12-24"}
	assert not desk.real_errors(), desk.real_errors()
