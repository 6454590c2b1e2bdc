# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt

import frappe
from frappe.model.document import Document


class BulkQueueFailure(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		attempts: DF.Int
		bulk_job: DF.Link
		chunk: DF.Link | None
		error: DF.SmallText | None
		error_group: DF.Link | None
		exception_type: DF.Data | None
		reference_doctype: DF.Link | None
		reference_name: DF.DynamicLink | None
		retried: DF.Check
		traceback: DF.Code | None
	# end: auto-generated types

	pass


def on_doctype_update():
	"""A failure row is written once and read by job or by error, in name order (the order they
	happened, see ``failures.failure_name``): the ``bulk_job`` and ``error_group`` indexes serve every
	read, and the list sorts by name. Frappe's own indexes on ``creation`` and ``modified`` would add a
	third of the bytes each of a million failures costs on disk, for no query: they are dropped."""
	table = "tabBulk Queue Failure"
	for index in ("creation", "modified"):
		if frappe.db.has_index(table, index):
			frappe.db.sql_ddl(f"alter table `{table}` drop index `{index}`")
