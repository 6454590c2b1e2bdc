# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""The file formats an output action writes (pure: no ``frappe``): PDFs merged page by page, and rows
kept as JSON lines between a chunk's commit and the job's end, then written as CSV or Excel.

A part holds the records of one commit; the output is the parts in order. Rows keep their types
through a part (a date stays a date, so Excel gets a date cell, not text).
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any, BinaryIO

# Excel's own limit is 1,048,576 rows a sheet; the header takes one.
XLSX_ROWS_PER_SHEET = 1_048_575
XLSX_CELL_CHARS = 32_767
# Characters no XLSX cell may hold (openpyxl refuses them): control characters but tab, LF and CR.
_ILLEGAL_XLSX = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


# -- PDF --------------------------------------------------------------------------------------------


def merge_pdfs(sources: Iterable[bytes | str], dest: BinaryIO | str) -> int:
	"""Write the pages of ``sources`` (PDF bytes or file paths), in order, to ``dest`` (a binary file
	or a path); return how many pages that is."""
	from pypdf import PdfReader, PdfWriter

	writer = PdfWriter()
	for source in sources:
		reader = PdfReader(io.BytesIO(source) if isinstance(source, bytes | bytearray) else source)
		for page in reader.pages:
			writer.add_page(page)
	pages = len(writer.pages)
	writer.write(dest)
	return pages


def pdf_of(sources: list[bytes]) -> bytes:
	"""One PDF of the pages of ``sources``, in order."""
	out = io.BytesIO()
	merge_pdfs(sources, out)
	return out.getvalue()


def pdf_page_texts(source: bytes | str) -> list[str]:
	"""The text of each page (for checks: which record each page shows)."""
	from pypdf import PdfReader

	reader = PdfReader(io.BytesIO(source) if isinstance(source, bytes | bytearray) else source)
	return [page.extract_text() or "" for page in reader.pages]


# -- rows -------------------------------------------------------------------------------------------


def _encode(value: Any) -> Any:
	if isinstance(value, datetime.datetime):
		return {"$dt": value.isoformat()}
	if isinstance(value, datetime.date):
		return {"$d": value.isoformat()}
	if isinstance(value, Decimal):
		return float(value)
	if isinstance(value, datetime.timedelta | datetime.time):
		return str(value)
	if isinstance(value, bytes):
		return value.decode("utf-8", "replace")
	if value is None or isinstance(value, str | int | float | bool):
		return value
	return str(value)


def _decode(value: Any) -> Any:
	if isinstance(value, dict):
		if "$dt" in value:
			return datetime.datetime.fromisoformat(value["$dt"])
		if "$d" in value:
			return datetime.date.fromisoformat(value["$d"])
	return value


def rows_part(rows: list[list]) -> bytes:
	"""Rows as JSON lines, one row a line, their dates kept as dates."""
	return b"".join(
		json.dumps([_encode(v) for v in row], ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
		for row in rows
	)


def read_rows(path: str) -> Iterator[list]:
	"""The rows of a part written by ``rows_part``."""
	with open(path, "rb") as f:
		for line in f:
			if line.strip():
				yield [_decode(v) for v in json.loads(line)]


def _text(value: Any) -> str:
	if value is None:
		return ""
	if isinstance(value, datetime.datetime):
		return value.isoformat(sep=" ")
	if isinstance(value, bool):
		return "1" if value else "0"
	return str(value)


def write_csv(header: list[str] | None, rows: Iterable[list], dest: BinaryIO) -> int:
	"""Write ``header`` (unless None) and ``rows`` as UTF-8 CSV; return the data rows written."""
	text = io.TextIOWrapper(dest, encoding="utf-8", newline="", write_through=True)
	writer = csv.writer(text)
	if header is not None:
		writer.writerow(header)
	count = 0
	for row in rows:
		writer.writerow([_text(v) for v in row])
		count += 1
	text.flush()
	text.detach()
	return count


def _cell(value: Any) -> Any:
	if isinstance(value, str):
		# Excel holds at most 32,767 characters in a cell (it calls a longer one a corrupt file).
		return _ILLEGAL_XLSX.sub("", value)[:XLSX_CELL_CHARS]
	if isinstance(value, dict | list):
		return json.dumps(value)
	return value


def write_xlsx(header: list[str], rows: Iterable[list], dest: BinaryIO | str, title: str) -> int:
	"""Write ``header`` and ``rows`` as an Excel workbook, a new sheet (``title``, ``title (2)``, ...)
	every ``XLSX_ROWS_PER_SHEET`` rows; return the data rows written."""
	from openpyxl import Workbook

	workbook = Workbook(write_only=True)
	base = sheet_title(title)
	sheet, count, in_sheet = None, 0, XLSX_ROWS_PER_SHEET
	for row in rows:
		if in_sheet >= XLSX_ROWS_PER_SHEET:
			number = count // XLSX_ROWS_PER_SHEET + 1
			sheet = workbook.create_sheet(base if number == 1 else sheet_title(f"{title} ({number})"))
			sheet.append(header)
			in_sheet = 0
		sheet.append([_cell(v) for v in row])
		in_sheet += 1
		count += 1
	if sheet is None:
		workbook.create_sheet(base).append(header)
	workbook.save(dest)
	return count


def read_xlsx(source: BinaryIO | str) -> Iterator[list]:
	"""The data rows of a workbook ``write_xlsx`` wrote, every sheet in order, without their headers."""
	from openpyxl import load_workbook

	workbook = load_workbook(source, read_only=True)
	try:
		for sheet in workbook.worksheets:
			for i, row in enumerate(sheet.iter_rows(values_only=True)):
				if i:
					yield list(row)
	finally:
		workbook.close()


def sheet_title(title: str) -> str:
	"""A sheet name Excel accepts: at most 31 characters, none of ``[]:*?/\\``."""
	cleaned = re.sub(r"[\[\]:*?/\\]", " ", title).strip() or "Sheet"
	if len(cleaned) <= 31:
		return cleaned
	suffix = re.search(r" \(\d+\)$", cleaned)
	tail = suffix.group(0) if suffix else ""
	return cleaned[: 31 - len(tail)].rstrip() + tail


def safe_file_name(text: str) -> str:
	"""``text`` as a file name: letters, digits, ``-``, ``_`` and ``.``; others become ``-``."""
	return re.sub(r"-{2,}", "-", re.sub(r"[^\w.-]+", "-", text, flags=re.UNICODE)).strip("-.") or "output"
