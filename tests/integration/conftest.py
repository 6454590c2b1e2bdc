# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Integration tier: a real Frappe site, real MariaDB and Redis, real ``bench worker`` processes.

Needs ``BULK_QUEUE_TEST_SITE`` (a site on the bench with bulk_queue and the test-only
``bulk_queue_fixtures`` app installed) and the bench at ``BULK_QUEUE_BENCH`` (default
``/opt/frappe-bench``). ``.ci/run`` prepares both; without them the whole tier is skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

BENCH = Path(os.environ.get("BULK_QUEUE_BENCH", "/opt/frappe-bench"))
SITE = os.environ.get("BULK_QUEUE_TEST_SITE", "")
LOG_DIR = Path(os.environ.get("BULK_QUEUE_LOG_DIR", "/tmp/bulk_queue_test_logs"))
# .ci/run stops the process groups listed here when it exits, whatever happened to pytest.
SPAWNED_PIDS = os.environ.get("BULK_QUEUE_SPAWNED_PIDS")
SIMPLE_WORKER = Path(__file__).with_name("simple_worker.py")


def record_spawned(pid: int) -> None:
	"""Remember a process group this test run started, for .ci/run to stop at exit."""
	if SPAWNED_PIDS:
		with open(SPAWNED_PIDS, "a") as f:
			f.write(f"{pid}\n")


def pytest_collection_modifyitems(config, items):
	if SITE and (BENCH / "sites" / SITE).is_dir():
		return
	skip = pytest.mark.skip(reason="no test site: set BULK_QUEUE_TEST_SITE (see .ci/run)")
	for item in items:
		item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def site():
	"""Connect this test process to the test site as Administrator, like ``bench console``."""
	if not SITE:
		yield None
		return
	import frappe

	os.chdir(BENCH / "sites")
	frappe.init(site=SITE, sites_path=str(BENCH / "sites"))
	frappe.connect()
	frappe.set_user("Administrator")
	# Made (and written to site_config.json) on first use otherwise: by then a test may be holding
	# the file, and every process must encrypt API secrets and passwords with the same key.
	from frappe.utils.password import get_encryption_key

	get_encryption_key()
	purge_queues()
	# The scheduler is one of the recovery paths; a fresh site has it disabled.
	frappe.db.set_single_value("System Settings", "enable_scheduler", 1)
	# A site in use has been through the setup wizard; Desk sends everyone else there.
	frappe.db.set_single_value("System Settings", "setup_complete", 1)
	frappe.db.set_default("desktop:home_page", "workspace")  # what the wizard leaves; Desk's toolbar needs it
	frappe.db.commit()
	yield SITE
	purge_queues()
	frappe.destroy()


@pytest.fixture(autouse=True)
def fresh_state(site):
	"""Each test starts with its own transaction, as Administrator, and default settings."""
	if not site:
		yield
		return
	import frappe

	frappe.db.rollback()
	frappe.set_user("Administrator")
	yield
	frappe.db.rollback()
	frappe.set_user("Administrator")
	for key in [k for k in frappe.local.conf if k.startswith("bulk_queue_")]:
		frappe.local.conf.pop(key)


# -- workers --------------------------------------------------------------------------------------


class Workers:
	"""Real ``bench worker`` processes, each in its own process group so a test can SIGKILL one
	together with its work horse, the way an OOM kill or a crashed host takes them.

	Like supervisor in a production bench, a worker (or the scheduler) that exits on its own - an RQ
	worker dies when Redis vanishes under it - is started again; ``kill`` and ``stop`` are deliberate
	and not undone."""

	def __init__(self) -> None:
		self.procs: list[subprocess.Popen] = []
		self.scheduler: subprocess.Popen | None = None
		self._args: dict[int, tuple[list[str], str, Path | None]] = {}
		self._lock = threading.Lock()
		self._stopping = threading.Event()
		self._supervisor = threading.Thread(target=self._supervise, daemon=True)
		LOG_DIR.mkdir(parents=True, exist_ok=True)
		self._supervisor.start()

	def _supervise(self) -> None:
		while not self._stopping.wait(0.5):
			with self._lock:
				for i, proc in enumerate(self.procs):
					if proc.poll() is not None:
						self.procs[i] = self._spawn(*self._args.pop(proc.pid))
				if self.scheduler and self.scheduler.poll() is not None:
					self.scheduler = self._spawn(*self._args.pop(self.scheduler.pid))

	# What ``start`` runs: "worker" (``bench worker``: RQ forks a work horse per job), "pool" (``bench
	# worker-pool``: one process forking several such workers), "simple" (RQ's SimpleWorker started
	# the way ``bench worker`` starts its worker: each job runs inside the worker process itself).
	kind = "worker"

	def start(self, count: int = 1, queues: str = "short,default,long", *, scheduler: bool = False) -> None:
		"""Start ``count`` workers of ``kind`` (and ``bench schedule`` once, when asked)."""
		with self._lock:
			if self.kind == "pool":
				args = ["worker-pool", "--num-workers", str(count), "--queue", queues]
				self.procs.append(self._spawn(args, "worker-pool"))
			else:
				for _ in range(count):
					if self.kind == "simple":
						self.procs.append(self._spawn([queues], "simple-worker", script=SIMPLE_WORKER))
					else:
						self.procs.append(self._spawn(["worker", "--queue", queues], "worker"))
			if scheduler and not self.scheduler:
				self.scheduler = self._spawn(["schedule"], "schedule")
		time.sleep(1.5 if self.kind == "worker" else 3)

	def _spawn(self, args: list[str], label: str, script: Path | None = None) -> subprocess.Popen:
		env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTHONPATH")}
		env["PYTHONUNBUFFERED"] = "1"
		if script:
			cmd, cwd = [str(BENCH / "env/bin/python"), str(script), *args], BENCH / "sites"
		elif shutil.which("bench"):
			cmd, cwd = ["bench", *args], BENCH
		else:
			cmd, cwd = (
				[str(BENCH / "env/bin/python"), "-m", "frappe.utils.bench_helper", "frappe", *args],
				BENCH / "sites",
			)
		log = open(LOG_DIR / f"{label}-{uuid.uuid4().hex[:8]}.log", "w")
		proc = subprocess.Popen(
			cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
		)
		self._args[proc.pid] = (args, label, script)
		record_spawned(proc.pid)
		return proc

	def kill(self, index: int = 0, *, horse: bool = True) -> None:
		"""SIGKILL worker ``index``; with ``horse``, also the work horse running its job (RQ puts the
		horse in a session of its own, so killing the worker's group alone leaves it running on)."""
		import psutil

		with self._lock:
			proc = self.procs.pop(index)
		try:
			tree = psutil.Process(proc.pid).children(recursive=True) if horse else []
			os.killpg(proc.pid, signal.SIGKILL)
			for child in tree:
				child.kill()
		except (ProcessLookupError, psutil.NoSuchProcess):
			pass
		proc.wait(timeout=30)

	def kill_horses(self) -> None:
		"""SIGKILL the work horses of every worker, leaving the workers: RQ's retry runs the job again."""
		import psutil

		for proc in list(self.procs):
			for horse in psutil.Process(proc.pid).children(recursive=True):
				horse.kill()

	def stop(self) -> None:
		self._stopping.set()
		self._supervisor.join(timeout=5)
		if self.scheduler:
			self.procs.append(self.scheduler)
			self.scheduler = None
		while self.procs:
			stop_process_group(self.procs.pop())


def stop_process_group(proc: subprocess.Popen, timeout: float = 15) -> None:
	"""SIGTERM a process started with ``start_new_session`` and its group; SIGKILL what lingers."""
	try:
		os.killpg(proc.pid, signal.SIGTERM)
		proc.wait(timeout=timeout)
	except (ProcessLookupError, subprocess.TimeoutExpired):
		try:
			os.killpg(proc.pid, signal.SIGKILL)
		except ProcessLookupError:
			pass


def write_atomically(path: Path, text: str) -> None:
	"""Workers and the web server read the site config at any moment: never let them see it half
	written."""
	tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
	tmp.write_text(text)
	os.replace(tmp, path)


def _config_setter(path: Path, on_write=None):
	"""``set_conf(key=value, ...)`` for the JSON config at ``path`` (here and for the processes that
	read it); ``None`` removes a key. Yields it; afterwards the keys it set are put back as they were,
	leaving whatever else was written meanwhile."""
	import frappe

	original = json.loads(path.read_text())
	touched: set[str] = set()

	def write(values: dict) -> None:
		config = json.loads(path.read_text())
		for key, value in values.items():
			if value is None:
				config.pop(key, None)
				frappe.local.conf.pop(key, None)
			else:
				config[key] = value
				frappe.local.conf[key] = value
		write_atomically(path, json.dumps(config, indent=1))
		if on_write:
			on_write(values)

	def set_conf(**values) -> None:
		touched.update(values)
		write(values)

	yield set_conf
	if touched:
		write({key: original.get(key) for key in touched})


@pytest.fixture
def site_conf(site):
	"""``site_conf(key=value, ...)``: set site config keys for this test, here and for the workers
	(which read site_config.json at every job); ``None`` removes a key. Afterwards those keys are put
	back as they were, leaving whatever else was written meanwhile (Frappe adds an encryption key
	the first time it needs one)."""
	yield from _config_setter(BENCH / "sites" / SITE / "site_config.json")


@pytest.fixture
def bench_conf(site):
	"""``bench_conf(key=value, ...)``: set keys of the bench's common_site_config.json for this test
	(here and for workers started after it, which read it at start - e.g. ``workers``, the custom
	queues); afterwards they are put back as they were."""

	def on_write(values: dict) -> None:
		if "workers" in values:
			from frappe.utils.background_jobs import get_queues_timeout

			get_queues_timeout.cache_clear()  # a process reads the queues once (a restart, in production)

	yield from _config_setter(BENCH / "sites" / "common_site_config.json", on_write)


@pytest.fixture
def bq_settings(site):
	"""Set fields of Bulk Queue Settings for one test (as an administrator would in Desk); the
	previous values come back afterwards."""
	import frappe

	before = frappe.get_single("Bulk Queue Settings").as_dict(no_default_fields=True)
	# Table MultiSelect fields and the Link field of their rows.
	tables = {"allowed_roles": "role", "fast_path_roles": "role", "allowed_doctypes": "document_type"}

	def set_settings(**values) -> None:
		doc = frappe.get_single("Bulk Queue Settings")
		for field, value in values.items():
			if field in tables:
				doc.set(field, [{tables[field]: v} for v in value])
			else:
				doc.set(field, value)
		doc.save()
		frappe.db.commit()

	yield set_settings
	frappe.db.rollback()
	frappe.set_user("Administrator")
	doc = frappe.get_single("Bulk Queue Settings")
	for field in tables:
		doc.set(field, [{k: v for k, v in row.items() if k not in ("name", "idx")} for row in before[field]])
	for field, value in before.items():
		if field not in tables and doc.meta.get_field(field):
			doc.set(field, value)
	doc.save()
	frappe.db.commit()


@pytest.fixture
def workers(site):
	pool = Workers()
	yield pool
	pool.stop()


def purge_queues() -> None:
	"""Drop leftover jobs of this site and of sites no longer on the bench (earlier test runs), so
	they cannot keep the workers of this run busy."""
	from frappe.utils.background_jobs import get_queue

	sites = {p.name for p in (BENCH / "sites").iterdir() if (p / "site_config.json").is_file()}
	for name in ("short", "default", "long"):
		queue = get_queue(name)
		for job in queue.jobs:
			site = job.kwargs.get("site")
			if site == SITE or site not in sites:
				job.delete()


# -- waiting and reading --------------------------------------------------------------------------


def wait_for_job(
	name: str, statuses=("Completed", "Completed with Errors", "Failed", "Cancelled"), timeout=120
):
	"""Poll the job row (fresh transaction each time) until its status is one of ``statuses``."""
	import frappe

	deadline = time.monotonic() + timeout
	while True:
		frappe.db.rollback()
		job = frappe.db.get_value("Bulk Queue Job", name, "*", as_dict=True)
		if job and job.status in statuses:
			return job
		if time.monotonic() > deadline:
			raise AssertionError(f"{name} still {job and job.status} after {timeout}s: {dict(job or {})}")
		time.sleep(0.3)


def wait_until(predicate, timeout=60, interval=0.2, message="condition"):
	import frappe

	deadline = time.monotonic() + timeout
	while True:
		frappe.db.rollback()
		value = predicate()
		if value:
			return value
		if time.monotonic() > deadline:
			raise AssertionError(f"timed out waiting for {message}")
		time.sleep(interval)


# -- data -----------------------------------------------------------------------------------------


def make_todos(
	count: int, *, owner: str = "Administrator", status: str = "Open", allocated_to: str | None = None
) -> tuple[str, list[str]]:
	"""Insert ``count`` ToDos fast (one multi-row INSERT) and commit; returns (tag, names)."""
	return _insert_rows(
		"ToDo",
		count,
		owner,
		lambda tag, i: {
			"status": status,
			"priority": "Medium",
			"description": f"<p>{tag}</p>",
			"allocated_to": allocated_to,
		},
	)


def make_records(
	count: int, *, fail_every: int = 0, sleep_ms: int = 0, owner: str = "Administrator"
) -> tuple[str, list[str]]:
	"""Insert ``count`` BQ Test Records (every ``fail_every``-th flagged to fail validation)."""
	return _insert_rows(
		"BQ Test Record",
		count,
		owner,
		lambda tag, i: {
			"title": f"{tag}-{i:06d}",
			"tag": tag,
			"counter": 0,
			"fail_validation": int(bool(fail_every) and i % fail_every == fail_every - 1),
			"sleep_ms": sleep_ms,
		},
	)


def _insert_rows(doctype: str, count: int, owner: str, values) -> tuple[str, list[str]]:
	"""Bulk-insert ``count`` rows named ``<tag>-<n>`` with ``values(tag, n)`` and commit."""
	import frappe
	from frappe.utils import now_datetime

	tag = f"bq-{uuid.uuid4().hex[:10]}"
	now = now_datetime()
	names = [f"{tag}-{i:06d}" for i in range(count)]
	rows = [
		{
			"name": n,
			"creation": now,
			"modified": now,
			"owner": owner,
			"modified_by": owner,
			"docstatus": 0,
			"idx": 0,
		}
		| values(tag, i)
		for i, n in enumerate(names)
	]
	if rows:
		fields = list(rows[0])
		frappe.db.bulk_insert(doctype, fields, [tuple(r[f] for f in fields) for r in rows])
	frappe.db.commit()
	return tag, names


def enqueue(**kwargs) -> dict:
	"""``enqueue_bulk`` as the console calls it."""
	from bulk_queue.api.bulk import enqueue_bulk

	return enqueue_bulk(**kwargs)


def counters(tag: str) -> dict[str, int]:
	import frappe

	frappe.db.rollback()
	return dict(frappe.db.sql("select name, counter from `tabBQ Test Record` where tag=%s", tag))


def assert_exactly_once(tag: str, job) -> None:
	"""Every BQ Test Record of ``tag`` was applied once, and the job's counters say so."""
	values = counters(tag)
	assert set(values.values()) == {1}, {n: v for n, v in values.items() if v != 1}
	assert (job.processed, job.succeeded, job.failed) == (len(values), len(values), 0)


def failures(job: str) -> list:
	import frappe

	frappe.db.rollback()
	return frappe.get_all(
		"Bulk Queue Failure",
		filters={"bulk_job": job},
		fields=["reference_name", "exception_type", "error", "error_group", "attempts", "retried"],
		order_by="creation",
	)


def rq_jobs_of(job: str) -> list:
	"""RQ jobs of one bulk job currently queued on any queue."""
	from frappe.utils.background_jobs import get_queue

	from bulk_queue.settings import queues

	found = []
	for name in queues():
		for rq_job in get_queue(name).jobs:
			if f":{job}:" in rq_job.id:
				found.append(rq_job)
	return found


def ensure_user(email: str, roles: list[str]) -> str:
	"""A user with exactly ``roles`` (plus Frappe's automatic ones)."""
	import frappe

	if email != SYSTEM_MANAGER and not _other_system_managers(email):
		# Frappe makes a System User a System Manager when nobody else is one: make someone else.
		ensure_user(SYSTEM_MANAGER, ["System Manager"])
	if not frappe.db.exists("User", email):
		# Tests make users as they need them: past Frappe's 60 new users an hour on one site.
		frappe.local.conf.throttle_user_limit = 100_000
		user = frappe.get_doc(
			{"doctype": "User", "email": email, "first_name": email.split("@")[0], "send_welcome_email": 0}
		)
		user.insert(ignore_permissions=True)
	user = frappe.get_doc("User", email)
	user.set("roles", [])
	user.add_roles(*roles)
	frappe.db.commit()
	return email


def restart_queue_redis() -> None:
	"""Shut the bench's queue Redis down without saving, then start it again from its config."""
	import frappe

	url = frappe.conf.redis_queue
	port = url.rsplit(":", 1)[1].split("/")[0]
	subprocess.run(["redis-cli", "-p", port, "shutdown", "nosave"], check=False, capture_output=True)
	time.sleep(1)
	subprocess.run(
		["redis-server", "redis_queue.conf", "--daemonize", "yes"], cwd=BENCH / "config", check=True
	)
	for _ in range(40):
		if subprocess.run(["redis-cli", "-p", port, "ping"], capture_output=True).returncode == 0:
			break
		time.sleep(0.25)


# -- web server ---------------------------------------------------------------------------------


def _free_port() -> int:
	with socket.socket() as s:
		s.bind(("127.0.0.1", 0))
		return s.getsockname()[1]


def _wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None, log=None):
	deadline = time.monotonic() + timeout
	while time.monotonic() < deadline:
		if proc is not None and proc.poll() is not None:
			raise RuntimeError(f"{what} exited with {proc.returncode}: {_tail(log)}")
		try:
			if predicate():
				return
		except Exception:
			pass
		time.sleep(0.25)
	raise RuntimeError(f"{what} did not come up within {timeout}s: {_tail(log)}")


def _tail(path) -> str:
	if not path:
		return ""
	try:
		return Path(path).read_text()[-3000:]
	except OSError:
		return ""


class DeskServers:
	"""Frappe's web server (``bench serve``, with DEV_SERVER so pages talk to socket.io directly) and
	socket.io (``node apps/frappe/socketio.js``) for the test site, in their own process groups."""

	def __init__(self) -> None:
		self.procs: list[subprocess.Popen] = []
		self.web_port = _free_port()
		self.socketio_port = _free_port()
		self.url = f"http://{SITE}:{self.web_port}"
		self._saved_socketio_port = None

	def start(self) -> None:
		self._point_site_at_our_socketio()
		env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTHONPATH")}
		env["PYTHONUNBUFFERED"] = "1"
		web_log = LOG_DIR / f"web-{uuid.uuid4().hex[:8]}.log"
		web = self._spawn(
			[
				str(BENCH / "env/bin/python"),
				"-m",
				"frappe.utils.bench_helper",
				"frappe",
				"--site",  # never the bench's default_site: the test site, whatever the Host says
				SITE,
				"serve",
				"--port",
				str(self.web_port),
				"--noreload",
			],
			cwd=BENCH / "sites",
			env={**env, "DEV_SERVER": "1"},
			log=web_log,
		)
		io_log = LOG_DIR / f"socketio-{uuid.uuid4().hex[:8]}.log"
		io = self._spawn(
			["node", str(BENCH / "apps/frappe/socketio.js")],
			cwd=BENCH,
			env={**env, "FRAPPE_SOCKETIO_PORT": str(self.socketio_port)},
			log=io_log,
		)
		_wait_for(
			lambda: urllib.request.urlopen(f"{self.url}/api/method/ping", timeout=5).status == 200,
			90,
			f"the web server for {self.url}",
			web,
			web_log,
		)
		_wait_for(
			lambda: socket.create_connection(("127.0.0.1", self.socketio_port), timeout=1).close() or True,
			30,
			"the socket.io server",
			io,
			io_log,
		)

	def _spawn(self, cmd, *, cwd, env, log) -> subprocess.Popen:
		proc = subprocess.Popen(
			cmd,
			cwd=cwd,
			env=env,
			stdout=open(log, "w"),
			stderr=subprocess.STDOUT,
			start_new_session=True,
		)
		self.procs.append(proc)
		record_spawned(proc.pid)
		return proc

	def _site_config_path(self) -> Path:
		return BENCH / "sites" / SITE / "site_config.json"

	def _point_site_at_our_socketio(self) -> None:
		path = self._site_config_path()
		config = json.loads(path.read_text())
		self._saved_socketio_port = config.get("socketio_port")
		config["socketio_port"] = self.socketio_port
		write_atomically(path, json.dumps(config, indent=1))
		_clear_site_cache()

	def stop(self) -> None:
		for proc in self.procs:
			stop_process_group(proc, timeout=10)
		path = self._site_config_path()
		if path.exists():
			config = json.loads(path.read_text())
			if self._saved_socketio_port is None:
				config.pop("socketio_port", None)
			else:
				config["socketio_port"] = self._saved_socketio_port
			write_atomically(path, json.dumps(config, indent=1))
			_clear_site_cache()


def _clear_site_cache() -> None:
	"""The boot info (which carries socketio_port) is cached per user: forget it."""
	import frappe

	frappe.local.conf = frappe.get_site_config()
	frappe.clear_cache()


@pytest.fixture(scope="session")
def desk(site):
	"""Web server and socket.io for the test site; yields the base URL."""
	servers = DeskServers()
	try:
		servers.start()
		yield servers.url
	finally:
		servers.stop()


SYSTEM_MANAGER = "bq-system-manager@example.com"


def _other_system_managers(email: str) -> list[str]:
	import frappe

	return frappe.get_all(
		"Has Role",
		{"role": "System Manager", "parenttype": "User", "parent": ("not in", (email, "Administrator"))},
		pluck="parent",
		limit=1,
	)


# -- realtime -------------------------------------------------------------------------------------


class RealtimeListener:
	"""Subscribes to the Redis channel Frappe publishes realtime events on (``events``)."""

	def __init__(self, event: str = "bulk_queue_progress") -> None:
		from frappe.utils.background_jobs import get_redis_conn

		self.event = event
		self.messages: list[dict] = []
		self._pubsub = get_redis_conn().pubsub(ignore_subscribe_messages=True)
		self._pubsub.subscribe("events")
		self._stop = threading.Event()
		self._thread = threading.Thread(target=self._run, daemon=True)
		self._thread.start()

	def _run(self) -> None:
		while not self._stop.is_set():
			msg = self._pubsub.get_message(timeout=0.2)
			if msg and msg.get("type") == "message":
				data = json.loads(msg["data"])
				if data.get("event") == self.event and data.get("namespace") == SITE:
					data["received_at"] = time.monotonic()
					self.messages.append(data)

	def close(self) -> None:
		self._stop.set()
		self._thread.join(timeout=5)
		self._pubsub.close()

	def for_job(self, job: str) -> list[dict]:
		return [m for m in self.messages if m["message"].get("bulk_job") == job]


@pytest.fixture
def realtime(site):
	listener = RealtimeListener()
	yield listener
	listener.close()
