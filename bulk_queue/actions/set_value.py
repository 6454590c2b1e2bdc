# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Set Value: the job's values set on each record, then saved through the document model.

Which fields may be set, and by whom, is checked once per job (``fields.check_values``: known,
writable fields within the requester's permlevels, Link values their User Permissions allow); the save
checks each record again, as it is and as it will be."""

from __future__ import annotations

from bulk_queue.actions.base import Action, value_keys


def apply(doc, values: dict) -> None:
	doc.update(values)
	doc.save()


ACTION = Action("set_value", "write", apply, label="Set Value", needs_values=True, undo_keys=value_keys)
