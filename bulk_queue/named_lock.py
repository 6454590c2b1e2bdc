# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Locks that belong to a database connection, not to a row or a transaction (MariaDB's named locks).

A commit or rollback keeps them; closing the connection - the process ending, killed or not, on any
host - frees them at once. So "someone holds this lock" means "a live process is at it", which no
timestamp or pid can say across hosts. Names are made from the site and a key, hashed to fit
MariaDB's 64 characters.
"""

from __future__ import annotations

import hashlib

import frappe


def name_of(key: str) -> str:
	"""The lock's name for ``key`` on this site."""
	return "bulk_queue:" + hashlib.sha1(f"{frappe.local.site}|{key}".encode()).hexdigest()


def acquire(key: str, wait: float = 0) -> str | None:
	"""Take the lock of ``key``, waiting at most ``wait`` seconds; its name, or None when another
	connection holds it."""
	name = name_of(key)
	got = frappe.db.sql("select get_lock(%s, %s)", (name, wait))[0][0]
	return name if got else None


def release(name: str) -> None:
	frappe.db.sql("select release_lock(%s)", name)
