// Copyright (c) 2026, bulk_queue contributors
// For license information, please see license.txt

frappe.provide("bulk_queue");

// Planning: a background planner still selects the records of a large filter selection (its first
// chunks may already run).
bulk_queue.ACTIVE = ["Planning", "Queued", "Running"];
// Not ended, but nothing of it runs: Scheduled waits for its start time, Paused for a resume.
bulk_queue.WAITING = ["Scheduled", "Paused"];
bulk_queue.OPEN = [...bulk_queue.WAITING, ...bulk_queue.ACTIVE];

// Indicator colour of each Bulk Queue Job status: list view, form and progress tray.
bulk_queue.STATUS_COLOURS = {
	Scheduled: "cyan",
	Planning: "purple",
	Queued: "gray",
	Paused: "yellow",
	Running: "blue",
	Completed: "green",
	"Completed with Errors": "orange",
	Failed: "red",
	Cancelled: "darkgrey",
};

bulk_queue.format_int = (value) => format_number(value || 0, null, 0);

// "1,200 of 5,000", or while the records are still being selected "1,200 of ~5,000".
bulk_queue.describe_count = (data) => {
	const counts = [bulk_queue.format_int(data.processed), bulk_queue.format_int(data.total)];
	return data.planning ? __("{0} of ~{1}", counts) : __("{0} of {1}", counts);
};

// "Selecting records: 40,000 of ~1,000,000 so far", while a planner runs.
bulk_queue.describe_planning = (data) =>
	data.planning
		? __("Selecting records: {0} of ~{1} so far", [
				bulk_queue.format_int(data.selected),
				bulk_queue.format_int(data.total),
			])
		: "";

// "Starts at 01:00", "Paused", "Throttled: at most 20 records/s", "Waiting: the database is busy".
bulk_queue.describe_control = (data) => {
	if (data.status === "Scheduled" && data.start_at) {
		return __("Starts at {0}", [frappe.datetime.str_to_user(data.start_at)]);
	}
	if (data.status === "Paused") return __("Paused: resume it to go on");
	if (data.throttled === "database") return __("Waiting: the database is busy");
	if (data.throttled === "rate" && data.rate_limit) {
		return __("Throttled: at most {0} records/s", [format_number(data.rate_limit, null, 1)]);
	}
	return "";
};

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
	} else if (data.elapsed != null && !bulk_queue.WAITING.includes(data.status)) {
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
