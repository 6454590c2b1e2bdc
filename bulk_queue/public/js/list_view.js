// Copyright (c) 2026, bulk_queue contributors
// For license information, please see license.txt
//
// "Bulk Process" in every list view: in Actions for the selected rows, in the menu for every row that
// matches the current filters. The list view class is extended, never a DocType's listview_settings,
// so settings of the DocType (ToDo's, an app's) keep working as they are.

frappe.provide("bulk_queue");

// The actions this user may start on doctype, as far as Desk can tell (the server checks again).
bulk_queue.offered_actions = function (doctype) {
	const boot = frappe.boot.bulk_queue;
	if (!boot || !doctype || (boot.excluded_doctypes || []).includes(doctype)) return [];
	// Bulk Queue Settings may limit the DocTypes (empty: all).
	const allowed = boot.allowed_doctypes || [];
	if (allowed.length && !allowed.includes(doctype)) return [];
	const meta = frappe.get_meta(doctype);
	if (!meta || meta.istable || meta.issingle || meta.is_virtual) return [];
	return (boot.actions || []).filter(
		(action) =>
			(!action.doctypes.length || action.doctypes.includes(doctype)) &&
			(!action.offered_on || action.offered_on.includes(doctype)) &&
			(!action.needs_submittable || meta.is_submittable) &&
			frappe.perm.has_perm(doctype, 0, action.ptype),
	);
};

bulk_queue.can_bulk_process = (doctype) => bulk_queue.offered_actions(doctype).length > 0;

bulk_queue.process_selected = function (listview) {
	const ids = listview.get_checked_items(true).map((name) => String(name));
	if (!ids.length) {
		frappe.msgprint(__("Select the records to process first."));
		return;
	}
	bulk_queue.open_bulk_process({
		doctype: listview.doctype,
		ids,
		on_start: () => listview.clear_checked_items && listview.clear_checked_items(),
	});
};

bulk_queue.process_matching = function (listview) {
	bulk_queue.open_bulk_process({
		doctype: listview.doctype,
		filters: listview.get_filters_for_args ? listview.get_filters_for_args() : [],
	});
};

function extend_list_view(ListView) {
	const proto = ListView && ListView.prototype;
	if (!proto || proto.__bulk_queue_extended) return false;
	proto.__bulk_queue_extended = true;

	// Append "Bulk Process" to what one of ListView's item builders returns.
	const add_item = (method, action) => {
		const original = proto[method];
		if (typeof original !== "function") return;
		proto[method] = function () {
			const items = original.apply(this, arguments) || [];
			if (bulk_queue.can_bulk_process(this.doctype)) {
				items.push({
					label: __("Bulk Process"),
					action: () => action(this),
					standard: false,
				});
			}
			return items;
		};
	};
	add_item("get_actions_menu_items", bulk_queue.process_selected); // Actions: the selected rows
	add_item("get_menu_items", bulk_queue.process_matching); // ⋯ menu: all rows matching the filters
	return true;
}

if (!extend_list_view(frappe.views && frappe.views.ListView)) {
	// The list bundle loads after this one on some setups: extend it as soon as Desk is ready.
	$(document).on("app_ready", () => extend_list_view(frappe.views && frappe.views.ListView));
}
