# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Grouping failures by error: what varies between records is taken out, the code path is kept."""

from bulk_queue.utils.errors import frames, message_template, signature

TB = """Traceback (most recent call last):
  File "/opt/bench/apps/bulk_queue/bulk_queue/tasks/bulk.py", line 560, in _one
    self._run_action(name)
  File "/opt/bench/apps/frappe/frappe/model/document.py", line 337, in save
    return self._save(*args, **kwargs)
  File "/opt/bench/apps/frappe/frappe/model/base_document.py", line 812, in _validate_mandatory
    raise frappe.MandatoryError(
frappe.exceptions.MandatoryError: {name}: customer
"""


def test_the_records_name_numbers_and_quoted_values_are_taken_out():
	assert message_template("SINV-0001: Customer is required", "SINV-0001") == "{name}: Customer is required"
	assert message_template("Row 12: Qty 3.5 cannot exceed 2", None) == "Row #: Qty # cannot exceed #"
	assert message_template("Could not find Customer: 'ACME Ltd'", None) == "Could not find Customer: '…'"
	assert message_template('Value "x y" is  not\nallowed', None) == "Value '…' is not allowed"
	# Digits inside a word are part of it (an Item code, an ISO date's parts are still numbers).
	assert message_template("Item ITEM2 is disabled", None) == "Item ITEM2 is disabled"


def test_frames_keep_the_code_path_without_values():
	assert frames(TB) == ["document.py:337:save", "base_document.py:812:_validate_mandatory"]
	assert frames("") == []


def test_how_the_runner_reached_the_record_is_not_part_of_the_error():
	"""A chunk run on its own and one taken by a chain reach the record through different runner
	frames: the same error."""
	chained = TB.replace(
		"Traceback (most recent call last):\n",
		'Traceback (most recent call last):\n  File "/opt/bench/apps/bulk_queue/bulk_queue/tasks/bulk.py", '
		"line 140, in run_next_of\n    self._take(x)\n",
	)
	assert frames(chained) == frames(TB)
	assert signature("MandatoryError", "customer", chained) == signature("MandatoryError", "customer", TB)


def test_the_same_error_on_two_records_has_one_signature():
	a = signature("MandatoryError", "SINV-0001: customer", TB.replace("{name}", "SINV-0001"), "SINV-0001")
	b = signature("MandatoryError", "SINV-0002: customer", TB.replace("{name}", "SINV-0002"), "SINV-0002")
	assert a == b and a[1] == "{name}: customer"


def test_another_type_message_or_code_path_is_another_error():
	base = signature("MandatoryError", "customer", TB)
	assert signature("ValidationError", "customer", TB) != base
	assert signature("MandatoryError", "posting_date", TB) != base
	assert signature("MandatoryError", "customer", TB.replace("line 812", "line 813")) != base
