# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt

import frappe
from frappe.model.document import Document


class BulkQueueChunk(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		bulk_job: DF.Link
		chunk_no: DF.Int
		done_upto: DF.Int
		ended_at: DF.Datetime | None
		epoch: DF.Int
		failed: DF.Int
		heartbeat: DF.Datetime | None
		lost_at: DF.Int
		lost_count: DF.Int
		names: DF.Code | None
		queued_at: DF.Datetime | None
		rq_job_id: DF.Data | None
		started_at: DF.Datetime | None
		status: DF.Literal["Pending", "Queued", "Running", "Done", "Cancelled"]
		succeeded: DF.Int
		token: DF.Int
		total: DF.Int
		worker: DF.Data | None
	# end: auto-generated types

	pass


def on_doctype_update():
	"""The window, continuations and the finish check look up one job's chunks by status in chunk
	order: one index serves them all, for jobs of thousands of chunks."""
	frappe.db.add_index("Bulk Queue Chunk", ["bulk_job", "status", "chunk_no"])
