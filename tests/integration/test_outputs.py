# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Print to one PDF and Export: each commit's pages or rows kept as a part of the job, merged once at
its end in the selection's order into one private file attached to the job - no page or row missing or
twice, whatever happens to the workers; only what the requester may print or read."""

from __future__ import annotations

import csv
import io
import os
import re
import time
import unicodedata
from datetime import timedelta

import frappe
import pytest
from frappe.utils import now_datetime

from bulk_queue.api.bulk import preview_bulk, retry_failed
from bulk_queue.utils import files

from .conftest import enqueue, ensure_user, failures, wait_for_job, wait_until
from .test_beyond_save import DEAL, _restrict_to_north, make_deals
from .test_desk_actions import CLAIM, make_claims

JOB = "Bulk Queue Job"


@pytest.fixture
def printer(site):
	"""An ordinary user who may print and export claims (Blogger), and export deals."""
	user = ensure_user("bq-printer@example.com", ["Blogger"])
	yield user
	frappe.set_user("Administrator")
	frappe.db.delete("User Permission", {"user": user})
	frappe.db.commit()


@pytest.fixture
def web(desk, site_conf):
	"""The site's web server, as wkhtmltopdf needs it: Frappe's print view links its styles and
	images by the site's URL (``host_name``), as on any production site."""
	site_conf(host_name=desk)
	return desk


def _submitted_claims(count: int, **values) -> list[str]:
	return make_claims(count, state="Approved", docstatus=1, **values)[1]


def _start(user: str, **kwargs) -> str:
	frappe.set_user(user)
	try:
		return enqueue(**kwargs)["bulk_job"]
	finally:
		frappe.set_user("Administrator")


def _finished(job: str, timeout: int = 300) -> frappe._dict:
	"""The job once it has ended and its end (the file's merge among its steps) is done."""
	wait_for_job(job, timeout=timeout)
	wait_until(lambda: frappe.db.get_value(JOB, job, "notified"), timeout=120, message="the job's end")
	return frappe.db.get_value(JOB, job, "*", as_dict=True)


def _path(url: str) -> str:
	return frappe.get_site_path("private", "files", *url.split("/private/files/", 1)[1].split("/"))


def _titles_on_pages(url: str) -> list[str]:
	"""The claim each page of the job's PDF shows (its name and title both say which), in page
	order, as ``<tag>-<number>``."""
	pages = []
	for text in files.pdf_page_texts(_path(url)):
		# The PDF's font joins "ff", "fi", "fl" into one glyph (ligature): "bq-14ff..." reads "bq-14ﬀ...".
		text = unicodedata.normalize("NFKC", text)
		found = {f"{tag}-{int(number)}" for tag, number in re.findall(r"(bq-[0-9a-f]{10})-(\d+)", text)}
		pages.append(found.pop() if len(found) == 1 else repr(found))
	return pages


def _title(name: str) -> str:
	"""A claim's ``<tag>-<number>`` (its name is ``<tag>-000007``, its title ``<tag>-7``)."""
	tag, number = name.rsplit("-", 1)
	return f"{tag}-{int(number)}"


def _job_files(job: str) -> list[frappe._dict]:
	frappe.db.rollback()
	return frappe.get_all(
		"File",
		filters={"file_url": ("like", f"/private/files/bulk_queue/{job}/%")},
		fields=["name", "file_url", "attached_to_doctype", "attached_to_name", "is_private"],
	)


# -- Print -------------------------------------------------------------------------------------------


def test_print_makes_one_pdf_of_every_record_once_in_the_selection_order(web, printer, workers):
	"""12 claims printed by an ordinary user in 3 chunks, selected in reverse: one private PDF
	attached to the job with a page per claim, in the order they were selected; the parts are gone;
	the notification links to the file."""
	names = list(reversed(_submitted_claims(12)))
	job = _start(printer, doctype=CLAIM, action="print_pdf", ids=names, chunk_size=4)
	workers.start(2)
	done = _finished(job)
	assert (done.status, done.succeeded, done.output_format) == ("Completed", 12, "pdf"), failures(job)
	assert done.output_file.startswith(f"/private/files/bulk_queue/{job}/")
	assert _titles_on_pages(done.output_file) == [_title(n) for n in names]
	[file] = _job_files(job)
	assert (file.attached_to_doctype, file.attached_to_name, file.is_private) == (JOB, job, 1)
	assert not os.path.exists(frappe.get_site_path("private", "files", "bulk_queue", job, "parts")) or not [
		f for f in os.listdir(frappe.get_site_path("private", "files", "bulk_queue", job, "parts"))
	]
	note = frappe.get_all("Notification Log", {"document_name": job, "for_user": printer}, ["email_content"])[
		0
	]
	assert done.output_file in note.email_content
	# Only its requester may download it: not a System Manager, though they read every job.
	frappe.set_user(printer)
	assert frappe.has_permission("File", "read", frappe.get_doc("File", file.name))
	frappe.set_user("Administrator")
	other = ensure_user("bq-other-manager@example.com", ["System Manager"])
	frappe.set_user(other)
	assert frappe.has_permission(JOB, "read", frappe.get_doc(JOB, job))
	assert not frappe.has_permission("File", "read", frappe.get_doc("File", file.name))
	frappe.set_user("Administrator")
	assert not frappe.db.get_value("File", file.name, "content_hash")


def test_records_frappe_will_not_print_fail_with_the_reason_and_have_no_page(web, printer, workers):
	"""Cancelled claims (Print Settings does not allow printing them) fail with Frappe's reason; the
	PDF has the others' pages only."""
	good = _submitted_claims(3)
	cancelled = make_claims(2, state="Approved", docstatus=2)[1]
	job = _start(printer, doctype=CLAIM, action="print_pdf", ids=good + cancelled)
	workers.start(1)
	done = _finished(job)
	assert (done.status, done.succeeded, done.failed) == ("Completed with Errors", 3, 2)
	assert {f.reference_name: f.error for f in failures(job)} == dict.fromkeys(
		cancelled, "Not allowed to print cancelled documents"
	)
	assert _titles_on_pages(done.output_file) == [_title(n) for n in good]


@pytest.mark.slow
def test_a_worker_killed_mid_chunk_leaves_no_page_missing_or_twice(web, printer, workers, site_conf):
	"""A worker SIGKILLed with its work horse while printing a chunk (5 records a commit): every claim
	has exactly one page in the PDF, in order."""
	site_conf(bulk_queue_commit_every=5)
	names = _submitted_claims(40)
	job = _start(printer, doctype=CLAIM, action="print_pdf", ids=names, chunk_size=20)
	workers.start(1, scheduler=True)
	wait_until(
		lambda: (frappe.db.get_value(JOB, job, "processed") or 0) >= 10, timeout=180, message="10 printed"
	)
	time.sleep(0.5)  # inside a commit's records
	workers.kill(0)
	workers.start(1)
	done = _finished(job, timeout=400)
	assert (done.status, done.succeeded) == ("Completed", 40), failures(job)
	assert _titles_on_pages(done.output_file) == [_title(n) for n in names]


def test_retry_failed_appends_the_records_it_prints_then(web, printer, workers):
	"""Cancelled claims fail; amended to printable and retried, the job's PDF is the first run's pages
	followed by theirs, and only that one file is left."""
	good = _submitted_claims(3)
	cancelled = make_claims(2, state="Approved", docstatus=2)[1]
	job = _start(printer, doctype=CLAIM, action="print_pdf", ids=cancelled + good)
	workers.start(1)
	first = _finished(job)
	assert first.failed == 2
	frappe.db.sql(f"update `tab{CLAIM}` set docstatus=1 where name in %s", (cancelled,))
	frappe.db.commit()
	frappe.set_user(printer)
	retry_failed(job)
	frappe.set_user("Administrator")
	wait_until(lambda: frappe.db.get_value(JOB, job, "output_file") != first.output_file, timeout=120)
	done = _finished(job)
	assert (done.status, done.succeeded, done.failed) == ("Completed", 5, 0)
	assert _titles_on_pages(done.output_file) == [_title(n) for n in good + cancelled]
	assert [f.file_url for f in _job_files(job)] == [done.output_file]
	assert not os.path.exists(_path(first.output_file))


def test_a_print_job_larger_than_the_limit_is_refused(printer, site_conf):
	"""Over Max Records per Print Job: refused with both numbers, nothing recorded."""
	site_conf(bulk_queue_max_print_records=5)
	names = _submitted_claims(6)
	before = frappe.db.count(JOB)
	frappe.set_user(printer)
	with pytest.raises(
		frappe.ValidationError, match="Print takes at most 5 records in one job; this selection has 6"
	):
		enqueue(doctype=CLAIM, action="print_pdf", ids=names)
	frappe.set_user("Administrator")
	assert frappe.db.count(JOB) == before


def test_print_takes_chunks_of_20_unless_told(printer):
	"""Printing is slow per record: 45 claims make 3 chunks, so every worker takes part."""
	names = _submitted_claims(45)
	job = _start(printer, doctype=CLAIM, action="print_pdf", ids=names)
	frappe.db.rollback()
	assert frappe.db.get_value(JOB, job, ["chunk_size", "chunks"]) == (20, 3)
	frappe.set_user(printer)
	from bulk_queue.api.bulk import cancel_bulk_job

	cancel_bulk_job(job)
	frappe.set_user("Administrator")


def test_bad_print_values_are_refused(printer):
	"""A print format of another DocType, an unknown letter head or page size: refused at once."""
	names = _submitted_claims(1)
	frappe.set_user(printer)
	for values, message in (
		({"print_format": "Nope"}, "is not a Print Format of BQ Claim"),
		({"letterhead": "Nope"}, "No enabled Letter Head"),
		({"page_size": "A11"}, "page_size must be one of"),
		({"pages": 2}, "Print takes"),
	):
		with pytest.raises(frappe.ValidationError, match=message):
			enqueue(doctype=CLAIM, action="print_pdf", ids=names, values=values)
	frappe.set_user("Administrator")


def test_a_print_dry_run_says_what_would_fail_and_renders_nothing(printer):
	"""The dry run checks each record as Frappe's print would (permission, cancelled) and writes no
	Access Log."""
	good = _submitted_claims(1)
	cancelled = make_claims(1, state="Approved", docstatus=2)[1]
	logs = frappe.db.count("Access Log")
	frappe.set_user(printer)
	result = preview_bulk(doctype=CLAIM, action="print_pdf", ids=good + cancelled)
	frappe.set_user("Administrator")
	outcome = {r["name"]: r["error"] for r in result["records"]}
	assert outcome == {good[0]: None, cancelled[0]: "Not allowed to print cancelled documents"}
	assert frappe.db.count("Access Log") == logs


# -- Export ------------------------------------------------------------------------------------------


def test_export_writes_the_rows_as_the_requester_reads_them_in_order(printer, workers):
	"""CSV of 30 deals in 3 chunks, selected in reverse: the header, then one row per deal in the
	selection's order; deals outside the requester's User Permissions fail and have no row."""
	_restrict_to_north(printer)
	_, north = make_deals(25, owner=printer, amount=250)
	_, south = make_deals(5, owner=printer, region="South")
	names = list(reversed(north + south))
	job = _start(
		printer,
		doctype=DEAL,
		action="export",
		ids=names,
		values={"fields": ["title", "amount", "region"], "file_type": "CSV"},
		chunk_size=10,
	)
	workers.start(2)
	done = _finished(job)
	assert (done.succeeded, done.failed) == (25, 5)
	assert {f.exception_type for f in failures(job)} == {"PermissionError"}
	with open(_path(done.output_file), encoding="utf-8") as f:
		rows = list(csv.reader(f))
	assert rows[0] == ["ID", "Title", "Amount", "Region"]
	expected = [n for n in names if n in north]
	assert [r[0] for r in rows[1:]] == expected
	assert {(r[2], r[3]) for r in rows[1:]} == {("250.0", "North")}


def test_export_refuses_a_field_the_requester_may_not_read(printer):
	"""Margin is at permlevel 1, which a Blogger may not read: refused by name, nothing recorded;
	Password fields are refused too."""
	_, names = make_deals(2, owner=printer)
	frappe.set_user(printer)
	with pytest.raises(frappe.PermissionError, match=r"You may not read Margin \(permission level 1\)"):
		enqueue(doctype=DEAL, action="export", ids=names, values={"fields": ["title", "margin"]})
	with pytest.raises(frappe.ValidationError, match="Password field"):
		enqueue(doctype=DEAL, action="export", ids=names, values={"fields": ["deal_pass"]})
	frappe.set_user("Administrator")


def test_export_to_excel_keeps_numbers_and_dates(printer, workers):
	"""Excel: one sheet named for the DocType, the header, numbers as numbers and dates as dates."""
	_, names = make_deals(7, owner=printer, amount=12.5)
	job = _start(
		printer,
		doctype=DEAL,
		action="export",
		ids=names,
		values={"fields": ["amount", "creation"], "file_type": "Excel"},
	)
	workers.start(1)
	done = _finished(job)
	assert done.output_file.endswith(".xlsx")
	from openpyxl import load_workbook

	book = load_workbook(_path(done.output_file), read_only=True)
	assert book.sheetnames == [DEAL]
	rows = list(book[DEAL].iter_rows(values_only=True))
	assert rows[0] == ("ID", "Amount", "Created On")
	assert [r[0] for r in rows[1:]] == names
	assert {r[1] for r in rows[1:]} == {12.5}
	assert all(r[2].year >= 2026 for r in rows[1:])


def test_an_export_dry_run_shows_the_row_without_unreadable_fields(printer):
	"""The dry run shows each record's row as the file will have it."""
	_, names = make_deals(1, owner=printer, amount=42)
	frappe.set_user(printer)
	result = preview_bulk(doctype=DEAL, action="export", ids=names, values={"fields": ["amount"]})
	frappe.set_user("Administrator")
	[record] = result["records"]
	assert record["error"] is None
	assert record["changes"] == [{"field": "amount", "label": "Amount", "old": None, "new": 42.0}]


def test_a_merge_that_keeps_failing_is_given_up_visibly(printer, workers):
	"""The merge of a job's parts fails (a part's bytes are gone): each try is logged and left to
	recovery's sweep; after the third the job's end goes on without a file, and the notification says
	so."""
	from bulk_queue import completion

	_, names = make_deals(3, owner=printer)
	job = _start(printer, doctype=DEAL, action="export", ids=names)
	workers.start(1)
	done = _finished(job)
	workers.stop()
	# As if it had just ended with a part whose bytes are missing.
	frappe.db.sql(
		"update `tabBulk Queue Job` set notified=0, end_steps=null, output_file=null where name=%s", job
	)
	chunk = frappe.db.get_value("Bulk Queue Chunk", {"bulk_job": job})
	from bulk_queue.outputs import _insert_file

	_insert_file(
		f"/private/files/bulk_queue/{job}/parts/part-00000001-0000000-1.jsonl",
		"part-00000001-0000000-1.jsonl",
		attached_to=("Bulk Queue Chunk", chunk),
		size=1,
	)
	frappe.db.commit()
	for attempt in (1, 2):
		completion.after_end(job, in_own_job=True)
		frappe.set_user("Administrator")
		frappe.db.rollback()
		row = frappe.db.get_value(JOB, job, ["notified", "end_steps"], as_dict=True)
		assert not row.notified and f"output-try-{attempt}" in row.end_steps
	completion.after_end(job, in_own_job=True)
	frappe.set_user("Administrator")
	frappe.db.rollback()
	assert frappe.db.get_value(JOB, job, "notified") == 1
	tries = {"reference_name": job, "method": ("like", "%could not be made%")}
	assert frappe.db.count("Error Log", tries) == 3
	notes = frappe.get_all(
		"Notification Log", {"document_name": job}, pluck="email_content", order_by="creation desc"
	)
	assert "could not be made" in notes[0]
	assert done.output_file  # the first end had made one


# -- retention ---------------------------------------------------------------------------------------


def test_clearing_old_jobs_removes_their_files(printer, workers):
	"""A job cleared by retention takes its file with it: no File row, nothing on disk."""
	_, names = make_deals(3, owner=printer)
	job = _start(printer, doctype=DEAL, action="export", ids=names)
	workers.start(1)
	done = _finished(job)
	assert os.path.exists(_path(done.output_file))
	frappe.db.set_value(JOB, job, "ended_at", now_datetime() - timedelta(days=200), update_modified=False)
	frappe.db.commit()
	from bulk_queue.bulk_queue.doctype.bulk_queue_job.bulk_queue_job import BulkQueueJob

	BulkQueueJob.clear_old_logs(days=90)
	assert not frappe.db.exists(JOB, job)
	assert _job_files(job) == []
	assert not os.path.exists(frappe.get_site_path("private", "files", "bulk_queue", job))


def test_csv_rows_survive_commas_quotes_and_newlines(printer, workers):
	"""Values with commas, quotes, newlines and non-ASCII text come back as they were."""
	text = 'Ünïcode, "quoted"\nsecond line'
	_, names = make_deals(2, owner=printer, note=text)
	job = _start(printer, doctype=DEAL, action="export", ids=names, values={"fields": ["note"]})
	workers.start(1)
	done = _finished(job)
	with open(_path(done.output_file), encoding="utf-8", newline="") as f:
		rows = list(csv.reader(io.StringIO(f.read())))
	assert [r[1] for r in rows[1:]] == [text, text]
