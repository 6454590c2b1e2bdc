# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""A job where (almost) every record fails: what a million failures cost.

``--records`` ToDos (default 1,000,000) are selected by filters for ``set_value`` and planned; the job
is paused as soon as its planner is done, the ToDos are deleted, and the job resumed: every record
still to run fails with DoesNotExistError, through the workers' ordinary failure path (savepoint,
rollback, failure row, error count). Then, side by side where there is something to compare:

- bytes per failure row on disk (data and indexes of Bulk Queue Failure, after ANALYZE TABLE), and
  per error row;
- the job form opened in headless Chromium as its requester (from an open Desk, until the errors
  and the first page of records are shown), and the server time of each call the form makes;
- a page of 20 failures: the first, one half way by keyset (``after``), and the same by offset
  (``start``, what the form did before);
- ``retry_failed`` answering (it re-queues in the background past 10,000 failures), and how long its
  planner takes to turn every failure into chunks.

Run it with the bench's Python from this checkout (it starts its own workers and web server)::

    /opt/frappe-bench/env/bin/python benchmarks/failures.py --site dev.localhost

Results go to ``docs/benchmarks/failures.csv`` and a table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale import USER, ensure_user, record, row, tag_filter, wait_for_planning, write_csv
from speed import Workers, connect, describe_machine, insert_todos

PASSWORD = "bq-benchmark-Pw-1!"


def main() -> None:
	parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
	parser.add_argument("--site", required=True)
	parser.add_argument("--bench", default=os.environ.get("BULK_QUEUE_BENCH", "/opt/frappe-bench"))
	parser.add_argument("--records", type=int, default=1_000_000)
	parser.add_argument("--workers", type=int, default=2)
	parser.add_argument("--out", default=str(ROOT / "docs/benchmarks/failures.csv"))
	args = parser.parse_args()

	bench = Path(args.bench)
	frappe = connect(args.site, bench)
	ensure_user(frappe)
	from frappe.utils.password import update_password

	update_password(USER, PASSWORD)
	frappe.db.commit()
	machine = describe_machine(frappe)
	print(machine, flush=True)
	rows: list[dict] = []
	workers = Workers(bench, args.site)
	server = None
	try:
		job, failed, seconds = make_failing_job(frappe, args, workers)
		record(rows, "failures", 1, "fail_every_record", failed, seconds)
		measure_bytes(frappe, job, failed, rows)
		measure_pages(frappe, job, failed, rows)
		server = WebServer(bench, args.site)
		measure_form(frappe, server, args.site, job, rows)
		measure_retry(frappe, job, failed, rows)
	finally:
		if server:
			server.stop()
		workers.stop()
	write_csv(Path(args.out), rows, machine)
	for r in rows:
		print(f"{r['scenario']:<40} {r['seconds']!s:>10} s  {r['note']}")


def make_failing_job(frappe, args, workers):
	"""Plan a set_value job on ``--records`` ToDos, pause it, delete them, resume: every record left
	fails. Returns (job, failures, seconds from the resume to the job's end)."""
	from bulk_queue.api.bulk import enqueue_bulk
	from bulk_queue.lifecycle import pause_job, resume_job

	workers.ensure(args.workers, chain=True)
	names = insert_todos(frappe, args.records)
	tag = tag_filter(names)
	del names
	frappe.set_user(USER)
	job = enqueue_bulk(doctype="ToDo", action="set_value", filters=tag, values={"priority": "High"})[
		"bulk_job"
	]
	frappe.db.commit()
	frappe.set_user("Administrator")
	wait_for_planning(frappe, job, timeout=3600)
	pause_job(job)
	print(f"{job}: planned; deleting the ToDos", flush=True)
	while True:
		frappe.db.sql("delete from `tabToDo` where description like %s limit 50000", tag[0][2])
		deleted = frappe.db.sql("select row_count()")[0][0]
		frappe.db.commit()
		if deleted < 50000:
			break
	assert not frappe.db.sql("select 1 from `tabToDo` where description like %s limit 1", tag[0][2])
	started = time.perf_counter()
	resume_job(job)
	while True:
		frappe.db.rollback()
		state = frappe.db.get_value(
			"Bulk Queue Job", job, ["status", "processed", "failed", "total"], as_dict=True
		)
		if state.status not in ("Planning", "Queued", "Running", "Paused"):
			break
		print(f"  {state.processed:,} / {state.total:,} processed, {state.failed:,} failed", flush=True)
		time.sleep(15)
	seconds = time.perf_counter() - started
	print(f"{job}: {state.status}, {state.failed:,} failures in {seconds:.0f} s", flush=True)
	return job, state.failed, seconds


def measure_bytes(frappe, job, failed, rows) -> None:
	"""Bytes on disk per row (InnoDB data and indexes after ANALYZE TABLE, over the exact row count)."""
	for doctype, key in (("Bulk Queue Failure", "failure"), ("Bulk Queue Error", "error")):
		frappe.db.sql(f"analyze table `tab{doctype}`")
		size = frappe.db.sql(
			"""select data_length, index_length from information_schema.tables
			where table_schema=database() and table_name=%s""",
			f"tab{doctype}",
			as_dict=True,
		)[0]
		count = frappe.db.sql(f"select count(*) from `tab{doctype}`")[0][0]
		per_row = (size.data_length + size.index_length) / max(count, 1)
		note = (
			f"{per_row:.0f} bytes per row ({size.data_length / max(count, 1):.0f} data + "
			f"{size.index_length / max(count, 1):.0f} indexes), {count:,} rows"
		)
		rows.append(row("failures", 1, f"bytes_per_{key}_row", count, None, note=note))
		print(f"bytes per {key} row: {note}", flush=True)
	errors = frappe.db.count("Bulk Queue Error", {"bulk_job": job})
	rows.append(row("failures", 1, "errors_of_the_job", failed, None, note=f"{errors} error(s)"))


def measure_pages(frappe, job, failed, rows) -> None:
	from bulk_queue.api.bulk import get_errors, get_failures

	frappe.set_user(USER)
	try:
		timed(rows, "get_errors", lambda: get_errors(job))
		timed(rows, "page_first", lambda: get_failures(job, page_length=20))
		half = failed // 2
		middle = frappe.db.sql(
			"select name from `tabBulk Queue Failure` where bulk_job=%s order by name limit 1 offset %s",
			(job, half),
		)[0][0]
		timed(rows, "page_half_way_by_keyset", lambda: get_failures(job, page_length=20, after=middle))
		timed(rows, "page_half_way_by_offset", lambda: get_failures(job, page_length=20, start=half))
	finally:
		frappe.set_user("Administrator")


def timed(rows, scenario, fn, records=1) -> float:
	best = None
	for _ in range(3):
		started = time.perf_counter()
		fn()
		seconds = time.perf_counter() - started
		best = seconds if best is None else min(best, seconds)
	record(rows, "failures", 1, scenario, records, best, note="best of 3")
	return best


class WebServer:
	"""``bench serve`` on a free port, in its own process group."""

	def __init__(self, bench: Path, site: str) -> None:
		with socket.socket() as s:
			s.bind(("127.0.0.1", 0))
			self.port = s.getsockname()[1]
		env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTHONPATH")}
		self.proc = subprocess.Popen(
			[
				str(bench / "env/bin/python"),
				"-m",
				"frappe.utils.bench_helper",
				"frappe",
				"--site",
				site,
				"serve",
				"--port",
				str(self.port),
				"--noreload",
			],
			cwd=bench / "sites",
			env=env,
			stdout=subprocess.DEVNULL,
			stderr=subprocess.DEVNULL,
			start_new_session=True,
		)
		deadline = time.monotonic() + 60
		while time.monotonic() < deadline:
			try:
				urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/method/ping", timeout=2)
				return
			except Exception:
				time.sleep(0.5)
		raise RuntimeError("bench serve did not start")

	def stop(self) -> None:
		try:
			os.killpg(self.proc.pid, signal.SIGTERM)
			self.proc.wait(timeout=20)
		except (ProcessLookupError, subprocess.TimeoutExpired):
			os.killpg(self.proc.pid, signal.SIGKILL)


def measure_form(frappe, server, site, job, rows) -> None:
	"""The job form opened from an open Desk as its requester, until its errors and first page show;
	and what each call the form makes takes on the server."""
	from playwright.sync_api import sync_playwright

	base = f"http://{site}:{server.port}"
	with sync_playwright() as p:
		browser = p.chromium.launch(
			executable_path=os.environ.get("BULK_QUEUE_CHROMIUM", "/usr/bin/chromium")
		)
		page = browser.new_page(viewport={"width": 1400, "height": 1000})
		page.goto(f"{base}/login")
		page.request.post(f"{base}/api/method/login", form={"usr": USER, "pwd": PASSWORD})
		timings = []
		holder: dict[str, dict] = {"calls": {}}
		page.on("requestfinished", lambda r: _note_call(r, holder["calls"]))
		for _ in range(3):
			page.goto(f"{base}/app/todo")
			page.wait_for_selector(".list-row-container, .no-result", timeout=60_000)
			holder["calls"] = {}
			started = time.perf_counter()
			page.evaluate(f"() => frappe.set_route('Form', 'Bulk Queue Job', '{job}')")
			page.wait_for_selector(".bq-errors tr.bq-error-group", timeout=120_000)
			page.wait_for_selector(".bq-failures .bq-range", timeout=120_000)
			timings.append(time.perf_counter() - started)
		calls = holder["calls"]
		page.screenshot(path=str(ROOT / "docs/screenshots/job-form-a-million-failures.png"), full_page=True)
		browser.close()
	best = min(timings)
	note = "best of 3; server: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in sorted(calls.items()))
	record(rows, "failures", 1, "open_job_form", 1, best, note=note)


def _note_call(request, calls: dict) -> None:
	url = request.url
	if "/api/method/" not in url:
		return
	method = url.split("/api/method/", 1)[1].split("?", 1)[0].rsplit(".", 1)[-1]
	timing = request.timing
	if timing and timing.get("responseEnd", -1) >= 0:
		calls[method] = max(calls.get(method, 0.0), (timing["responseEnd"] - timing["requestStart"]) / 1000)


def measure_retry(frappe, job, failed, rows) -> None:
	"""Retry Failed on every failure: the answer, then the planner turning them into chunks. The
	records are gone, so the retry fails them again; the job is cancelled once planned."""
	from bulk_queue.api.bulk import retry_failed
	from bulk_queue.lifecycle import cancel_job

	frappe.set_user(USER)
	started = time.perf_counter()
	answer = retry_failed(job)
	answered = time.perf_counter() - started
	frappe.db.commit()
	frappe.set_user("Administrator")
	record(
		rows,
		"failures",
		1,
		"retry_failed_answer",
		1,
		answered,
		note=json.dumps({"retried": answer["retried"], "status": answer["status"]}),
	)
	planned = wait_for_planning(frappe, job, timeout=3600) - started
	record(
		rows, "failures", 1, "retry_failed_planned", failed, planned, note="every failure turned into chunks"
	)
	cancel_job(job)


if __name__ == "__main__":
	main()
