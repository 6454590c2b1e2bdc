# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""The file formats of Print and Export (pure): PDF merging, rows kept through a part, CSV and Excel."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

import pytest

from bulk_queue.utils import files

# Frappe depends on both; a bare Python may not have them.
pypdf = pytest.importorskip("pypdf")
openpyxl = pytest.importorskip("openpyxl")


def _pdf(pages: int) -> bytes:
	from pypdf import PdfWriter

	writer = PdfWriter()
	for _ in range(pages):
		writer.add_blank_page(width=72, height=72)
	out = io.BytesIO()
	writer.write(out)
	return out.getvalue()


def test_merged_pdfs_keep_every_page_in_order():
	"""Parts of 1, 2 and 3 pages make one PDF of 6 pages."""
	out = io.BytesIO()
	assert files.merge_pdfs([_pdf(1), _pdf(2), _pdf(3)], out) == 6
	assert len(files.pdf_page_texts(out.getvalue())) == 6


def test_rows_keep_their_types_through_a_part(tmp_path):
	"""Dates, datetimes, decimals, None and text come back from a part as they went in."""
	rows = [
		["a", datetime.date(2026, 12, 7), datetime.datetime(2026, 12, 7, 10, 30), Decimal("1.5"), None],
		["b\nc", None, None, 3, True],
	]
	path = tmp_path / "part.jsonl"
	path.write_bytes(files.rows_part(rows))
	back = list(files.read_rows(str(path)))
	assert back[0] == ["a", datetime.date(2026, 12, 7), datetime.datetime(2026, 12, 7, 10, 30), 1.5, None]
	assert back[1] == ["b\nc", None, None, 3, True]


def test_csv_has_the_header_once_and_quotes_what_needs_it():
	"""A header, then rows; commas, quotes and newlines quoted; None empty; datetimes with a space."""
	out = io.BytesIO()
	count = files.write_csv(["ID", "Note"], [["1", 'a, "b"\nc'], ["2", None]], out)
	assert count == 2
	assert out.getvalue().decode() == 'ID,Note\r\n1,"a, ""b""\nc"\r\n2,\r\n'
	out = io.BytesIO()
	files.write_csv(None, [[datetime.datetime(2026, 1, 2, 3, 4, 5)]], out)
	assert out.getvalue().decode() == "2026-01-02 03:04:05\r\n"


def test_excel_starts_a_new_sheet_past_its_row_limit(monkeypatch, tmp_path):
	"""Past the rows a sheet holds, a second sheet with its own header; reading gives every row."""
	monkeypatch.setattr(files, "XLSX_ROWS_PER_SHEET", 3)
	path = tmp_path / "out.xlsx"
	rows = [[i, f"x\x01{i}"] for i in range(7)]
	assert files.write_xlsx(["N", "Text"], rows, str(path), "Sales Invoice") == 7
	from openpyxl import load_workbook

	book = load_workbook(str(path), read_only=True)
	assert book.sheetnames == ["Sales Invoice", "Sales Invoice (2)", "Sales Invoice (3)"]
	assert list(files.read_xlsx(str(path))) == [[i, f"x{i}"] for i in range(7)]


@pytest.mark.parametrize(
	"title, expected",
	[
		("Sales Invoice", "Sales Invoice"),
		("A/B: C?", "A B  C"),
		("A very long DocType name that goes on (2)", "A very long DocType name th (2)"),
	],
)
def test_sheet_titles_are_what_excel_accepts(title, expected):
	"""At most 31 characters, none of []:*?/\\, a sheet's number kept."""
	assert files.sheet_title(title) == expected


def test_file_names_are_safe():
	"""Spaces and slashes become dashes."""
	assert files.safe_file_name("Sales Invoice/x BQJ-00012") == "Sales-Invoice-x-BQJ-00012"
