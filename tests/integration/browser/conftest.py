# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Desk in a real browser: the test site served by Frappe's own web server, its realtime (socket.io)
server, real ``bench worker`` processes, and Debian's Chromium driven by Playwright.

Everything is started here, on free ports, and stopped again: only processes this harness started are
ever stopped. The site's ``socketio_port`` is pointed at the socket.io server started here for the
duration of the session (and restored), so another bench's realtime server is never used.

Chromium: ``BULK_QUEUE_CHROMIUM`` (default ``/usr/bin/chromium``). When a test site is present and the
browser cannot start, the tests fail: they are never skipped silently.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from ..conftest import (
	BENCH,
	LOG_DIR,
	SITE,
	Workers,
	record_spawned,
	stop_process_group,
	write_atomically,
)

CHROMIUM = os.environ.get("BULK_QUEUE_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = LOG_DIR / "screenshots"
PASSWORD = "Bulk-Queue-Test-2026!"
# Flags for a sandboxed machine without network: no first-run, sync or component downloads.
CHROMIUM_ARGS = [
	"--no-sandbox",
	"--disable-gpu",
	"--disable-dev-shm-usage",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
	"--no-first-run",
	"--disable-quic",
]


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


@pytest.fixture(scope="module")
def desk_workers(site):
	"""Two real workers for a module of browser tests; stopped after it, so the other tests count
	exactly the workers they start themselves."""
	pool = Workers()
	pool.start(2)
	yield pool
	pool.stop()


@pytest.fixture(scope="session")
def browser(site):
	"""Debian's Chromium through Playwright. Fails (not skips) when it cannot start."""
	from playwright.sync_api import sync_playwright

	if not os.path.exists(CHROMIUM):
		pytest.fail(
			f"Chromium not found at {CHROMIUM} (install Debian's chromium or set BULK_QUEUE_CHROMIUM)"
		)
	with sync_playwright() as playwright:
		instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
		yield instance
		instance.close()


_OPEN_SESSIONS: list[DeskSession] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
	"""On a failure, keep a screenshot of every open page and what its console said (CI artifacts)."""
	outcome = yield
	report = outcome.get_result()
	if report.when != "call" or not report.failed:
		return
	for i, session in enumerate(_OPEN_SESSIONS):
		try:
			path = session.screenshot(f"FAILED-{item.name}-{i}")
			report.sections.append(("browser", f"screenshot: {path}\nerrors: {session.errors}"))
		except Exception as e:
			report.sections.append(("browser", f"no screenshot: {e}"))


class DeskSession:
	"""One logged-in browser page, collecting console errors and uncaught exceptions."""

	def __init__(self, browser, url: str, user: str) -> None:
		self.url = url
		self.user = user
		self.context = browser.new_context(viewport={"width": 1400, "height": 900}, base_url=url)
		self.page = self.context.new_page()
		self.page.set_default_timeout(20_000)
		self.errors: list[str] = []
		self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
		self.page.on(
			"console",
			lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"),
		)
		response = self.page.request.post("/api/method/login", form={"usr": user, "pwd": PASSWORD})
		assert response.ok, f"login as {user} failed: {response.status} {response.text()[:300]}"

	def open(self, path: str) -> None:
		self.page.goto(path)
		self.wait_for_desk()

	def wait_for_desk(self) -> None:
		self.page.wait_for_function("() => window.frappe && frappe.boot && frappe.boot.user && cur_page")
		self.page.wait_for_load_state("networkidle")

	def wait_for_realtime(self, timeout: float = 20_000) -> None:
		self.page.wait_for_function(
			"() => frappe.realtime && frappe.realtime.socket && frappe.realtime.socket.connected",
			timeout=timeout,
		)

	def screenshot(self, name: str, *, full_page: bool = False) -> Path:
		SCREENSHOTS.mkdir(parents=True, exist_ok=True)
		path = SCREENSHOTS / f"{name}.png"
		self.page.screenshot(path=str(path), full_page=full_page)
		return path

	def real_errors(self) -> list[str]:
		"""Browser errors, minus noise that is not ours (favicon 404s and the like)."""
		ignored = ("favicon", "Failed to load resource: the server responded with a status of 404")
		return [e for e in self.errors if not any(i in e for i in ignored)]

	def close(self) -> None:
		self.context.close()


@pytest.fixture
def open_desk(browser, desk):
	"""Factory: ``open_desk(user)`` gives a logged-in DeskSession; all are closed after the test."""
	sessions: list[DeskSession] = []

	def make(user: str) -> DeskSession:
		session = DeskSession(browser, desk, user)
		sessions.append(session)
		_OPEN_SESSIONS.append(session)
		return session

	yield make
	for session in sessions:
		_OPEN_SESSIONS.remove(session)
		session.close()


def ensure_desk_user(email: str, roles: list[str]) -> str:
	"""A System User with exactly ``roles`` (plus Frappe's automatic ones) and the test password."""
	import frappe
	from frappe.utils.password import update_password

	from ..conftest import ensure_user

	ensure_user(email, roles)
	update_password(email, PASSWORD)
	frappe.db.commit()
	return email
