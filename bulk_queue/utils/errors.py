# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Which failures are the same error (pure, no ``frappe`` import).

A million records failing the same validation are one error with a million examples, not a million
errors: failures are grouped by exception type, message template (the message with what varies from
record to record taken out: the record's own name, numbers, quoted values) and the code path (the
traceback's frames without the values in them). Each group's traceback is stored once.
"""

from __future__ import annotations

import hashlib
import re

_FRAME = re.compile(r'^\s*File "([^"]+)", line (\d+), in (\S+)', re.MULTILINE)
_QUOTED = re.compile(r"""'[^'\n]{1,200}'|"[^"\n]{1,200}"|«[^»\n]{1,200}»|“[^”\n]{1,200}”""")
_NUMBER = re.compile(r"(?<![A-Za-z_])[-+]?\d+(?:[.,]\d+)*")
_SPACE = re.compile(r"\s+")

TEMPLATE_LENGTH = 500  # characters of a message template kept (and hashed)


def message_template(message: str, name: str | None = None) -> str:
	"""``message`` with what varies between records of one error replaced: the record's ``name`` by
	``{name}``, quoted values by ``'…'``, numbers by ``#``; whitespace collapsed."""
	text = message or ""
	if name:
		text = text.replace(str(name), "{name}")
	text = _QUOTED.sub("'…'", text)
	text = _NUMBER.sub("#", text)
	return _SPACE.sub(" ", text).strip()[:TEMPLATE_LENGTH]


# Frames of bulk_queue's own runner: how the record was reached (a chunk, a chain, a planner going
# on with the chunks), not where it failed; the code path starts after the last of them.
_RUNNER = "/bulk_queue/tasks/"


def frames(traceback: str) -> list[str]:
	"""The code path of a traceback - ``file:line:function`` of each frame, without its values - from
	where the runner handed the record over."""
	found = _FRAME.findall(traceback or "")
	last_runner = max((i for i, (path, _, _) in enumerate(found) if _RUNNER in path), default=-1)
	return [f"{path.rsplit('/', 1)[-1]}:{line}:{func}" for path, line, func in found[last_runner + 1 :]]


def signature(exception_type: str, message: str, traceback: str, name: str | None = None) -> tuple[str, str]:
	"""``(key, template)`` of a failure: equal keys for the same error on different records."""
	template = message_template(message, name)
	digest = hashlib.sha1(
		"\x1f".join([exception_type or "", template, *frames(traceback)]).encode()
	).hexdigest()
	return digest, template
