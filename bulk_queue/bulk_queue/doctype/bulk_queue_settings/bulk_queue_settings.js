// Copyright (c) 2026, bulk_queue contributors
// For license information, please see license.txt

frappe.ui.form.on("Bulk Queue Settings", {
	refresh(frm) {
		const onload = frm.doc.__onload || {};
		const actions = onload.actions || [];
		if (actions.length) {
			frm.set_df_property(
				"allowed_actions",
				"description",
				__("One action name per line. Empty: every action. Available: {0}", [
					actions
						.map(
							(a) =>
								`<code>${frappe.utils.escape_html(a.name)}</code> (${frappe.utils.escape_html(a.label)})`,
						)
						.join(", "),
				]),
			);
		}
		if (onload.queues) frm.set_df_property("default_queue", "options", onload.queues);
		show_overrides(frm, onload.overrides || {});
		frm.add_custom_button(__("Bulk Queue Jobs"), () =>
			frappe.set_route("List", "Bulk Queue Job"),
		);
	},
});

// Fields the site config overrides: say so beside the form and on each field, so nobody edits a value
// that has no effect.
function show_overrides(frm, overrides) {
	const fieldnames = Object.keys(overrides);
	const wrapper = frm.get_field("overrides_html").$wrapper;
	if (!fieldnames.length) {
		wrapper.empty();
		return;
	}
	const rows = fieldnames
		.map((fieldname) => {
			const label = __(frappe.meta.get_label(frm.doctype, fieldname));
			frm.set_df_property(fieldname, "read_only", 1);
			frm.set_df_property(
				fieldname,
				"description",
				__("Overridden by the site config: {0} applies.", [
					frappe.utils.escape_html(String(overrides[fieldname])),
				]),
			);
			return `<li>${frappe.utils.escape_html(label)}: <b>${frappe.utils.escape_html(
				String(overrides[fieldname]),
			)}</b></li>`;
		})
		.join("");
	wrapper.html(
		`<div class="alert alert-warning small">${__(
			"The site config overrides these fields (bench set-config); its values apply:",
		)}<ul class="mb-0">${rows}</ul></div>`,
	);
}
