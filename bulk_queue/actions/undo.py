# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Undo: put back what a finished job replaced - Set Value (both paths), Add / Remove Tags, Assign To
and Clear Assignment - from its journal (``changes.py``).

Values: ``{"of": "BQJ-00042"}``. The records are those the job changed. Each is restored only where
the fields it changed still read as the job left them, compared field by field; a record changed since
by someone else is left as is, with which fields and by whom (its own outcome, not a failure). Fields
go back through the record's ``save()`` (validations, hooks, the requester's permissions), tags through
Frappe's tags, assignments through ``assign_to`` (a cleared assignment comes back as a new ToDo).

Undo is itself a job, journaled like the one it undoes: undoing an Undo redoes. It cannot restore what
leaves the record: a submit, a cancel, a delete, emails and notifications sent, files written,
Password values (never kept in clear).
"""

from __future__ import annotations

import functools

import frappe
from frappe import _

from bulk_queue import changes, settings
from bulk_queue.actions.base import Action, Skipped
from bulk_queue.states import FINISHED

JOB = "Bulk Queue Job"


def _job(name) -> frappe._dict:
	if not isinstance(name, str) or not name:
		frappe.throw(_('Undo needs values: {"of": "BQJ-00042"}, the job to undo.'))
	job = frappe.db.get_value(
		JOB, name, ["name", "status", "reference_doctype", "action", "values", "user"], as_dict=True
	)
	if not job:
		frappe.throw(_("Bulk Queue Job {0} not found.").format(frappe.bold(name)), frappe.DoesNotExistError)
	return job


def _action_of(job: frappe._dict) -> Action:
	from bulk_queue.actions import get_actions

	act = get_actions().get(job.action)
	if not act or not act.undo_keys:
		frappe.throw(
			_("{0} cannot be undone: only Set Value, tags, assignments and Undo itself can.").format(
				job.name
			),
			title=_("Cannot Undo"),
		)
	return act


def check(meta, values: dict, user: str) -> dict:
	"""A finished job of this DocType, with something to undo, started by ``user`` (or any job, for a
	System Manager)."""
	if set(values) - {"of"}:
		frappe.throw(_("Undo takes only the job to undo: {0}.").format('{"of": "BQJ-00042"}'))
	job = _job(values.get("of"))
	if job.reference_doctype != meta.name:
		frappe.throw(
			_("{0} changed {1} records, not {2}.").format(job.name, _(job.reference_doctype), _(meta.name))
		)
	if job.user != user and "System Manager" not in frappe.get_roles(user):
		frappe.throw(
			_("Only the user who started {0} or a System Manager can undo it.").format(job.name),
			frappe.PermissionError,
		)
	if job.status not in FINISHED:
		frappe.throw(
			_("{0} is {1}: undo it once it has ended.").format(job.name, _(job.status)),
			title=_("Cannot Undo"),
		)
	keys = undo_keys(meta, {"of": job.name})
	writable = set(meta.get_permlevel_access("write", user=user)) | {0}
	above = [k for k in keys if (df := meta.get_field(k)) and (df.permlevel or 0) not in writable]
	if above:
		# A save would quietly keep the current value of a field above the user's level.
		frappe.throw(
			_("{0} changed {1}, which you may not change, so you cannot undo it.").format(
				job.name, ", ".join(frappe.bold(_label(meta, k)) for k in above)
			),
			frappe.PermissionError,
		)
	if not changes.count(job.name):
		frappe.throw(_("{0} changed no record, so there is nothing to undo.").format(job.name))
	return {"of": job.name}


def undo_keys(meta, values: dict) -> list[str]:
	"""The keys the undone job changed (journaled again, so an Undo can be undone)."""
	job = _job(values["of"])
	return _action_of(job).undo_keys(meta, frappe.parse_json(job["values"] or "{}"))


@functools.lru_cache(maxsize=64)
def _keys_of(bulk_job: str, doctype: str) -> tuple[str, ...]:
	"""What ``bulk_job`` replaced (a job's action and values never change once it is recorded)."""
	return tuple(undo_keys(frappe.get_meta(doctype), {"of": bulk_job}))


def selects(values: dict) -> list[str] | int:
	"""The records the job changed; when more than one request lists, how many (a planner reads
	them from the journal, ``plan_page``)."""
	limit = min(settings.get("bulk_queue_max_ids"), settings.get("bulk_queue_max_records"))
	total = changes.count(values["of"])
	if total > limit:
		return total
	return changes.changed_names(values["of"], limit=limit)


def plan_page(values: dict, after: str | None, limit: int) -> tuple[list[str], str | None, int]:
	return changes.changed_page(values["of"], after=after, limit=limit)


def apply(doc, values: dict) -> None:
	entry = changes.entry(values["of"], doc.name)
	if not entry:
		raise Skipped(_("{0} did not change this record.").format(values["of"]))
	keys = [key for key in entry.after if key in _keys_of(values["of"], doc.doctype)]
	# The latest committed values (a plain read may be this transaction's older snapshot).
	now = changes.read_states(doc.doctype, [doc.name], keys, for_update=True).get(doc.name) or {}
	moved = [key for key in keys if now.get(key) != entry.after.get(key)]
	if moved:
		raise Skipped(
			_("Changed since by {0} ({1}): left as is.").format(
				frappe.db.get_value(doc.doctype, doc.name, "modified_by"),
				", ".join(_label(doc.meta, key) for key in moved),
			)
		)
	restore(doc, {key: entry.before.get(key) for key in keys})


def restore(doc, before: dict) -> None:
	"""Put the record's fields, tags and assignments back to ``before`` (as journaled)."""
	fields = {key: value for key, value in before.items() if key not in changes.LIST_COLUMNS}
	if fields:
		doc.update(fields)
		doc.save()
	if "_user_tags" in before:
		from frappe.desk.doctype.tag.tag import DocTags

		from bulk_queue.actions.add_tags import make_tags

		tags = before["_user_tags"] or []
		make_tags(tags)
		DocTags(doc.doctype).update(doc.name, tags)
	if "_assign" in before:
		_restore_assignments(doc, before["_assign"] or [])


def _restore_assignments(doc, users: list[str]) -> None:
	from frappe.desk.form import assign_to

	current = set(frappe.parse_json(frappe.db.get_value(doc.doctype, doc.name, "_assign") or "[]") or [])
	for user in sorted(current - set(users)):
		assign_to.remove(doc.doctype, doc.name, user)
	missing = [user for user in users if user not in current]
	if missing:
		assign_to.add({"assign_to": missing, "doctype": doc.doctype, "name": doc.name})


def _label(meta, key: str) -> str:
	if key == "_user_tags":
		return _("Tags")
	if key == "_assign":
		return _("Assigned To")
	df = meta.get_field(key)
	return _(df.label) if df and df.label else key


ACTION = Action(
	"undo",
	"write",
	apply,
	label="Undo",
	check=check,
	undo_keys=undo_keys,
	selects=selects,
	plan_page=plan_page,
	listed=False,
)
