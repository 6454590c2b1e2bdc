# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt

from frappe.model.document import Document


class BulkQueueScriptAction(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		document_type: DF.Link
		label: DF.Data | None
		parent: DF.Data
		parentfield: DF.Data
		parenttype: DF.Data
		ptype: DF.Literal["read", "write", "submit", "cancel", "delete", "print", "export"]
		server_script: DF.Link
	# end: auto-generated types

	pass
