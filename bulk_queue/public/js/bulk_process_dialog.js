// Copyright (c) 2026, bulk_queue contributors
// For license information, please see license.txt
//
// The "Bulk Process" dialog: what to do with the selected rows (or every row matching the list's
// filters), started as a Bulk Queue Job. The server decides what is offered (get_bulk_options) and
// checks everything again when the job starts (enqueue_bulk).

frappe.provide("bulk_queue");
// Actions whose dialog fields need more than the server's field list: {action: {setup(dialog),
// values(dialog)}} (child_rows.js for Set Child Value).
frappe.provide("bulk_queue.action_forms");

// Field types whose form control does not work inside a dialog's Value field: typed as text.
const TEXT_INSTEAD = ["Dynamic Link", "Attach", "Attach Image", "Signature", "Geolocation"];

// Open the dialog. opts: {doctype, ids} for selected rows, or {doctype, filters} for all matching.
bulk_queue.open_bulk_process = function (opts) {
	const args = { doctype: opts.doctype };
	// The selection too: an action's own fields may depend on it (a workflow's transitions).
	if (opts.ids) args.ids = JSON.stringify(opts.ids);
	else args.filters = JSON.stringify(opts.filters || []);
	return new Promise((resolve, reject) => {
		frappe.call({
			method: "bulk_queue.api.bulk.get_bulk_options",
			args,
			freeze: true,
			callback: (r) => {
				const dialog = new bulk_queue.BulkProcessDialog(opts, r.message);
				dialog.show();
				resolve(dialog);
			},
			error: reject,
		});
	});
};

bulk_queue.BulkProcessDialog = class BulkProcessDialog {
	constructor(opts, options) {
		this.doctype = opts.doctype;
		this.ids = opts.ids || null;
		this.filters = this.ids ? null : opts.filters || [];
		this.on_start = opts.on_start;
		this.options = options;
		this.count = this.ids ? this.ids.length : options.matching || 0;
		this.fields_by_name = {};
		for (const df of options.fields || []) this.fields_by_name[df.fieldname] = df;
		// Actions that set a field: Set Value and its fast path (and apps' actions with values).
		const value_actions = (options.actions || [])
			.filter((a) => a.needs_values)
			.map((a) => a.name);
		this.needs_values_expr = `eval:${JSON.stringify(value_actions)}.includes(doc.action)`;
		this.value_actions = value_actions;
		this.chunk_default = options.chunk_size;
	}

	get over_limit() {
		return this.count > this.options.max_records;
	}

	show() {
		const actions = this.options.actions || [];
		const default_action = actions.find((a) => a.name === "set_value") || actions[0];
		const set_value_only = this.needs_values_expr;
		this.dialog = new frappe.ui.Dialog({
			title: __("Bulk Process"),
			// Enter adds a tag or a user to a pills field; a job on thousands of records starts
			// only from the Start button.
			no_submit_on_enter: true,
			fields: [
				{ fieldtype: "HTML", fieldname: "summary" },
				{
					fieldtype: "Select",
					fieldname: "action",
					label: __("Action"),
					options: actions.map((a) => ({ label: a.label, value: a.name })),
					default: default_action && default_action.name,
					reqd: 1,
					onchange: () => this.on_action_change(),
				},
				{
					fieldtype: "Select",
					fieldname: "field",
					label: __("Field"),
					options: this.field_options(default_action),
					depends_on: set_value_only,
					mandatory_depends_on: set_value_only,
					onchange: () => this.set_value_control(),
				},
				{
					fieldtype: "Data",
					fieldname: "value",
					label: __("Value"),
					depends_on: set_value_only,
				},
				...this.action_fields(),
				{ fieldtype: "HTML", fieldname: "fast_note" },
				// No reqd fields in this collapsed section: Frappe's dialog checks them for the
				// collapse state before it has values. Empty means the default, on the server too.
				{
					fieldtype: "Section Break",
					fieldname: "advanced_section",
					label: __("Advanced"),
					collapsible: 1,
				},
				{
					fieldtype: "Int",
					fieldname: "chunk_size",
					label: __("Chunk Size"),
					default: this.options.chunk_size,
					description: __(
						"Records per background job: the unit of progress and recovery (1 to {0}).",
						[this.options.max_chunk_size],
					),
				},
				{
					fieldtype: "Datetime",
					fieldname: "start_at",
					label: __("Start At"),
					description: __(
						"Empty: now. Otherwise the job waits as Scheduled until then.",
					),
				},
				{ fieldtype: "Column Break", fieldname: "advanced_column" },
				{
					fieldtype: "Select",
					fieldname: "queue",
					label: __("Queue"),
					options: this.options.queues,
					default: this.options.queue,
				},
				{
					fieldtype: "Check",
					fieldname: "email_on_finish",
					label: __("Email me when it ends"),
					description: __("You always get a notification in Desk."),
				},
				{
					fieldtype: "Int",
					fieldname: "rate_limit",
					label: __("Max Records per Second"),
					non_negative: 1,
					description: __(
						"0: as fast as the workers go. A limit spares a busy database or another system.",
					),
				},
			],
			primary_action_label: __("Start"),
			primary_action: () => this.start(),
			secondary_action_label: __("Preview"),
			secondary_action: () => this.preview(),
		});
		// Actions whose fields work together (Set Child Value) wire them up themselves.
		for (const action of actions) {
			const plugin = bulk_queue.action_forms[action.name];
			if (plugin && action.form) plugin.setup(this);
		}
		this.render_summary();
		this.on_action_change();
		if (this.over_limit || !actions.length || !this.count) {
			this.dialog.disable_primary_action();
		}
		this.dialog.show();
		this.dialog.$wrapper.addClass("bulk-queue-dialog");
	}

	// Each action's own fields for its values (the server describes them: a workflow's transitions,
	// the users to assign, tags), shown while that action is chosen. Named bq_<action>_<key>.
	action_fields() {
		const fields = [];
		for (const action of this.options.actions || []) {
			const when = `eval:doc.action===${JSON.stringify(action.name)}`;
			for (const source of action.form || []) {
				const df = Object.assign({}, source, {
					fieldname: this.form_fieldname(action.name, source.fieldname),
					depends_on: when,
				});
				if (source.reqd) {
					df.reqd = 0;
					df.mandatory_depends_on = when; // required only while its action is chosen
				}
				if (df.fieldtype === "MultiSelectPills" && df.options) {
					// Suggests the DocType's records as the user types (a new value may be typed).
					const doctype = df.options;
					const filters = df.link_filters || {};
					df.get_data = (txt) => frappe.db.get_link_options(doctype, txt, filters);
				}
				fields.push(df);
			}
		}
		return fields;
	}

	form_fieldname(action, key) {
		return `bq_${action}_${key}`;
	}

	action_spec(name) {
		return (this.options.actions || []).find((a) => a.name === name) || {};
	}

	// The chosen action's own values, from its fields (empty ones left out: the server's defaults).
	form_values(action) {
		const plugin = bulk_queue.action_forms[action];
		if (plugin) return plugin.values(this);
		const spec = this.action_spec(action);
		const values = {};
		for (const source of spec.form || []) {
			const value = this.dialog.get_value(this.form_fieldname(action, source.fieldname));
			if (value === undefined || value === null || value === "") continue;
			if (Array.isArray(value) && !value.length) continue;
			values[source.fieldname] = value;
		}
		return values;
	}

	// The fields an action may set: every settable field, less those it refuses (the fast path
	// refuses what only a controller may set).
	field_options(action) {
		const refused = (action && action.refused_fields) || {};
		return [{ label: "", value: "" }].concat(
			(this.options.fields || [])
				.filter((df) => !refused[df.fieldname])
				.map((df) => ({ label: df.label, value: df.fieldname })),
		);
	}

	render_summary() {
		const doctype = __(this.doctype);
		const count = `<b class="bq-count">${bulk_queue.format_int(this.count)}</b>`;
		let text;
		if (this.ids) {
			text =
				this.count === 1
					? __("This will process {0} selected {1} record.", [count, doctype])
					: __("This will process {0} selected {1} records.", [count, doctype]);
		} else if (this.filters.length) {
			text = __("{0} {1} records match the current filters.", [count, doctype]);
		} else {
			text = __("{0} {1} records: every record you can see in this list.", [count, doctype]);
		}
		let html = `<p class="bq-summary">${text}</p>`;
		if (this.over_limit) {
			html += `<div class="alert alert-warning bq-over-limit">${__(
				"That is more than {0}, the most one bulk job can process. Narrow the filters to start one.",
				[bulk_queue.format_int(this.options.max_records)],
			)}</div>`;
		} else if (!this.count) {
			html += `<div class="alert alert-info bq-nothing">${__("Nothing to process.")}</div>`;
		} else if (!(this.options.actions || []).length) {
			html += `<div class="alert alert-warning">${__(
				"You may not change {0} records in bulk.",
				[doctype],
			)}</div>`;
		}
		this.dialog.fields_dict.summary.$wrapper.html(html);
	}

	on_action_change() {
		const action = this.dialog.get_value("action");
		const needs_values = this.value_actions.includes(action);
		// Each action's own default chunk size (the fast path takes the largest), unless the user
		// typed one.
		const chunk_default = ((this.options.actions || []).find((a) => a.name === action) || {})
			.chunk_size;
		const chunk_size = this.dialog.get_value("chunk_size");
		if (chunk_default && (!chunk_size || chunk_size === this.chunk_default)) {
			this.dialog.set_value("chunk_size", chunk_default);
		}
		this.chunk_default = chunk_default || this.options.chunk_size;
		const spec = (this.options.actions || []).find((a) => a.name === action) || {};
		if (needs_values) {
			const options = this.field_options(spec);
			const field = this.dialog.get_value("field");
			this.dialog.set_df_property("field", "options", options);
			if (!field || !options.some((o) => o.value === field)) {
				// Preselect a status-like field, as Desk's own bulk edit does.
				const status = options.find((o) => /status/i.test(o.value));
				this.dialog.set_value("field", status ? status.value : "");
			} else {
				this.dialog.set_value("field", field);
			}
		}
		// The fast path skips what a save does: say so where the choice is made, by name. Rename
		// takes its records from its own list, not from the selection.
		this.dialog.fields_dict.fast_note.$wrapper.html(
			spec.skips
				? this.fast_note(spec)
				: spec.named_by_values
					? `<div class="alert alert-info bq-named-note">${__(
							"The records renamed are those in the first column, whatever is selected in the list.",
						)}</div>`
					: "",
		);
		const label = action === "delete" ? __("Delete") : __("Start");
		this.dialog.set_primary_action(label, () => this.start());
		this.dialog.get_primary_btn().toggleClass("btn-danger", action === "delete");
	}

	fast_note(spec) {
		const esc = frappe.utils.escape_html;
		const kinds = {
			controller: __("Controller"),
			hook: __("Hook"),
			server_script: __("Server Script"),
			notification: __("Notification"),
			webhook: __("Webhook"),
			version: __("History"),
		};
		const items = spec.skips
			.map(
				(s) =>
					`<li class="bq-skip"><span class="text-muted">${esc(kinds[s.kind] || s.kind)}:</span>
					<code>${esc(s.name)}</code> <span class="text-muted">(${esc(s.source)})</span></li>`,
			)
			.join("");
		const refused = Object.keys(spec.refused_fields || {}).length;
		return `<div class="alert alert-warning bq-fast-note">
			<div>${__(
				"Writes the value with batched SQL on draft records. Permissions still apply, checked on each record with the new value.",
			)}</div>
			<div class="bq-skips-title">${
				items
					? __("What a save of {0} runs and this does not:", [__(this.doctype)])
					: __(
							"A save of {0} runs no controller code, hook or script that this skips.",
							[__(this.doctype)],
						)
			}</div>
			${items ? `<ul class="bq-skips">${items}</ul>` : ""}
			${
				refused
					? `<div class="text-muted small">${__(
							"Fields only a controller may set are not offered here; use Set Value for those.",
						)}</div>`
					: ""
			}
		</div>`;
	}

	// Replace the Value field with the control that fits the chosen field (Select, Link, Date, ...).
	set_value_control() {
		const fieldname = this.dialog.get_value("field");
		const source = this.fields_by_name[fieldname];
		const df = {
			fieldtype: "Data",
			fieldname: "value",
			label: __("Value"),
			depends_on: this.needs_values_expr,
		};
		if (source) {
			df.fieldtype = TEXT_INSTEAD.includes(source.fieldtype) ? "Data" : source.fieldtype;
			if (source.options && df.fieldtype !== "Data") df.options = source.options;
			if (source.precision) df.precision = source.precision;
			df.description = source.reqd
				? __("{0} is mandatory: records left empty will fail.", [source.label])
				: "";
		}
		this.dialog.replace_field("value", df, true);
		this.dialog.refresh_dependency && this.dialog.refresh_dependency();
	}

	get_args() {
		const values = this.dialog.get_values();
		if (!values) return null;
		const args = {
			doctype: this.doctype,
			action: values.action,
			chunk_size: values.chunk_size,
			queue: values.queue,
			email_on_finish: values.email_on_finish ? 1 : 0,
		};
		if (values.start_at) args.start_at = values.start_at;
		if (values.rate_limit) args.rate_limit = values.rate_limit;
		// Rename names its records in its values (the old names), whatever the list selected.
		if (this.action_spec(values.action).named_by_values) {
			// nothing: the server reads them from the values
		} else if (this.ids) args.ids = JSON.stringify(this.ids);
		else args.filters = JSON.stringify(this.filters);
		if (this.value_actions.includes(values.action)) {
			const value = this.dialog.get_value("value");
			args.values = JSON.stringify({
				[values.field]: value === undefined || value === "" ? null : value,
			});
		} else {
			const own = this.form_values(values.action);
			if (Object.keys(own).length) args.values = JSON.stringify(own);
		}
		return args;
	}

	start() {
		const args = this.get_args();
		if (!args) return;
		const go = () => this.enqueue(args);
		const count = bulk_queue.format_int(this.count);
		if (args.action === "delete") {
			frappe.confirm(
				__("Permanently delete {0} {1} records? This cannot be undone.", [
					count,
					__(this.doctype),
				]),
				go,
			);
		} else if (args.action === "clear_assignment") {
			frappe.confirm(
				__("Clear the assignments of {0} {1} records?", [count, __(this.doctype)]),
				go,
			);
		} else {
			go();
		}
	}

	// Dry run on the first records: what would change, what would fail; nothing is written.
	preview() {
		const args = this.get_args();
		if (!args) return;
		const preview_args = {
			doctype: args.doctype,
			action: args.action,
			ids: args.ids,
			filters: args.filters,
			values: args.values,
			sample: 20,
		};
		frappe.call({
			method: "bulk_queue.api.bulk.preview_bulk",
			args: preview_args,
			freeze: true,
			freeze_message: __("Trying the first records..."),
			callback: (r) => this.show_preview(r.message),
		});
	}

	show_preview(result) {
		const esc = (v) => frappe.utils.escape_html(v == null || v === "" ? "—" : String(v));
		const rows = result.records
			.map((record) => {
				const outcome = record.error
					? `<span class="text-danger">${esc(record.error)}</span>`
					: record.skipped
						? `<span class="text-muted bq-left-as-is">${__("Left as is: {0}", [esc(record.skipped)])}</span>`
						: record.changes.length
							? record.changes
									.map(
										(c) =>
											`<div><b>${esc(c.label)}</b>: ${esc(c.old)} → ${esc(c.new)}</div>`,
									)
									.join("")
							: `<span class="text-muted">${__("No change")}</span>`;
				return `<tr class="bq-preview-row"><td>${esc(record.name)}</td><td>${outcome}</td></tr>`;
			})
			.join("");
		const summary = __(
			"Tried {0} of {1} records: {2} would fail. Nothing was saved.",
			[result.sampled, result.total, result.would_fail].map((n) => bulk_queue.format_int(n)),
		);
		const dialog = new frappe.ui.Dialog({
			title: __("Preview: {0}", [__(this.doctype)]),
			size: "large",
			fields: [{ fieldtype: "HTML", fieldname: "table" }],
			primary_action_label: __("Close"),
			primary_action: () => dialog.hide(),
		});
		const notes = (result.notes || [])
			.map((note) => `<p class="text-muted small bq-preview-note">${esc(note)}</p>`)
			.join("");
		dialog.fields_dict.table.$wrapper.html(
			`<p class="bq-preview-summary">${summary}</p>${notes}
			<table class="table table-bordered bq-preview"><thead><tr><th>${__("Record")}</th>
			<th>${__("What would happen")}</th></tr></thead><tbody>${rows}</tbody></table>`,
		);
		dialog.show();
	}

	enqueue(args) {
		this.dialog.disable_primary_action();
		frappe.call({
			method: "bulk_queue.api.bulk.enqueue_bulk",
			args,
			freeze: true,
			freeze_message: __("Starting..."),
			callback: (r) => this.on_started(r.message),
			error: () => this.dialog.enable_primary_action(),
		});
	}

	on_started(result) {
		this.dialog.hide();
		const link = `<a href="${bulk_queue.job_url(result.bulk_job)}">${result.bulk_job}</a>`;
		frappe.show_alert(
			{
				message: result.existing
					? __("The same bulk job is already running: {0}", [link])
					: __("Bulk job {0} started: {1}", [
							link,
							frappe.utils.escape_html(result.title),
						]),
				indicator: result.existing ? "blue" : "green",
			},
			10,
		);
		if (bulk_queue.tray) bulk_queue.tray.track(result.progress || result);
		this.on_start && this.on_start(result);
	}
};
