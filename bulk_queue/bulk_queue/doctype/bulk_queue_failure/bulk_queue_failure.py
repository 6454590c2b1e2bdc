# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt

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
