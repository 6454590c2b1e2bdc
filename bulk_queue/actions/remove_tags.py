# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Remove Tags: tags removed from each record through Frappe's own ``DocTags``. A record without the
tag is left as it is, not a failure.

Values: ``{"tags": ["urgent"]}``. Needs ``write`` on the records.
"""

from __future__ import annotations

from bulk_queue.actions.add_tags import tags_field, tags_of
from bulk_queue.actions.base import Action, tags_keys


def check(meta, values: dict, user: str) -> dict:
	return {"tags": tags_of(values)}


def apply(doc, values: dict) -> None:
	from frappe.desk.doctype.tag.tag import DocTags

	tags = DocTags(doc.doctype)
	present = {t.lower() for t in tags.get_tags(doc.name).split(",") if t}
	for tag in values["tags"]:
		if tag.lower() in present:
			tags.remove(doc.name, tag)


def form(meta, user: str, selection: dict) -> list[dict]:
	return [tags_field()]


ACTION = Action(
	"remove_tags",
	"write",
	apply,
	label="Remove Tags",
	check=check,
	form=form,
	shows=("_user_tags",),
	undo_keys=tags_keys,
)
