# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Side-by-side speed of changing many ToDos, in one run, on a real site with real workers.

Every scenario changes ``priority`` on its own freshly inserted ToDos (same count, same change), and
the scenarios are interleaved round by round, so ratios within a round compare like with like:

- ``loop``: ``get_doc`` + ``save`` in one process, committing every 50 records (the baseline);
- ``desk_bulk_edit``: Desk's own bulk edit function (``bulk_update._bulk_action``), in-process;
- ``bq_1w_unchained`` / ``bq_1w``: bulk_queue ``set_value`` with one ``bench worker``, first with one
  chunk per RQ job (``bulk_queue_chain_seconds = 0``, how it ran before chaining), then as shipped;
- ``bq_2w``: bulk_queue with two workers.

bulk_queue is timed from the ``enqueue_bulk`` call to the job's final status, so queueing, start-up
and the final commit are all inside. Run it with the bench's Python from this checkout::

    /opt/frappe-bench/env/bin/python benchmarks/speed.py --site dev.localhost --records 1500 --rounds 3

Results go to ``docs/benchmarks/speed.csv`` (one row per measurement) and a table on stdout.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
	parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
	parser.add_argument("--site", required=True)
	parser.add_argument("--bench", default=os.environ.get("BULK_QUEUE_BENCH", "/opt/frappe-bench"))
	parser.add_argument("--records", type=int, default=1500)
	parser.add_argument("--rounds", type=int, default=3)
	parser.add_argument("--chunk-size", type=int, default=200)
	parser.add_argument(
		"--scenarios", default="loop,desk_bulk_edit,bq_1w_unchained,bq_1w,bq_2w", help="comma separated"
	)
	parser.add_argument("--out", default=str(ROOT / "docs/benchmarks/speed.csv"))
	args = parser.parse_args()

	bench = Path(args.bench)
	frappe = connect(args.site, bench)
	scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
	machine = describe_machine(frappe)
	print(machine)
	rows = []
	workers = Workers(bench, args.site)
	try:
		for round_no in range(1, args.rounds + 1):
			results = {}
			for scenario in scenarios:
				names = insert_todos(frappe, args.records)
				seconds = RUNNERS[scenario](frappe, names, args, workers)
				check_applied(frappe, names)
				results[scenario] = seconds
				rate = args.records / seconds
				print(f"round {round_no}  {scenario:<16} {seconds:8.2f} s  {rate:8.1f} records/s", flush=True)
				delete_todos(frappe, names)
			for scenario, seconds in results.items():
				rows.append(
					{
						"round": round_no,
						"scenario": scenario,
						"records": args.records,
						"seconds": round(seconds, 3),
						"records_per_s": round(args.records / seconds, 1),
						"ratio_to_loop": round(results["loop"] / seconds, 3) if "loop" in results else "",
					}
				)
	finally:
		workers.stop()

	write_csv(Path(args.out), rows, machine)
	print_table(rows, scenarios, machine)


# -- scenarios ----------------------------------------------------------------------------------------


def run_loop(frappe, names, args, workers) -> float:
	started = time.perf_counter()
	for i, name in enumerate(names, 1):
		doc = frappe.get_doc("ToDo", name)
		doc.priority = "High"
		doc.save()
		if i % 50 == 0:
			frappe.db.commit()
	frappe.db.commit()
	return time.perf_counter() - started


def run_desk_bulk_edit(frappe, names, args, workers) -> float:
	from frappe.desk.doctype.bulk_update.bulk_update import _bulk_action

	started = time.perf_counter()
	failed = _bulk_action("ToDo", names, "update", {"priority": "High"})
	frappe.db.commit()
	assert not failed, failed[:5]
	return time.perf_counter() - started


def bulk_queue_runner(count: int, chain: bool):
	def run(frappe, names, args, workers) -> float:
		workers.ensure(count, chain=chain)
		from bulk_queue.api.bulk import enqueue_bulk

		started = time.perf_counter()
		result = enqueue_bulk(
			doctype="ToDo",
			ids=names,
			action="set_value",
			values={"priority": "High"},
			chunk_size=args.chunk_size,
		)
		job = wait_for(frappe, result["bulk_job"])
		seconds = time.perf_counter() - started
		assert job.status == "Completed", dict(job)
		return seconds

	return run


RUNNERS = {
	"loop": run_loop,
	"desk_bulk_edit": run_desk_bulk_edit,
	"bq_1w_unchained": bulk_queue_runner(1, chain=False),
	"bq_1w": bulk_queue_runner(1, chain=True),
	"bq_2w": bulk_queue_runner(2, chain=True),
}


# -- helpers --------------------------------------------------------------------------------------------


def connect(site: str, bench: Path):
	"""Connect to ``site`` as Administrator from the bench's sites folder, with this checkout's code
	first on the path, and drop jobs of sites gone from the bench; returns the ``frappe`` module."""
	os.chdir(bench / "sites")
	sys.path.insert(0, str(ROOT))
	import frappe

	frappe.init(site=site, sites_path=str(bench / "sites"))
	frappe.connect()
	frappe.set_user("Administrator")
	# Stopped with SIGTERM (or timeout): still stop the workers and restore the site config.
	signal.signal(signal.SIGTERM, _exit_once)
	purge_orphan_jobs(bench)
	return frappe


class Workers:
	"""``bench worker`` processes in their own process groups; restarted when the count or the
	chaining setting changes (the setting is read from the site config by each work horse)."""

	def __init__(self, bench: Path, site: str) -> None:
		self.bench = bench
		self.site = site
		self.procs: list[subprocess.Popen] = []
		self.state: tuple[int, bool] | None = None
		self.config = bench / "sites" / site / "site_config.json"
		self.log_dir = Path(os.environ.get("BULK_QUEUE_LOG_DIR", "/tmp/bulk_queue_bench_logs"))
		self.saved_config = self.config.read_text()

	def ensure(self, count: int, *, chain: bool) -> None:
		if self.state == (count, chain):
			return
		self.stop(restore=False)
		set_site_config(self.config, "bulk_queue_chain_seconds", None if chain else 0)
		env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTHONPATH")}
		self.log_dir.mkdir(parents=True, exist_ok=True)
		for _ in range(count):
			self.procs.append(
				subprocess.Popen(
					[
						str(self.bench / "env/bin/python"),
						"-m",
						"frappe.utils.bench_helper",
						"frappe",
						"worker",
					],
					cwd=self.bench / "sites",
					env=env,
					stdout=open(self.log_dir / f"worker-{count}-{int(chain)}.log", "a"),
					stderr=subprocess.STDOUT,
					start_new_session=True,
				)
			)
		time.sleep(3)
		self.state = (count, chain)

	def stop(self, restore: bool = True) -> None:
		for proc in self.procs:
			try:
				os.killpg(proc.pid, signal.SIGTERM)
				proc.wait(timeout=20)
			except (ProcessLookupError, subprocess.TimeoutExpired):
				try:
					os.killpg(proc.pid, signal.SIGKILL)
				except ProcessLookupError:
					pass
		self.procs = []
		self.state = None
		if restore:
			write_atomically(self.config, self.saved_config)


def purge_orphan_jobs(bench: Path) -> None:
	"""Drop queued jobs of sites that no longer exist: a worker that picks one up dies."""
	from frappe.utils.background_jobs import get_queue

	sites = {p.name for p in (bench / "sites").iterdir() if (p / "site_config.json").is_file()}
	for name in ("short", "default", "long"):
		for job in get_queue(name).jobs:
			if job.kwargs.get("site") not in sites:
				job.delete()


def _exit_once(*_) -> None:
	"""First SIGTERM: clean up and exit; later ones (``timeout`` forwards its own) must not interrupt
	the clean-up half way through writing the site config."""
	signal.signal(signal.SIGTERM, signal.SIG_IGN)
	sys.exit(143)


def set_site_config(path: Path, key: str, value) -> None:
	import json

	config = json.loads(path.read_text())
	if value is None:
		config.pop(key, None)
	else:
		config[key] = value
	write_atomically(path, json.dumps(config, indent=1))


def write_atomically(path: Path, text: str) -> None:
	"""Replace a file in one step, so a reader (or an interruption) never sees it half written."""
	tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
	tmp.write_text(text)
	os.replace(tmp, path)


def insert_todos(frappe, count: int) -> list[str]:
	from frappe.utils import now_datetime

	tag = f"bench-{uuid.uuid4().hex[:10]}"
	now = now_datetime()
	names = [f"{tag}-{i:07d}" for i in range(count)]
	fields = ["name", "creation", "modified", "owner", "modified_by", "docstatus", "idx"]
	fields += ["status", "priority", "description"]
	rows = [
		(n, now, now, "Administrator", "Administrator", 0, 0, "Open", "Medium", f"<p>{tag}</p>")
		for n in names
	]
	for i in range(0, len(rows), 5000):
		frappe.db.bulk_insert("ToDo", fields, rows[i : i + 5000])
	frappe.db.commit()
	return names


def check_applied(frappe, names: list[str]) -> None:
	frappe.db.rollback()
	changed = frappe.db.count("ToDo", {"name": ("in", names), "priority": "High"})
	assert changed == len(names), f"{changed} of {len(names)} changed"


def delete_todos(frappe, names: list[str]) -> None:
	for i in range(0, len(names), 5000):
		frappe.db.delete("ToDo", {"name": ("in", names[i : i + 5000])})
	frappe.db.commit()


def wait_for(frappe, bulk_job: str, timeout: float = 3600):
	deadline = time.monotonic() + timeout
	while time.monotonic() < deadline:
		frappe.db.rollback()
		job = frappe.db.get_value("Bulk Queue Job", bulk_job, ["status", "processed", "total"], as_dict=True)
		if job.status not in ("Planning", "Queued", "Running"):
			return job
		time.sleep(0.05)
	raise TimeoutError(bulk_job)


def describe_machine(frappe) -> str:
	cpu = platform.processor() or platform.machine()
	try:
		for line in Path("/proc/cpuinfo").read_text().splitlines():
			if line.startswith("model name"):
				cpu = line.split(":", 1)[1].strip()
				break
	except OSError:
		pass
	mariadb = frappe.db.sql("select version()")[0][0]
	return (
		f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
		f"Frappe {frappe.__version__}, MariaDB {mariadb}"
	)


def write_csv(path: Path, rows: list[dict], machine: str) -> None:
	path.parent.mkdir(parents=True, exist_ok=True)
	with path.open("w", newline="") as f:
		f.write(f"# {machine}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
		writer = csv.DictWriter(f, fieldnames=list(rows[0]))
		writer.writeheader()
		writer.writerows(rows)
	print(f"\nwrote {path}")


def print_table(rows: list[dict], scenarios: list[str], machine: str) -> None:
	print(f"\n{machine}\n")
	print("| scenario | records/s (median) | × plain loop (median of rounds) |")
	print("| --- | ---: | ---: |")
	for scenario in scenarios:
		mine = [r for r in rows if r["scenario"] == scenario]
		rate = statistics.median(r["records_per_s"] for r in mine)
		ratios = [r["ratio_to_loop"] for r in mine if r["ratio_to_loop"] != ""]
		ratio = f"{statistics.median(ratios):.2f}×" if ratios else ""
		print(f"| {scenario} | {rate:.0f} | {ratio} |")


if __name__ == "__main__":
	main()
