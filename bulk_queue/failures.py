# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Failed records, grouped by error.

Each failed record is a **Bulk Queue Failure** row: the record, the exception type, its message and the
error it belongs to - a few hundred bytes, whatever the traceback. Each distinct error of a job (same
exception type, message template and code path: ``utils/errors.py``) is one **Bulk Queue Error** row
holding the traceback once, with how many failures it has. A job where a million records fail the same
validation writes a million small rows and one error.

A worker inserts a failure row as the record fails, and adds to its error's count in the commit that
carries the record's outcome (``ErrorCounts.write``: one statement per distinct error of the batch,
just before the commit, so workers failing with the same error do not wait on each other's batches).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field

import frappe
from frappe.utils import now_datetime

from bulk_queue.utils.errors import signature

FAILURE = "Bulk Queue Failure"
ERROR = "Bulk Queue Error"
MESSAGE_LENGTH = 500  # characters of a failure's message kept on its row
MAX_ERRORS = 1000  # distinct errors kept per job with their own row; past that they share one


def error_name(bulk_job: str, key: str) -> str:
	"""The error row of signature ``key`` in ``bulk_job``: short, as every failure row names it."""
	return hashlib.sha1(f"{bulk_job}\x1f{key}".encode()).hexdigest()[:14]


def other_errors_name(bulk_job: str) -> str:
	return error_name(bulk_job, "other")


_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"  # lower case only: names compare case-insensitively


def _base36(number: int, width: int) -> str:
	digits = []
	for _ in range(width):
		number, digit = divmod(number, 36)
		digits.append(_DIGITS[digit])
	return "".join(reversed(digits))


def failure_name() -> str:
	"""A failure row's name (14 characters): the time in microseconds, then 4 random digits. Rows are
	appended in name order (InnoDB keeps its pages full instead of splitting them at random places),
	and a page of failures in name order is a page in the order they happened."""
	return _base36(time.time_ns() // 1000, 10) + _base36(secrets.randbelow(36**4), 4)


@dataclass
class _Error:
	name: str
	exception_type: str
	message: str
	example: str
	example_record: str
	traceback: str
	failures: int = 0


@dataclass
class ErrorCounts:
	"""The errors of one transaction's failures, added to their rows just before it commits."""

	bulk_job: str
	known: set[str] = field(default_factory=set)  # error rows of the job seen so far by this process
	pending: dict[str, _Error] = field(default_factory=dict)

	def add(self, name: str, exception_type: str, message: str, traceback: str) -> str:
		"""Count one failure of record ``name``; return the name of its error row."""
		key, template = signature(exception_type, message, traceback, name)
		error = error_name(self.bulk_job, key)
		if error not in self.known and error not in self.pending and len(self.known) >= MAX_ERRORS:
			error = other_errors_name(self.bulk_job)
			exception_type, template, traceback = "", frappe._("Other errors"), ""
		pending = self.pending.get(error)
		if not pending:
			pending = self.pending[error] = _Error(
				error, exception_type, template, message[:MESSAGE_LENGTH], name, traceback
			)
		pending.failures += 1
		return error

	def write(self, owner: str) -> None:
		"""Add the pending counts to their error rows (inserting new ones), in name order so that two
		workers never wait on each other in a cycle. Call inside the transaction, right before its
		commit; ``committed`` after it."""
		if not self.pending:
			return
		now = now_datetime()
		rows = [self.pending[name] for name in sorted(self.pending)]
		values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(rows))
		params = []
		for e in rows:
			params += [
				e.name, now, now, owner, owner, self.bulk_job, e.exception_type, e.message,
				e.example, e.example_record, e.traceback, e.failures,
			]  # fmt: skip
		frappe.db.sql(
			f"""insert into `tab{ERROR}` (name, creation, modified, owner, modified_by, bulk_job,
				exception_type, message, example, example_record, traceback, failures)
			values {values}
			on duplicate key update failures = failures + values(failures), modified = values(modified)""",
			params,
		)

	def committed(self) -> None:
		self.known.update(self.pending)
		self.pending.clear()

	def rolled_back(self) -> None:
		self.pending.clear()


def insert_failure(
	*,
	bulk_job: str,
	owner: str,
	doctype: str,
	name: str,
	exception_type: str,
	message: str,
	error: str,
	attempts: int,
) -> None:
	"""One failed record's row (raw insert: no document hooks, nothing to validate). Nobody modifies a
	failure but to mark it retried, so ``modified`` and ``modified_by`` stay empty: 40 bytes less on
	each of a million rows."""
	frappe.db.sql(
		f"""insert into `tab{FAILURE}` (name, creation, owner, bulk_job,
			reference_doctype, reference_name, exception_type, error, error_group, attempts, retried)
		values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 0)""",
		(
			failure_name(),
			now_datetime(),
			owner,
			bulk_job,
			doctype,
			name,
			exception_type,
			message[:MESSAGE_LENGTH],
			error,
			attempts,
		),
	)


def known_errors(bulk_job: str) -> set[str]:
	"""The error rows a job has now (a worker starting on it)."""
	return set(frappe.get_all(ERROR, {"bulk_job": bulk_job}, pluck="name", limit=MAX_ERRORS + 1))


FAILURE_FIELDS = (
	"name",
	"reference_doctype",
	"reference_name",
	"exception_type",
	"error",
	"error_group",
	"attempts",
	"retried",
	"creation",
)


def page(bulk_job: str, *, error: str | None = None, after: str | None = None, limit: int = 20) -> list:
	"""Up to ``limit`` failures of the job (or of one of its errors) after the failure named ``after``,
	in name order: each page is one index range (``bulk_job`` or ``error_group``), however deep."""
	conditions, params = ["bulk_job=%s"], [bulk_job]
	if error:
		conditions.append("error_group=%s")
		params.append(error)
	if after:
		conditions.append("name > %s")
		params.append(after)
	return frappe.db.sql(
		f"""select {", ".join(FAILURE_FIELDS)} from `tab{FAILURE}`
		where {" and ".join(conditions)} order by name limit %s""",
		(*params, limit),
		as_dict=True,
	)


COUNT_EXACTLY = 10_000


def count(bulk_job: str, error: str | None = None) -> int:
	"""How many failures the job (or one error) has, retried ones included - counted up to
	COUNT_EXACTLY; past that, the maintained count of those not retried (a count over a million index
	entries on every page would cost more than the page)."""
	conditions, params = "bulk_job=%s", [bulk_job]
	if error:
		conditions, params = "bulk_job=%s and error_group=%s", [bulk_job, error]
	counted = frappe.db.sql(
		f"select count(*) from (select 1 from `tab{FAILURE}` where {conditions} limit %s) t",
		(*params, COUNT_EXACTLY + 1),
	)[0][0]
	if counted <= COUNT_EXACTLY:
		return counted
	kept = (
		frappe.db.get_value(ERROR, error, "failures")
		if error
		else frappe.db.get_value("Bulk Queue Job", bulk_job, "failed")
	)
	return max(kept or 0, counted)


def errors_of(bulk_job: str, *, examples: int = 3, limit: int = 50) -> list:
	"""The job's errors with failures not retried, most failures first, each with a few example
	records (``examples``)."""
	rows = frappe.get_all(
		ERROR,
		filters={"bulk_job": bulk_job, "failures": (">", 0)},
		fields=["name", "exception_type", "message", "example", "example_record", "failures"],
		order_by="failures desc, name asc",
		limit_page_length=limit,
	)
	for row in rows:
		row.examples = frappe.db.sql_list(
			f"""select reference_name from `tab{FAILURE}`
			where error_group=%s and retried=0 order by name limit %s""",
			(row.name, examples),
		)
	return rows


def traceback_of(error: str) -> str:
	return frappe.db.get_value(ERROR, error, "traceback") or ""


def retry_rows(
	bulk_job: str, error: str | None, *, before=None, after: str | None = None, limit: int
) -> list:
	"""Failures not retried yet (of one ``error``, or all), recorded up to ``before``, after the
	failure named ``after``, in name order: ``name``, ``reference_name``."""
	conditions, params = ["bulk_job=%s", "retried=0"], [bulk_job]
	if error:
		conditions.append("error_group=%s")
		params.append(error)
	if before:
		conditions.append("creation <= %s")
		params.append(before)
	if after:
		conditions.append("name > %s")
		params.append(after)
	return frappe.db.sql(
		f"""select name, reference_name from `tab{FAILURE}` where {" and ".join(conditions)}
		order by name limit %s""",
		(*params, limit),
		as_dict=True,
	)


def mark_retried(names: list[str]) -> None:
	"""These failures' records run again: the rows stay as history, marked ``retried``."""
	for part in (names[i : i + 1000] for i in range(0, len(names), 1000)):
		frappe.db.sql(f"update `tab{FAILURE}` set retried=1 where name in %s", (part,))


def clear_counts(bulk_job: str, error: str | None = None) -> None:
	"""The errors whose failures are all being retried count none any more (new failures of the
	retried records count again)."""
	if error:
		frappe.db.sql(f"update `tab{ERROR}` set failures=0 where name=%s", error)
	else:
		frappe.db.sql(f"update `tab{ERROR}` set failures=0 where bulk_job=%s", bulk_job)
