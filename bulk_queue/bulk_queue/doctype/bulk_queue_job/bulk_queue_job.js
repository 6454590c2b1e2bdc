// Copyright (c) 2026, bulk_queue contributors
// For license information, please see license.txt

const FAILURES_PAGE = 20;

frappe.ui.form.on("Bulk Queue Job", {
	setup(frm) {
		frm._bq = {
			failures_start: 0,
			failures_total: null,
			failures_loaded_for: null,
			cursors: [null],
			error: null,
		};
	},

	onload(frm) {
		if (frm._bq_listening) return;
		frm._bq_listening = true;
		frappe.realtime.on("bulk_queue_progress", (data) => {
			if (!frm.doc || data.bulk_job !== frm.doc.name) return;
			bulk_queue_job.on_progress(frm, data);
		});
	},

	refresh(frm) {
		frm.disable_save();
		const colour = bulk_queue.STATUS_COLOURS[frm.doc.status] || "gray";
		frm.page.set_indicator(__(frm.doc.status), colour);
		bulk_queue_job.show_progress(frm, bulk_queue_job.message_from_doc(frm.doc));
		bulk_queue_job.warn_without_worker(frm);
		bulk_queue_job.add_buttons(frm);
		bulk_queue_job.render_left_as_is(frm);
		bulk_queue_job.load_status(frm);
		bulk_queue_job.load_failures(frm, frm._bq.failures_start);
		bulk_queue_job.load_chunk_jobs(frm);
	},
});

const bulk_queue_job = {
	is_active: (status) => bulk_queue.ACTIVE.includes(status),

	message_from_doc(doc) {
		const planning = doc.status === "Planning";
		const total = planning ? Math.max(doc.total, doc.expected || 0) : doc.total;
		return {
			bulk_job: doc.name,
			status: doc.status,
			planning: planning,
			selected: doc.total,
			total: total,
			processed: doc.processed,
			succeeded: doc.succeeded,
			failed: doc.failed,
			percent: total ? (100 * doc.processed) / total : 100,
			start_at: doc.start_at,
			rate_limit: doc.rate_limit,
		};
	},

	// -- progress ---------------------------------------------------------------------------------

	load_status(frm) {
		frappe
			.xcall("bulk_queue.api.bulk.get_bulk_job_status", { bulk_job: frm.doc.name })
			.then(
				(data) => data && data.bulk_job === frm.doc.name && this.show_progress(frm, data),
			)
			.catch(() => {});
	},

	on_progress(frm, data) {
		// The Print / Export file, merged at the job's end, counts as a change too.
		const status_changed =
			data.status !== frm.doc.status ||
			(data.output_file && data.output_file !== frm.doc.output_file);
		const failed_changed = data.failed !== frm._bq.last_failed;
		this.show_progress(frm, data);
		if (status_changed) {
			frm.reload_doc();
		} else if (failed_changed) {
			this.schedule_failures_reload(frm);
		}
	},

	show_progress(frm, data) {
		if (!data || !data.total) return;
		frm._bq.last_failed = data.failed;
		const percent = Math.floor(data.percent || 0);
		const format = (n) => format_number(n || 0, null, 0);
		let message = __("{0} processed: {1} succeeded, {2} failed", [
			bulk_queue.describe_count(data),
			format(data.succeeded),
			format(data.failed),
		]);
		if (data.unchanged) message += ` (${__("{0} left as is", [format(data.unchanged)])})`;
		const planning = bulk_queue.describe_planning(data);
		if (planning) message = `${planning} · ${message}`;
		const control = bulk_queue.describe_control(data);
		if (control) message = `${control} · ${message}`;
		const speed = bulk_queue.describe_speed(data);
		if (speed) message += ` · ${speed}`;
		frm.dashboard.show_progress(__("Progress"), percent, message);
		// Keep the form's counters in step without a reload (they are read-only).
		const counters = {
			processed: data.processed,
			succeeded: data.succeeded,
			failed: data.failed,
			unchanged: data.unchanged,
			total: data.planning ? data.selected : data.total,
		};
		for (const [key, value] of Object.entries(counters)) {
			if (value != null && frm.doc[key] !== value) {
				frm.doc[key] = value;
				frm.refresh_field(key);
			}
		}
	},

	warn_without_worker(frm) {
		const queue = (frm.doc.__onload || {}).no_worker;
		const doc = frm.doc;
		if (doc.output_format && !doc.output_file && doc.notified && doc.succeeded) {
			// Print / Export: its end gave up merging the file (each try is in the Error Log).
			frm.set_intro(
				__("The file of this job could not be made: the Error Log says why."),
				"red",
			);
			return;
		}
		if (!queue || !this.is_active(frm.doc.status)) {
			frm.set_intro("");
			return;
		}
		const standard = ["short", "default", "long"].includes(queue);
		const command = standard ? "bench worker" : `bench worker --queue ${queue}`;
		frm.set_intro(
			__(
				"No worker is listening on the {0} queue, so this job waits. It starts as soon as one runs: {1}",
				[
					`<b>${frappe.utils.escape_html(queue)}</b>`,
					`<code>${frappe.utils.escape_html(command)}</code>`,
				],
			),
			"orange",
		);
	},

	// -- buttons ----------------------------------------------------------------------------------

	add_buttons(frm) {
		const doc = frm.doc;
		if (this.is_active(doc.status)) {
			frm.add_custom_button(__("Pause"), () => this.call(frm, "pause_bulk_job"));
		}
		if (doc.status === "Paused") {
			frm.add_custom_button(__("Resume"), () => this.call(frm, "resume_bulk_job")).addClass(
				"btn-primary",
			);
		}
		if (bulk_queue.OPEN.includes(doc.status)) {
			frm.add_custom_button(__("Cancel"), () =>
				frappe.confirm(
					__(
						"Cancel {0}? Records already processed stay as they are; the rest will not be processed.",
						[doc.name],
					),
					() => this.call(frm, "cancel_bulk_job"),
				),
			);
		}
		if (["Completed with Errors", "Failed"].includes(doc.status) && doc.failed) {
			frm.add_custom_button(__("Retry Failed"), () =>
				frappe.confirm(
					__("Process the {0} failed records of {1} again?", [
						format_number(doc.failed, null, 0),
						doc.name,
					]),
					() => this.call(frm, "retry_failed"),
				),
			);
		}
		const undoable = (doc.__onload || {}).undoable;
		if (undoable) {
			frm.add_custom_button(__("Undo"), () => this.undo(frm, undoable)).addClass("bq-undo");
		}
		if (doc.output_file) {
			frm.add_custom_button(
				doc.output_format === "pdf" ? __("Download PDF") : __("Download File"),
				() => window.open(doc.output_file, "_blank"),
			).addClass("btn-primary bq-download");
		}
		if (frappe.user.has_role("System Manager")) {
			frm.add_custom_button(
				__("Background Jobs"),
				() => frappe.set_route("List", "RQ Job"),
				__("View"),
			);
		}
		if (doc.reference_doctype) {
			frm.add_custom_button(
				__(doc.reference_doctype),
				() => frappe.set_route("List", doc.reference_doctype),
				__("View"),
			);
		}
	},

	// A new job that puts back what this one changed; its form opens.
	undo(frm, changed) {
		frappe.confirm(
			__(
				"Put back what {0} changed on {1} records? A record changed since by someone else is left as is.",
				[frm.doc.name, format_number(changed, null, 0)],
			),
			() =>
				frappe.call({
					method: "bulk_queue.api.bulk.undo_bulk_job",
					args: { bulk_job: frm.doc.name },
					freeze: true,
					callback: (r) => {
						if (bulk_queue.tray)
							bulk_queue.tray.track(r.message.progress || r.message);
						frappe.set_route("Form", "Bulk Queue Job", r.message.bulk_job);
					},
				}),
		);
	},

	// The records the job left as is, with the reason (the first 20; the list has them all).
	render_left_as_is(frm) {
		const rows = (frm.doc.__onload || {}).left_as_is || [];
		const field = frm.get_field("left_as_is_html");
		if (!field) return;
		const esc = frappe.utils.escape_html;
		const items = rows
			.map(
				(r) =>
					`<tr><td>${esc(r.reference_name)}</td><td class="text-muted">${esc(r.reason || "")}</td></tr>`,
			)
			.join("");
		const all = `/app/bulk-queue-change?bulk_job=${encodeURIComponent(frm.doc.name)}&outcome=${encodeURIComponent("Left As Is")}`;
		field.$wrapper.html(
			rows.length
				? `<table class="table table-bordered bq-left-as-is"><thead><tr><th>${__("Record")}</th>
				<th>${__("Why")}</th></tr></thead><tbody>${items}</tbody></table>
				<a href="${all}">${
					frm.doc.unchanged > rows.length
						? __("All {0} records left as is", [
								format_number(frm.doc.unchanged, null, 0),
							])
						: __("Open as a list")
				}</a>`
				: "",
		);
	},

	call(frm, method) {
		frappe.call({
			method: `bulk_queue.api.bulk.${method}`,
			args: { bulk_job: frm.doc.name },
			freeze: true,
			callback: () => {
				Object.assign(frm._bq, { failures_start: 0, error: null, cursors: [null] });
				frm.reload_doc();
			},
		});
	},

	// -- failed records: grouped by error, then a page of records at a time -------------------------

	schedule_failures_reload(frm) {
		// Only while the job runs (progress events); at most every 5 s, a page costs one index range.
		if (frm._bq.failures_timer) return;
		frm._bq.failures_timer = setTimeout(() => {
			frm._bq.failures_timer = null;
			this.load_failures(frm, frm._bq.failures_start);
		}, 5000);
	},

	// ``start``: 0 for the first page; the cursor stack remembers where each earlier page began.
	load_failures(frm, start) {
		const wrapper = frm.get_field("failures_html").$wrapper;
		const state = frm._bq;
		if (
			!frm.doc.failed &&
			!state.failures_total &&
			state.failures_loaded_for === frm.doc.name
		) {
			return;
		}
		if (state.failures_loaded_for !== frm.doc.name) {
			Object.assign(state, { cursors: [null], error: null, failures_start: 0 });
		}
		start = start || 0;
		const page_no = Math.floor(start / FAILURES_PAGE);
		state.cursors = state.cursors || [null];
		const after = state.cursors[page_no] || null;
		Promise.all([
			frappe.xcall("bulk_queue.api.bulk.get_errors", { bulk_job: frm.doc.name }),
			frappe.xcall("bulk_queue.api.bulk.get_failures", {
				bulk_job: frm.doc.name,
				page_length: FAILURES_PAGE,
				error: state.error,
				after: after,
			}),
		])
			.then(([errors, page]) => {
				state.failures_loaded_for = frm.doc.name;
				state.failures_total = page.total;
				state.failures_start = start;
				state.cursors[page_no + 1] = page.after;
				page.start = start;
				frm.toggle_display("section_failures", errors.failed > 0 || page.total > 0);
				wrapper.html(this.errors_html(frm, errors) + this.failures_html(frm, page));
				this.bind_failures(frm, wrapper, page);
			})
			.catch(() => {});
	},

	bind_failures(frm, wrapper, page) {
		const state = frm._bq;
		const show = (error) => {
			Object.assign(state, { error: error, cursors: [null] });
			this.load_failures(frm, 0);
		};
		wrapper
			.find(".bq-show-error")
			.on("click", (e) => show($(e.currentTarget).attr("data-error")));
		wrapper.find(".bq-all-errors").on("click", () => show(null));
		wrapper
			.find(".bq-traceback")
			.on("click", (e) => this.show_traceback(frm, $(e.currentTarget).attr("data-error")));
		wrapper
			.find(".bq-retry-error")
			.on("click", (e) => this.retry(frm, $(e.currentTarget).attr("data-error")));
		wrapper
			.find(".bq-prev")
			.on("click", () => this.load_failures(frm, Math.max(0, page.start - FAILURES_PAGE)));
		wrapper
			.find(".bq-next")
			.on("click", () => this.load_failures(frm, page.start + FAILURES_PAGE));
	},

	errors_html(frm, data) {
		const errors = data.errors || [];
		if (!errors.length) return "";
		const esc = frappe.utils.escape_html;
		const format = (n) => format_number(n, null, 0);
		const can_retry = ["Completed with Errors", "Failed"].includes(frm.doc.status);
		const rows = errors
			.map((e) => {
				const examples = (e.examples || [])
					.map(
						(n) =>
							`<a href="${frappe.utils.get_form_link(frm.doc.reference_doctype, n)}">${esc(n)}</a>`,
					)
					.join(", ");
				const selected = frm._bq.error === e.name ? " bq-selected" : "";
				return `<tr class="bq-error-group${selected}" data-error="${esc(e.name)}">
					<td class="text-right bq-error-count">${format(e.failures)} ×</td>
					<td><b>${esc(e.exception_type || "")}</b> <span>${this.template_html(e.message)}</span>
						<div class="text-muted small">${__("e.g. {0}", [examples])}</div></td>
					<td class="text-right text-nowrap">
						<button class="btn btn-xs btn-default bq-show-error" data-error="${esc(e.name)}">
							${__("Records")}</button>
						<button class="btn btn-xs btn-default bq-traceback" data-error="${esc(e.name)}">
							${__("Traceback")}</button>
						${
							can_retry
								? `<button class="btn btn-xs btn-default bq-retry-error" data-error="${esc(e.name)}">${__("Retry")}</button>`
								: ""
						}
					</td>
				</tr>`;
			})
			.join("");
		return `<div class="bq-errors">
			<div class="text-muted small">${
				errors.length === 1
					? __("{0} failed records, one error", [format(data.failed)])
					: __("{0} failed records, {1} errors, most failures first", [
							format(data.failed),
							format(errors.length),
						])
			}</div>
			<table class="table table-bordered table-sm">
				<colgroup><col style="width: 14%"><col><col style="width: 24%"></colgroup>
				<tbody>${rows}</tbody>
			</table>
		</div>`;
	},

	// A message template: the record's name, taken out of it, shown as a placeholder.
	template_html(message) {
		const record = `<span class="text-muted">‹${__("record")}›</span>`;
		return frappe.utils
			.escape_html(message || "")
			.split("{name}")
			.join(record);
	},

	failures_html(frm, page) {
		if (!page.total && !page.failures.length) return "";
		const esc = frappe.utils.escape_html;
		const rows = page.failures
			.map((f) => {
				const link = frappe.utils.get_form_link(f.reference_doctype, f.reference_name);
				const retried = f.retried
					? ` <span class="indicator-pill gray">${__("Retried")}</span>`
					: "";
				return `<tr class="bq-failure" data-name="${esc(f.reference_name)}">
					<td><a href="${link}">${esc(f.reference_name)}</a>${retried}</td>
					<td class="bq-error"><b>${esc(f.exception_type || "")}</b>
						<div class="text-muted">${esc(f.error || "")}</div></td>
					<td class="text-right">${cint(f.attempts)}</td>
				</tr>`;
			})
			.join("");
		const first = page.start + 1;
		const last = page.start + page.failures.length;
		const format = (n) => format_number(n, null, 0);
		const heading = frm._bq.error
			? `<div class="bq-failures-heading">${__("Records with the selected error")}
				<a class="bq-all-errors">${__("All records")}</a></div>`
			: "";
		return `<div class="bq-failures">
			${heading}
			<table class="table table-bordered table-sm">
				<colgroup><col style="width: 30%"><col><col style="width: 10%"></colgroup>
				<thead><tr>
					<th>${__("Record")}</th><th>${__("Error")}</th>
					<th class="text-right">${__("Attempts")}</th>
				</tr></thead>
				<tbody>${rows}</tbody>
			</table>
			<div class="bq-pager">
				<span class="text-muted bq-range">${__("{0}–{1} of {2}", [
					format(page.failures.length ? first : 0),
					format(last),
					format(page.total),
				])}</span>
				<span>
					<button class="btn btn-xs btn-default bq-prev" ${page.start > 0 ? "" : "disabled"}>
						${__("Previous")}</button>
					<button class="btn btn-xs btn-default bq-next" ${page.after ? "" : "disabled"}>
						${__("Next")}</button>
				</span>
			</div>
		</div>`;
	},

	show_traceback(frm, error) {
		frappe
			.xcall("bulk_queue.api.bulk.get_error_traceback", {
				bulk_job: frm.doc.name,
				error: error,
			})
			.then((traceback) => {
				const dialog = new frappe.ui.Dialog({
					title: __("Traceback"),
					size: "extra-large",
					fields: [{ fieldtype: "HTML", fieldname: "tb" }],
				});
				dialog.fields_dict.tb.$wrapper.html(
					`<pre class="bq-traceback-text">${frappe.utils.escape_html(
						traceback || __("No traceback: the record was refused before it ran."),
					)}</pre>`,
				);
				dialog.show();
			});
	},

	retry(frm, error) {
		frappe.confirm(__("Process the records that failed with this error again?"), () =>
			frappe.call({
				method: "bulk_queue.api.bulk.retry_failed",
				args: { bulk_job: frm.doc.name, error: error },
				freeze: true,
				callback: () => {
					Object.assign(frm._bq, { failures_start: 0, error: null, cursors: [null] });
					frm.reload_doc();
				},
			}),
		);
	},

	// -- the chunk jobs on Background Jobs ----------------------------------------------------------

	load_chunk_jobs(frm) {
		const area = frm.dashboard.progress_area.body;
		area.find(".bq-chunk-jobs").remove();
		if (!this.is_active(frm.doc.status)) return;
		frappe
			.xcall("bulk_queue.api.bulk.get_chunk_jobs", { bulk_job: frm.doc.name })
			.then((chunks) => {
				if (!chunks || !chunks.length) return;
				const can_open = frappe.user.has_role("System Manager");
				const items = chunks
					.map((c) => {
						const label = __("chunk {0} ({1}, {2}/{3})", [
							c.chunk_no,
							__(c.status),
							c.done_upto,
							c.total,
						]);
						return can_open && c.rq_job
							? `<a href="/app/rq-job/${encodeURIComponent(c.rq_job)}">${label}</a>`
							: `<span>${label}</span>`;
					})
					.join(", ");
				area.find(".bq-chunk-jobs").remove();
				$(
					`<div class="bq-chunk-jobs text-muted">${__("On Background Jobs now:")} ${items}</div>`,
				).appendTo(area);
			})
			.catch(() => {});
	},
};
