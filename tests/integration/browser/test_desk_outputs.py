# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Print and Export in Desk, as an ordinary user: chosen in the Bulk Process dialog, followed in the
tray, downloaded from its link and from the job's form."""

from __future__ import annotations

import frappe

from ..conftest import wait_for_job, wait_until
from ..test_beyond_save import make_deals
from ..test_desk_actions import make_claims
from .conftest import ensure_desk_user
from .test_desk import DIALOG, _card, _newest_job, _open_from_actions, _open_from_menu, _select_rows, _start


def _download_link(desk, job: str):
	"""The tray card's download link once the job's file is merged."""
	link = _card(desk.page, job).locator("a.bq-download")
	link.wait_for(timeout=120_000)
	return link


def test_print_selected_claims_to_one_pdf_and_download_it(open_desk, desk_workers, desk, site_conf):
	"""A clerk selects three submitted claims, picks Print with the Standard format and A4, starts:
	the tray offers "Download PDF", which serves a PDF of three pages to them; the job's form shows
	the same file."""
	site_conf(host_name=desk)  # wkhtmltopdf fetches the print view's styles from the site
	user = ensure_desk_user("bq-desk-printer@example.com", ["Blogger"])
	tag, _ = make_claims(3, state="Approved", docstatus=1, owner=user)
	page = open_desk(user)
	page.open(f"/app/bq-claim?tag={tag}")
	_select_rows(page.page, 3)
	_open_from_actions(page.page)
	dialog = page.page.locator(DIALOG)
	dialog.locator("select[data-fieldname='action']").select_option("print_pdf")
	formats = dialog.locator("select[data-fieldname='bq_print_pdf_print_format'] option").all_inner_texts()
	assert "Standard" in formats, formats
	dialog.locator("select[data-fieldname='bq_print_pdf_page_size']").select_option("A4")
	page.screenshot("dialog-print")
	_start(page.page)
	job = _newest_job(user)
	link = _download_link(page, job)
	assert link.inner_text().strip() == "Download PDF"
	page.screenshot("tray-print-download")
	done = wait_for_job(job)
	assert (done.status, done.succeeded) == ("Completed", 3)
	response = page.page.request.get(link.get_attribute("href"))
	assert response.ok and response.body()[:5] == b"%PDF-", response.status
	from bulk_queue.utils import files

	assert len(files.pdf_page_texts(response.body())) == 3
	page.open(f"/app/bulk-queue-job/{job}")
	page.page.locator(".page-actions .bq-download", has_text="Download PDF").wait_for()
	field = page.page.locator("[data-fieldname='output_file']")
	assert field.locator("a").first.get_attribute("href").endswith(".pdf")
	page.screenshot("job-form-output-file")
	assert not page.real_errors(), page.real_errors()


def test_export_every_deal_matching_a_filter_to_excel(open_desk, desk_workers):
	"""A user filters their deals, opens Bulk Process from the menu, picks Export, ticks Amount, chooses
	Excel and starts: the workbook has a header and one row per deal, with the fields they ticked."""
	user = ensure_desk_user("bq-desk-exporter@example.com", ["Blogger"])
	tag, names = make_deals(6, owner=user, amount=75)
	page = open_desk(user)
	page.open(f"/app/bq-deal?tag={tag}")
	_open_from_menu(page.page)
	dialog = page.page.locator(DIALOG)
	dialog.locator("select[data-fieldname='action']").select_option("export")
	dialog.locator("select[data-fieldname='bq_export_file_type']").select_option("Excel")
	fields = dialog.locator("[data-fieldname='bq_export_fields']")
	labels = fields.locator(".checkbox label").all_inner_texts()
	assert not any("Margin" in label for label in labels), "a permlevel 1 field is not offered"
	fields.locator("input[data-unit='amount']").check()
	page.screenshot("dialog-export")
	_start(page.page)
	job = _newest_job(user)
	link = _download_link(page, job)
	assert link.inner_text().strip() == "Download File"
	response = page.page.request.get(link.get_attribute("href"))
	assert response.ok, response.status
	import io

	from openpyxl import load_workbook

	rows = list(load_workbook(io.BytesIO(response.body()), read_only=True).active.iter_rows(values_only=True))
	assert rows[0][0] == "ID" and "Amount" in rows[0]
	assert sorted(r[0] for r in rows[1:]) == sorted(names)
	amount = rows[0].index("Amount")
	assert {r[amount] for r in rows[1:]} == {75}
	# Nobody else may download it: not a colleague, nor a System Manager (who reads every job).
	wait_until(lambda: frappe.db.get_value("Bulk Queue Job", job, "output_file"))
	href = link.get_attribute("href")
	other = open_desk(ensure_desk_user("bq-desk-colleague@example.com", ["Blogger"]))
	assert other.page.request.get(href).status in (403, 404)
	manager = open_desk(ensure_desk_user("bq-desk-manager@example.com", ["System Manager"]))
	assert manager.page.request.get(f"/api/resource/Bulk Queue Job/{job}").ok
	assert manager.page.request.get(href).status == 403
	assert not page.real_errors(), page.real_errors()
