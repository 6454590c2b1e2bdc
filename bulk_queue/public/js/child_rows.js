// Copyright (c) 2026, bulk_queue contributors
// For license information, please see license.txt
//
// The Bulk Process dialog's fields for Set Child Value: a table, what to do with its rows, the rows
// it applies to (a field of the child DocType and a value, in that field's own control) and the
// field to set with its new value (again in its own control). The server sends each table's fields
// with the "table" field (actions/set_child_value.py: form).

frappe.provide("bulk_queue.action_forms");

bulk_queue.action_forms.set_child_value = {
	// Called once the dialog exists: wire the fields' changes. bpd: the BulkProcessDialog.
	setup(bpd) {
		const name = (key) => bpd.form_fieldname("set_child_value", key);
		const field = (key) => bpd.dialog.fields_dict[name(key)];
		const spec = bpd.action_spec("set_child_value");
		const source = (spec.form || []).find((df) => df.fieldname === "table") || {};
		const tables = source.tables || {};
		const table = () => tables[bpd.dialog.get_value(name("table"))] || null;
		const mode = () => bpd.dialog.get_value(name("mode")) || "set";

		const options = (list) =>
			[{ label: "", value: "" }].concat(
				(list || []).map((df) => ({ label: df.label, value: df.fieldname })),
			);

		// Put the child field's own control (Link, Select, Date...) in place of a value field.
		const swap = (key, picked, label, list, depends_on) => {
			const df = {
				fieldtype: "Data",
				fieldname: name(key),
				label,
				depends_on,
			};
			const chosen = (list || []).find((f) => f.fieldname === picked);
			if (chosen) {
				const text = [
					"Dynamic Link",
					"Attach",
					"Attach Image",
					"Signature",
					"Geolocation",
				];
				df.fieldtype = text.includes(chosen.fieldtype) ? "Data" : chosen.fieldtype;
				if (chosen.options && df.fieldtype !== "Data") df.options = chosen.options;
				if (
					["Text Editor", "HTML Editor", "Code", "Markdown Editor"].includes(
						df.fieldtype,
					)
				) {
					df.fieldtype = "Small Text";
				}
			}
			bpd.dialog.replace_field(name(key), df, true);
		};

		const where_shown = `eval:doc.action==="set_child_value" && doc.${name("mode")}!=="add"`;
		const value_shown = `eval:doc.action==="set_child_value" && doc.${name("mode")}!=="remove"`;
		// Each picker of a child field, and the value field that takes that field's control.
		const pairs = [
			{
				picker: "where_field",
				value: "where_value",
				label: __("is"),
				list: "matchable",
				shown: where_shown,
			},
			{
				picker: "set_field",
				value: "set_value",
				label: __("New Value"),
				list: "settable",
				shown: value_shown,
			},
		];
		const label_set_field = () =>
			bpd.dialog.set_df_property(
				name("set_field"),
				"label",
				mode() === "add" ? __("Field of the new row") : __("Field"),
			);
		const refresh = () => bpd.dialog.refresh_dependency && bpd.dialog.refresh_dependency();
		const refresh_fields = () => {
			const t = table();
			for (const pair of pairs) {
				field(pair.picker).df.depends_on = pair.shown;
				bpd.dialog.set_df_property(
					name(pair.picker),
					"options",
					options(t && t[pair.list]),
				);
				bpd.dialog.set_value(name(pair.picker), "");
				swap(pair.value, "", pair.label, [], pair.shown);
			}
			label_set_field();
			bpd.dialog.set_df_property(
				name("where_field"),
				"description",
				__("Empty: every row."),
			);
			refresh();
		};

		field("table").df.onchange = refresh_fields;
		field("mode").df.onchange = () => {
			label_set_field();
			refresh();
		};
		for (const pair of pairs) {
			field(pair.picker).df.onchange = () => {
				const t = table();
				swap(
					pair.value,
					bpd.dialog.get_value(name(pair.picker)),
					pair.label,
					t && t[pair.list],
					pair.shown,
				);
			};
		}
		refresh_fields();
	},

	// The action's values, as the API takes them: {table, where, set | remove, add}.
	values(bpd) {
		const get = (key) => bpd.dialog.get_value(bpd.form_fieldname("set_child_value", key));
		const blank = (v) => v === undefined || v === null || v === "";
		const values = { table: get("table") };
		const mode = get("mode") || "set";
		if (mode !== "add" && get("where_field")) {
			const value = get("where_value");
			values.where = { [get("where_field")]: blank(value) ? "" : value };
		}
		const set_field = get("set_field");
		const set_value = get("set_value");
		if (mode === "remove") {
			values.remove = true;
		} else if (set_field) {
			const changes = { [set_field]: blank(set_value) ? null : set_value };
			if (mode === "add") values.add = changes;
			else values.set = changes;
		}
		return values;
	},
};
