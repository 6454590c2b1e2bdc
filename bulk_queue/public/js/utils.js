// Copyright (c) 2026, bulk_queue contributors
// For license information, please see license.txt

frappe.provide("bulk_queue");

bulk_queue.ACTIVE = ["Queued", "Running"];

// Indicator colour of each Bulk Queue Job status: list view, form and progress tray.
bulk_queue.STATUS_COLOURS = {
	Queued: "gray",
	Running: "blue",
	Completed: "green",
	"Completed with Errors": "orange",
	Failed: "red",
	Cancelled: "darkgrey",
};

bulk_queue.format_int = (value) => format_number(value || 0, null, 0);

// "85.2 records/s · 3m 10s left", from a progress message.
bulk_queue.describe_speed = (data) => {
	const parts = [];
	if (data.rate) {
		parts.push(__("{0} records/s", [format_number(data.rate, null, data.rate < 10 ? 1 : 0)]));
	}
	if (bulk_queue.ACTIVE.includes(data.status)) {
		if (data.eta != null) {
			parts.push(__("{0} left", [bulk_queue.format_duration(data.eta)]));
		}
	} else if (data.elapsed != null) {
		parts.push(__("took {0}", [bulk_queue.format_duration(data.elapsed)]));
	}
	return parts.join(" · ");
};

bulk_queue.format_duration = (seconds) => {
	seconds = Math.max(0, Math.round(seconds || 0));
	if (seconds < 1) return __("under a second");
	return frappe.utils.get_formatted_duration(seconds);
};

bulk_queue.job_url = (name) => `/app/bulk-queue-job/${encodeURIComponent(name)}`;
