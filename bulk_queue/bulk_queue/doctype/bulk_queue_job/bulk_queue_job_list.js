// Copyright (c) 2026, bulk_queue contributors
// For license information, please see license.txt

frappe.listview_settings["Bulk Queue Job"] = {
	add_fields: ["status", "processed", "total", "failed"],
	get_indicator(doc) {
		const colours = {
			Queued: "gray",
			Running: "blue",
			Completed: "green",
			"Completed with Errors": "orange",
			Failed: "red",
			Cancelled: "darkgrey",
		};
		return [__(doc.status), colours[doc.status] || "gray", "status,=," + doc.status];
	},
};
