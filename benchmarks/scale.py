# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Scale benchmarks, side by side in one run on a real site with real ``bench worker`` processes.

1. ``desk``: Desk's own bulk edit (``bulk_update._bulk_action``, in-process, as the same user) vs
   bulk_queue ``set_value`` with one worker on the same 500 ToDos, round by round; then Desk's entry
   point asked for more than 500 (it refuses) and bulk_queue on ``--big`` ToDos with two workers.
2. ``fast``: ``set_value_fast`` (one worker, its default chunk size) vs a raw SQL ``UPDATE … WHERE
   name IN`` of 1,000 names at a time (the floor) on the same ``--fast-records`` ToDos and Comments
   (ToDo has a ``has_permission`` hook, evaluated per record; Comment has none), and vs the save path
   (``set_value``, one worker) on ``--records`` ToDos.
3. ``planning``: enqueue by filters to the end of planning for 100,000 matching ToDos (one worker).
4. ``million``: a filter selection of ``--million`` ToDos processed with ``set_value_fast`` by one
   worker: planning time, total time, and the peak RSS of the work horse while planning and while
   processing, above the idle worker's.
5. ``first``: from ``enqueue_bulk`` to the first record saved, for 1,000 ToDos on an idle worker.
6. ``actions``: each of Desk's own list actions (workflow transition, assignment rule, Assign To, Add
   Tags, Print, Export) against bulk_queue's on the same records, with 1 and 2 workers
   (``desk_actions.py``; needs the test app ``bulk_queue_fixtures`` and wkhtmltopdf).

Bulk jobs, and Desk's bulk edit, run as a System Manager user (not Administrator, for whom Frappe
skips permission checks): Desk runs its bulk edit in the name of the user who clicked, too.
Run it with the bench's Python from this checkout::

    /opt/frappe-bench/env/bin/python benchmarks/scale.py --site dev.localhost

Results go to ``docs/benchmarks/scale.csv`` and a table on stdout.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed import Workers, connect, delete_todos, describe_machine, insert_todos, wait_for

USER = "bq-benchmark@example.com"


def main() -> None:
	parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
	parser.add_argument("--site", required=True)
	parser.add_argument("--bench", default=os.environ.get("BULK_QUEUE_BENCH", "/opt/frappe-bench"))
	parser.add_argument("--rounds", type=int, default=3)
	parser.add_argument("--records", type=int, default=1500, help="save-path records in 'fast'")
	parser.add_argument("--big", type=int, default=100_000, help="records for bulk_queue in 'desk'")
	parser.add_argument("--fast-records", type=int, default=100_000)
	parser.add_argument("--million", type=int, default=1_000_000)
	parser.add_argument("--workflow", type=int, default=500, help="claims approved in 'actions'")
	parser.add_argument("--rule", type=int, default=1000, help="deals an assignment rule applies to")
	parser.add_argument("--assign", type=int, default=1000, help="deals assigned and tagged")
	parser.add_argument("--print", type=int, default=200, help="claims printed to one PDF")
	parser.add_argument("--export", type=int, default=20_000, help="deals exported to CSV")
	parser.add_argument("--rename", type=int, default=500, help="warehouses renamed, both ways")
	parser.add_argument(
		"--rename-large", type=int, default=20_000, help="warehouses renamed by bulk_queue alone"
	)
	parser.add_argument(
		"--actions",
		default="workflow,rule,assign_to,add_tags,print,export,rename",
		help="which of Desk's actions 'actions' compares (comma separated)",
	)
	parser.add_argument(
		"--benchmarks", default="desk,fast,planning,million,first,actions", help="comma separated"
	)
	parser.add_argument("--out", default=str(ROOT / "docs/benchmarks/scale.csv"))
	args = parser.parse_args()

	bench = Path(args.bench)
	frappe = connect(args.site, bench)
	ensure_user(frappe)
	machine = describe_machine(frappe)
	print(machine, flush=True)
	rows: list[dict] = []
	workers = Workers(bench, args.site)
	try:
		for name in [b.strip() for b in args.benchmarks.split(",") if b.strip()]:
			BENCHMARKS[name](frappe, args, workers, rows)
	finally:
		workers.stop()
	write_csv(Path(args.out), rows, machine)
	print_table(rows, machine)


# -- 1. Desk's bulk edit vs bulk_queue -----------------------------------------------------------------


def bench_desk(frappe, args, workers, rows) -> None:
	from frappe.desk.doctype.bulk_update.bulk_update import _bulk_action, submit_cancel_or_update_docs

	workers.ensure(1, chain=True)
	for round_no in range(1, args.rounds + 1):
		names = insert_todos(frappe, 500)
		frappe.set_user(USER)
		started = time.perf_counter()
		failed = _bulk_action("ToDo", names, "update", {"priority": "High"})
		frappe.db.commit()
		desk = time.perf_counter() - started
		frappe.set_user("Administrator")
		assert not failed, failed[:5]
		delete_todos(frappe, names)
		names = insert_todos(frappe, 500)
		bq = run_job(frappe, names=names, action="set_value")
		delete_todos(frappe, names)
		workers.ensure(2, chain=True)
		names = insert_todos(frappe, 500)
		bq2 = run_job(frappe, names=names, action="set_value")
		delete_todos(frappe, names)
		workers.ensure(1, chain=True)
		record(rows, "desk", round_no, "desk_bulk_edit_500", 500, desk)
		record(rows, "desk", round_no, "bq_1w_500", 500, bq, ratio=desk / bq, ratio_to="desk_bulk_edit_500")
		record(rows, "desk", round_no, "bq_2w_500", 500, bq2, ratio=desk / bq2, ratio_to="desk_bulk_edit_500")

	names = insert_todos(frappe, 501)
	try:
		submit_cancel_or_update_docs("ToDo", names, "update", {"priority": "High"})
		refused = "accepted"
	except frappe.ValidationError as e:
		refused = frappe.utils.strip_html_tags(str(e))[:120]
		frappe.local.message_log = []
	frappe.db.rollback()
	delete_todos(frappe, names)
	print(f"Desk bulk edit with 501 records: {refused}", flush=True)
	rows.append(row("desk", 1, "desk_bulk_edit_501", 501, None, note=f"refused: {refused}"))

	if args.big:
		workers.ensure(2, chain=True)
		names = insert_todos(frappe, args.big)
		seconds = run_job(frappe, filters=tag_filter(names), action="set_value", timeout=4 * 3600)
		delete_todos(frappe, names)
		record(rows, "desk", 1, f"bq_2w_{args.big}", args.big, seconds)


# -- 2. the fast path vs raw SQL and vs the save path ----------------------------------------------------


def bench_fast(frappe, args, workers, rows) -> None:
	workers.ensure(1, chain=True)
	n = args.fast_records
	for round_no in range(1, args.rounds + 1):
		for doctype in FAST_DOCTYPES:
			change = FAST_CHANGE[doctype]
			names = insert_rows(frappe, doctype, n)
			started = time.perf_counter()
			for i in range(0, len(names), 1000):
				frappe.db.sql(
					f"""update `tab{doctype}` set `{change[0]}`=%s, modified=now(6), modified_by=%s
					where name in %s""",
					(change[1], USER, names[i : i + 1000]),
				)
				frappe.db.commit()
			raw = time.perf_counter() - started
			delete_rows(frappe, doctype, names)
			names = insert_rows(frappe, doctype, n)
			fast = run_job(
				frappe,
				doctype=doctype,
				filters=tag_filter(names, doctype),
				action="set_value_fast",
				values=dict([change]),
			)
			delete_rows(frappe, doctype, names)
			key = doctype.lower()
			record(rows, "fast", round_no, f"raw_sql_update_{key}", n, raw)
			record(
				rows,
				"fast",
				round_no,
				f"bq_fast_1w_{key}",
				n,
				fast,
				ratio=raw / fast,
				ratio_to=f"raw_sql_update_{key}",
			)
			if doctype == "ToDo":
				fast_todo = fast
		names = insert_todos(frappe, args.records)
		save = run_job(frappe, names=names, action="set_value")
		delete_todos(frappe, names)
		record(rows, "fast", round_no, "bq_save_1w_todo", args.records, save)
		speedup = (n / fast_todo) / (args.records / save)
		rows.append(
			row("fast", round_no, "bq_fast_vs_save_todo", n, None, ratio=speedup, ratio_to="bq_save_1w_todo")
		)


# ToDo has a has_permission hook (checked per record); Comment has none (checked per batch).
FAST_DOCTYPES = ("ToDo", "Comment")
FAST_CHANGE = {"ToDo": ("priority", "High"), "Comment": ("seen", 1)}


def insert_rows(frappe, doctype: str, count: int) -> list[str]:
	if doctype == "ToDo":
		return insert_todos(frappe, count)
	from frappe.utils import now_datetime

	tag = f"bench-{uuid.uuid4().hex[:10]}"
	now = now_datetime()
	names = [f"{tag}-{i:07d}" for i in range(count)]
	fields = ["name", "creation", "modified", "owner", "modified_by", "docstatus", "idx"]
	fields += ["comment_type", "reference_doctype", "reference_name", "content", "seen"]
	rows = [(n, now, now, USER, USER, 0, 0, "Comment", "ToDo", tag, f"<p>{tag}</p>", 0) for n in names]
	for i in range(0, len(rows), 5000):
		frappe.db.bulk_insert("Comment", fields, rows[i : i + 5000])
	frappe.db.commit()
	return names


def delete_rows(frappe, doctype: str, names: list[str]) -> None:
	for i in range(0, len(names), 5000):
		frappe.db.delete(doctype, {"name": ("in", names[i : i + 5000])})
	frappe.db.commit()


# -- 3. planning 100,000 names ----------------------------------------------------------------------------


def bench_planning(frappe, args, workers, rows) -> None:
	from bulk_queue.api.bulk import cancel_bulk_job, enqueue_bulk

	workers.ensure(1, chain=True)
	for round_no in range(1, args.rounds + 1):
		names = insert_todos(frappe, 100_000)
		frappe.set_user(USER)
		started = time.perf_counter()
		result = enqueue_bulk(
			doctype="ToDo", action="set_value_fast", filters=tag_filter(names), values={"priority": "High"}
		)
		answered = time.perf_counter() - started
		planned = wait_for_planning(frappe, result["bulk_job"]) - started
		cancel_bulk_job(result["bulk_job"])
		frappe.set_user("Administrator")
		wait_for(frappe, result["bulk_job"])
		delete_todos(frappe, names)
		record(rows, "planning", round_no, "enqueue_answer_100000", 100_000, answered)
		record(rows, "planning", round_no, "planning_100000", 100_000, planned)


# -- 4. a million rows by filters --------------------------------------------------------------------------


def bench_million(frappe, args, workers, rows) -> None:
	workers.ensure(1, chain=True)
	names = insert_todos(frappe, args.million)
	tag = tag_filter(names)
	del names
	time.sleep(2)
	sampler = RssSampler([p.pid for p in workers.procs])
	sampler.start()
	from bulk_queue.api.bulk import enqueue_bulk

	try:
		frappe.set_user(USER)
		started = time.perf_counter()
		result = enqueue_bulk(
			doctype="ToDo", action="set_value_fast", filters=tag, values={"priority": "High"}, chunk_size=1000
		)
		frappe.set_user("Administrator")
		job = result["bulk_job"]
		planned = wait_for_planning(frappe, job) - started
		sampler.phase = "processing"
		done = wait_for(frappe, job, timeout=6 * 3600)
		seconds = time.perf_counter() - started
	finally:
		sampler.stop()
	assert done.status == "Completed", dict(done)
	changed = frappe.db.count("ToDo", {"description": ("like", tag[0][2]), "priority": "High"})
	assert changed == args.million, f"{changed} of {args.million}"
	delete_tagged(frappe, tag[0][2])
	n = args.million
	record(rows, "million", 1, f"planning_{n}", n, planned)
	record(rows, "million", 1, f"bq_fast_1w_{n}", n, seconds)
	for phase, peak in sampler.peaks.items():
		rows.append(row("million", 1, f"peak_rss_above_idle_{phase}", n, None, note=f"{peak / 2**20:.1f} MB"))
		print(f"peak RSS of the work horse above the idle worker, {phase}: {peak / 2**20:.1f} MB", flush=True)


class RssSampler(threading.Thread):
	"""Peak RSS of the workers' work horses above the idle worker's own RSS, per phase."""

	def __init__(self, worker_pids: list[int]) -> None:
		super().__init__(daemon=True)
		import psutil

		self.psutil = psutil
		self.workers = [psutil.Process(pid) for pid in worker_pids]
		self.idle = max(self._worker_rss(w) for w in self.workers)
		self.phase = "planning"
		self.peaks: dict[str, int] = {}
		self._stop_event = threading.Event()

	def _worker_rss(self, proc) -> int:
		# `frappe worker` is a wrapper process; the RQ worker may be its child.
		procs = [proc, *proc.children()]
		return max(p.memory_info().rss for p in procs)

	def run(self) -> None:
		while not self._stop_event.wait(0.2):
			for worker in self.workers:
				try:
					horses = worker.children(recursive=True)
					rss = max((h.memory_info().rss for h in horses), default=0)
				except self.psutil.Error:
					continue
				above = max(0, rss - self.idle)
				self.peaks[self.phase] = max(self.peaks.get(self.phase, 0), above)

	def stop(self) -> None:
		self._stop_event.set()
		self.join(timeout=5)


# -- 5. enqueue to first record ------------------------------------------------------------------------------


def bench_first(frappe, args, workers, rows) -> None:
	workers.ensure(1, chain=True)
	for round_no in range(1, args.rounds + 1):
		names = insert_todos(frappe, 1000)
		time.sleep(2)  # the worker idles, as it would when a user clicks Start
		started_db = frappe.utils.now_datetime()  # the clock Frappe writes `modified` with
		run_job(frappe, names=names, action="set_value")
		first = frappe.db.sql(
			"select min(modified) from `tabToDo` where name in %s and modified_by=%s", (names, USER)
		)[0][0]
		delete_todos(frappe, names)
		record(rows, "first", round_no, "enqueue_to_first_record", 1, (first - started_db).total_seconds())


# -- helpers ---------------------------------------------------------------------------------------------------


def run_job(
	frappe, *, action, names=None, filters=None, chunk_size=None, timeout=3600, doctype="ToDo", values=None
) -> float:
	"""Seconds from ``enqueue_bulk`` (as the benchmark user) to the job's final status."""
	from bulk_queue.api.bulk import enqueue_bulk

	frappe.set_user(USER)
	started = time.perf_counter()
	result = enqueue_bulk(
		doctype=doctype,
		action=action,
		ids=names,
		filters=filters,
		values=values or {"priority": "High"},
		chunk_size=chunk_size,
	)
	frappe.set_user("Administrator")
	job = wait_for(frappe, result["bulk_job"], timeout=timeout)
	seconds = time.perf_counter() - started
	assert job.status == "Completed", dict(job)
	return seconds


def wait_for_planning(frappe, bulk_job: str, timeout: float = 1800) -> float:
	deadline = time.monotonic() + timeout
	while time.monotonic() < deadline:
		frappe.db.rollback()
		if frappe.db.get_value("Bulk Queue Job", bulk_job, "status") != "Planning":
			return time.perf_counter()
		time.sleep(0.02)
	raise TimeoutError(f"{bulk_job} still Planning after {timeout} s")


def tag_filter(names: list[str], doctype: str = "ToDo") -> list[list]:
	"""The list-view filter that selects one batch of benchmark rows (their text holds the tag)."""
	tag = names[0].rsplit("-", 1)[0]
	return [["description" if doctype == "ToDo" else "content", "like", f"%{tag}%"]]


def delete_tagged(frappe, pattern: str) -> None:
	while frappe.db.sql("delete from `tabToDo` where description like %s limit 50000", pattern) or (
		frappe.db.sql("select 1 from `tabToDo` where description like %s limit 1", pattern)
	):
		frappe.db.commit()
	frappe.db.commit()


def ensure_user(frappe) -> None:
	if not frappe.db.exists("User", USER):
		user = frappe.get_doc(
			{"doctype": "User", "email": USER, "first_name": "Benchmark", "send_welcome_email": 0}
		)
		user.insert(ignore_permissions=True)
		user.add_roles("System Manager")
	frappe.db.commit()


def row(benchmark, round_no, scenario, records, seconds, *, ratio=None, ratio_to="", note="") -> dict:
	return {
		"benchmark": benchmark,
		"round": round_no,
		"scenario": scenario,
		"records": records,
		"seconds": round(seconds, 3) if seconds is not None else "",
		"records_per_s": round(records / seconds, 1) if seconds else "",
		"ratio": round(ratio, 3) if ratio is not None else "",
		"ratio_to": ratio_to,
		"note": note,
	}


def record(rows, benchmark, round_no, scenario, records, seconds, **kwargs) -> None:
	rows.append(row(benchmark, round_no, scenario, records, seconds, **kwargs))
	rate = f"{records / seconds:10.1f} records/s" if records > 1 else ""
	print(f"{benchmark:<9} round {round_no}  {scenario:<28} {seconds:9.3f} s {rate}", flush=True)


def write_csv(path: Path, rows: list[dict], machine: str) -> None:
	"""Write ``rows``, keeping the rows of scenarios this run did not repeat (a partial re-run)."""
	path.parent.mkdir(parents=True, exist_ok=True)
	run = f"{machine}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
	rows = [{**r, "run": run} for r in rows]
	if path.exists():
		ran = {(r["benchmark"], r["scenario"]) for r in rows}
		text = path.read_text().splitlines()
		# Rows kept from an earlier run say which machine and when (it may have been another one).
		earlier = text[0].lstrip("# ").strip() if text and text[0].startswith("#") else ""
		lines = [line for line in text if not line.startswith("#")]
		kept = [
			{**r, "run": r.get("run") or earlier}
			for r in csv.DictReader(lines)
			if (r["benchmark"], r["scenario"]) not in ran
		]
		rows = kept + rows
	runs = {r["run"] for r in rows}
	with path.open("w", newline="") as f:
		f.write(f"# {run if len(runs) == 1 else 'rows from more than one run: see the run column'}\n")
		writer = csv.DictWriter(f, fieldnames=list(rows[-1]))
		writer.writeheader()
		writer.writerows(rows)
	print(f"\nwrote {path}")


def print_table(rows: list[dict], machine: str) -> None:
	print(f"\n{machine}\n")
	print("| benchmark | scenario | records | seconds (median) | records/s | ratio (median) | note |")
	print("| --- | --- | ---: | ---: | ---: | --- | --- |")
	seen: list[tuple[str, str]] = []
	for r in rows:
		if (r["benchmark"], r["scenario"]) not in seen:
			seen.append((r["benchmark"], r["scenario"]))
	for benchmark, scenario in seen:
		mine = [r for r in rows if (r["benchmark"], r["scenario"]) == (benchmark, scenario)]
		seconds = [r["seconds"] for r in mine if r["seconds"] != ""]
		median = statistics.median(seconds) if seconds else None
		rate = f"{mine[0]['records'] / median:.0f}" if median and mine[0]["records"] > 1 else ""
		ratios = [r["ratio"] for r in mine if r["ratio"] != ""]
		ratio = f"{statistics.median(ratios):.2f}× {mine[0]['ratio_to']}" if ratios else ""
		shown = f"{median:.3f}" if median is not None else ""
		print(
			f"| {benchmark} | {scenario} | {mine[0]['records']:,} | {shown} | {rate} | {ratio} | {mine[0]['note']} |"
		)


def bench_actions(frappe, args, workers, rows) -> None:
	from desk_actions import bench_actions as run

	run(frappe, args, workers, rows)


BENCHMARKS = {
	"actions": bench_actions,
	"desk": bench_desk,
	"fast": bench_fast,
	"planning": bench_planning,
	"million": bench_million,
	"first": bench_first,
}


if __name__ == "__main__":
	main()
