# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""What Desk needs at page load: the registered actions (to decide where "Bulk Process" is offered
without a request per list view) and the user's running jobs (so progress survives a reload)."""

from __future__ import annotations

import frappe


def extend_bootinfo(bootinfo) -> None:
	"""``extend_bootinfo`` hook: runs on every Desk page load, after the cached part of the boot."""
	if frappe.session.user == "Guest":
		return
	from bulk_queue import access, settings
	from bulk_queue.actions import get_actions
	from bulk_queue.api.bulk import OWN_DOCTYPES, active_jobs

	user = frappe.session.user
	allowed = settings.allowed_actions()
	# Bulk Queue Settings: no role that may start jobs, no action; limited DocTypes and actions.
	power = access.may_use_power_tools(user)
	actions = [
		a
		for a in get_actions().values()
		if a.listed and (not allowed or a.name in allowed) and (power or not a.power)
	]
	bootinfo.bulk_queue = {
		"actions": [
			{
				"name": action.name,
				"ptype": action.ptype,
				"needs_submittable": action.needs_submittable,
				"doctypes": list(action.doctypes),
				# Where it depends on the site's records (an active workflow): those DocTypes only.
				"offered_on": sorted(action.offered_on(user)) if action.offered_on else None,
			}
			for action in (actions if access.may_use(user) else [])
		],
		"allowed_doctypes": settings.allowed_doctypes(),
		"excluded_doctypes": list(OWN_DOCTYPES),
		"active_jobs": active_jobs(user),
	}
