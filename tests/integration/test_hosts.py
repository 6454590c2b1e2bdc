# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Workers on a second host: their own PID namespace (and, in one case, their own hostname - in the
other they share ours, as containers with host networking do), the same Redis and MariaDB. A live
worker's chunk is never taken over; a host killed whole is taken over by the other."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid

import frappe
import pytest

from bulk_queue.tasks.recovery import recover

from .conftest import (
	BENCH,
	LOG_DIR,
	assert_exactly_once,
	enqueue,
	make_records,
	record_spawned,
	wait_for_job,
	wait_until,
)

pytestmark = [
	pytest.mark.slow,
	pytest.mark.skipif(
		not shutil.which("unshare") or os.geteuid() != 0, reason="needs root and unshare(1) for namespaces"
	),
]


def _free_pid_block(size: int = 200) -> int:
	"""A pid after which ``size`` pids are unused on this host (pids inside the other host's namespace
	start there: probed from here with a bare os.kill, they would look dead)."""
	with open("/proc/sys/kernel/pid_max") as f:
		top = int(f.read()) - size - 2
	for start in range(top, 1000, -size):
		if not any(os.path.exists(f"/proc/{pid}") for pid in range(start, start + size + 1)):
			return start
	raise AssertionError("no free block of pids")


class OtherHost:
	"""``count`` bench workers in a PID namespace of their own (``unshare --pid --fork --mount-proc``),
	with another hostname when asked; SIGKILLing the namespace's first process kills all of it, as a
	host or container that dies."""

	def __init__(self, count: int, hostname: str | None) -> None:
		python = BENCH / "env/bin/python"
		worker = f"{python} -m frappe.utils.bench_helper frappe worker --queue short,default,long"
		script = [f"echo {_free_pid_block()} > /proc/sys/kernel/ns_last_pid"]
		if hostname:
			script.append(f"hostname {hostname}")
		script += [f"{worker} &" for _ in range(count)]
		script.append("wait")
		flags = ["--pid", "--fork", "--mount-proc"] + (["--uts"] if hostname else [])
		env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTHONPATH")}
		env["PYTHONUNBUFFERED"] = "1"
		self.log = open(LOG_DIR / f"other-host-{uuid.uuid4().hex[:8]}.log", "w")
		self.proc = subprocess.Popen(
			["unshare", *flags, "bash", "-c", "\n".join(script)],
			cwd=BENCH / "sites",
			env=env,
			stdout=self.log,
			stderr=subprocess.STDOUT,
			start_new_session=True,
		)
		record_spawned(self.proc.pid)

	def worker_names(self) -> set[str]:
		"""RQ names of this host's workers: those whose namespace note is not ours."""
		from frappe.utils.background_jobs import get_redis_conn, get_workers

		from bulk_queue.workers import namespace_id

		conn = get_redis_conn()
		names = set()
		for worker in get_workers():
			noted = conn.get(f"bulk_queue:worker-namespace:{worker.name}")
			if noted and noted.decode() != namespace_id():
				names.add(worker.name)
		return names

	def kill(self) -> None:
		"""SIGKILL the namespace's first process: the kernel kills every process in it."""
		import psutil

		self.names = self.worker_names()
		for child in psutil.Process(self.proc.pid).children():
			child.kill()
		self.proc.wait(timeout=30)

	def forget(self) -> None:
		"""What an operator does for a host that is gone for good (RQ itself drops its workers'
		registrations some minutes after their last heartbeat): unregister its workers."""
		from frappe.utils.background_jobs import get_redis_conn
		from rq.worker import Worker

		for name in getattr(self, "names", set()):
			worker = Worker.find_by_key(
				Worker.redis_worker_namespace_prefix + name, connection=get_redis_conn()
			)
			if worker:
				worker.register_death()


@pytest.fixture
def other_host():
	hosts: list[OtherHost] = []

	def start(count: int = 2, hostname: str | None = None) -> OtherHost:
		host = OtherHost(count, hostname)
		hosts.append(host)
		time.sleep(2)
		return host

	yield start
	for host in hosts:
		if host.proc.poll() is None:
			host.kill()
		host.forget()


def _chunks(job: str) -> list:
	frappe.db.rollback()
	return frappe.get_all(
		"Bulk Queue Chunk", {"bulk_job": job}, ["name", "status", "worker", "lost_count", "token"]
	)


@pytest.mark.parametrize("hostname", [None, "bq-host-b"], ids=["same-hostname", "other-hostname"])
def test_two_hosts_share_a_job_and_one_dying_whole_is_taken_over(workers, other_host, site_conf, hostname):
	"""Both hosts work one job while recovery runs again and again: no chunk of a live worker is taken
	over (no loss counted, no chunk re-queued). Then the second host is SIGKILLed whole in the middle of
	another job: the first finishes it, every record applied exactly once."""
	site_conf(bulk_queue_stale_after=20)
	workers.start(2)
	host = other_host(2, hostname)

	tag, names = make_records(800)
	job = enqueue(
		doctype="BQ Test Record", ids=names, action="increment_counter", values={"sleep": 0.02}, chunk_size=20
	)["bulk_job"]
	frappe.db.commit()
	deadline = time.monotonic() + 240
	requeued = 0
	while frappe.db.get_value("Bulk Queue Job", job, "status") not in ("Completed", "Completed with Errors"):
		assert time.monotonic() < deadline, "the job did not finish"
		requeued += recover()["requeued"]  # what the scheduler does every minute, here as often as it can
		frappe.db.rollback()
		time.sleep(0.3)
	done = wait_for_job(job)
	assert_exactly_once(tag, done)
	chunks = _chunks(job)
	b_workers = host.worker_names()
	assert b_workers, "the second host's workers noted their namespace"
	assert any(c.worker.split(":", 1)[1] in b_workers for c in chunks), "the second host took chunks"
	assert not requeued, f"recovery took over {requeued} chunks of live workers"
	assert not [c.name for c in chunks if c.lost_count], "a live worker's chunk was counted lost"

	tag, names = make_records(600)
	job = enqueue(
		doctype="BQ Test Record", ids=names, action="increment_counter", values={"sleep": 0.05}, chunk_size=20
	)["bulk_job"]
	frappe.db.commit()

	def b_is_running():
		return any(c.status == "Running" and c.worker.split(":", 1)[1] in b_workers for c in _chunks(job))

	wait_until(b_is_running, timeout=60, message="a chunk running on the second host")
	host.kill()
	done = None
	deadline = time.monotonic() + 180
	while not done:
		assert time.monotonic() < deadline, "the first host did not finish the job"
		recover()
		frappe.db.rollback()
		if frappe.db.get_value("Bulk Queue Job", job, "status") == "Completed":
			done = wait_for_job(job)
		time.sleep(1)
	assert_exactly_once(tag, done)
	assert any(c.lost_count for c in _chunks(job)), "the dead host's chunks were taken over"
