# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Save: each record saved as it is, through the document model (validations, hooks, controllers)."""

from __future__ import annotations

from bulk_queue.actions.base import Action


def apply(doc, values: dict) -> None:
	doc.save()


ACTION = Action("save", "write", apply, label="Save")
