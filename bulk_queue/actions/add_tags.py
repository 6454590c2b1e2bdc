# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Add Tags: tags added to each record through Frappe's own ``DocTags`` (``_user_tags`` and the Tag
Link rows; a new tag's Tag record created once). A record that has the tag already keeps it once.

Values: ``{"tags": ["urgent", "Q4"]}``. Needs ``write`` on the records, as Desk's list action.
"""

from __future__ import annotations

import frappe
from frappe import _

from bulk_queue.actions.base import Action, tags_keys

MAX_TAGS = 20


def tags_of(values: dict) -> list[str]:
	"""The ``tags`` of ``values``, checked: a list (or a comma separated string) of names."""
	if set(values) - {"tags"}:
		frappe.throw(_("Tag actions take only tags."))
	tags = values.get("tags")
	if isinstance(tags, str):
		tags = tags.split(",")
	if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
		frappe.throw(_('tags must be a list of tags, like ["urgent"].'))
	tags = list(dict.fromkeys(t.strip() for t in tags if t.strip()))
	if not tags:
		frappe.throw(_('tags must be a list of tags, like ["urgent"].'))
	if len(tags) > MAX_TAGS:
		frappe.throw(_("At most {0} tags at a time.").format(MAX_TAGS))
	too_long = next((t for t in tags if len(t) > 140), None)
	if too_long:
		frappe.throw(_("Tag {0} is longer than 140 characters.").format(frappe.bold(too_long[:40])))
	return tags


def check(meta, values: dict, user: str) -> dict:
	return {"tags": tags_of(values)}


def prepare(meta, values: dict, user: str) -> None:
	"""Create the new tags' Tag records once, with the job: workers creating them at once would race
	(and a worker's transaction does not see the other's, so the Tag Link to it would fail)."""
	make_tags(values["tags"])


def make_tags(tags: list[str]) -> None:
	for tag in tags:
		if not frappe.db.exists("Tag", tag):
			frappe.get_doc({"doctype": "Tag", "name": tag}).insert(
				ignore_permissions=True, ignore_if_duplicate=True
			)


def apply(doc, values: dict) -> None:
	from frappe.desk.doctype.tag.tag import DocTags

	tags = DocTags(doc.doctype)
	current = tags.get_tags(doc.name).split(",")
	missing = [tag for tag in values["tags"] if tag not in current]
	if missing:
		make_tags(missing)  # made with the job; again only if deleted since
		tags.update(doc.name, current + missing)  # what DocTags.add does once the Tag exists


def form(meta, user: str, selection: dict) -> list[dict]:
	return [tags_field(_("A new tag is created once."))]


def tags_field(description: str = "") -> dict:
	"""The dialog's Tags field: existing tags suggested, a new one typed."""
	return {
		"fieldtype": "MultiSelectPills",
		"fieldname": "tags",
		"label": _("Tags"),
		"options": "Tag",
		"reqd": 1,
		"description": description,
	}


ACTION = Action(
	"add_tags",
	"write",
	apply,
	label="Add Tags",
	check=check,
	form=form,
	prepare=prepare,
	shows=("_user_tags",),
	undo_keys=tags_keys,
)
