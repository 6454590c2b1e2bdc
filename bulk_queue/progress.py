# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Realtime progress of a bulk job, sent to the user who asked for it and to no one else."""

from __future__ import annotations

import time

import frappe

from bulk_queue import settings

EVENT = "bulk_queue_progress"
FIELDS = (
	"name",
	"reference_doctype",
	"action",
	"status",
	"user",
	"total",
	"processed",
	"succeeded",
	"failed",
)

_last_sent: dict[str, float] = {}


def publish(bulk_job: str, *, force: bool = False) -> bool:
	"""Send the job's committed counters to its user, at most every ``bulk_queue_progress_interval``.

	Call it after a commit: it reads the committed row, so the browser never sees work that is later
	rolled back. ``force`` bypasses the throttle (status changes, the final event). Returns whether an
	event was sent.
	"""
	if not force and not _acquire_slot(bulk_job):
		return False
	job = frappe.db.get_value("Bulk Queue Job", bulk_job, FIELDS, as_dict=True)
	if not job or not job.user:
		return False
	frappe.publish_realtime(EVENT, message(job), user=job.user)
	return True


def message(job: frappe._dict) -> dict:
	"""The payload of one progress event."""
	total = job.total or 0
	return {
		"bulk_job": job.name,
		"doctype": job.reference_doctype,
		"action": job.action,
		"status": job.status,
		"total": total,
		"processed": job.processed,
		"succeeded": job.succeeded,
		"failed": job.failed,
		"percent": round(100.0 * job.processed / total, 1) if total else 100.0,
	}


def _acquire_slot(bulk_job: str) -> bool:
	"""One slot per interval per job across all workers (Redis SET NX PX); local fallback."""
	interval = settings.get("bulk_queue_progress_interval")
	if interval <= 0:
		return True
	try:
		key = frappe.cache.make_key(f"bulk_queue:progress:{bulk_job}")
		return bool(frappe.cache.set(key, 1, nx=True, px=max(1, int(interval * 1000))))
	except Exception:
		now = time.monotonic()
		if now - _last_sent.get(bulk_job, 0.0) < interval:
			return False
		_last_sent[bulk_job] = now
		return True
