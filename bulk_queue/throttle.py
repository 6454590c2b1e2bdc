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

# KEYS[1]: the job's key; ARGV[1]: seconds the records take (count / rate); ARGV[2]: the longest wait
# the caller accepts. Returns {seconds to wait (a string: Lua numbers lose precision), 1 if reserved};
# a wait longer than accepted reserves nothing. The key lives until its time has passed, plus a minute.
_RESERVE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local start = math.max(tat, now)
local wait = start - now
if wait > tonumber(ARGV[2]) then
	return {string.format('%.6f', wait), 0}
end
local next_tat = start + tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%.6f', next_tat), 'EX', math.ceil(next_tat - now) + 60)
return {string.format('%.6f', wait), 1}
"""
_THROTTLED_FOR = 10  # seconds a "throttled" mark stays visible after the last wait
_DB_CHECK_EVERY = 2.0  # seconds between Threads_running reads, per worker
_DB_MAX_WAIT = 30.0


def reserve(bulk_job: str, records: int, rate: float, max_wait: float) -> tuple[float, bool]:
	"""Reserve the next ``records`` records of ``bulk_job`` under ``rate`` records per second, unless
	their turn is more than ``max_wait`` seconds away. Returns (seconds to wait, whether reserved).

	Without Redis (a cache restart) each worker paces itself alone at ``rate``: slower, never faster,
	and no record fails for it."""
	if not rate or rate <= 0 or records <= 0:
		return 0.0, True
	cost = records / rate
	try:
		key = frappe.cache.make_key(f"bulk_queue:rate:{bulk_job}")
		wait, reserved = frappe.cache.eval(_RESERVE, 1, key, f"{cost:.6f}", f"{max(0.0, max_wait):.6f}")
		wait, reserved = float(wait), bool(int(reserved))
	except Exception:
		return min(cost, max(0.0, max_wait)), True
	if wait > 0.05:
		mark(bulk_job, "rate")
	return wait, reserved


def mark(bulk_job: str, reason: str) -> None:
	"""Say that the job is being throttled (``rate`` or ``database``), for its progress messages."""
	try:
		frappe.cache.set(frappe.cache.make_key(f"bulk_queue:throttled:{bulk_job}"), reason, ex=_THROTTLED_FOR)
	except Exception:
		pass  # only a hint for the progress display


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
		# Called before every record: the clock first, the setting and the database only when due.
		if time.monotonic() - self.checked_at < _DB_CHECK_EVERY:
			return 0.0
		self.checked_at = time.monotonic()
		threshold = settings.get("bulk_queue_throttle_threads_running")
		if not threshold:
			return 0.0
		rows = frappe.db.sql("show global status like 'Threads_running'")
		running = int(rows[0][1]) if rows else 0
		if running <= threshold:
			self.backoff = 0.0
			return 0.0
		self.backoff = min(_DB_MAX_WAIT, max(1.0, self.backoff * 2))
		self.checked_at = float("-inf")  # look again after the wait
		return self.backoff
