# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Limits and tuning knobs, read from the site config (``bench --site S set-config key value``).

Every key is optional; the defaults below are what a production site gets.
"""

from __future__ import annotations

import frappe
from frappe.utils import cint, flt

QUEUES = ("short", "default", "long")

DEFAULTS = {
	# API limits
	"bulk_queue_max_records": 1_000_000,  # records in one job (a filter selection may match this many)
	"bulk_queue_max_ids": 10_000,  # names listed in one call (ids); larger selections use filters
	# filter selections matching up to this many records are planned in the request (the answer has the
	# exact total); larger ones are planned by a background job that writes chunks as it reads
	"bulk_queue_plan_inline_max": 10_000,
	"bulk_queue_plan_page_size": 5_000,  # names the planner reads per query and commits at once
	"bulk_queue_default_chunk_size": 200,
	"bulk_queue_max_chunk_size": 1_000,
	"bulk_queue_default_queue": "default",
	# worker behaviour
	"bulk_queue_commit_every": 50,  # records per transaction
	"bulk_queue_commit_interval": 5.0,  # seconds; commit earlier when records are slow
	"bulk_queue_chunk_timeout": 0,  # seconds per chunk job; 0 = the queue's own timeout
	"bulk_queue_max_attempts": 3,  # tries per record for transient errors
	"bulk_queue_progress_interval": 0.5,  # seconds between realtime events of one job
	# a chunk job that finishes its chunk takes the job's next one in the same process for up to this
	# many seconds (0: one chunk per job), saving the start-up of a fresh work horse per chunk
	"bulk_queue_chain_seconds": 60,
	# footprint and recovery
	"bulk_queue_max_queued_chunks": 8,  # chunk jobs of one bulk job on RQ at once
	"bulk_queue_max_chunk_attempts": 3,  # worker losses at the same record before it is failed
	"bulk_queue_stale_after": 120,  # seconds without a heartbeat before a started chunk is suspect
}


def get(key: str):
	"""The configured value of ``key`` (site config first), or its default."""
	default = DEFAULTS[key]
	value = frappe.conf.get(key)
	if value in (None, ""):
		return default
	if isinstance(default, float):
		return flt(value)
	if isinstance(default, int):
		return cint(value)
	return value
