# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""A job waiting for a worker nobody started: its form says so, with the command to start one. No
workers in this module (it must not use ``desk_workers``)."""

from __future__ import annotations

import uuid

import frappe

from ..conftest import make_records
from .conftest import ensure_desk_user


def test_the_job_form_says_when_no_worker_listens_on_its_queue(open_desk):
	"""As its requester: the form of a Queued job on a queue no live worker serves shows, above the
	fields, that the job waits and how to start a worker; once it is cancelled, it says nothing."""
	from bulk_queue.api.bulk import cancel_bulk_job, enqueue_bulk

	user = ensure_desk_user(f"bq-desk-queue-{uuid.uuid4().hex[:8]}@example.com", ["Blogger"])
	_, names = make_records(3, owner=user)
	frappe.set_user(user)
	job = enqueue_bulk(doctype="BQ Test Record", action="save", ids=names, queue="long")["bulk_job"]
	frappe.set_user("Administrator")
	frappe.db.commit()
	desk = open_desk(user)
	desk.open(f"/app/bulk-queue-job/{job}")
	intro = desk.page.locator(".form-message:has-text('No worker is listening')")
	intro.wait_for()
	assert "long" in intro.inner_text() and "bench worker" in intro.inner_text()
	desk.screenshot("job-form-no-worker")
	cancel_bulk_job(job)
	frappe.db.commit()
	desk.open(f"/app/bulk-queue-job/{job}")
	desk.page.locator(".page-head .indicator-pill", has_text="Cancelled").wait_for()
	assert not desk.page.locator(".form-message:has-text('No worker is listening')").is_visible()
	assert not desk.real_errors(), desk.real_errors()
