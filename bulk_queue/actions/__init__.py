# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""The registry of actions a bulk job can apply to each record: the built-in ones, one module each in
this package (``base.Action`` is the protocol they implement), and those installed apps register.

Built-in actions go through the document model, so validations, hooks and permissions run (except the
fast path, ``set_value_fast``, a power tool). Other apps register more in their ``hooks.py``::

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
from typing import Any

import frappe
from frappe import _

from bulk_queue.actions import (
	add_tags,
	assign_to,
	assignment_rule,
	cancel,
	clear_assignment,
	delete,
	export,
	print_pdf,
	remove_tags,
	rename,
	save,
	server_script,
	set_child_value,
	set_value,
	set_value_fast,
	submit,
	undo,
	workflow,
)
from bulk_queue.actions.base import PTYPES, Action, Renamed, Skipped, describe_skipped

__all__ = [
	"Action",
	"Renamed",
	"Skipped",
	"available_actions",
	"describe_skipped",
	"get_action",
	"get_actions",
	"job_title",
]

ACTION_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


# The built-in actions, one module each (adding one: a module with its ACTION, listed here).
BUILTIN = {
	action.name: action
	for action in (
		save.ACTION,
		set_value.ACTION,
		set_child_value.ACTION,
		submit.ACTION,
		cancel.ACTION,
		workflow.ACTION,
		assign_to.ACTION,
		clear_assignment.ACTION,
		assignment_rule.ACTION,
		add_tags.ACTION,
		remove_tags.ACTION,
		print_pdf.ACTION,
		export.ACTION,
		rename.ACTION,
		delete.ACTION,
		set_value_fast.ACTION,
		undo.ACTION,
	)
}


def get_actions() -> dict[str, Action]:
	"""Built-in actions plus those registered by installed apps (later apps override earlier)."""
	actions = dict(BUILTIN)
	# Server Scripts listed in Bulk Queue Settings (named script_..., never a built-in's name).
	actions.update(server_script.script_actions())
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
		if action.listed
		and (not allowed or action.name in allowed)
		and (power or not action.power)
		and action.applies_to(meta, user)
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
