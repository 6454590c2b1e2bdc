# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Bulk Queue Settings: what it accepts, what it refuses, and which value wins."""

from __future__ import annotations

import frappe
import pytest

from bulk_queue import settings


def test_settings_apply_and_the_site_config_overrides_them(bq_settings, site_conf):
	"""A value set in Bulk Queue Settings applies; the same key in the site config wins, and the form
	is told which fields are overridden."""
	bq_settings(max_chunk_size=300, default_chunk_size=150, rate_limit=0)
	frappe.clear_document_cache("Bulk Queue Settings", "Bulk Queue Settings")
	assert settings.get("bulk_queue_max_chunk_size") == 300
	assert settings.get("bulk_queue_default_chunk_size") == 150
	assert settings.get("bulk_queue_rate_limit") == 0  # 0 is "no limit", not "unset" (the default is 60)
	assert settings.overrides() == {}
	site_conf(bulk_queue_max_chunk_size=400)
	assert settings.get("bulk_queue_max_chunk_size") == 400
	assert settings.overrides() == {"max_chunk_size": 400}
	doc = frappe.get_doc("Bulk Queue Settings")
	doc.run_method("onload")
	assert doc.get_onload()["overrides"] == {"max_chunk_size": 400}


@pytest.mark.parametrize(
	("values", "words"),
	[
		({"max_chunk_size": 0}, "Max Chunk Size must be a whole number from 1"),
		({"max_records": 20_000_000}, "Max Records per Job must be a whole number"),
		({"max_attempts": 0}, "Attempts for Transient Errors must be"),
		({"rate_limit": -1}, "Job Starts per User per Minute must be"),
		({"default_chunk_size": 500, "max_chunk_size": 100}, "cannot be larger than Max Chunk Size"),
		({"allowed_actions": "save\nexplode"}, "Unknown action explode"),
		({"allowed_doctypes": ["Has Role"]}, "cannot be processed in bulk"),
		({"allowed_doctypes": ["Bulk Queue Job"]}, "cannot be processed in bulk"),
	],
)
def test_settings_refuse_values_that_cannot_work(bq_settings, values, words):
	"""Out-of-range numbers, unknown actions and DocTypes that cannot be processed are refused with a
	message naming the field."""
	with pytest.raises(frappe.ValidationError) as error:
		bq_settings(**values)
	assert words in frappe.utils.strip_html_tags(str(error.value))


def test_allowed_actions_are_tidied(bq_settings):
	"""Allowed Actions takes names separated by lines, commas or spaces and keeps each once."""
	bq_settings(allowed_actions="save, set_value\nsave  delete")
	assert frappe.db.get_single_value("Bulk Queue Settings", "allowed_actions") == "save\nset_value\ndelete"
	assert settings.allowed_actions() == ["save", "set_value", "delete"]


def test_retention_is_frappes_log_clearing(bq_settings):
	"""Keep Finished Jobs is the number Frappe's log clearing uses for Bulk Queue Job (Log Settings),
	and the form shows what Log Settings holds."""
	bq_settings(keep_days=7)
	days = frappe.db.get_value(
		"Logs To Clear", {"parent": "Log Settings", "ref_doctype": "Bulk Queue Job"}, "days"
	)
	assert days == 7
	doc = frappe.get_doc("Bulk Queue Settings")
	doc.run_method("onload")
	assert doc.keep_days == 7
