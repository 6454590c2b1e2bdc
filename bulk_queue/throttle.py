# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Pacing a job: a records-per-second limit shared by all its workers, and a back-off while the
database is busy.

The rate limit is a GCRA ("virtual scheduling") in Redis: one key per job holds the time the next
record may start; each worker reserves its next records atomically (a Lua script reading Redis' own
clock, so workers on other hosts agree) and sleeps until its turn. Records are spread evenly, no burst.

The database back-off follows Shopify's maintenance_tasks ``throttle_on``: when MariaDB's
``Threads_running`` is above ``bulk_queue_throttle_threads_running`` (0: off), workers commit what they
did and wait, longer each time, until it falls again.
"""

from __future__ import annotations

import time

import frappe

from bulk_queue import settings

# KEYS[1]: the job's key; ARGV[1]: seconds the reserved records take (count / rate); ARGV[2]: key TTL.
# Returns the seconds to wait before the first of them, as a string (Lua numbers lose precision).
_RESERVE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local start = math.max(tat, now)
redis.call('SET', KEYS[1], string.format('%.6f', start + tonumber(ARGV[1])), 'EX', tonumber(ARGV[2]))
return string.format('%.6f', start - now)
"""
_THROTTLED_FOR = 10  # seconds a "throttled" mark stays visible after the last wait
_DB_CHECK_EVERY = 2.0  # seconds between Threads_running reads, per worker
_DB_MAX_WAIT = 30.0


def reserve(bulk_job: str, records: int, rate: float) -> float:
	"""Reserve the next ``records`` records of ``bulk_job`` under ``rate`` records per second; return
	how many seconds to wait before applying them."""
	if not rate or rate <= 0 or records <= 0:
		return 0.0
	cost = records / rate
	key = frappe.cache.make_key(f"bulk_queue:rate:{bulk_job}")
	wait = float(frappe.cache.eval(_RESERVE, 1, key, f"{cost:.6f}", int(cost) + 60))
	if wait > 0.05:
		mark(bulk_job, "rate")
	return wait


def mark(bulk_job: str, reason: str) -> None:
	"""Say that the job is being throttled (``rate`` or ``database``), for its progress messages."""
	frappe.cache.set(frappe.cache.make_key(f"bulk_queue:throttled:{bulk_job}"), reason, ex=_THROTTLED_FOR)


def throttled(bulk_job: str) -> str | None:
	"""Why the job was held back in the last few seconds (``rate`` or ``database``), or None."""
	try:
		value = frappe.cache.get(frappe.cache.make_key(f"bulk_queue:throttled:{bulk_job}"))
	except Exception:
		return None
	return value.decode() if isinstance(value, bytes) else value


class DatabasePressure:
	"""Per worker: reads ``Threads_running`` at most every couple of seconds and says how long to
	back off while it is above the configured threshold."""

	def __init__(self) -> None:
		self.checked_at = float("-inf")
		self.backoff = 0.0

	def wait_needed(self) -> float:
		threshold = settings.get("bulk_queue_throttle_threads_running")
		if not threshold or time.monotonic() - self.checked_at < _DB_CHECK_EVERY:
			return 0.0
		self.checked_at = time.monotonic()
		rows = frappe.db.sql("show global status like 'Threads_running'")
		running = int(rows[0][1]) if rows else 0
		if running <= threshold:
			self.backoff = 0.0
			return 0.0
		self.backoff = min(_DB_MAX_WAIT, max(1.0, self.backoff * 2))
		self.checked_at = float("-inf")  # look again after the wait
		return self.backoff
