# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Parsing and chunking of a record selection.

Pure functions: no ``frappe`` import, so they are unit-tested without a site. The API layer turns
``SelectionError`` into a translated ``frappe.throw``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

# Desk pastes names separated by commas or newlines; a name itself may contain spaces.
_SEPARATORS = re.compile(r"[,\r\n]+")


class SelectionError(ValueError):
	"""The selection cannot be understood. ``code`` names the problem for translation."""

	def __init__(self, code: str, detail: str = "") -> None:
		super().__init__(f"{code}: {detail}" if detail else code)
		self.code = code
		self.detail = detail


def parse_ids(ids: Any) -> list[str]:
	"""Turn what Desk, the REST API or Python sends into a clean list of record names.

	Args:
		ids: a list/tuple of names, a JSON list string (``'["a", "b"]'``), or a string of names
			separated by commas or newlines.

	Returns:
		Names in their first-seen order, stripped, with blanks and duplicates dropped.

	Raises:
		SelectionError: ``ids_type`` when ``ids`` is neither a string nor a list of strings/numbers.
	"""
	if ids is None:
		return []
	if isinstance(ids, str):
		text = ids.strip()
		if text.startswith(("[", "{")):
			# JSON (an object is not a list of names, though it would parse as one name).
			try:
				ids = json.loads(text)
			except ValueError as e:
				raise SelectionError("ids_json", str(e)) from None
		else:
			ids = _SEPARATORS.split(text)
	if isinstance(ids, (set, frozenset)):
		ids = sorted(ids, key=str)
	if not isinstance(ids, (list, tuple)):
		raise SelectionError("ids_type", type(ids).__name__)

	seen: dict[str, None] = {}
	for item in ids:
		if isinstance(item, bool) or not isinstance(item, (str, int)):
			raise SelectionError("ids_type", type(item).__name__)
		name = str(item).strip()
		if name:
			seen.setdefault(name, None)
	return list(seen)


def parse_json_object(value: Any, *, field: str = "values") -> dict[str, Any]:
	"""Accept a dict or a JSON object string; ``None``/empty string gives ``{}``.

	Raises:
		SelectionError: ``<field>_type`` when the value is not an object.
	"""
	if value is None or value == "":
		return {}
	if isinstance(value, str):
		try:
			value = json.loads(value)
		except ValueError:
			raise SelectionError(f"{field}_type", "invalid JSON") from None
	if not isinstance(value, dict):
		raise SelectionError(f"{field}_type", type(value).__name__)
	return value


def normalise_filters(filters: Any, doctype: str) -> list[list]:
	"""Turn list-view filters into a list of ``[doctype, fieldname, operator, value]``.

	Args:
		filters: ``None``/``""`` (no filters), a dict (``{"status": "Open"}``,
			``{"modified": [">", "2026-01-01"]}``), a list of 3- or 4-item lists, or either as JSON.
		doctype: the DocType that dict keys and 3-item filters refer to.

	Raises:
		SelectionError: ``filters_json`` (not JSON), ``filters_type`` (not a list or dict),
			``filter_shape`` (an item that is not a 3- or 4-item list of text parts), ``filter_value``
			(a dict value that is not ``[operator, value]``).
	"""
	if filters is None or filters == "":
		return []
	if isinstance(filters, str):
		try:
			filters = json.loads(filters)
		except ValueError as e:
			raise SelectionError("filters_json", str(e)) from None
	if isinstance(filters, dict):
		items = []
		for fieldname, value in filters.items():
			if isinstance(value, (list, tuple)):
				if not 1 <= len(value) <= 2:
					raise SelectionError("filter_value", str(fieldname))
				items.append([doctype, fieldname, value[0], value[1] if len(value) > 1 else None])
			else:
				items.append([doctype, fieldname, "=", value])
		filters = items
	if not isinstance(filters, (list, tuple)):
		raise SelectionError("filters_type", type(filters).__name__)
	result = []
	for item in filters:
		if not isinstance(item, (list, tuple)) or len(item) not in (3, 4):
			raise SelectionError("filter_shape", repr(item)[:100])
		item = list(item) if len(item) == 4 else [doctype, *item]
		if not all(isinstance(part, str) and part for part in item[:3]):
			raise SelectionError("filter_shape", repr(item)[:100])
		result.append(item)
	return result


def chunked(items: Sequence[str] | Iterable[str], size: int) -> Iterator[list[str]]:
	"""Yield consecutive lists of at most ``size`` items, keeping order.

	Raises:
		ValueError: when ``size`` is smaller than 1.
	"""
	if size < 1:
		raise ValueError("size must be at least 1")
	batch: list[str] = []
	for item in items:
		batch.append(item)
		if len(batch) == size:
			yield batch
			batch = []
	if batch:
		yield batch


def chunk_count(total: int, size: int) -> int:
	"""Number of chunks ``chunked`` produces for ``total`` items."""
	if size < 1:
		raise ValueError("size must be at least 1")
	return -(-total // size)
