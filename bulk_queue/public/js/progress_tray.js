// Copyright (c) 2026, bulk_queue contributors
// For license information, please see license.txt
//
// A small tray in the corner of every Desk page with one card per bulk job of this user: title,
// processed / total, percent, a bar, rate and time left. State comes from the job (boot info on page
// load, the API after Start), then from the realtime "bulk_queue_progress" events; when the realtime
// connection is down it falls back to asking the server every few seconds.

frappe.provide("bulk_queue");

const POLL_MS = 5000;
const DISMISSED_KEY = "bulk_queue:dismissed";

bulk_queue.ProgressTray = class ProgressTray {
	constructor() {
		this.jobs = {};
		this.$tray = null;
		this.poll_timer = null;
		frappe.realtime.on("bulk_queue_progress", (data) => this.on_event(data));
		// The job's own form shows its progress: its card steps aside there.
		frappe.router.on("change", () => this.render_all());
	}

	render_all() {
		Object.keys(this.jobs).forEach((name) => this.render(name));
	}

	// The Bulk Queue Job open in the form right now, if any.
	job_on_screen() {
		const route = frappe.get_route() || [];
		return route[0] === "Form" && route[1] === "Bulk Queue Job" ? route[2] : null;
	}

	// Show a job (a progress message or enqueue_bulk's answer) and follow it.
	track(data) {
		if (!data || !data.bulk_job) return;
		this.undismiss(data.bulk_job);
		this.jobs[data.bulk_job] = Object.assign(this.jobs[data.bulk_job] || {}, data);
		this.render(data.bulk_job);
		this.ensure_polling();
	}

	on_event(data) {
		if (!data || !data.bulk_job) return;
		const known = this.jobs[data.bulk_job];
		// Events also reach whoever has the job's form open; the tray shows only this user's jobs.
		if (!known && (data.user !== frappe.session.user || this.is_dismissed(data.bulk_job)))
			return;
		const previous = known && known.status;
		this.jobs[data.bulk_job] = Object.assign(known || {}, data);
		this.render(data.bulk_job);
		if (previous && previous !== data.status && !bulk_queue.OPEN.includes(data.status)) {
			this.on_finished(data);
		}
	}

	on_finished(data) {
		// A job started from a form: that form reloads (unless it has unsaved changes).
		if (bulk_queue.on_form_job_ended) bulk_queue.on_form_job_ended(data);
		// The list behind the tray now shows stale values: refresh it once.
		if (window.cur_list && cur_list.doctype === data.doctype && cur_list.refresh) {
			cur_list.refresh();
		}
	}

	// -- rendering --------------------------------------------------------------------------------

	tray() {
		if (!this.$tray || !document.body.contains(this.$tray[0])) {
			this.$tray = $(`<div class="bulk-queue-tray" aria-live="polite"></div>`).appendTo(
				"body",
			);
		}
		return this.$tray;
	}

	render(name) {
		const data = this.jobs[name];
		if (!data) return;
		let $card = this.tray().find(`.bq-card[data-job="${CSS.escape(name)}"]`);
		if (!$card.length) {
			$card = $(`
				<div class="bq-card" data-job="${frappe.utils.escape_html(name)}">
					<div class="bq-card-head">
						<a class="bq-title" href="${bulk_queue.job_url(name)}"></a>
						<button class="btn btn-xs btn-link bq-close" title="${__("Hide")}"
							aria-label="${__("Hide")}">${frappe.utils.icon("close", "sm")}</button>
					</div>
					<div class="progress bq-progress">
						<div class="progress-bar" role="progressbar" aria-valuemin="0"
							aria-valuemax="100"></div>
					</div>
					<div class="bq-stats">
						<span class="bq-count"></span>
						<span class="bq-percent"></span>
						<span class="bq-status indicator-pill"></span>
					</div>
					<div class="bq-speed text-muted"></div>
					<div class="bq-output"></div>
				</div>`).prependTo(this.tray());
			$card.find(".bq-title").on("click", (e) => {
				e.preventDefault();
				frappe.set_route("Form", "Bulk Queue Job", name);
			});
			$card.find(".bq-close").on("click", () => this.dismiss(name));
		}
		const percent = Math.floor(data.percent || 0);
		const colour = bulk_queue.STATUS_COLOURS[data.status] || "gray";
		$card.attr("data-status", data.status);
		$card.toggleClass("hidden", this.job_on_screen() === name);
		$card.find(".bq-title").text(data.title || name);
		$card
			.find(".progress-bar")
			.css("width", `${percent}%`)
			.attr("aria-valuenow", percent)
			.toggleClass("bg-success", data.status === "Completed")
			.toggleClass("bg-warning", data.status === "Completed with Errors")
			.toggleClass("bg-danger", ["Failed", "Cancelled"].includes(data.status));
		$card.find(".bq-count").text(bulk_queue.describe_count(data));
		$card.find(".bq-percent").text(`${percent}%`);
		$card
			.find(".bq-status")
			.attr("class", `bq-status indicator-pill ${colour}`)
			.text(
				data.failed
					? __("{0} · {1} failed", [__(data.status), bulk_queue.format_int(data.failed)])
					: __(data.status),
			);
		$card
			.find(".bq-speed")
			.text(
				[
					bulk_queue.describe_control(data),
					bulk_queue.describe_planning(data),
					data.unchanged
						? __("{0} left as is", [bulk_queue.format_int(data.unchanged)])
						: "",
					bulk_queue.describe_speed(data),
				]
					.filter(Boolean)
					.join(" · "),
			);
		$card.find(".bq-output").html(this.output_html(data));
	}

	// Print / Export: the file's link once the job's end has merged it, "Preparing" until then.
	output_html(data) {
		if (!data.output_format) return "";
		if (data.output_file) {
			const url = frappe.utils.escape_html(data.output_file);
			const label = data.output_format === "pdf" ? __("Download PDF") : __("Download File");
			return `<a class="bq-download btn btn-xs btn-default" href="${url}" target="_blank"
				rel="noopener">${label}</a>`;
		}
		if (!data.output_pending) return "";
		return `<span class="text-muted">${__("Preparing the file...")}</span>`;
	}

	dismiss(name) {
		delete this.jobs[name];
		this.tray()
			.find(`.bq-card[data-job="${CSS.escape(name)}"]`)
			.remove();
		const dismissed = this.dismissed();
		dismissed.push(name);
		sessionStorage.setItem(DISMISSED_KEY, JSON.stringify(dismissed.slice(-50)));
	}

	undismiss(name) {
		const dismissed = this.dismissed().filter((n) => n !== name);
		sessionStorage.setItem(DISMISSED_KEY, JSON.stringify(dismissed));
	}

	is_dismissed(name) {
		return this.dismissed().includes(name);
	}

	dismissed() {
		try {
			return JSON.parse(sessionStorage.getItem(DISMISSED_KEY) || "[]");
		} catch (e) {
			return [];
		}
	}

	// -- fallback when realtime is down -------------------------------------------------------------

	ensure_polling() {
		if (this.poll_timer) return;
		this.poll_timer = setInterval(() => this.poll(), POLL_MS);
	}

	poll() {
		const active = Object.values(this.jobs).filter((d) =>
			bulk_queue.ACTIVE.includes(d.status),
		);
		if (!active.length) {
			clearInterval(this.poll_timer);
			this.poll_timer = null;
			return;
		}
		if (frappe.realtime.socket && frappe.realtime.socket.connected) return;
		for (const data of active) {
			frappe
				.xcall("bulk_queue.api.bulk.get_bulk_job_status", { bulk_job: data.bulk_job })
				.then((status) =>
					this.on_event(Object.assign({ user: frappe.session.user }, status)),
				)
				.catch(() => {});
		}
	}
};

$(document).on("app_ready", () => {
	if (!frappe.session || frappe.session.user === "Guest") return;
	bulk_queue.tray = new bulk_queue.ProgressTray();
	const tray = bulk_queue.tray;
	const boot = frappe.boot.bulk_queue;
	const load = boot
		? Promise.resolve(boot.active_jobs || [])
		: frappe.xcall("bulk_queue.api.bulk.get_active_jobs");
	load.then((jobs) => {
		for (const data of jobs || []) {
			if (!tray.is_dismissed(data.bulk_job)) tray.track(Object.assign({}, data));
		}
	});
});
