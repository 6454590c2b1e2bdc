# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""The HTTP surface of a real site: Frappe's own web server (the ``desk`` fixture), real users logged
in with session cookies (and the CSRF token Desk gives them) or API keys, and nothing else in between.
"""

from __future__ import annotations

import json
import re

import pytest
import requests

from ..conftest import ensure_user

PASSWORD = "Bulk-Queue-Http-2026!"
JOB_DOCTYPES = ("Bulk Queue Job", "Bulk Queue Chunk", "Bulk Queue Failure")


class Client:
	"""One user talking to the site over HTTP, the way Desk or a script does.

	``Client(url)`` is Guest; ``Client(url, user)`` logs in with a password and reads the CSRF token
	from Desk's page, as the browser does; ``Client(url, user, api_key=True)`` uses ``token key:secret``.
	"""

	def __init__(self, url: str, user: str | None = None, *, api_key: bool = False) -> None:
		self.url = url
		self.user = user or "Guest"
		self.http = requests.Session()
		self.csrf_token: str | None = None
		if user and api_key:
			key, secret = api_keys(user)
			self.http.headers["Authorization"] = f"token {key}:{secret}"
		elif user:
			response = self.http.post(f"{url}/api/method/login", data={"usr": user, "pwd": PASSWORD})
			assert response.status_code == 200, f"login as {user}: {response.status_code} {response.text}"
			page = self.http.get(f"{url}/app")
			match = re.search(r'csrf_token\s*=\s*"([^"]+)"', page.text)
			assert match, f"no CSRF token on /app for {user}"
			self.csrf_token = match.group(1)

	def call(
		self, method: str, data=None, *, http_method: str = "POST", as_json: bool = False, csrf: bool = True
	) -> requests.Response:
		"""``/api/method/<method>``: form-encoded (as Desk sends) or a JSON body."""
		headers = {"Accept": "application/json"}
		if csrf and self.csrf_token:
			headers["X-Frappe-CSRF-Token"] = self.csrf_token
		url = f"{self.url}/api/method/{method}"
		if http_method == "GET":
			return self.http.get(url, params=data, headers=headers, timeout=120)
		if as_json:
			return self.http.request(http_method, url, json=data, headers=headers, timeout=120)
		return self.http.request(http_method, url, data=_form(data), headers=headers, timeout=120)

	def resource(self, path: str, params=None) -> requests.Response:
		"""``GET /api/resource/<path>``."""
		return self.http.get(
			f"{self.url}/api/resource/{path}", params=params, headers={"Accept": "application/json"}
		)


def _form(data):
	"""Desk sends lists and dicts as JSON strings in a form."""
	if data is None:
		return None
	return {k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in data.items()}


def messages(response: requests.Response) -> str:
	"""Everything the response tells a person: its server messages, message and exception text."""
	try:
		body = response.json()
	except ValueError:
		return response.text[:2000]
	texts = []
	for raw in json.loads(body.get("_server_messages") or "[]"):
		try:
			entry = json.loads(raw)
			texts.append(str(entry.get("message", entry)) if isinstance(entry, dict) else str(entry))
		except (TypeError, ValueError):
			texts.append(str(raw))
	for key in ("message", "exception", "exc_type"):
		if body.get(key) and isinstance(body[key], str):
			texts.append(body[key])
	return " | ".join(texts)


def api_keys(user: str) -> tuple[str, str]:
	"""An API key and secret for ``user`` (made once per user, kept for the session)."""
	import frappe
	from frappe.core.doctype.user.user import generate_keys

	if user not in _KEYS:
		frappe.set_user("Administrator")
		secret = generate_keys(user)["api_secret"]
		frappe.db.commit()
		_KEYS[user] = (frappe.db.get_value("User", user, "api_key"), secret)
	return _KEYS[user]


_KEYS: dict[str, tuple[str, str]] = {}


def web_user(email: str, roles: list[str]) -> str:
	"""A System User with exactly ``roles`` (and Frappe's automatic ones), enabled, with the test
	password."""
	import frappe
	from frappe.utils.password import update_password

	ensure_user(email, roles)
	if not frappe.db.get_value("User", email, "enabled"):
		frappe.db.set_value("User", email, "enabled", 1)
	update_password(email, PASSWORD)
	frappe.db.commit()
	frappe.clear_cache(user=email)
	return email


def snapshot() -> dict:
	"""What a refused request must leave as it was: the job tables and the RQ queues."""
	import frappe
	from frappe.utils.background_jobs import get_queue

	frappe.db.rollback()  # read what the web server committed
	state = {doctype: frappe.db.count(doctype) for doctype in JOB_DOCTYPES}
	for name in ("short", "default", "long"):
		state[f"rq:{name}"] = len(get_queue(name))
	return state
