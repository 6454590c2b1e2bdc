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

import os
from pathlib import Path

import pytest

from ..conftest import LOG_DIR, Workers

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
