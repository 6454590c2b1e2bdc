# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Cancel: each submitted record cancelled through the document model."""

from __future__ import annotations

from bulk_queue.actions.base import Action


def apply(doc, values: dict) -> None:
	doc.cancel()


ACTION = Action("cancel", "cancel", apply, label="Cancel", needs_submittable=True)
