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
it (``delete_job_files``), with whatever a killed process left there. Only the job's requester (and
Administrator) may download its file (``file_permission``), since it holds what they may read. Workers
write to the site's ``private/files``: workers on several hosts share the sites folder, as Frappe's
own files need.
"""

from __future__ import annotations

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
	_insert_file(url, file_name, attached_to=(CHUNK, chunk), size=len(content))


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
	# What to merge is read; the merge may take minutes: no transaction stays open meanwhile (the
	# job has ended and the end's named lock is held, so the parts cannot change).
	frappe.db.rollback()
	ext = FORMATS[fmt][1]
	file_name = files.safe_file_name(f"{job.reference_doctype}-{job.name}") + f".{ext}"
	url = f"/private/files/{ROOT}/{job.name}/{frappe.generate_hash(length=8)}/{file_name}"
	path = _disk_path(url)
	os.makedirs(os.path.dirname(path), exist_ok=True)
	part_paths = [_disk_path(p.file_url) for p in parts]
	earlier = previous.path if previous and previous.on_disk else None
	try:
		with open(path, "wb") as dest:
			if fmt == "pdf":
				files.merge_pdfs(([earlier] if earlier else []) + part_paths, dest)
			elif fmt == "csv":
				if earlier:
					with open(earlier, "rb") as f:
						shutil.copyfileobj(f, dest)
				files.write_csv(None if earlier else header, _rows(part_paths), dest)
			else:
				rows = _chain(files.read_xlsx(earlier) if earlier else (), _rows(part_paths))
				files.write_xlsx(header, rows, dest, job.reference_doctype)
			size = dest.tell()
	except BaseException:
		_remove(path)
		raise
	frappe.db.after_rollback.add(lambda: _remove(path))
	_insert_file(url, file_name, attached_to=(JOB, job.name), size=size, owner=job.user)
	gone = [p.name for p in parts] + ([previous.name] if previous else [])
	frappe.db.sql("delete from `tabFile` where name in %s", (gone,))
	frappe.db.set_value(JOB, job.name, "output_file", url, update_modified=False)
	job.output_file = url  # the notification links to it
	removed = part_paths + ([earlier] if earlier else [])
	frappe.db.after_commit.add(lambda: [_remove(p) for p in removed])
	return url


def _previous_output(job) -> frappe._dict | None:
	"""The output of the job's earlier end (a Retry Failed runs it again), whose records come first."""
	url = frappe.db.get_value(JOB, job.name, "output_file")
	if not url:
		return None
	name = frappe.db.get_value(
		"File", {"file_url": url, "attached_to_doctype": JOB, "attached_to_name": job.name}
	)
	if not name:
		return None
	path = _disk_path(url)
	return frappe._dict(name=name, url=url, path=path, on_disk=os.path.exists(path))


def _rows(paths: list[str]) -> Iterator[list]:
	for path in paths:
		yield from files.read_rows(path)


def _chain(*iterables) -> Iterator[list]:
	for iterable in iterables:
		yield from iterable


# -- files ------------------------------------------------------------------------------------------


# Frappe v16 reads a permission hook's None as a refusal; v15 as "no opinion" (and True as the final
# word, past Frappe's own File rule). A hook that does not refuse says so the way the version expects.
_NO_OBJECTION = True if int(frappe.__version__.split(".")[0]) >= 16 else None


def file_permission(doc, ptype=None, user=None, debug=False) -> bool | None:
	"""``has_permission`` hook for File: a job's file and parts only for the job's requester (False
	refuses; otherwise Frappe's own rules decide)."""
	return _NO_OBJECTION if _may_have(doc.get("file_url") or "", user or frappe.session.user) else False


def guard_download() -> None:
	"""``before_request`` hook: Frappe serves ``/private/files/...`` to whoever may read the record a
	file is attached to (its own check, which no permission hook reaches), so a System Manager - who
	reads every job - could download anyone's Print or Export. A job's file goes to its requester."""
	request = getattr(frappe.local, "request", None)
	path = getattr(request, "path", "") or ""
	if not path.startswith(f"/private/files/{ROOT}/"):
		return
	from frappe.auth import validate_auth

	validate_auth()  # a token's user is known only after this (Frappe runs it again, harmlessly)
	if frappe.session.user != "Administrator" and not _may_have(path, frappe.session.user):
		raise frappe.PermissionError(frappe._("This file belongs to another user's bulk job."))


def _may_have(url: str, user: str) -> bool:
	"""Whether ``user`` may have the file at ``url``: anything outside bulk_queue's folder; a job's
	file (or part) only its requester."""
	prefix = f"/private/files/{ROOT}/"
	if not url.startswith(prefix):
		return True
	bulk_job = url[len(prefix) :].split("/", 1)[0]
	requester = frappe.db.get_value(JOB, bulk_job, "user")
	return bool(requester) and user == requester


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
	owner: str | None = None,
) -> None:
	"""A File row for bytes already on disk. Not ``File.insert``: that reads the file back into memory,
	copies it to a new name and refuses anything over System Settings' upload limit. No content hash:
	Frappe would hand these bytes to an identical upload (its duplicate check), and removing them with
	the job would take that attachment's content too."""
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
			"file_type": FORMATS.get(file_name.rsplit(".", 1)[-1], (None, file_name.rsplit(".", 1)[-1]))[
				1
			].upper(),
		}
	)
	# db_insert takes the session's user for a row without a creation time: set both.
	doc.creation = doc.modified = frappe.utils.now_datetime()
	doc.owner = doc.modified_by = owner or frappe.session.user
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
