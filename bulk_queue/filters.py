# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Selecting records by list-view filters, with the requesting user's permissions.

Filters use the ``frappe.get_list`` syntax that Desk's list view sends: a dict (``{"status": "Open"}``,
``{"modified": [">", "2026-01-01"]}``) or a list of ``[fieldname, operator, value]`` /
``[doctype, fieldname, operator, value]``. Everything goes through ``frappe.get_list``, so role
permissions, user permissions, "if owner" rules, sharing and permission query conditions apply exactly
as they do in the user's list view.

Names are read in keyset pages ordered by ``name`` (``name > last``), never all at once: memory stays
flat however many rows match.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import frappe
from frappe import _

from bulk_queue.utils.selection import SelectionError, normalise_filters

PAGE_SIZE = 1_000


class FilterError(frappe.ValidationError):
	"""The filters cannot be applied (bad shape, unknown field, bad operator)."""


def parse_filters(filters: Any, doctype: str) -> list[list]:
	"""Normalise filters to a list of ``[doctype, fieldname, operator, value]``.

	Args:
		filters: a dict, a list of 3- or 4-item lists, or either as a JSON string (as Desk sends them).
		doctype: the DocType the filters apply to (used for 3-item filters and dict keys).

	Raises:
		FilterError: when the filters are not of one of these shapes (a translated message).
	"""
	try:
		return normalise_filters(filters, doctype)
	except SelectionError as e:
		messages = {
			"filters_json": _("filters must be a JSON list or object."),
			"filters_type": _(
				"filters must be a list of [field, operator, value] or an object of field: value."
			),
			"filter_value": _("Filter on {0} must be [operator, value].").format(e.detail),
			"filter_shape": _(
				"Each filter must be [field, operator, value] or [doctype, field, operator, value]."
			),
		}
		_bad(messages.get(e.code, str(e)))


def count_matching(doctype: str, filters: list[list]) -> int:
	"""How many records of ``doctype`` the current user can read that match ``filters``."""
	try:
		rows = frappe.get_list(
			doctype,
			filters=filters,
			fields=[f"count(distinct `tab{doctype}`.`name`) as total_count"],
			order_by=None,
			limit_page_length=0,
		)
		return int(rows[0].get("total_count") or 0) if rows else 0
	except (frappe.PermissionError, FilterError):
		raise
	except Exception as e:
		if _is_filter_error(e):
			_bad_filters(e)
		# Frappe versions that refuse SQL functions in fields: count the keyset pages instead.
		return sum(1 for _name in iter_matching(doctype, filters))


def iter_matching(doctype: str, filters: list[list], page_size: int = PAGE_SIZE) -> Iterator[str]:
	"""Yield the names of matching records the current user can read, in ``name`` order, a page at a
	time (keyset pagination on ``name``, so rows are never all held in memory)."""
	last: str | None = None
	while True:
		names = read_page(doctype, filters, after=last, page_size=page_size)
		yield from names
		if len(names) < page_size:
			return
		last = names[-1]


def read_page(doctype: str, filters: list[list], *, after: str | None, page_size: int) -> list[str]:
	"""Up to ``page_size`` names of matching records the current user can read, in ``name`` order,
	starting after the name ``after`` (None: from the first)."""
	page_filters = [*filters, [doctype, "name", ">", after]] if after is not None else filters
	try:
		rows = frappe.get_list(
			doctype,
			filters=page_filters,
			fields=["name"],
			order_by=f"`tab{doctype}`.`name` asc",
			limit_page_length=page_size,
			# Not distinct=True: Frappe drops the ORDER BY of a distinct query, and keyset pages need
			# it (a filter on an indexed column would otherwise return names in that index's order).
			# Grouping by name removes the duplicates a child-table filter's join makes.
			group_by=f"`tab{doctype}`.`name`",
			as_list=True,
		)
	except frappe.PermissionError:
		raise
	except Exception as e:
		if _is_filter_error(e):
			_bad_filters(e)
		raise
	return [name for (name,) in rows]


def select_names(doctype: str, filters: list[list], limit: int) -> list[str]:
	"""All matching names, or a clear error naming the count when more than ``limit`` match."""
	names: list[str] = []
	for name in iter_matching(doctype, filters):
		names.append(name)
		if len(names) > limit:
			refuse_too_many(count_matching(doctype, filters), limit)
	return names


def refuse_too_many(matching: int, limit: int) -> None:
	"""Throw the "too many records" error naming both numbers."""
	frappe.throw(
		_("{0} records match these filters; at most {1} can be processed in one bulk job.").format(
			frappe.format_value(matching, {"fieldtype": "Int"}),
			frappe.format_value(limit, {"fieldtype": "Int"}),
		),
		title=_("Too Many Records"),
	)


def _is_filter_error(e: Exception) -> bool:
	"""Errors that mean the filters themselves are wrong (unknown column, bad operator or value)."""
	from bulk_queue.transaction import driver_errors

	if isinstance(e, (frappe.DataError, frappe.ValidationError)) and not isinstance(
		e, frappe.PermissionError
	):
		return True
	errors, _interface = driver_errors()
	mysql_error = e if isinstance(e, errors) else e.__cause__
	# 1054 unknown column, 1064 syntax error, 1292/1366 a value of the wrong type
	return (
		isinstance(mysql_error, errors)
		and bool(mysql_error.args)
		and (mysql_error.args[0] in (1054, 1064, 1292, 1366))
	)


def _bad_filters(e: Exception) -> None:
	frappe.local.message_log = []
	detail = frappe.utils.strip_html_tags(str(e) or type(e).__name__)
	if getattr(e, "args", None) and isinstance(e.args[0], int) and len(e.args) > 1:
		detail = str(e.args[1])
	_bad(_("These filters cannot be applied: {0}").format(detail))


def _bad(message: str) -> None:
	frappe.throw(message, FilterError, title=_("Invalid Filters"))
