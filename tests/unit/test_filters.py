# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
import pytest

from bulk_queue.utils.selection import SelectionError, normalise_filters


def test_no_filters():
	"""None and an empty string mean no filters; an empty list stays empty."""
	assert normalise_filters(None, "ToDo") == []
	assert normalise_filters("", "ToDo") == []
	assert normalise_filters("[]", "ToDo") == []


def test_list_view_filters_pass_through():
	"""Desk's 4-item filters are kept as they are."""
	filters = [["ToDo", "status", "=", "Open"], ["ToDo", "date", "<", "2026-01-01"]]
	assert normalise_filters(filters, "ToDo") == filters


def test_three_item_filters_get_the_doctype():
	"""[field, operator, value] is completed with the DocType."""
	assert normalise_filters([["status", "!=", "Closed"]], "ToDo") == [["ToDo", "status", "!=", "Closed"]]


def test_dict_filters():
	"""A dict of field: value and field: [operator, value] becomes the list form."""
	assert normalise_filters({"status": "Open", "date": [">", "2026-01-01"], "x": ["is"]}, "ToDo") == [
		["ToDo", "status", "=", "Open"],
		["ToDo", "date", ">", "2026-01-01"],
		["ToDo", "x", "is", None],
	]


def test_json_strings_as_desk_sends_them():
	"""Filters arrive from Desk as JSON strings."""
	assert normalise_filters('{"status": "Open"}', "ToDo") == [["ToDo", "status", "=", "Open"]]
	assert normalise_filters('[["status", "=", "Open"]]', "ToDo") == [["ToDo", "status", "=", "Open"]]


@pytest.mark.parametrize(
	"filters, code",
	[
		("{not json", "filters_json"),
		("42", "filters_type"),
		(42, "filters_type"),
		([["status"]], "filter_shape"),
		([["status", "=", "Open", "x", "y"]], "filter_shape"),
		(["status = Open"], "filter_shape"),
		([[1, "=", "Open"]], "filter_shape"),
		([["", "=", "Open"]], "filter_shape"),
		({"status": []}, "filter_value"),
		({"status": ["=", "a", "b"]}, "filter_value"),
	],
)
def test_malformed_filters_are_refused(filters, code):
	"""Every malformed shape raises SelectionError with a code the API translates."""
	with pytest.raises(SelectionError) as raised:
		normalise_filters(filters, "ToDo")
	assert raised.value.code == code
