# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt

from frappe.model.document import Document


class BulkQueueError(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		bulk_job: DF.Link
		example: DF.SmallText | None
		example_record: DF.Data | None
		exception_type: DF.Data | None
		failures: DF.Int
		message: DF.SmallText | None
		traceback: DF.Code | None
	# end: auto-generated types

	pass
