# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Dry run (``preview_bulk``): what would change and what would fail, with nothing written or sent."""

from __future__ import annotations

import frappe
import pytest

from bulk_queue.api.bulk import preview_bulk

from .conftest import RealtimeListener, enqueue, failures, make_records, purge_queues, wait_for_job

TABLES = (
	"tabBQ Test Record",
	"tabBulk Queue Job",
	"tabBulk Queue Chunk",
	"tabBulk Queue Failure",
	"tabVersion",
	"tabComment",
	"tabActivity Log",
	"tabEmail Queue",
	"tabError Log",
)


def _checksums() -> dict:
	frappe.db.rollback()
	return {row[0]: row[1] for row in frappe.db.sql(f"checksum table {', '.join(f'`{t}`' for t in TABLES)}")}


def _queued() -> int:
	from frappe.utils.background_jobs import get_queue

	return sum(len(get_queue(q)) for q in ("short", "default", "long"))


def test_dry_run_changes_nothing_and_predicts_the_real_run(workers):
	"""The dry run reports each record's changes (field, old, new) and the failures; the touched tables
	are byte-for-byte unchanged, nothing is queued or sent; the real run then fails the same records."""
	_, names = make_records(12, fail_every=4)
	purge_queues()
	before, queued = _checksums(), _queued()
	listener = RealtimeListener(event="list_update")
	try:
		result = preview_bulk(
			doctype="BQ Test Record", action="set_value", ids=names, values={"title": "previewed"}
		)
		frappe.db.commit()  # what the request would do after answering: it must commit nothing
	finally:
		listener.close()
	assert _checksums() == before, "the dry run wrote something"
	assert _queued() == queued and not listener.messages
	assert result["sampled"] == 12 and result["total"] == 12 and result["would_fail"] == 3
	by_name = {r["name"]: r for r in result["records"]}
	ok = by_name[names[0]]
	assert ok["error"] is None
	assert [(c["field"], c["new"]) for c in ok["changes"]] == [("title", "previewed")]
	assert ok["changes"][0]["old"] == frappe.db.get_value("BQ Test Record", names[0], "title")
	predicted = {r["name"] for r in result["records"] if r["error"]}
	assert all("flagged to fail validation" in by_name[n]["error"] for n in predicted)

	job = enqueue(doctype="BQ Test Record", ids=names, action="set_value", values={"title": "real"})
	workers.start(1)
	wait_for_job(job["bulk_job"])
	assert {f.reference_name for f in failures(job["bulk_job"])} == predicted


def test_dry_run_of_a_sample_by_filters(site):
	"""With filters the dry run tries the first ``sample`` matching records and says how many match."""
	tag, _names = make_records(30)
	result = preview_bulk(doctype="BQ Test Record", action="delete", filters={"tag": tag}, sample=5)
	assert (result["sampled"], result["total"], result["would_fail"]) == (5, 30, 0)
	assert all(r["changes"][0]["new"] == "(deleted)" for r in result["records"])
	assert frappe.db.count("BQ Test Record", {"tag": tag}) == 30


def test_dry_run_refuses_an_action_that_commits(site):
	"""An action that commits by itself cannot be previewed: a clear error, and nothing committed."""
	tag, names = make_records(2)
	with pytest.raises(frappe.ValidationError, match="commits or rolls back by itself"):
		preview_bulk(doctype="BQ Test Record", action="increment_and_commit", ids=names)
	frappe.db.rollback()
	assert frappe.get_all("BQ Test Record", {"tag": tag}, pluck="counter") == [0, 0]


@pytest.mark.parametrize("sample", [0, 101, "many"])
def test_dry_run_sample_limits(site, sample):
	"""The sample is 1 to 100 records."""
	_, names = make_records(1)
	with pytest.raises(frappe.ValidationError, match="sample must be a whole number"):
		preview_bulk(doctype="BQ Test Record", action="save", ids=names, sample=sample)


def test_dry_run_keeps_the_callers_own_uncommitted_work(site):
	"""From the console, a dry run in the middle of the caller's own transaction undoes only itself."""
	_, names = make_records(2)
	doc = frappe.get_doc("BQ Test Record", names[0])
	doc.title = "changed by the caller, not committed"
	doc.save()
	result = preview_bulk(doctype="BQ Test Record", action="set_value", ids=names, values={"title": "dry"})
	assert result["would_fail"] == 0
	assert result["records"][0]["changes"][0]["old"] == "changed by the caller, not committed"
	assert frappe.db.get_value("BQ Test Record", names[0], "title") == "changed by the caller, not committed"
	assert frappe.db.get_value("BQ Test Record", names[1], "title") != "dry"
	frappe.db.rollback()
	assert frappe.db.get_value("BQ Test Record", names[0], "title") != "changed by the caller, not committed"
