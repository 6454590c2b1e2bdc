# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt

import frappe
from frappe.model.document import Document


class BulkQueueChange(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		after: DF.Code | None
		before: DF.Code | None
		bulk_job: DF.Link
		outcome: DF.Literal["Changed", "Left As Is"]
		reason: DF.SmallText | None
		reference_doctype: DF.Link | None
		reference_name: DF.DynamicLink | None
	# end: auto-generated types

	pass


def on_doctype_update():
	"""An Undo reads each record's row by job and record name: one index lookup per record, however
	large the job (``bulk_job`` alone would scan the job's rows for every record)."""
	frappe.db.add_index("Bulk Queue Change", ["bulk_job", "reference_name"])
