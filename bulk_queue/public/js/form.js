// Copyright (c) 2026, bulk_queue contributors
// For license information, please see license.txt
//
// "Bulk Process" on a document's own form (in its ⋯ menu, where Frappe puts Print, Duplicate and the
// like): the same dialog, for this one document. Absent on a new, unsaved document and wherever the
// list would not offer it. When the job ends the form reloads, unless it has unsaved changes.

frappe.provide("bulk_queue");

bulk_queue.process_form = function (frm) {
	if (!frm || frm.is_new()) return;
	if (frm.is_dirty()) {
		frappe.msgprint(__("Save your changes first: the bulk job works on the saved document."));
		return;
	}
	const doctype = frm.doctype;
	const name = String(frm.docname);
	bulk_queue.open_bulk_process({
		doctype,
		ids: [name],
		on_start: (result) => {
			bulk_queue.form_jobs[result.bulk_job] = { doctype, name };
		},
	});
};

// Jobs started from a form: {bulk_job: {doctype, name}}, to reload that form when they end.
bulk_queue.form_jobs = {};

bulk_queue.on_form_job_ended = function (data) {
	const started = bulk_queue.form_jobs[data.bulk_job];
	if (!started) return;
	delete bulk_queue.form_jobs[data.bulk_job];
	const frm = window.cur_frm;
	if (
		frm &&
		frm.doctype === started.doctype &&
		String(frm.docname) === started.name &&
		!frm.is_dirty()
	) {
		frm.reload_doc();
	}
};

$(document).on("form-refresh", (e, frm) => {
	// The toolbar rebuilds the menu on every refresh (and adds an item once per label).
	if (!frm || frm.is_new() || !frm.page || !bulk_queue.can_bulk_process(frm.doctype)) return;
	frm.page.add_menu_item(__("Bulk Process"), () => bulk_queue.process_form(frm), true);
});
