# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Realtime progress of a bulk job, sent to the user who asked for it and to whoever has its form open
(Frappe lets only users who may read the job join its document room)."""

from __future__ import annotations

import time

import frappe
from frappe.utils import get_datetime, now_datetime

from bulk_queue import settings, throttle
from bulk_queue.states import ACTIVE, FINISHED

EVENT = "bulk_queue_progress"
FIELDS = (
	"name",
	"title",
	"reference_doctype",
	"action",
	"status",
	"user",
	"total",
	"expected",
	"processed",
	"succeeded",
	"failed",
	"unchanged",
	"started_at",
	"ended_at",
	"selected_at",
	"rate_limit",
	"start_at",
	"paused_at",
	"paused_from",
	"output_format",
	"output_file",
	"notified",
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
	payload = current(bulk_job)
	if not payload or not payload["user"]:
		return False
	frappe.publish_realtime(EVENT, payload, user=payload["user"])
	frappe.publish_realtime(EVENT, payload, doctype="Bulk Queue Job", docname=bulk_job)
	return True


def current(bulk_job: str) -> dict | None:
	"""The job's progress message as the database has it now; None when there is no such job."""
	job = frappe.db.get_value("Bulk Queue Job", bulk_job, FIELDS, as_dict=True)
	return message(job) if job else None


def message(job: frappe._dict) -> dict:
	"""The payload of one progress event: counters, and rate and ETA measured on the server's clock.

	While a job is Planning, ``total`` counts the records selected so far and ``expected`` how many
	matched when it was started; percent and ETA are measured against the larger of the two.
	"""
	# Paused (or Scheduled) before its records were all selected: still counted against what matched.
	planning = job.status == "Planning" or (
		job.status in ("Paused", "Scheduled") and job.get("paused_from") == "Planning"
	)
	selected = job.total or 0
	total = max(selected, job.get("expected") or 0) if planning else selected
	processed = job.processed or 0
	elapsed = None
	if job.get("started_at"):
		end = job.get("ended_at") or job.get("paused_at") or now_datetime()
		elapsed = max(0.0, (get_datetime(end) - get_datetime(job.started_at)).total_seconds())
	rate = processed / elapsed if elapsed and processed else None
	active = job.status in ACTIVE
	eta = (total - processed) / rate if rate and active and total > processed else None
	return {
		"bulk_job": job.name,
		"title": job.get("title"),
		"doctype": job.reference_doctype,
		"action": job.action,
		"status": job.status,
		"user": job.user,
		"total": total,
		"selected": selected,
		"planning": planning,
		"selected_at": job.get("selected_at"),
		"processed": processed,
		"succeeded": job.succeeded or 0,
		"failed": job.failed or 0,
		# of the succeeded: left as is (nothing to do on them)
		"unchanged": job.get("unchanged") or 0,
		"percent": round(100.0 * processed / total, 1) if total else 100.0,
		"elapsed": round(elapsed, 1) if elapsed is not None else None,
		"rate": round(rate, 1) if rate else None,
		"eta": round(eta) if eta is not None else None,
		"rate_limit": job.get("rate_limit") or None,
		"start_at": job.get("start_at"),
		# "rate" (its records-per-second limit) or "database" (busy): why workers waited just now
		"throttled": throttle.throttled(job.name) if active else None,
		# Print / Export: the file, once the job's end has merged it
		"output_format": job.get("output_format") or None,
		"output_file": job.get("output_file") or None,
		# ended, with records, and its end not handled yet: the file is being merged
		"output_pending": bool(
			job.get("output_format")
			and not job.get("output_file")
			and job.status in FINISHED
			and job.succeeded
			and not job.get("notified")
		),
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
