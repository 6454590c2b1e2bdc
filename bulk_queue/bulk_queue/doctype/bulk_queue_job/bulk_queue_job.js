// Copyright (c) 2026, bulk_queue contributors
// For license information, please see license.txt

frappe.ui.form.on("Bulk Queue Job", {
	refresh(frm) {
		frm.disable_save();
		bulk_queue_job.show_progress(frm, frm.doc);
		if (["Queued", "Running"].includes(frm.doc.status)) {
			frm.add_custom_button(__("Cancel"), () => bulk_queue_job.call(frm, "cancel_bulk_job"));
		}
		if (["Completed with Errors", "Failed"].includes(frm.doc.status) && frm.doc.failed) {
			frm.add_custom_button(__("Retry Failed"), () => bulk_queue_job.call(frm, "retry_failed"));
		}
		if (!frm._bulk_queue_listening) {
			frm._bulk_queue_listening = true;
			frappe.realtime.on("bulk_queue_progress", (data) => {
				if (data.bulk_job !== frm.doc.name) return;
				bulk_queue_job.show_progress(frm, data);
				if (data.status !== frm.doc.status) frm.reload_doc();
			});
		}
	},
});

const bulk_queue_job = {
	show_progress(frm, data) {
		if (!data.total) return;
		const percent = Math.round((100 * data.processed) / data.total);
		frm.dashboard.show_progress(
			__("Progress"),
			percent,
			__("{0} of {1} processed, {2} failed", [data.processed, data.total, data.failed])
		);
	},
	call(frm, method) {
		frappe.call({
			method: `bulk_queue.api.bulk.${method}`,
			args: { bulk_job: frm.doc.name },
			freeze: true,
			callback: () => frm.reload_doc(),
		});
	},
};
