# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
import pytest

from bulk_queue.utils.selection import (
	SelectionError,
	chunk_count,
	chunked,
	parse_ids,
	parse_json_object,
)


def test_list_is_kept_in_order():
	"""A list of names comes back in the same order."""
	assert parse_ids(["b", "a", "c"]) == ["b", "a", "c"]


def test_json_list_string():
	"""A JSON list string, as Desk sends it, is decoded."""
	assert parse_ids('["TD-1", "TD-2"]') == ["TD-1", "TD-2"]


def test_csv_and_newlines():
	"""Commas and newlines both separate names; spaces inside a name survive."""
	assert parse_ids("a, b\nc d\r\ne,,") == ["a", "b", "c d", "e"]


def test_blanks_and_duplicates_dropped():
	"""Blank entries and repeats are removed, first occurrence wins."""
	assert parse_ids(["x", " ", "y", "x", "", " y "]) == ["x", "y"]


def test_numbers_become_names():
	"""Integer names (autoincrement DocTypes) are accepted as strings."""
	assert parse_ids([1, 2, "2"]) == ["1", "2"]


def test_none_and_empty():
	"""Nothing selected gives an empty list, not an error."""
	assert parse_ids(None) == []
	assert parse_ids("") == []
	assert parse_ids("[]") == []


@pytest.mark.parametrize(
	"bad", [{"a": 1}, 3.5, [["nested"]], [None], [True], '["a",', b"abc", '{"name": "a"}', "{"]
)
def test_bad_types_raise(bad):
	"""Anything that is not a list of names or a string of names is refused."""
	with pytest.raises(SelectionError):
		parse_ids(bad)


def test_values_dict_or_json():
	"""Values are accepted as a dict or as a JSON object string."""
	assert parse_json_object({"status": "Closed"}) == {"status": "Closed"}
	assert parse_json_object('{"status": "Closed"}') == {"status": "Closed"}
	assert parse_json_object(None) == {}
	assert parse_json_object("") == {}


@pytest.mark.parametrize("bad", ["[1]", "nope", 5, ["a"]])
def test_values_must_be_an_object(bad):
	"""Values that are not an object are refused with a values_type code."""
	with pytest.raises(SelectionError) as info:
		parse_json_object(bad)
	assert info.value.code == "values_type"


def test_chunked_sizes():
	"""Chunks keep order and only the last one may be short."""
	chunks = list(chunked([str(i) for i in range(7)], 3))
	assert chunks == [["0", "1", "2"], ["3", "4", "5"], ["6"]]
	assert chunk_count(7, 3) == 3
	assert chunk_count(6, 3) == 2
	assert chunk_count(0, 3) == 0


def test_chunked_rejects_zero():
	"""A chunk size below one is a programming error."""
	with pytest.raises(ValueError):
		list(chunked(["a"], 0))
