# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""``bench --site S bulk-queue …``: run, watch and repair bulk jobs from a terminal.

Exit codes: 0 success (every record succeeded), 1 some records failed (or the job was cancelled),
2 bad input (nothing was started), 3 no worker is running, 130 interrupted with Ctrl-C.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import time

import click
from frappe.commands import get_site, pass_context

from bulk_queue.preload import warm_worker
from bulk_queue.workers import note_at_birth

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_NO_WORKER, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
DEMO_MARKER = "bulk_queue demo"


@click.group("bulk-queue")
def bulk_queue_group():
	"""Run, watch and repair bulk_queue jobs."""


@bulk_queue_group.command("run")
@click.argument("doctype")
@click.option("--action", required=True, help="save, set_value, set_value_fast, submit, cancel, delete, …")
@click.option(
	"--ids",
	"ids_file",
	type=click.File("r", encoding="utf-8-sig"),
	help="names, one per line, or a CSV with a name column; for --action rename two columns, old name "
	"and new name; - for stdin",
)
@click.option("--filters", help='frappe.get_list filters as JSON, e.g. \'{"status": "Open"}\'')
@click.option("--values", help='fields to set as JSON, e.g. \'{"status": "Closed"}\'')
@click.option("--chunk-size", type=int, help="records per chunk job (default 200)")
@click.option(
	"--queue",
	help="RQ queue: short, default, long, or one configured under workers in common_site_config.json "
	"(default: Bulk Queue Settings' Default Queue)",
)
@click.option(
	"--user", default="Administrator", show_default=True, help="run as this user, with their permissions"
)
@click.option("--rate-limit", type=float, help="at most this many records per second (all workers)")
@click.option("--start-at", help="start at this time (site time zone), e.g. '2026-12-01 01:00'")
@click.option("--wait", is_flag=True, help="show a progress bar until the job ends")
@pass_context
def run(
	context, doctype, action, ids_file, filters, values, chunk_size, queue, user, rate_limit, start_at, wait
):
	"""Start a bulk job on DOCTYPE records given by --ids or --filters."""
	with _site(context, user):
		if bool(ids_file) == (filters is not None):
			_fail_input("Give either --ids FILE (- for stdin) or --filters JSON.")
		try:
			parsed_filters = _json_arg("--filters", filters) if filters is not None else None
			parsed_values = _json_arg("--values", values) if values is not None else None
			if ids_file and _named_by_values(action):
				# Rename: --ids is its two columns, old name and new name.
				parsed_values = {**(parsed_values or {}), "renames": ids_file.read()}
				ids = None
			else:
				ids = _read_ids(ids_file) if ids_file else None
		except ValueError as e:
			_fail_input(str(e))
		job = _start(
			doctype=doctype,
			action=action,
			ids=ids,
			filters=parsed_filters,
			values=parsed_values,
			chunk_size=chunk_size,
			queue=queue,
			rate_limit=rate_limit,
			start_at=start_at,
		)
		if not wait:
			click.echo(f"Watch it: bench --site {_site_name(context)} bulk-queue status {job}")
			return
		sys.exit(_watch(job, context))


@bulk_queue_group.command("status")
@click.argument("job", required=False)
@click.option("--json", "as_json", is_flag=True, help="print the status as JSON")
@pass_context
def status(context, job, as_json):
	"""Progress of JOB (default: the newest job)."""
	from bulk_queue import console
	from bulk_queue.utils.terminal import progress_line, summary

	with _site(context):
		job = job or _newest_job()
		progress = _guarded(console.status, job)
		if as_json:
			click.echo(json.dumps(progress, default=str, indent=1))
		elif progress["status"] in _active():
			click.echo(f"{job}: {progress['status']} - {progress.get('title') or ''}")
			click.echo(progress_line(progress))
		else:
			click.echo("\n".join(summary(_with_path(progress))))


def _with_path(progress: dict) -> dict:
	"""The job's file (Print, Export) as a path on this machine, for the summary."""
	import frappe

	url = progress.get("output_file")
	if url and url.startswith("/private/files/"):
		relative = url.split("/private/files/", 1)[1].split("/")
		progress = {
			**progress,
			"output_path": os.path.abspath(frappe.get_site_path("private", "files", *relative)),
		}
	return progress


@bulk_queue_group.command("list")
@click.option("--status", "status_", help="only jobs with this status (e.g. Running)")
@click.option("--user", help="only jobs started by this user")
@click.option("--limit", default=20, show_default=True)
@pass_context
def list_jobs(context, status_, user, limit):
	"""Recent bulk jobs, newest first."""
	from bulk_queue import console

	with _site(context):
		rows = console.jobs(status=status_, user=user, limit=limit)
		if not rows:
			click.echo("No bulk jobs.")
			return
		click.echo(f"{'job':<11} {'status':<22} {'processed':>19} {'failed':>8}  {'user':<28} title")
		for r in rows:
			counts = f"{r.processed:,}/{r.total:,}"
			click.echo(
				f"{r.name:<11} {r.status:<22} {counts:>19} {r.failed:>8,}  {r.user or '':<28} {r.title or ''}"
			)


@bulk_queue_group.command("cancel")
@click.argument("job")
@pass_context
def cancel(context, job):
	"""Cancel JOB: queued chunks never run, running ones stop at their next commit."""
	from bulk_queue import console

	with _site(context):
		progress = _guarded(console.cancel, job)
		click.echo(_state(job, progress))


@bulk_queue_group.command("pause")
@click.argument("job")
@pass_context
def pause(context, job):
	"""Pause JOB: nothing stays queued, running chunks stop at their next commit."""
	from bulk_queue import console

	with _site(context):
		progress = _guarded(console.pause, job)
		click.echo(
			f"{_state(job, progress)}. Resume with: bench --site {_site_name(context)} bulk-queue resume {job}"
		)


@bulk_queue_group.command("resume")
@click.argument("job")
@click.option("--wait", is_flag=True, help="show a progress bar until the job ends")
@pass_context
def resume(context, job, wait):
	"""Resume a paused JOB from where each chunk stopped."""
	from bulk_queue import console

	with _site(context):
		progress = _guarded(console.resume, job)
		click.echo(_state(job, progress))
		if wait:
			sys.exit(_watch(job, context))


@bulk_queue_group.command("retry")
@click.argument("job")
@click.option("--error", help="only the records of this error (a name `bulk-queue failures JOB` shows)")
@click.option("--wait", is_flag=True, help="show a progress bar until the job ends")
@pass_context
def retry(context, job, error, wait):
	"""Run the failed records of a finished JOB again (all, or those of one --error)."""
	from bulk_queue import console

	with _site(context):
		retried = _guarded(console.retry_failed, job, error=error)
		click.echo(f"{job}: {retried:,} failed records queued again.")
		if wait and retried:
			sys.exit(_watch(job, context))


@bulk_queue_group.command("undo")
@click.argument("job")
@click.option(
	"--user", default="Administrator", show_default=True, help="undo as this user, with their permissions"
)
@click.option("--wait", is_flag=True, help="show a progress bar until the undo ends")
@pass_context
def undo(context, job, user, wait):
	"""Put back what a finished JOB changed, as a new job (records changed since are left as is)."""
	from bulk_queue import console

	with _site(context, user):
		undo_job = _guarded(console.undo, job)
		click.echo(f"Started {undo_job}: Undo of {job}")
		if not wait:
			click.echo(f"Watch it: bench --site {_site_name(context)} bulk-queue status {undo_job}")
			return
		sys.exit(_watch(undo_job, context))


@bulk_queue_group.command("failures")
@click.argument("job")
@click.option("--all", "list_all", is_flag=True, help="list every failed record, not only the errors")
@click.option("--error", "error", help="only the failed records of this error (a name the summary shows)")
@click.option(
	"--csv",
	"as_csv",
	is_flag=True,
	help="every failed record as CSV (name, exception, error, attempts, retried)",
)
@pass_context
def failures(context, job, list_all, error, as_csv):
	"""Why the records of JOB failed: its errors, most failures first, with example records; --all,
	--error or --csv list the records themselves."""
	from bulk_queue import console

	with _site(context):
		_guarded(console.failures, job, limit=1, error=error)  # a job and error the user may read
		if as_csv:
			out = csv.writer(sys.stdout)
			out.writerow(["name", "exception", "error", "attempts", "retried"])
			for r in console.iter_failures(job, error=error):
				out.writerow([r.reference_name, r.exception_type, r.error, r.attempts, r.retried])
			return
		if list_all or error:
			count = 0
			for r in console.iter_failures(job, error=error):
				retried = "  (retried)" if r.retried else ""
				click.echo(f"{r.reference_name}  {r.exception_type}: {r.error}{retried}")
				count += 1
			if not count:
				click.echo(f"{job}: no failed records.")
			return
		errors = _guarded(console.errors, job)
		if not errors:
			click.echo(f"{job}: no failed records.")
			return
		total = sum(e.failures for e in errors)
		kinds = "1 error" if len(errors) == 1 else f"{len(errors):,} errors"
		click.echo(f"{job}: {total:,} failed records, {kinds}")
		width = len(f"{errors[0].failures:,}")
		for e in errors:
			kind = f"{e.exception_type}: " if e.exception_type else ""
			click.echo(f"  {e.failures:>{width},} × {kind}{e.message}")
			click.echo(f"  {'':>{width}}   e.g. {', '.join(e.examples)}   (--error {e.name})")
		site = _site_name(context)
		click.echo(
			f"The records: bench --site {site} bulk-queue failures {job} --all (or --csv, --error NAME)"
		)


@bulk_queue_group.command("demo")
@click.option("--records", default=1000, show_default=True, help="demo ToDos to create and process")
@click.option("--cleanup", is_flag=True, help="delete the demo ToDos afterwards")
@pass_context
def demo(context, records, cleanup):
	"""Create demo ToDos, close them all with a bulk job and watch it run."""
	import frappe

	with _site(context):
		if records <= 0:
			if cleanup:
				click.echo(f"Deleted {_delete_demo_todos():,} demo ToDos.")
			return
		if not _workers_running("default"):
			_no_worker()
		run_tag = f"{DEMO_MARKER} {frappe.generate_hash(length=6)}"
		_create_demo_todos(records, run_tag)
		click.echo(f"Created {records:,} demo ToDos, described as {run_tag!r}.")
		job = _start(
			doctype="ToDo",
			action="set_value",
			filters=[["description", "like", f"{run_tag} #%"]],
			values={"status": "Closed"},
		)
		code = _watch(job, context)
		url = frappe.utils.get_url()
		click.echo("")
		click.echo("Where to look:")
		click.echo(f"  the job:          {url}/app/bulk-queue-job/{job}")
		click.echo(f"  its chunk jobs:   {url}/app/rq-job  (Desk -> Background Jobs)")
		click.echo(f"  the ToDos:        {url}/app/todo?status=Closed")
		click.echo(f"  from here:        bench --site {_site_name(context)} bulk-queue status {job}")
		if cleanup and code == EXIT_INTERRUPTED and _still_active(job):
			click.echo(
				"The demo job still runs: its ToDos stay. Remove them later with --records 0 --cleanup."
			)
		elif cleanup:
			deleted = _delete_demo_todos()
			click.echo(f"Deleted {deleted:,} demo ToDos.")
		else:
			click.echo(
				f"Remove the demo ToDos with: bench --site {_site_name(context)} bulk-queue demo --records 0 --cleanup"
			)
		sys.exit(code)


commands = [bulk_queue_group]

# Frappe imports this module in every `bench` process; in a worker, import once what every job's first
# save would otherwise import again in each forked work horse (see bulk_queue/preload.py), and note the
# PID namespace of its RQ workers as they register (see bulk_queue/workers.py).
warm_worker()
note_at_birth()


# -- helpers ------------------------------------------------------------------------------------------


class _site:
	"""Connect to the command's site as ``user`` for the block; disconnect after."""

	def __init__(self, context, user: str = "Administrator") -> None:
		self.site = get_site(context)
		self.user = user

	def __enter__(self):
		import frappe

		frappe.init(site=self.site)
		frappe.connect()
		if self.user != "Administrator" and not frappe.db.exists("User", self.user):
			_fail_input(f"User {self.user} does not exist.")
		frappe.set_user(self.user)
		return self

	def __exit__(self, *exc):
		import frappe

		frappe.destroy()
		return False


def _still_active(job: str) -> bool:
	from bulk_queue import console

	return console.status(job)["status"] in _active()


def _state(job: str, progress: dict) -> str:
	"""``BQJ-00042: Paused (1,200 of 5,000 processed)``."""
	return f"{job}: {progress['status']} ({progress['processed']:,} of {progress['total']:,} processed)"


def _site_name(context) -> str:
	return get_site(context)


def _active() -> tuple[str, ...]:
	"""Statuses of a job that has not ended (a paused one is waited for too: it ends after a resume)."""
	from bulk_queue.states import OPEN

	return OPEN


def _start(**kwargs) -> str:
	"""Enqueue through the console API; bad input exits 2 with the message."""
	from bulk_queue import console

	kwargs = {k: v for k, v in kwargs.items() if v is not None}
	job = _guarded(console.enqueue, **kwargs)
	progress = console.status(job)
	click.echo(f"Started {job}: {progress.get('title')}")
	return job


def _guarded(fn, *args, **kwargs):
	"""Call ``fn``; a validation or permission error is printed and exits with code 2."""
	import frappe

	try:
		return fn(*args, **kwargs)
	except (frappe.ValidationError, frappe.PermissionError) as e:
		frappe.db.rollback()
		message = frappe.utils.strip_html_tags(str(e)) or type(e).__name__
		frappe.local.message_log = []
		_fail_input(message)


def _fail_input(message: str) -> None:
	click.secho(f"Error: {message}", fg="red", err=True)
	sys.exit(EXIT_BAD_INPUT)


def _json_arg(option: str, text: str):
	try:
		return json.loads(text)
	except json.JSONDecodeError as e:
		raise ValueError(f"{option} is not valid JSON: {e.msg} (at character {e.pos}).") from None


def _named_by_values(action: str) -> bool:
	"""Whether the action's values name its records (Rename), so --ids holds them with their values."""
	from bulk_queue.actions import get_actions

	act = get_actions().get(action)
	return bool(act and act.selects)


def _read_ids(stream) -> list[str]:
	"""Names one per line, or a CSV whose header has a ``name`` (or ``ID``) column."""
	text = stream.read()
	lines = [line.strip() for line in text.splitlines() if line.strip()]
	if not lines:
		raise ValueError("--ids: no record names given.")
	header = next(csv.reader([lines[0]]))
	columns = [h.strip().lower() for h in header]
	if "name" in columns or "id" in columns:  # a CSV export; otherwise one name per line
		key = header[columns.index("name" if "name" in columns else "id")]
		return [row[key].strip() for row in csv.DictReader(io.StringIO(text)) if (row.get(key) or "").strip()]
	return lines


def _newest_job() -> str:
	import frappe

	names = frappe.get_list("Bulk Queue Job", pluck="name", order_by="creation desc", limit_page_length=1)
	if not names:
		_fail_input("There is no bulk job yet.")
	return names[0]


def _watch(job: str, context) -> int:
	"""Show progress until the job ends; return the exit code. Ctrl-C asks whether to cancel."""
	import frappe

	from bulk_queue import console
	from bulk_queue.utils.terminal import progress_line, summary

	tty = sys.stdout.isatty()
	queue = frappe.db.get_value("Bulk Queue Job", job, "queue")
	if not _workers_running(queue):
		start = "`bench worker` (or `bench start`)" if queue in ("short", "default", "long") else ""
		start = start or f"`bench worker --queue {queue}`"
		click.secho(
			f"No worker is listening on the '{queue}' queue, so the job will wait. Start one in another "
			f"terminal with {start}; the job starts as soon as one runs.",
			fg="yellow",
			err=True,
		)
	last_line, last_print = "", 0.0
	try:
		while True:
			progress = console.status(job)
			line = progress_line(progress)
			if tty:
				click.echo("\r" + line.ljust(len(last_line)), nl=False)
			elif line != last_line and (
				time.monotonic() - last_print >= 5 or progress["status"] not in _active()
			):
				click.echo(line)
				last_print = time.monotonic()
			last_line = line
			if progress["status"] not in _active():
				break
			time.sleep(0.5 if tty else 1.0)
	except KeyboardInterrupt:
		click.echo("")
		_offer_cancel(job, context)
		return EXIT_INTERRUPTED
	if tty:
		click.echo("")
	if console.file_pending(job, progress):
		click.echo("Merging the file...")
		progress = console.wait(job, timeout=3600, interval=0.5)
	click.echo("\n".join(summary(_with_path(progress))))
	if progress["status"] == "Completed":
		return EXIT_OK
	failed = [r for r in console.failures(job, limit=50) if not r.retried][:5]
	for r in failed:
		click.echo(f"  {r.reference_name}: {r.exception_type}: {r.error}")
	if progress["failed"] > len(failed):
		click.echo(f"  … all of them: bench --site {_site_name(context)} bulk-queue failures {job}")
	return EXIT_FAILED


def _offer_cancel(job: str, context) -> None:
	"""After Ctrl-C: ask whether to cancel the job (only with a terminal to ask); it goes on otherwise."""
	import frappe

	from bulk_queue import console

	try:
		wanted = sys.stdin.isatty() and click.confirm(f"Cancel {job}?", default=False)
	except (click.Abort, KeyboardInterrupt):
		wanted = False
		click.echo("")
	if not wanted:
		click.echo(
			f"{job} goes on in the background: bench --site {_site_name(context)} bulk-queue status {job}"
		)
		return
	# The interrupt may have landed inside a query: start from a fresh connection.
	try:
		frappe.db.close()
	except Exception:
		pass
	frappe.connect()
	progress = console.cancel(job)
	click.echo(f"{job} cancelled; {progress['processed']:,} records were processed.")


def _workers_running(queue: str) -> bool:
	from bulk_queue.workers import listening

	return listening(queue)


def _no_worker() -> None:
	click.secho(
		"No worker is running for this bench, so a bulk job would only wait.\n"
		"Start one in another terminal and run this again:\n"
		"    bench worker          (or `bench start` for everything a development bench needs)",
		fg="yellow",
		err=True,
	)
	sys.exit(EXIT_NO_WORKER)


def _create_demo_todos(count: int, run_tag: str) -> list[str]:
	import frappe
	from frappe.utils import now_datetime

	now = now_datetime()
	user = frappe.session.user
	names = [frappe.generate_hash(length=10) for _ in range(count)]
	fields = ["name", "creation", "modified", "owner", "modified_by", "docstatus", "idx"]
	fields += ["status", "priority", "description", "allocated_to"]
	rows = [
		(n, now, now, user, user, 0, 0, "Open", "Medium", f"{run_tag} #{i + 1}", user)
		for i, n in enumerate(names)
	]
	for i in range(0, len(rows), 5000):
		frappe.db.bulk_insert("ToDo", fields, rows[i : i + 5000])
	frappe.db.commit()
	return names


def _delete_demo_todos() -> int:
	import frappe

	deleted = 0
	while True:
		names = frappe.get_all(
			"ToDo", filters={"description": ("like", f"{DEMO_MARKER} %")}, pluck="name", limit=5000
		)
		if not names:
			return deleted
		frappe.db.delete("ToDo", {"name": ("in", names)})
		frappe.db.commit()
		deleted += len(names)
