# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt

import frappe
from frappe import _
from frappe.model.document import Document
from frappe.query_builder import Interval
from frappe.query_builder.functions import Now

from bulk_queue.states import FINISHED, OPEN


class BulkQueueJob(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		action: DF.Data
		action_label: DF.Data | None
		chunk_size: DF.Int
		chunks: DF.Int
		ended_at: DF.Datetime | None
		email_on_finish: DF.Check
		error: DF.LongText | None
		expected: DF.Int
		failed: DF.Int
		filters: DF.Code | None
		plan_after: DF.Data | None
		plan_failures: DF.Int
		plan_heartbeat: DF.Datetime | None
		plan_rq_job_id: DF.Data | None
		plan_token: DF.Int
		notified: DF.Check
		paused_at: DF.Datetime | None
		paused_from: DF.Data | None
		processed: DF.Int
		queue: DF.Literal["short", "default", "long"]
		rate_limit: DF.Float
		reference_doctype: DF.Link
		retries: DF.Int
		sealed_values: DF.LongText | None
		selected_at: DF.Datetime | None
		selection_hash: DF.Data | None
		skipped: DF.SmallText | None
		start_at: DF.Datetime | None
		started_at: DF.Datetime | None
		status: DF.Literal[
			"Scheduled",
			"Planning",
			"Queued",
			"Running",
			"Paused",
			"Completed",
			"Completed with Errors",
			"Failed",
			"Cancelled",
		]
		succeeded: DF.Int
		timeout: DF.Int
		title: DF.Data | None
		total: DF.Int
		user: DF.Link | None
		values: DF.Code | None
	# end: auto-generated types

	def on_trash(self):
		if self.status in OPEN:
			frappe.throw(
				_("Bulk Queue Job {0} is still {1}; cancel it before deleting it.").format(
					self.name, _(self.status)
				)
			)
		for doctype in ("Bulk Queue Failure", "Bulk Queue Chunk"):
			frappe.db.delete(doctype, {"bulk_job": self.name})

	@staticmethod
	def clear_old_logs(days=90):
		"""Delete finished jobs older than ``days`` with their chunks and failures (log clearing hook)."""
		job = frappe.qb.DocType("Bulk Queue Job")
		old = (
			frappe.qb.from_(job)
			.select(job.name)
			.where(job.status.isin(FINISHED) & (job.modified < (Now() - Interval(days=days))))
			.run(pluck=True)
		)
		for names in (old[i : i + 500] for i in range(0, len(old), 500)):
			for doctype in ("Bulk Queue Failure", "Bulk Queue Chunk"):
				frappe.db.delete(doctype, {"bulk_job": ("in", names)})
			frappe.db.delete("Bulk Queue Job", {"name": ("in", names)})
