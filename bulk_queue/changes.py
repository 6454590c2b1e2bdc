# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""What a job changed, record by record: the journal an Undo restores from, and the records it left as
is with the reason.

Each record a job changes with an undoable action (its ``undo_keys``: the fields, tags or assignments
it replaces) gets a **Bulk Queue Change** row holding those values as they were just before and just
after, written in the record's own savepoint - so it commits with the change and the chunk's
watermark, and a record rolled back leaves none. A record an action left as is (``Skipped``) gets a row
with the reason instead.

Values are kept normalized (``normalize``), so that what a row says and what the record reads now
compare field by field: empty is None, numbers are floats, dates are text, tags and assignments are
sorted lists.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import frappe
from frappe.utils import now_datetime

from bulk_queue.failures import failure_name

CHANGE = "Bulk Queue Change"
CHANGED = "Changed"
LEFT_AS_IS = "Left As Is"
# Frappe's own columns an action may change, kept as lists.
LIST_COLUMNS = ("_user_tags", "_assign")


def normalize(key: str, value):
	"""A value as the journal keeps and compares it."""
	if key == "_user_tags":
		return sorted(t for t in str(value or "").split(",") if t) or None
	if key == "_assign":
		items = frappe.parse_json(value) if isinstance(value, str) and value else value
		return sorted(items or []) or None
	if value in (None, ""):
		return None
	if isinstance(value, bool):
		return int(value)
	if isinstance(value, int | float | Decimal):
		return float(value)
	if isinstance(value, datetime | date | time | timedelta):
		return str(value)
	return value if isinstance(value, str) else str(value)


def read_states(
	doctype: str, names: list[str], keys: list[str], *, for_update: bool = False
) -> dict[str, dict]:
	"""``{name: {key: value}}`` of the records as this transaction reads them (its own writes
	included), normalized; a record that does not exist is missing. ``for_update``: the latest
	committed rows, locked - what the change then replaces (a plain read may be an older snapshot)."""
	if not names or not keys:
		return {}
	rows = frappe.db.sql(
		f"""select name, {", ".join(f"`{key}`" for key in keys)} from `tab{doctype}`
		where name in %s{" for update" if for_update else ""}""",
		(tuple(names),),
		as_dict=True,
	)
	return {row.name: {key: normalize(key, row.get(key)) for key in keys} for row in rows}


def insert(
	*,
	bulk_job: str,
	owner: str,
	doctype: str,
	rows: list[tuple[str, str, dict | None, dict | None, str | None]],
) -> None:
	"""Journal rows ``(name, outcome, before, after, reason)`` of one job (one statement)."""
	if not rows:
		return
	now = now_datetime()
	values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(rows))
	params = []
	for name, outcome, before, after, reason in rows:
		params += [
			failure_name(), now, owner, bulk_job, doctype, name, outcome,
			json.dumps(before, sort_keys=True) if before is not None else None,
			json.dumps(after, sort_keys=True) if after is not None else None,
			(reason or "")[:1000] or None,
		]  # fmt: skip
	frappe.db.sql(
		f"""insert into `tab{CHANGE}` (name, creation, owner, bulk_job, reference_doctype,
			reference_name, outcome, `before`, `after`, reason)
		values {values}""",
		params,
	)


def entry(bulk_job: str, name: str) -> frappe._dict | None:
	"""The record's Changed row in ``bulk_job`` (the last, should a Retry Failed have changed it
	again), with ``before`` and ``after`` parsed."""
	rows = frappe.db.sql(
		f"""select name, `before`, `after` from `tab{CHANGE}` where bulk_job=%s and reference_name=%s
		and outcome=%s order by name desc limit 1""",
		(bulk_job, name, CHANGED),
		as_dict=True,
	)
	if not rows:
		return None
	row = rows[0]
	row.before = json.loads(row.before or "{}")
	row.after = json.loads(row.after or "{}")
	return row


def changed_page(
	bulk_job: str, *, after: str | None = None, limit: int = 1000
) -> tuple[list[str], str | None, int]:
	"""A page of the records ``bulk_job`` changed, in the order it changed them (keyset on the row's
	name): ``(names, last row name, rows read)``."""
	rows = frappe.db.sql(
		f"""select name, reference_name from `tab{CHANGE}` where bulk_job=%s and outcome=%s
		and name > %s order by name limit %s""",
		(bulk_job, CHANGED, after or "", limit),
	)
	return list(dict.fromkeys(r[1] for r in rows)), (rows[-1][0] if rows else after), len(rows)


def changed_names(bulk_job: str, *, limit: int) -> list[str]:
	"""The records ``bulk_job`` changed, at most ``limit`` rows of its journal."""
	return changed_page(bulk_job, limit=limit)[0]


def count(bulk_job: str, outcome: str = CHANGED) -> int:
	return frappe.db.count(CHANGE, {"bulk_job": bulk_job, "outcome": outcome})


def left_as_is(bulk_job: str, limit: int = 20) -> list[frappe._dict]:
	"""The first records ``bulk_job`` left as is, with the reason."""
	return frappe.get_all(
		CHANGE,
		filters={"bulk_job": bulk_job, "outcome": LEFT_AS_IS},
		fields=["reference_name", "reason"],
		order_by="name asc",
		limit=limit,
	)
