# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""The one file an output action (Print, Export) makes of a job: written a part at a time, merged once.

Each commit of a chunk that produced output writes one **part**: the commit's records rendered (a PDF
of their pages, or their rows), a private File attached to the chunk. Its row is inserted in the same
transaction as the chunk's watermark, so a part exists for exactly the records that commit carries: a
worker killed before it leaves no part for them (their try, from the watermark, writes its own), one
killed after it leaves the part and the watermark past them. The bytes on disk are named by the
chunk, the first record's index and the run's epoch, so a zombie run never writes over a part a newer
run committed; a part whose transaction rolled back is removed, and one left by a killed process is
never read (it has no File row) and goes with the job's folder.

When the job ends (``completion``, a step of its end), ``finish`` merges the parts in the selection's
order - chunk by chunk, record by record - into one **output**, a private File attached to the job
(``output_file``); the parts go in the same transaction. A job run again (Retry Failed) ends again and
appends the records it did then after the ones of its earlier output.

Everything lives under ``private/files/bulk_queue/<job>/``; deleting a job (retention, Desk) removes
it (``delete_job_files``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import frappe

from bulk_queue.utils import files

JOB = "Bulk Queue Job"
CHUNK = "Bulk Queue Chunk"
ROOT = "bulk_queue"

# format -> (extension of a part, extension of the output)
FORMATS = {"pdf": ("pdf", "pdf"), "csv": ("jsonl", "csv"), "xlsx": ("jsonl", "xlsx")}
_PART = re.compile(r"^part-(\d+)-(\d+)-(\d+)\.\w+$")


@dataclass(frozen=True)
class Spec:
	"""What an output action makes of a job: ``format`` (a key of FORMATS) and, for rows, the header."""

	format: str
	header: tuple[str, ...] = ()


# -- parts ----------------------------------------------------------------------------------------


def write_part(
	bulk_job: str, chunk: str, chunk_no: int, first: int, epoch: int, fmt: str, items: list
) -> None:
	"""Write the part of the records ``first``.. of a chunk (``items``: each record's PDF bytes, or its
	row) and insert its File row in the current transaction; the caller commits it with the watermark."""
	content = files.pdf_of(items) if fmt == "pdf" else files.rows_part(items)
	file_name = f"part-{chunk_no:08d}-{first:07d}-{epoch}.{FORMATS[fmt][0]}"
	url = f"/private/files/{ROOT}/{bulk_job}/parts/{file_name}"
	path = _write(url, content)
	frappe.db.after_rollback.add(lambda: _remove(path))
	_insert_file(
		url,
		file_name,
		attached_to=(CHUNK, chunk),
		size=len(content),
		content_hash=hashlib.md5(content).hexdigest(),
	)


def parts_of(bulk_job: str) -> list[frappe._dict]:
	"""The job's committed parts, in the selection's order."""
	rows = frappe.db.sql(
		"""select f.name, f.file_name, f.file_url from `tabFile` f
		where f.attached_to_doctype=%s
			and f.attached_to_name in (select c.name from `tabBulk Queue Chunk` c where c.bulk_job=%s)""",
		(CHUNK, bulk_job),
		as_dict=True,
	)
	keyed = []
	for row in rows:
		match = _PART.match(row.file_name or "")
		if match and row.file_url.startswith(f"/private/files/{ROOT}/{bulk_job}/parts/"):
			keyed.append(((int(match.group(1)), int(match.group(2))), row))
	return [row for _key, row in sorted(keyed, key=lambda pair: pair[0])]


# -- the output -----------------------------------------------------------------------------------


def finish(job) -> str | None:
	"""Merge the job's parts (after its earlier output, if it has one) into its output; return the
	output's URL, or None when there was nothing to merge. Runs as a step of the job's end; the caller
	commits."""
	fmt = job.get("output_format")
	if fmt not in FORMATS:
		return None
	parts = parts_of(job.name)
	if not parts:
		return None
	previous = _previous_output(job)
	header = list(json.loads(job.get("output_header") or "[]"))
	ext = FORMATS[fmt][1]
	file_name = files.safe_file_name(f"{job.reference_doctype}-{job.name}") + f".{ext}"
	url = f"/private/files/{ROOT}/{job.name}/{frappe.generate_hash(length=8)}/{file_name}"
	path = _disk_path(url)
	os.makedirs(os.path.dirname(path), exist_ok=True)
	frappe.db.after_rollback.add(lambda: _remove(path))
	part_paths = [_disk_path(p.file_url) for p in parts]
	with open(path, "wb") as dest:
		if fmt == "pdf":
			files.merge_pdfs(([previous.path] if previous else []) + part_paths, dest)
		elif fmt == "csv":
			if previous:
				with open(previous.path, "rb") as earlier:
					shutil.copyfileobj(earlier, dest)
			files.write_csv(None if previous else header, _rows(part_paths), dest)
		else:
			earlier = files.read_xlsx(previous.path) if previous else iter(())
			files.write_xlsx(header, _chain(earlier, _rows(part_paths)), dest, job.reference_doctype)
		size = dest.tell()
	_insert_file(
		url, file_name, attached_to=(JOB, job.name), size=size, content_hash=_md5_of(path), owner=job.user
	)
	gone = [p.name for p in parts] + ([previous.name] if previous else [])
	frappe.db.sql("delete from `tabFile` where name in %s", (gone,))
	frappe.db.set_value(JOB, job.name, "output_file", url, update_modified=False)
	job.output_file = url  # the notification links to it
	removed = part_paths + ([previous.path] if previous else [])
	frappe.db.after_commit.add(lambda: [_remove(p) for p in removed])
	return url


def _previous_output(job) -> frappe._dict | None:
	url = frappe.db.get_value(JOB, job.name, "output_file")
	if not url:
		return None
	name = frappe.db.get_value(
		"File", {"file_url": url, "attached_to_doctype": JOB, "attached_to_name": job.name}
	)
	path = _disk_path(url)
	if not name or not os.path.exists(path):
		return None
	return frappe._dict(name=name, url=url, path=path)


def _rows(paths: list[str]) -> Iterator[list]:
	for path in paths:
		yield from files.read_rows(path)


def _chain(*iterables) -> Iterator[list]:
	for iterable in iterables:
		yield from iterable


# -- files ------------------------------------------------------------------------------------------


def delete_job_files(bulk_job: str) -> None:
	"""Remove a deleted job's output and parts: their File rows, then its folder once the caller
	commits. Call it before the job's chunks go (the parts are attached to them)."""
	prefix = f"/private/files/{ROOT}/{bulk_job}/%"
	frappe.db.sql(
		"delete from `tabFile` where attached_to_doctype=%s and attached_to_name=%s and file_url like %s",
		(JOB, bulk_job, prefix),
	)
	frappe.db.sql(
		"""delete from `tabFile` where attached_to_doctype=%s and file_url like %s
		and attached_to_name in (select c.name from `tabBulk Queue Chunk` c where c.bulk_job=%s)""",
		(CHUNK, prefix, bulk_job),
	)
	folder = frappe.get_site_path("private", "files", ROOT, bulk_job)
	frappe.db.after_commit.add(lambda: shutil.rmtree(folder, ignore_errors=True))


def _insert_file(
	url: str,
	file_name: str,
	*,
	attached_to: tuple[str, str],
	size: int,
	content_hash: str,
	owner: str | None = None,
) -> None:
	"""A File row for bytes already on disk. Not ``File.insert``: that reads the file back into memory,
	copies it to a new name and refuses anything over System Settings' upload limit."""
	doc = frappe.new_doc("File")
	doc.update(
		{
			"name": frappe.generate_hash(length=10),
			"file_name": file_name,
			"file_url": url,
			"is_private": 1,
			"attached_to_doctype": attached_to[0],
			"attached_to_name": attached_to[1],
			"folder": "Home/Attachments",
			"file_size": size,
			"content_hash": content_hash,
			"file_type": FORMATS.get(file_name.rsplit(".", 1)[-1], (None, file_name.rsplit(".", 1)[-1]))[
				1
			].upper(),
		}
	)
	user = owner or frappe.session.user
	doc.owner = doc.modified_by = user
	doc.db_insert()


def _disk_path(url: str) -> str:
	relative = url.split("/private/files/", 1)[1]
	return frappe.get_site_path("private", "files", *relative.split("/"))


def _write(url: str, content: bytes) -> str:
	path = _disk_path(url)
	os.makedirs(os.path.dirname(path), exist_ok=True)
	temporary = f"{path}.tmp{os.getpid()}"
	with open(temporary, "wb") as f:
		f.write(content)
		f.flush()
		os.fsync(f.fileno())
	os.replace(temporary, path)
	return path


def _remove(path: str) -> None:
	try:
		os.remove(path)
	except FileNotFoundError:
		pass


def _md5_of(path: str) -> str:
	digest = hashlib.md5()
	with open(path, "rb") as f:
		for block in iter(lambda: f.read(1 << 20), b""):
			digest.update(block)
	return digest.hexdigest()
