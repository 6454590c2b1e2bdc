# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Password values of a job: never kept, shown, logged or fingerprinted in clear.

A job that sets a Password field keeps its ``values`` with that value masked (what the job form, the
API and the commands show) and the clear values encrypted with Frappe's own encryption (the site's
``encryption_key``, ``frappe.utils.password.encrypt``) in the job's ``sealed_values``; only the worker
decrypts them, in memory. A request's fingerprint (to hand back a running job on a double submit) takes
a keyed hash of the value, not the value. Error texts recorded for a record have the values blanked out.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import frappe

MASK = "********"


class Secret(str):
	"""A Password value in clear, where the code needs it: a plain ``str`` to everything but ``repr``,
	which shows the mask - Frappe's with-context tracebacks (the Error Log of a crashed job or request)
	print local variables with ``repr``."""

	__slots__ = ()

	def __repr__(self) -> str:
		return repr(MASK)


def protect(meta, values: dict) -> dict:
	"""``values`` with its Password values as ``Secret``."""
	fields = secret_fields(meta, values)
	if not fields:
		return values
	return {**values, **{f: Secret(values[f]) for f in fields if isinstance(values[f], str)}}


def secret_fields(meta, values: dict) -> list[str]:
	"""The keys of ``values`` that are Password fields of ``meta``'s DocType."""
	return [
		fieldname
		for fieldname in values
		if isinstance(fieldname, str) and (df := meta.get_field(fieldname)) and df.fieldtype == "Password"
	]


def seal(meta, values: dict) -> tuple[dict, str | None]:
	"""``(values with Password values masked, the clear ones encrypted)``; ``(values, None)`` when
	there are none."""
	secret = {f: values[f] for f in secret_fields(meta, values) if values[f] not in (None, "")}
	if not secret:
		return values, None
	from frappe.utils.password import encrypt

	return {**values, **dict.fromkeys(secret, MASK)}, encrypt(json.dumps(secret))


def unseal(values: dict, sealed: str | None) -> dict:
	"""The job's values with its Password values decrypted again (in the worker)."""
	if not sealed:
		return values
	from frappe.utils.password import decrypt

	return {**values, **{f: Secret(v) for f, v in json.loads(decrypt(sealed)).items()}}


def fingerprint_values(meta, values: dict) -> dict:
	"""``values`` for a request's fingerprint: Password values as a keyed hash (the same value gives
	the same fingerprint; the fingerprint does not give the value away)."""
	fields = secret_fields(meta, values)
	if not fields:
		return values
	from frappe.utils.password import get_encryption_key

	key = get_encryption_key().encode()
	return {
		**values,
		**{
			f: "hmac:" + hmac.new(key, str(values[f]).encode(), hashlib.sha256).hexdigest()
			for f in fields
			if values[f] not in (None, "")
		},
	}


def secret_values(meta, values: dict) -> list[str]:
	"""The clear Password values in ``values`` (what ``scrub`` blanks out)."""
	return [str(values[f]) for f in secret_fields(meta, values) if values[f] not in (None, "")]


def scrub(text: str | None, secrets: list[str]) -> str | None:
	"""``text`` with every one of ``secrets`` replaced by the mask."""
	if not text or not secrets:
		return text
	for secret in sorted(secrets, key=len, reverse=True):
		text = text.replace(secret, MASK)
	return text
