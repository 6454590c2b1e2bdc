# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""The actions a bulk job can apply to each record.

Built-in actions go through the document model, so validations, hooks and permissions run. Other apps
register more in their ``hooks.py``::

        bulk_queue_actions = {
            "recalculate": "my_app.bulk.recalculate",  # fn(doc, values) -> None
            "archive": {
                "method": "my_app.bulk.archive",
                "ptype": "write",  # the permission it needs (default write)
                "label": "Archive",  # shown in the Bulk Process dialog (default: from the name)
                "doctypes": ["Sales Invoice"],  # offered only on these (default: every DocType)
            },
        }

The function receives the loaded document (permission for ``ptype`` already checked for the requesting
user) and the job's ``values`` dict. It should not commit or roll back: bulk_queue owns the transaction
(if it commits, the chunk's watermark follows at once, so nothing is applied twice).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import frappe
from frappe import _

ACTION_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
PTYPES = ("read", "write", "submit", "cancel", "delete", "create", "amend")


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

	def applies_to(self, meta) -> bool:
		"""Whether this action makes sense on ``meta``'s DocType (ignoring permissions)."""
		if self.doctypes and meta.name not in self.doctypes:
			return False
		return meta.is_submittable or not self.needs_submittable


def _save(doc, values: dict) -> None:
	doc.save()


def _set_value(doc, values: dict) -> None:
	doc.update(values)
	doc.save()


def _submit(doc, values: dict) -> None:
	doc.submit()


def _cancel(doc, values: dict) -> None:
	doc.cancel()


def _delete(doc, values: dict) -> None:
	frappe.delete_doc(doc.doctype, doc.name, ignore_missing=False)


def _lazy_preview(name: str):
	def call(*args):
		from bulk_queue import preview

		return getattr(preview, f"preview_{name}")(*args)

	return call


def _fast(name: str):
	def call(*args):
		from bulk_queue import fast_path

		return getattr(fast_path, name)(*args)

	return call


BUILTIN = {
	"save": Action("save", "write", _save, label="Save"),
	"set_value": Action("set_value", "write", _set_value, label="Set Value", needs_values=True),
	"submit": Action("submit", "submit", _submit, label="Submit", needs_submittable=True),
	"cancel": Action("cancel", "cancel", _cancel, label="Cancel", needs_submittable=True),
	"delete": Action("delete", "delete", _delete, label="Delete", preview=_lazy_preview("delete")),
	# Batched SQL, no controllers: see bulk_queue/fast_path.py for what it keeps and what it refuses.
	"set_value_fast": Action(
		"set_value_fast",
		"write",
		_fast("apply_one"),
		label="Set Value (fast, no controllers)",
		needs_values=True,
		apply_batch=_fast("apply_batch"),
		check=_fast("check"),
		power=True,
	),
}


def get_actions() -> dict[str, Action]:
	"""Built-in actions plus those registered by installed apps (later apps override earlier)."""
	actions = dict(BUILTIN)
	for name, specs in (frappe.get_hooks("bulk_queue_actions") or {}).items():
		# frappe.get_hooks merges hooks of all apps into lists, also inside dict values: last app wins.
		spec = specs[-1] if isinstance(specs, list) else specs
		if isinstance(spec, str):
			spec = {"method": spec}
		if isinstance(spec, dict):
			# ...except "doctypes", which is a list of its own.
			spec = {
				k: (v[-1] if isinstance(v, list) and v and k != "doctypes" else v) for k, v in spec.items()
			}
		if (
			not ACTION_NAME.match(name)
			or not isinstance(spec, dict)
			or not isinstance(spec.get("method"), str)
		):
			continue
		doctypes = spec.get("doctypes") or ()
		if isinstance(doctypes, str):
			doctypes = (doctypes,)
		actions[name] = Action(
			name=name,
			ptype=spec.get("ptype") if spec.get("ptype") in PTYPES else "write",
			apply=_lazy(spec["method"]),
			label=spec.get("label") or name.replace("_", " ").title(),
			doctypes=tuple(d for d in doctypes if isinstance(d, str)),
		)
	return actions


def available_actions(meta, user: str) -> list[Action]:
	"""The actions ``user`` may start on ``meta``'s DocType, in the order the dialog lists them:
	those Bulk Queue Settings allow, that apply to it and whose permission the user has."""
	from bulk_queue import access, settings

	doctypes = settings.allowed_doctypes()
	if not access.may_use(user) or (doctypes and meta.name not in doctypes):
		return []
	allowed = settings.allowed_actions()
	power = access.may_use_power_tools(user)
	return [
		action
		for action in get_actions().values()
		if (not allowed or action.name in allowed)
		and (power or not action.power)
		and action.applies_to(meta)
		and frappe.has_permission(meta.name, action.ptype, user=user)
	]


def get_action(name: str) -> Action:
	"""The action called ``name``, or a clear error listing the available ones."""
	actions = get_actions()
	if not isinstance(name, str) or name not in actions:
		frappe.throw(
			_("Unknown bulk action {0}. Available actions: {1}").format(
				frappe.bold(str(name)), ", ".join(sorted(actions))
			),
			title=_("Invalid Action"),
		)
	return actions[name]


def job_title(act: Action, total: int, doctype: str) -> str:
	"""What a job is, in words: "Set Value on 1,000 ToDo"."""
	return _("{0} on {1} {2}").format(
		_(act.label), frappe.format_value(total, {"fieldtype": "Int"}), _(doctype)
	)


def _lazy(method: str) -> Callable[[Any, dict], Any]:
	"""Resolve the dotted path only when the action runs, in the worker."""

	def apply(doc, values: dict):
		return frappe.get_attr(method)(doc, values)

	apply.__qualname__ = method
	return apply
