# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt

import frappe
from frappe import _
from frappe.model.document import Document
from frappe.utils import add_to_date, now_datetime

from bulk_queue import changes, outputs, workers
from bulk_queue.actions import get_actions
from bulk_queue.states import ACTIVE, FINISHED, OPEN


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
		end_steps: DF.SmallText | None
		error: DF.LongText | None
		expected: DF.Int
		failed: DF.Int
		filters: DF.Code | None
		plan_after: DF.Data | None
		plan_retry: DF.Data | None
		plan_failures: DF.Int
		plan_heartbeat: DF.Datetime | None
		plan_rq_job_id: DF.Data | None
		plan_token: DF.Int
		notified: DF.Check
		output_file: DF.Attach | None
		output_format: DF.Data | None
		output_header: DF.LongText | None
		paused_at: DF.Datetime | None
		paused_from: DF.Data | None
		processed: DF.Int
		queue: DF.Data | None
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
		left_as_is_html: DF.HTML | None
		total: DF.Int
		unchanged: DF.Int
		user: DF.Link | None
		values: DF.Code | None
	# end: auto-generated types

	def onload(self):
		# A job that waits for a worker nobody started: the form says so, with the command.
		if self.status in ACTIVE and self.queue and not workers.listening(self.queue):
			self.set_onload("no_worker", self.queue)
		if self.unchanged:
			self.set_onload("left_as_is", changes.left_as_is(self.name))
		# Undo: a finished job whose action journals what it replaced, with records it changed.
		action = get_actions().get(self.action)
		if self.status in FINISHED and action and action.undo_keys:
			self.set_onload("undoable", changes.count(self.name))

	def on_trash(self):
		if self.status in OPEN:
			frappe.throw(
				_("Bulk Queue Job {0} is still {1}; cancel it before deleting it.").format(
					self.name, _(self.status)
				)
			)
		outputs.delete_job_files(self.name)  # its Print / Export file and any parts left
		for doctype in ("Bulk Queue Failure", "Bulk Queue Error", "Bulk Queue Change", "Bulk Queue Chunk"):
			frappe.db.delete(doctype, {"bulk_job": self.name})

	@staticmethod
	def clear_old_logs(days=90):
		"""Delete the jobs that ended more than ``days`` ago (site time), with their failures and chunks;
		never one that has not ended. Frappe's log clearing calls this daily (Log Settings)."""
		cutoff = add_to_date(now_datetime(), days=-days)
		for orphaned in _orphaned_jobs():
			_delete_rows_of(orphaned)
		while names := frappe.db.sql_list(
			"""select name from `tabBulk Queue Job` where status in %s and coalesce(ended_at, modified) < %s
			order by coalesce(ended_at, modified) limit 100""",
			(FINISHED, cutoff),
		):
			for name in names:
				# Under the job's lock, the job row first: once it is gone nothing can run it again, and
				# a Retry Failed that came first keeps it (it is not ended any more).
				row = frappe.db.sql(
					"select status, coalesce(ended_at, modified) as ended from `tabBulk Queue Job` where name=%s for update",
					name,
					as_dict=True,
				)
				if row and row[0].status in FINISHED and row[0].ended < cutoff:
					frappe.db.delete("Bulk Queue Job", {"name": name})
				frappe.db.commit()
				_delete_rows_of(name)


# Rows per DELETE statement when old jobs are cleared: short statements, short locks, small undo logs.
PURGE_BATCH = 2000


def _delete_rows_of(bulk_job: str) -> None:
	"""Delete a deleted job's files, failures, errors and journal (what an Undo restores), then its chunks, PURGE_BATCH rows at a time, committing
	between (chunks last: a job that still has chunks is found again by ``_orphaned_jobs`` if this stops midway)."""
	outputs.delete_job_files(bulk_job)
	frappe.db.commit()
	for doctype in ("Bulk Queue Failure", "Bulk Queue Error", "Bulk Queue Change", "Bulk Queue Chunk"):
		while True:
			frappe.db.sql(f"delete from `tab{doctype}` where bulk_job=%s limit %s", (bulk_job, PURGE_BATCH))
			deleted = frappe.db.sql("select row_count()")[0][0]
			frappe.db.commit()
			if deleted < PURGE_BATCH:
				break


def _orphaned_jobs() -> list[str]:
	"""Jobs deleted whose rows an interrupted clearing left behind."""
	return frappe.db.sql_list(
		"""select distinct c.bulk_job from `tabBulk Queue Chunk` c
		where not exists (select 1 from `tabBulk Queue Job` j where j.name = c.bulk_job) limit 1000"""
	)
