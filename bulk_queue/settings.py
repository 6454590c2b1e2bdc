# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Limits and tuning knobs.

An administrator sets the common ones in **Bulk Queue Settings** (Desk, System Manager). Every key below
may also be set in the site config (``bench --site S set-config key value``): an operator's override,
which wins over Bulk Queue Settings (the form says which of its fields are overridden). The rest are
site-config only. Unset everywhere, the defaults below apply: what a production site gets.
"""

from __future__ import annotations

import frappe
from frappe.utils import cint, flt


def queues() -> tuple[str, ...]:
	"""The RQ queues of this bench: Frappe's short, default and long, then each custom queue of the
	``workers`` key of common_site_config.json (served by ``bench worker --queue <name>``)."""
	from frappe.utils.background_jobs import get_queues_timeout

	return tuple(get_queues_timeout())


DEFAULTS = {
	# API limits
	"bulk_queue_max_records": 1_000_000,  # records in one job (a filter selection may match this many)
	"bulk_queue_max_ids": 10_000,  # names listed in one call (ids); larger selections use filters
	"bulk_queue_max_print_records": 10_000,  # records in one Print job (one PDF)
	# filter selections matching up to this many records are planned in the request (the answer has the
	# exact total); larger ones are planned by a background job that writes chunks as it reads
	"bulk_queue_plan_inline_max": 10_000,
	"bulk_queue_plan_page_size": 5_000,  # names the planner reads per query and commits at once
	"bulk_queue_max_active_jobs": 0,  # Planning/Queued/Running jobs of one user at once; 0: no limit
	"bulk_queue_rate_limit": 60,  # jobs one user may start per minute over HTTP; 0: no limit
	"bulk_queue_default_chunk_size": 200,
	"bulk_queue_max_chunk_size": 1_000,
	"bulk_queue_default_queue": "default",
	# worker behaviour
	"bulk_queue_commit_every": 50,  # records per transaction
	"bulk_queue_commit_interval": 5.0,  # seconds; commit earlier when records are slow
	"bulk_queue_chunk_timeout": 0,  # seconds per chunk job; 0 = the queue's own timeout
	"bulk_queue_max_attempts": 3,  # tries per record for transient errors
	"bulk_queue_progress_interval": 0.5,  # seconds between realtime events of one job
	# back off while MariaDB's Threads_running is above this (0: never), see throttle.py
	"bulk_queue_throttle_threads_running": 0,
	"bulk_queue_max_rate_limit": 100_000,  # the highest records-per-second limit a job may ask for
	"bulk_queue_max_preview": 100,  # records one dry run (preview_bulk) may try
	# a chunk job that finishes its chunk takes the job's next one in the same process for up to this
	# many seconds (0: one chunk per job), saving the start-up of a fresh work horse per chunk
	"bulk_queue_chain_seconds": 60,
	# footprint and recovery
	"bulk_queue_max_queued_chunks": 8,  # chunk jobs of one bulk job on RQ at once
	"bulk_queue_max_chunk_attempts": 3,  # worker losses at the same record before it is failed
	"bulk_queue_stale_after": 120,  # seconds without a heartbeat before a started chunk is suspect
}


SETTINGS_DOCTYPE = "Bulk Queue Settings"

# Site-config key -> field of Bulk Queue Settings.
SETTINGS_FIELDS = {
	"bulk_queue_max_records": "max_records",
	"bulk_queue_max_active_jobs": "max_active_jobs",
	"bulk_queue_rate_limit": "rate_limit",
	"bulk_queue_max_print_records": "max_print_records",
	"bulk_queue_default_chunk_size": "default_chunk_size",
	"bulk_queue_max_chunk_size": "max_chunk_size",
	"bulk_queue_default_queue": "default_queue",
	"bulk_queue_max_queued_chunks": "max_queued_chunks",
	"bulk_queue_commit_every": "commit_every",
	"bulk_queue_max_attempts": "max_attempts",
	"bulk_queue_throttle_threads_running": "throttle_threads_running",
}
# Keys for which 0 is a setting ("no limit"), not "unset".
ZERO_ALLOWED = frozenset(
	{"bulk_queue_max_active_jobs", "bulk_queue_rate_limit", "bulk_queue_throttle_threads_running"}
)

# The ranges Bulk Queue Settings accepts (and the API relies on).
RANGES = {
	"max_records": (1, 10_000_000),
	"max_print_records": (1, 1_000_000),
	"max_active_jobs": (0, 10_000),
	"rate_limit": (0, 100_000),
	"default_chunk_size": (1, 10_000),
	"max_chunk_size": (1, 10_000),
	"max_queued_chunks": (1, 1_000),
	"commit_every": (1, 10_000),
	"max_attempts": (1, 20),
	"throttle_threads_running": (0, 100_000),
	"keep_days": (1, 36_500),
}


def get(key: str):
	"""The value of ``key``: the site config's, else Bulk Queue Settings', else the default."""
	default = DEFAULTS[key]
	value = frappe.conf.get(key)
	if value in (None, "") and key in SETTINGS_FIELDS:
		value = _stored().get(SETTINGS_FIELDS[key])
		if not value and key not in ZERO_ALLOWED:
			value = None  # an empty Int field reads as 0
	if value in (None, ""):
		return default
	if isinstance(default, float):
		return flt(value)
	if isinstance(default, int):
		return cint(value)
	return value


def overrides() -> dict[str, object]:
	"""Fields of Bulk Queue Settings that the site config overrides: ``{fieldname: value}``."""
	return {
		field: frappe.conf.get(key)
		for key, field in SETTINGS_FIELDS.items()
		if frappe.conf.get(key) not in (None, "")
	}


def allowed_roles() -> list[str]:
	"""Roles that may start bulk jobs (empty: anyone with the DocType permission the action needs)."""
	return [row.role for row in _stored().get("allowed_roles") or [] if row.role]


def fast_path_roles() -> list[str]:
	"""Roles that may use the fast path besides System Manager (empty: System Managers only)."""
	return [row.role for row in _stored().get("fast_path_roles") or [] if row.role]


def allowed_doctypes() -> list[str]:
	"""DocTypes bulk jobs may run on (empty: every DocType)."""
	return [row.document_type for row in _stored().get("allowed_doctypes") or [] if row.document_type]


def allowed_actions() -> list[str]:
	"""Actions bulk jobs may apply (empty: every action)."""
	return parse_action_list(_stored().get("allowed_actions"))


def script_actions() -> list:
	"""The Server Script actions (rows: server_script, document_type, label, ptype)."""
	return [row for row in _stored().get("script_actions") or [] if row.server_script and row.document_type]


def parse_action_list(text: str | None) -> list[str]:
	"""Action names from the Allowed Actions field: one per line (commas and spaces also separate)."""
	return [name for name in (text or "").replace(",", "\n").split() if name]


def _stored():
	"""Bulk Queue Settings (cached; its cache is cleared on save), or an empty dict before the DocType
	exists (during the migrate that adds it)."""
	try:
		return frappe.get_cached_doc(SETTINGS_DOCTYPE)
	except (frappe.DoesNotExistError, ImportError):
		return frappe._dict()
