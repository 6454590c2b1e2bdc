# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Workflow Transition: a workflow action ("Approve") applied to each record through Frappe's own
``apply_workflow``, as the requester - so the transition's roles and condition, self approval and the
next state's doc status (a submit or a cancel on the transition) hold exactly as from the form.

Values: ``{"action": "Approve"}``. Offered on DocTypes with an active Workflow that has a transition
one of the user's roles may make. A record whose state has no such transition for the user, or whose
transition's condition does not hold, fails with that reason. Unlike Frappe's own bulk approval (500
documents at most, one background job), any number, in chunks.
"""

from __future__ import annotations

import frappe
from frappe import _

from bulk_queue.actions.base import Action


def offered_on(user: str) -> set[str]:
	"""DocTypes with an active Workflow that has a transition one of ``user``'s roles may make."""
	rows = frappe.get_all(
		"Workflow Transition",
		filters={"parenttype": "Workflow", "allowed": ("in", frappe.get_roles(user))},
		pluck="parent",
		distinct=True,
	)
	if not rows:
		return set()
	return set(
		frappe.get_all("Workflow", filters={"is_active": 1, "name": ("in", rows)}, pluck="document_type")
	)


def unavailable(meta, user: str) -> str:
	"""Why no transition is offered: no active Workflow, or none of its transitions for the user's
	roles."""
	from frappe.model.workflow import get_workflow_name

	name = get_workflow_name(meta.name)
	if not name:
		return _("{0} has no active Workflow.").format(_(meta.name))
	return _("None of the transitions of Workflow {0} is open to your roles.").format(frappe.bold(name))


def _workflow(doctype: str):
	from frappe.model.workflow import get_workflow, get_workflow_name

	if not get_workflow_name(doctype):
		frappe.throw(_("{0} has no active Workflow.").format(_(doctype)))
	return get_workflow(doctype)


def _allowed(transition, roles: list[str]) -> bool:
	return transition.allowed in roles  # as Frappe's get_transitions (Administrator has every role)


def check(meta, values: dict, user: str) -> dict:
	"""The workflow action must be one of the workflow's and one of the user's roles may take it."""
	action = values.get("action")
	if not action or not isinstance(action, str):
		frappe.throw(_('Workflow Transition needs values: {"action": "Approve"}, a workflow action.'))
	if set(values) - {"action"}:
		frappe.throw(_("Workflow Transition takes only an action in its values."))
	workflow = _workflow(meta.name)
	transitions = [t for t in workflow.transitions if t.action == action]
	if not transitions:
		frappe.throw(
			_("{0} is not an action of Workflow {1}. Its actions: {2}").format(
				frappe.bold(action),
				workflow.name,
				", ".join(sorted({t.action for t in workflow.transitions})),
			)
		)
	roles = frappe.get_roles(user)
	if not any(_allowed(t, roles) for t in transitions):
		frappe.throw(
			_("None of your roles may take the workflow action {0} on {1}.").format(
				frappe.bold(action), _(meta.name)
			),
			frappe.PermissionError,
		)
	return {"action": action}


def apply(doc, values: dict) -> None:
	from frappe.model.workflow import apply_workflow, is_transition_condition_satisfied

	action = values["action"]
	workflow = _workflow(doc.doctype)
	state = doc.get(workflow.workflow_state_field)
	roles = frappe.get_roles()
	candidates = [t for t in workflow.transitions if t.state == state and t.action == action]
	if not candidates:
		frappe.throw(
			_("No transition {0} from the state {1}.").format(frappe.bold(action), frappe.bold(state or "-")),
			frappe.ValidationError,
		)
	if not any(_allowed(t, roles) for t in candidates):
		frappe.throw(
			_("None of your roles may take {0} from the state {1} (allowed: {2}).").format(
				frappe.bold(action), frappe.bold(state), ", ".join(sorted({t.allowed for t in candidates}))
			),
			frappe.PermissionError,
		)
	if not any(_allowed(t, roles) and is_transition_condition_satisfied(t, doc) for t in candidates):
		frappe.throw(
			_("The condition of {0} from the state {1} does not hold for this record: {2}").format(
				frappe.bold(action),
				frappe.bold(state),
				"; ".join(t.condition for t in candidates if t.condition),
			)
		)
	# Frappe's own: the transition as the form makes it (self approval, doc status, the comment).
	apply_workflow(doc, action)


def form(meta, user: str, selection: dict) -> list[dict]:
	"""A Select of the workflow actions the user may take on the selection's states, each saying how
	many of the records it applies to."""
	workflow = _workflow(meta.name)
	counts = _states(meta.name, workflow.workflow_state_field, selection)
	roles = frappe.get_roles(user)
	applies: dict[str, set[str]] = {}
	for t in workflow.transitions:
		if t.state in counts and _allowed(t, roles):
			applies.setdefault(t.action, set()).add(t.state)
	total = sum(counts.values())
	options = [
		{
			"value": action,
			"label": _("{0} ({1} of {2} records: {3})").format(
				_(action),
				frappe.format_value(sum(counts[s] for s in states), {"fieldtype": "Int"}),
				frappe.format_value(total, {"fieldtype": "Int"}),
				", ".join(_(s) for s in sorted(states)),
			),
		}
		for action, states in sorted(applies.items())
	]
	return [
		{
			"fieldtype": "Select",
			"fieldname": "action",
			"label": _("Workflow Action"),
			"options": options,
			"default": options[0]["value"] if options else None,
			"reqd": 1,
			"description": _(
				"Records in another state, or for which the transition's condition does not hold, fail with the reason."
			)
			if options
			else _("None of your roles may take a workflow action from the states of these records."),
		}
	]


def _states(doctype: str, field: str, selection: dict) -> dict[str, int]:
	"""How many of the selected records (that the user may read) are in each workflow state."""
	if selection.get("names") is not None:
		filters = [[doctype, "name", "in", selection["names"]]]
	else:
		filters = selection.get("filters") or []
	rows = frappe.get_list(
		doctype,
		filters=filters,
		fields=[f"{field} as state", "count(*) as count"],
		group_by=field,
		order_by=None,
	)
	return {row.state: row.count for row in rows if row.state}


ACTION = Action(
	"apply_workflow",
	# What apply_workflow itself checks (read); the save, submit or cancel of the transition then
	# checks its own permission, as from the form.
	"read",
	apply,
	label="Workflow Transition",
	check=check,
	offered_on=offered_on,
	unavailable=unavailable,
	form=form,
)
