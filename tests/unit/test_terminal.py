# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""The terminal progress line and summary of ``bench bulk-queue run --wait``."""

from bulk_queue.utils.terminal import bar, duration, progress_line, summary


def test_duration_reads_like_a_clock():
	"""Seconds, minutes and hours, and a dash when unknown."""
	assert [duration(s) for s in (None, 0.4, 42, 190, 3720)] == ["-", "0s", "42s", "3m 10s", "1h 02m"]


def test_bar_is_bounded():
	"""The bar never overflows, whatever the percent."""
	assert bar(50, 10) == "[#####.....]"
	assert bar(140, 4) == "[####]" and bar(-5, 4) == "[....]"


def test_progress_line_while_planning_marks_the_total_as_an_estimate():
	"""While records are still being selected the total reads ~N and the status shows."""
	line = progress_line(
		{"status": "Planning", "planning": True, "processed": 0, "total": 5000, "percent": 0.0}, width=4
	)
	assert line == "[....]  0/~5,000  0.0%  planning"


def test_summary_names_counts_duration_and_rate():
	"""The summary has the final status, the counts and the speed."""
	lines = summary(
		{
			"bulk_job": "BQJ-00007",
			"status": "Completed with Errors",
			"title": "Save on 10 ToDo",
			"succeeded": 8,
			"failed": 2,
			"total": 10,
			"elapsed": 4.2,
			"rate": 2.4,
		}
	)
	assert lines == [
		"BQJ-00007: Completed with Errors - Save on 10 ToDo",
		"  succeeded 8   failed 2   of 10",
		"  took 4s at 2.4 records/s",
	]
