// Copyright (c) 2026, bulk_queue contributors
// For license information, please see license.txt

frappe.listview_settings["Bulk Queue Job"] = {
	add_fields: ["status", "processed", "total", "expected", "succeeded", "failed", "title"],
	hide_name_column: false,

	get_indicator(doc) {
		const colour = bulk_queue.STATUS_COLOURS[doc.status] || "gray";
		return [__(doc.status), colour, "status,=," + doc.status];
	},

	formatters: {
		processed(value, df, doc) {
			// While Planning, the records selected so far are fewer than those that matched.
			const planning = doc.status === "Planning";
			const total = planning
				? Math.max(cint(doc.total), cint(doc.expected))
				: cint(doc.total);
			const percent = total ? Math.floor((100 * cint(value)) / total) : 100;
			const bar = bulk_queue.ACTIVE.includes(doc.status)
				? `<div class="progress"><div class="progress-bar" style="width: ${percent}%"></div></div>`
				: "";
			return `<span class="bq-list-progress" title="${percent}%">
				<span>${format_number(cint(value), null, 0)} / ${planning ? "~" : ""}${format_number(total, null, 0)}
				<span class="text-muted">(${percent}%)</span></span>${bar}</span>`;
		},
		failed(value) {
			value = cint(value);
			return value
				? `<span class="text-danger">${format_number(value, null, 0)}</span>`
				: `<span class="text-muted">0</span>`;
		},
	},

	onload(listview) {
		// Counters change in the database without document events: refresh on progress, at most
		// every two seconds.
		const refresh = frappe.utils.throttle(() => {
			if (window.cur_list === listview) listview.refresh();
		}, 2000);
		frappe.realtime.on("bulk_queue_progress", refresh);
		if (frappe.user.has_role("System Manager")) {
			listview.page.add_menu_item(__("Bulk Queue Settings"), () =>
				frappe.set_route("Form", "Bulk Queue Settings"),
			);
		}
	},
};
