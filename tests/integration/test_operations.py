# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Operating bulk_queue: the ``bench bulk-queue`` commands run as real subprocesses against the site,
completion hooks and notifications once per job, and log clearing."""

import json
import os
import subprocess
import time

import frappe

from .conftest import (
	BENCH,
	SITE,
	counters,
	enqueue,
	ensure_user,
	make_records,
	wait_for_job,
	wait_until,
)


def bench(*args: str, stdin: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
	"""``bench --site SITE <args>`` as an operator runs it (Frappe's CLI, without the bench wrapper)."""
	env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTHONPATH")}
	return subprocess.run(
		[str(BENCH / "env/bin/python"), "-m", "frappe.utils.bench_helper", "frappe", "--site", SITE, *args],
		cwd=BENCH / "sites",
		env=env,
		input=stdin,
		capture_output=True,
		text=True,
		timeout=timeout,
	)


def _jobs_count() -> int:
	frappe.db.rollback()
	return frappe.db.count("Bulk Queue Job")


# -- commands -------------------------------------------------------------------------------------------


def test_run_wait_reads_ids_from_stdin_and_exits_0(workers):
	"""``run --ids - --wait``: names from stdin, a progress line, a summary, exit code 0."""
	tag, names = make_records(40)
	workers.start(1)
	done = bench(
		"bulk-queue",
		"run",
		"BQ Test Record",
		"--action",
		"increment_counter",
		"--ids",
		"-",
		"--chunk-size",
		"15",
		"--wait",
		stdin="\n".join(names) + "\n",
	)
	assert done.returncode == 0, done.stdout + done.stderr
	assert "Started BQJ-" in done.stdout and ": Completed" in done.stdout
	assert "succeeded 40   failed 0   of 40" in done.stdout
	assert set(counters(tag).values()) == {1}


def test_run_wait_exits_1_when_records_fail_and_lists_them(workers):
	"""Some records fail: exit code 1, and the summary names them with their errors."""
	tag, names = make_records(12, fail_every=4)
	ids_file = BENCH / "sites" / SITE / "private" / f"{tag}.csv"
	ids_file.write_text("name,title\n" + "".join(f"{n},x\n" for n in names))
	workers.start(1)
	try:
		done = bench(
			"bulk-queue", "run", "BQ Test Record", "--action", "save", "--ids", str(ids_file), "--wait"
		)
	finally:
		ids_file.unlink()
	assert done.returncode == 1, done.stdout + done.stderr
	assert "Completed with Errors" in done.stdout and "failed 3" in done.stdout
	assert "is flagged to fail validation" in done.stdout


def test_ctrl_c_exits_130_and_leaves_the_job_running(workers):
	"""Ctrl-C during ``run --wait`` without a terminal to ask: exit 130, the job goes on and ends."""
	import signal

	tag, names = make_records(30)
	workers.start(1)
	ids_file = BENCH / "sites" / SITE / "private" / f"{tag}.txt"
	ids_file.write_text("\n".join(names) + "\n")
	env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTHONPATH")}
	args = ["bulk-queue", "run", "BQ Test Record", "--action", "increment_counter", "--ids", str(ids_file)]
	args += ["--values", '{"sleep": 0.2}', "--chunk-size", "10", "--wait"]
	proc = subprocess.Popen(
		[str(BENCH / "env/bin/python"), "-m", "frappe.utils.bench_helper", "frappe", "--site", SITE, *args],
		cwd=BENCH / "sites",
		env=env,
		stdin=subprocess.DEVNULL,
		stdout=subprocess.PIPE,
		stderr=subprocess.PIPE,
		text=True,
		# As from a terminal: a test run started in the background (``pytest ... &``) ignores SIGINT,
		# and its children would inherit that.
		preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
	)
	deadline = time.monotonic() + 60
	while time.monotonic() < deadline and not frappe.db.count("BQ Test Record", {"tag": tag, "counter": 1}):
		frappe.db.rollback()
		time.sleep(0.2)
	proc.send_signal(signal.SIGINT)
	out, err = proc.communicate(timeout=60)
	ids_file.unlink()
	assert proc.returncode == 130, out + err
	assert "goes on in the background" in out
	job = out.split("Started ", 1)[1].split(":", 1)[0]
	assert wait_for_job(job).status == "Completed"
	assert set(counters(tag).values()) == {1}


def test_bad_input_exits_2_and_records_nothing():
	"""Bad JSON, an unknown action, or ids and filters together: exit 2, a clear message, no job."""
	before = _jobs_count()
	cases = [
		(["--filters", "{not json"], "--filters is not valid JSON"),
		(["--filters", "{}", "--action", "no_such_action"], "Unknown bulk action"),
		(["--ids", "-", "--filters", "{}"], "either --ids"),
	]
	for extra, message in cases:
		args = ["bulk-queue", "run", "ToDo", *extra]
		if "--action" not in extra:
			args += ["--action", "save"]
		done = bench(*args, stdin="a\n")
		assert done.returncode == 2, (extra, done.stdout, done.stderr)
		assert message in done.stderr, (extra, done.stderr)
	assert _jobs_count() == before


def test_status_json_list_cancel_and_retry(workers):
	"""``status --json`` parses; ``cancel`` stops a running job; ``retry`` runs its failures again."""
	_, names = make_records(60, fail_every=20)
	job = enqueue(
		doctype="BQ Test Record",
		ids=names,
		action="increment_counter",
		values={"sleep": 0.2},
		chunk_size=10,
	)["bulk_job"]
	status = bench("bulk-queue", "status", job, "--json")
	assert status.returncode == 0, status.stderr
	assert json.loads(status.stdout)["status"] == "Queued"
	listed = bench("bulk-queue", "list", "--status", "Queued")
	assert job in listed.stdout
	workers.start(1)
	wait_until(lambda: frappe.db.get_value("Bulk Queue Job", job, "processed") >= 5, timeout=60)
	cancelled = bench("bulk-queue", "cancel", job)
	assert cancelled.returncode == 0 and "Cancelled" in cancelled.stdout, cancelled.stdout
	assert wait_for_job(job).status == "Cancelled"

	failing = enqueue(doctype="BQ Test Record", ids=names[:20], action="save")["bulk_job"]
	assert wait_for_job(failing).status == "Completed with Errors"
	frappe.db.sql("update `tabBQ Test Record` set fail_validation=0 where name in %s", [names[:20]])
	frappe.db.commit()
	retried = bench("bulk-queue", "retry", failing, "--wait")
	assert retried.returncode == 0, retried.stdout + retried.stderr
	assert "1 failed records queued again" in retried.stdout
	shown = bench("bulk-queue", "failures", failing, "--csv")
	assert shown.stdout.splitlines()[0] == "name,exception,error,attempts,retried"


def test_demo_without_a_worker_says_so_within_seconds():
	"""``demo`` with no worker running: a plain message on how to start one, exit 3, no demo rows."""
	started = time.monotonic()
	done = bench("bulk-queue", "demo", "--records", "5", timeout=60)
	assert done.returncode == 3, done.stdout + done.stderr
	assert "No worker is running" in done.stderr and "bench worker" in done.stderr
	assert time.monotonic() - started < 30
	frappe.db.rollback()
	assert not frappe.db.count("ToDo", {"description": ("like", "bulk_queue demo %")})


def test_demo_runs_the_main_job_and_cleans_up(workers):
	"""``demo --records 30 --cleanup``: creates ToDos, closes them in a bulk job, shows where to
	look, removes its rows."""
	workers.start(1)
	done = bench("bulk-queue", "demo", "--records", "30", "--cleanup")
	assert done.returncode == 0, done.stdout + done.stderr
	for text in ("Created 30 demo ToDos", "Completed", "succeeded 30", "/app/bulk-queue-job/BQJ-"):
		assert text in done.stdout, (text, done.stdout)
	assert "Deleted 30 demo ToDos" in done.stdout
	frappe.db.rollback()
	assert not frappe.db.count("ToDo", {"description": ("like", "bulk_queue demo %")})


# -- when a job ends ------------------------------------------------------------------------------------


def test_hooks_fire_once_even_when_chunks_end_together(workers):
	"""Two chunks finishing at the same moment on two workers: on_complete and on_success run once;
	a failing hook is logged and changes nothing."""
	from bulk_queue_fixtures.actions import hook_calls

	_, names = make_records(20)
	job = enqueue(doctype="BQ Test Record", ids=names, action="increment_counter", chunk_size=10)["bulk_job"]
	workers.start(2)
	done = wait_for_job(job)
	assert done.status == "Completed"
	wait_until(lambda: hook_calls(job).get("on_success:Completed"), timeout=30, message="hooks")
	time.sleep(1)
	assert hook_calls(job) == {"on_complete:Completed": 1, "on_success:Completed": 1}
	assert frappe.db.exists(
		"Error Log",
		{"reference_doctype": "Bulk Queue Job", "reference_name": job, "method": ("like", "%failing_hook%")},
	)
	assert frappe.db.get_value("Bulk Queue Job", job, "status") == "Completed"


def test_failure_hook_and_notification_to_the_requester_only(workers):
	"""A job with failures calls on_failure once and leaves one Notification Log, for its requester."""
	from bulk_queue_fixtures.actions import hook_calls

	user = ensure_user("bq-ops-manager@example.com", ["System Manager"])
	other = ensure_user("bq-ops-other@example.com", ["System Manager"])
	_, names = make_records(8, fail_every=4)
	frappe.set_user(user)
	job = enqueue(doctype="BQ Test Record", ids=names, action="save")["bulk_job"]
	frappe.set_user("Administrator")
	workers.start(1)
	assert wait_for_job(job).status == "Completed with Errors"
	wait_until(lambda: hook_calls(job).get("on_failure:Completed with Errors"), timeout=30)
	assert hook_calls(job) == {"on_complete:Completed with Errors": 1, "on_failure:Completed with Errors": 1}
	logs = frappe.get_all(
		"Notification Log", filters={"document_name": job}, fields=["for_user", "subject", "type"]
	)
	assert len(logs) == 1 and logs[0].for_user == user and logs[0].type == "Alert"
	assert "6 of 8 records succeeded, 2 failed" in logs[0].subject
	assert not frappe.db.exists("Notification Log", {"document_name": job, "for_user": other})


def test_log_clearing_removes_jobs_ended_long_ago_in_short_statements(workers, monkeypatch):
	"""Frappe's log clearing removes jobs that ENDED more than the limit ago with their chunks and
	failure rows, deleting at most PURGE_BATCH rows per statement; a job that started long ago but ended
	recently, an active job, recent jobs and everything else stay. Rows an interrupted clearing left
	behind are removed by the next one."""
	from frappe.utils import add_to_date, now_datetime

	from bulk_queue.bulk_queue.doctype.bulk_queue_job import bulk_queue_job
	from bulk_queue.lifecycle import cancel_job

	_, names = make_records(12, fail_every=2)
	old = enqueue(doctype="BQ Test Record", ids=names, action="save", chunk_size=3)["bulk_job"]
	long_running = enqueue(doctype="BQ Test Record", ids=names[:4], action="save", chunk_size=3)["bulk_job"]
	recent = enqueue(doctype="BQ Test Record", ids=names[:3], action="save")["bulk_job"]
	workers.start(1)
	for job in (old, long_running, recent):
		wait_for_job(job)
	workers.stop()
	active = enqueue(doctype="BQ Test Record", ids=names[2:4], action="save")["bulk_job"]
	long_ago = add_to_date(now_datetime(), days=-100)
	frappe.db.sql(
		"update `tabBulk Queue Job` set ended_at=%s, modified=%s, creation=%s where name=%s",
		(long_ago, long_ago, long_ago, old),
	)
	# Raw-SQL updates never touch `modified`: a job that ran for months has it at its creation.
	frappe.db.sql(
		"update `tabBulk Queue Job` set modified=%s, creation=%s where name in %s",
		(long_ago, long_ago, (long_running, active)),
	)
	# What a clearing killed midway leaves: rows of a job that is gone.
	frappe.db.sql(
		"""insert into `tabBulk Queue Chunk` (name, bulk_job, chunk_no, status, creation, modified)
		values ('bq-orphan-chunk', 'BQJ-GONE-1', 1, 'Done', %s, %s)""",
		(long_ago, long_ago),
	)
	frappe.db.commit()
	assert frappe.db.count("Bulk Queue Failure", {"bulk_job": old}) == 6
	assert frappe.db.count("Bulk Queue Chunk", {"bulk_job": old}) == 4

	deleted = []
	real_sql = frappe.db.sql

	def counting_sql(query, *args, **kwargs):
		result = real_sql(query, *args, **kwargs)
		if str(query).lstrip().lower().startswith("delete"):
			deleted.append(frappe.db._cursor.rowcount)
		return result

	monkeypatch.setattr(bulk_queue_job, "PURGE_BATCH", 4)
	monkeypatch.setattr(frappe.db, "sql", counting_sql)
	bulk_queue_job.BulkQueueJob.clear_old_logs(days=90)
	monkeypatch.undo()
	frappe.db.commit()
	assert deleted and max(deleted) <= 4, deleted
	assert not frappe.db.exists("Bulk Queue Job", old)
	assert not frappe.db.count("Bulk Queue Chunk", {"bulk_job": old})
	assert not frappe.db.count("Bulk Queue Failure", {"bulk_job": old})
	assert not frappe.db.exists("Bulk Queue Chunk", "bq-orphan-chunk")
	for kept in (long_running, recent, active):
		assert frappe.db.exists("Bulk Queue Job", kept), kept
		assert frappe.db.count("Bulk Queue Chunk", {"bulk_job": kept}), kept
	assert frappe.db.count("Bulk Queue Failure", {"bulk_job": long_running}) == 2
	cancel_job(active)


def test_an_end_nobody_handled_is_handled_once_by_recovery(workers):
	"""The process that ended a job died before notifying: recovery's sweep runs the hooks, once."""
	from bulk_queue_fixtures.actions import hook_calls
	from frappe.utils import add_to_date, now_datetime

	from bulk_queue.tasks.recovery import recover

	_, names = make_records(4)
	job = enqueue(doctype="BQ Test Record", ids=names, action="increment_counter")["bulk_job"]
	workers.start(1)
	assert wait_for_job(job).status == "Completed"
	wait_until(lambda: hook_calls(job).get("on_success:Completed"), timeout=30)
	workers.stop()
	frappe.db.sql(
		"update `tabBulk Queue Job` set notified=0, end_steps=null, ended_at=%s where name=%s",
		(add_to_date(now_datetime(), minutes=-5), job),
	)
	frappe.db.commit()
	recover()
	recover()
	assert hook_calls(job) == {"on_complete:Completed": 2, "on_success:Completed": 2}
	assert frappe.db.get_value("Bulk Queue Job", job, "notified") == 1


def test_a_kill_inside_a_hook_leaves_the_rest_to_recovery_and_nothing_runs_twice(workers):
	"""The work horse is SIGKILLed inside the third completion hook: what the steps before it wrote
	stays and they do not run again; the killed hook's writes are rolled back; recovery runs it and
	the rest within its next passes - each hook's rows exactly once, as the requester, one
	notification."""
	from bulk_queue_fixtures.actions import die_in_hook_for, hook_rows

	from bulk_queue.tasks.recovery import recover

	user = ensure_user("bq-ops-manager@example.com", ["System Manager"])
	_, names = make_records(4)
	frappe.set_user(user)
	job = enqueue(doctype="BQ Test Record", ids=names, action="increment_counter")["bulk_job"]
	frappe.set_user("Administrator")
	die_in_hook_for(job)
	frappe.db.commit()
	workers.start(1)
	assert wait_for_job(job).status == "Completed"
	flag = f"bulk_queue_fixtures:die_in_hook:{job}"
	# Redis itself, not get_value: that keeps what this process read once, and would never see the
	# hook delete the flag if the first look came before the hook ran.
	wait_until(lambda: not frappe.cache.exists(flag), timeout=30, message="the kill inside the hook")
	time.sleep(1)
	frappe.db.rollback()
	assert frappe.db.get_value("Bulk Queue Job", job, "notified") == 0
	assert hook_rows(job) == {f"on_complete:Completed:{user}": 1}, "the killed hook's row is rolled back"

	def handled():
		recover()
		return frappe.db.get_value("Bulk Queue Job", job, "notified")

	wait_until(handled, timeout=60, interval=2, message="recovery to finish the end")
	recover()
	assert hook_rows(job) == {
		f"on_complete:Completed:{user}": 1,
		f"die_in_hook:Completed:{user}": 1,
		f"on_success:Completed:{user}": 1,
	}
	assert frappe.db.count("Notification Log", {"document_name": job, "for_user": user}) == 1
	assert (
		frappe.db.count(
			"Error Log",
			{"reference_name": job, "method": ("like", "%failing_hook%")},
		)
		== 1
	)


def test_hooks_run_as_the_requester_whoever_ends_the_job():
	"""Administrator cancels a user's scheduled job: the hooks run as that user, not as Administrator."""
	from bulk_queue_fixtures.actions import hook_rows
	from frappe.utils import add_to_date, now_datetime

	from bulk_queue.api.bulk import cancel_bulk_job

	user = ensure_user("bq-ops-manager@example.com", ["System Manager"])
	_, names = make_records(2)
	frappe.set_user(user)
	job = enqueue(
		doctype="BQ Test Record", ids=names, action="save", start_at=add_to_date(now_datetime(), days=1)
	)["bulk_job"]
	frappe.set_user("Administrator")
	frappe.db.commit()
	cancel_bulk_job(job)
	assert frappe.session.user == "Administrator"
	frappe.db.rollback()
	assert hook_rows(job) == {f"on_complete:Cancelled:{user}": 1, f"die_in_hook:Cancelled:{user}": 1}
	assert frappe.db.get_value("Bulk Queue Job", job, "notified") == 1


def test_an_unhandled_end_is_handled_in_time_on_a_site_ahead_of_its_database(workers):
	"""A site 14 hours ahead of its database server's clock (Pacific/Kiritimati): the end nobody
	handled is found by recovery within seconds, not 14 hours later - every comparison is in site time."""
	from frappe.utils import get_system_timezone

	from bulk_queue.tasks.recovery import recover

	before = get_system_timezone()
	frappe.db.set_single_value("System Settings", "time_zone", "Pacific/Kiritimati")
	frappe.db.commit()
	frappe.clear_cache()
	try:
		_, names = make_records(2)
		job = enqueue(doctype="BQ Test Record", ids=names, action="save")["bulk_job"]
		frappe.db.commit()
		workers.start(1)
		done = wait_for_job(job)
		ahead = frappe.db.sql("select timestampdiff(hour, now(), %s)", done.ended_at)[0][0]
		assert ahead >= 12, f"the site's ended_at should be ahead of the database's now(): {ahead} h"
		workers.stop()
		frappe.db.sql("update `tabBulk Queue Job` set notified=0, end_steps=null where name=%s", job)
		frappe.db.commit()

		def handled():
			recover()
			return frappe.db.get_value("Bulk Queue Job", job, "notified")

		wait_until(handled, timeout=40, interval=2, message="recovery to handle the end")
	finally:
		frappe.db.set_single_value("System Settings", "time_zone", before)
		frappe.db.commit()
		frappe.clear_cache()
