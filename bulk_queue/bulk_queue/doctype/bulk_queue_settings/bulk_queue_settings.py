# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt

import frappe
from frappe import _
from frappe.model.document import Document
from frappe.utils import cint

from bulk_queue import settings

JOB_DOCTYPE = "Bulk Queue Job"


class BulkQueueSettings(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		from bulk_queue.bulk_queue.doctype.bulk_queue_allowed_doctype.bulk_queue_allowed_doctype import (
			BulkQueueAllowedDocType,
		)
		from bulk_queue.bulk_queue.doctype.bulk_queue_allowed_role.bulk_queue_allowed_role import (
			BulkQueueAllowedRole,
		)
		from bulk_queue.bulk_queue.doctype.bulk_queue_script_action.bulk_queue_script_action import (
			BulkQueueScriptAction,
		)

		allowed_actions: DF.SmallText | None
		allowed_doctypes: DF.TableMultiSelect[BulkQueueAllowedDocType]
		allowed_roles: DF.TableMultiSelect[BulkQueueAllowedRole]
		commit_every: DF.Int
		default_chunk_size: DF.Int
		default_queue: DF.Autocomplete | None
		fast_path_roles: DF.TableMultiSelect[BulkQueueAllowedRole]
		keep_days: DF.Int
		max_active_jobs: DF.Int
		max_attempts: DF.Int
		max_chunk_size: DF.Int
		max_queued_chunks: DF.Int
		max_print_records: DF.Int
		max_records: DF.Int
		overrides_html: DF.HTML | None
		rate_limit: DF.Int
		script_actions: DF.Table[BulkQueueScriptAction]
		throttle_threads_running: DF.Int
	# end: auto-generated types

	def onload(self):
		from bulk_queue.actions import get_actions

		self.set_onload("overrides", settings.overrides())
		self.set_onload("queues", list(settings.queues()))
		self.set_onload("actions", [{"name": a.name, "label": _(a.label)} for a in get_actions().values()])
		# Log Settings holds the retention Frappe's log clearing applies: show that one.
		days = _log_clearing_days()
		if days:
			self.keep_days = days

	def validate(self):
		if not cint(self.max_print_records):
			# Added after sites had saved their Settings: unset reads as 0, which means the default.
			self.max_print_records = settings.DEFAULTS["bulk_queue_max_print_records"]
		for fieldname, (low, high) in settings.RANGES.items():
			value = cint(self.get(fieldname))
			if value < low or value > high:
				frappe.throw(
					_("{0} must be a whole number from {1} to {2}.").format(
						_(self.meta.get_label(fieldname)),
						low,
						frappe.format_value(high, {"fieldtype": "Int"}),
					),
					title=_("Invalid Setting"),
				)
		if cint(self.default_chunk_size) > cint(self.max_chunk_size):
			frappe.throw(
				_("Default Chunk Size ({0}) cannot be larger than Max Chunk Size ({1}).").format(
					self.default_chunk_size, self.max_chunk_size
				),
				title=_("Invalid Setting"),
			)
		if self.default_queue and self.default_queue not in settings.queues():
			frappe.throw(
				_(
					"Default Queue must be one of {0}; add a custom queue under workers in "
					"common_site_config.json first."
				).format(", ".join(settings.queues())),
				title=_("Invalid Setting"),
			)
		self._validate_script_actions()
		self._validate_actions()
		self._deduplicate("allowed_roles", "role")
		self._deduplicate("fast_path_roles", "role")
		self._deduplicate("allowed_doctypes", "document_type")
		for row in self.allowed_doctypes:
			meta = frappe.get_meta(row.document_type)
			if meta.istable or meta.issingle or meta.is_virtual or row.document_type in _own_doctypes():
				frappe.throw(
					_(
						"{0} cannot be processed in bulk (a child table, single, virtual or own DocType)."
					).format(frappe.bold(row.document_type)),
					title=_("Invalid Setting"),
				)

	def _validate_script_actions(self):
		"""Each a Server Script of type API, on DocTypes that can be processed in bulk; one permission
		and one label per script (it is one action)."""
		first = {}
		for row in self.script_actions:
			script = frappe.db.get_value("Server Script", row.server_script, "script_type")
			if script != "API":
				frappe.throw(
					_("Row {0}: Server Script {1} must be of type API.").format(
						row.idx, frappe.bold(row.server_script)
					),
					title=_("Invalid Setting"),
				)
			meta = frappe.get_meta(row.document_type)
			if meta.istable or meta.issingle or meta.is_virtual or row.document_type in _own_doctypes():
				frappe.throw(
					_(
						"Row {0}: {1} cannot be processed in bulk (a child table, single, virtual or own DocType)."
					).format(row.idx, frappe.bold(row.document_type)),
					title=_("Invalid Setting"),
				)
			earlier = first.setdefault(row.server_script, row)
			row.ptype = row.ptype or "write"
			if earlier is not row:
				row.ptype, row.label = earlier.ptype, earlier.label

	def _validate_actions(self):
		from bulk_queue.actions import get_actions

		known = get_actions()
		names = settings.parse_action_list(self.allowed_actions)
		unknown = [name for name in names if name not in known]
		if unknown:
			frappe.throw(
				_("Unknown action {0} in Allowed Actions. Available actions: {1}").format(
					frappe.bold(", ".join(unknown)), ", ".join(sorted(known))
				),
				title=_("Invalid Setting"),
			)
		# One per line, in the order given, without repeats.
		self.allowed_actions = "\n".join(dict.fromkeys(names))

	def _deduplicate(self, table: str, field: str):
		seen = set()
		for row in list(self.get(table)):
			if row.get(field) in seen:
				self.remove(row)
			seen.add(row.get(field))

	def on_update(self):
		# Retention is applied by Frappe's log clearing: keep Log Settings on the same number.
		if cint(self.keep_days) and cint(self.keep_days) != _log_clearing_days():
			log_settings = frappe.get_single("Log Settings")
			log_settings.register_doctype(JOB_DOCTYPE, cint(self.keep_days))
			log_settings.save(ignore_permissions=True)


def _log_clearing_days() -> int:
	return cint(
		frappe.db.get_value(
			"Logs To Clear", {"parent": "Log Settings", "ref_doctype": JOB_DOCTYPE}, "days", order_by=None
		)
	)


def _own_doctypes() -> tuple[str, ...]:
	from bulk_queue.request import OWN_DOCTYPES

	return OWN_DOCTYPES
