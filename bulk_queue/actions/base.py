# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""What an action is: the protocol every bulk action implements (built-in or registered by an app).

An action module holds one ``ACTION = Action(...)``. The worker calls ``apply(doc, values)`` on each
record (the document loaded, the ``ptype`` permission checked for the requester) or, when the action has
one, ``apply_batch(doctype, names, values, user)`` on many at once; ``check(meta, values, user)`` runs
once per job, at enqueue, and returns the values the job keeps; a dry run calls ``preview(doc, values)``
instead of ``apply`` when the action's effects are not undone by a rollback; ``skips(meta)`` and
``refused_fields(meta, fieldnames)`` tell the Bulk Process dialog what a power tool does not run and
which fields it will not set; ``offered_on(user)`` narrows the DocTypes an action is offered on (a
workflow's transitions only where a workflow is active) and ``form(meta, user, selection)`` gives the
dialog's fields for its values. See README, "Writing an action".
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from frappe import _lt


class Skipped(Exception):
	"""Raised by an action's ``apply`` when a record needs nothing done (no child row matches, the
	record was changed since by someone else): the record is left as is, its own outcome - counted
	as processed and not failed (the job's ``unchanged``), its reason shown in a dry run."""


@dataclass(frozen=True)
class Renamed:
	"""What ``apply`` returns when it renamed the record (Rename): a dry run then shows the new name
	and reads the record under it."""

	name: str


PTYPES = ("read", "write", "submit", "cancel", "delete", "create", "amend", "print", "export")


@dataclass(frozen=True)
class Action:
	"""One registered action: its name, the permission it needs and what it does."""

	name: str
	ptype: str
	apply: Callable[[Any, dict], Any]
	label: str = ""
	needs_values: bool = False
	needs_submittable: bool = False
	doctypes: tuple[str, ...] = ()  # empty: any DocType
	# Optional: apply to many records at once, fn(doctype, names, values, user) -> {name: (type, message)}
	# for the ones that failed; the worker falls back to ``apply`` one record at a time when it raises.
	apply_batch: Callable[[str, list[str], dict, str], dict] | None = None
	# Optional: validate (and cast) the job's values at enqueue, fn(meta, values, user) -> values.
	check: Callable[[Any, dict, str], dict] | None = None
	# A power tool (it skips the document model): only System Managers and the roles Bulk Queue
	# Settings name for it may use it.
	power: bool = False
	# Optional: what a dry run shows instead of running the action, fn(doc, values) -> changes
	# [{"field", "label", "old", "new"}]; raises where the action would fail. For actions whose effects
	# a rollback cannot undo (Delete removes files from disk).
	preview: Callable[[Any, dict], list[dict]] | None = None
	# Optional, for power tools: what a save runs on a DocType and the action does not,
	# fn(meta) -> [{"kind", "name", "source"}], and the fields it refuses, fn(meta, fieldnames) ->
	# {fieldname: why}. The dialog, the API answer and the job record show them.
	skips: Callable[[Any], list[dict]] | None = None
	refused_fields: Callable[[Any, list[str]], dict[str, str]] | None = None
	# Optional: the DocTypes the action is offered on for a user, fn(user) -> DocType names, where that
	# depends on the site's records (a workflow's transitions: DocTypes with an active Workflow whose
	# transitions one of the user's roles may make). Asked once per dialog and per page load.
	offered_on: Callable[[str], Collection[str]] | None = None
	# Optional, with ``offered_on``: why the action is not offered on a DocType to a user, in words,
	# fn(meta, user) -> message (a request for it is refused with that).
	unavailable: Callable[[Any, str], str] | None = None
	# Optional: the Bulk Process dialog's fields for the action's values, fn(meta, user, selection) ->
	# [Frappe field definitions]; ``selection`` is ``{"names": [...]}`` or ``{"filters": [...]}``
	# (the dialog may say, for example, how many of the records each choice applies to). Field names are
	# the keys of ``values``; a MultiSelectPills field with ``options`` suggests that DocType's records.
	form: Callable[[Any, str, dict], list[dict]] | None = None
	# Optional: make once, when the job is recorded (not in a dry run), what every record will need,
	# fn(meta, values, user) -> None: new Tag records, which workers creating them at once would race
	# for (a transaction does not see the other's commit, so a Link to it fails).
	prepare: Callable[[Any, dict, str], None] | None = None
	# Frappe's own columns a dry run shows the change of (every save rewrites them, so they are left out
	# otherwise): ``_assign`` for assignments, ``_user_tags`` for tags.
	shows: tuple[str, ...] = ()
	# Optional: the action makes one file of the job (Print, Export), fn(meta, values) ->
	# ``outputs.Spec``. Then ``apply`` returns the record's piece of it (its PDF, its row) and
	# ``apply_batch`` returns ``(failed, {name: piece})``; the worker keeps each commit's pieces as a
	# part of the file and the job's end merges them (``outputs.py``). What the action commits by
	# itself waits for the worker's commit (Frappe's print view commits its Access Log).
	output: Callable[[Any, dict], Any] | None = None
	# Optional: the records are named by the values, fn(values) -> names (Rename: the old names). A
	# request then selects no records by filters, and its ids, if any, must be those names.
	# It may return a number instead: that many records, too many for one request, which a planner
	# reads page by page with ``plan_page``, fn(values, after, limit) -> (names, last key, rows read).
	selects: Callable[[dict], list[str] | int] | None = None
	plan_page: Callable[[dict, str | None, int], tuple[list[str], str | None, int]] | None = None
	# False: not offered in the Bulk Process dialog (Undo starts from the job it undoes).
	listed: bool = True
	# Optional: what the action replaces on a record, fn(meta, values) -> keys: field names, and
	# ``_user_tags`` / ``_assign`` for tags and assignments. The worker journals their values before and
	# after each record's change (``changes.py``), in its savepoint; Undo restores them.
	undo_keys: Callable[[Any, dict], list[str]] | None = None
	# Optional: the site config / Settings key (``settings.DEFAULTS``) holding the most records one job
	# of this action may hold (Print: ``bulk_queue_max_print_records``).
	max_records_key: str = ""
	# Optional: the action's own default chunk size, where records are slow enough that smaller chunks
	# let every worker take part (Print: a second or so per record in wkhtmltopdf).
	chunk_size: int = 0

	def applies_to(self, meta, user: str | None = None) -> bool:
		"""Whether this action makes sense on ``meta``'s DocType (ignoring permissions); with ``user``,
		also whether it is offered to them there (``offered_on``)."""
		if self.doctypes and meta.name not in self.doctypes:
			return False
		if user and self.offered_on and meta.name not in self.offered_on(user):
			return False
		return meta.is_submittable or not self.needs_submittable


_KINDS = {
	"controller": _lt("Controller"),
	"hook": _lt("Hook"),
	"server_script": _lt("Server Script"),
	"notification": _lt("Notification"),
	"webhook": _lt("Webhook"),
	"version": _lt("History"),
}


def value_keys(meta, values: dict) -> list[str]:
	"""``undo_keys`` of an action that sets the fields of its values: those fields, but Password ones
	(their values are never kept in clear, so they cannot be put back)."""
	return [key for key in values if (df := meta.get_field(key)) is not None and df.fieldtype != "Password"]


def tags_keys(meta, values: dict) -> list[str]:
	return ["_user_tags"]


def assignment_keys(meta, values: dict) -> list[str]:
	return ["_assign"]


def describe_skipped(skips: list[dict]) -> str:
	"""An action's ``skips`` as lines of text (the job record keeps them)."""
	return "\n".join(f"{_KINDS.get(s['kind'], s['kind'])}: {s['name']} ({s['source']})" for s in skips)
