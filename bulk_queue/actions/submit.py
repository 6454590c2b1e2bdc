# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Submit: each draft record submitted through the document model."""

from __future__ import annotations

from bulk_queue.actions.base import Action


def apply(doc, values: dict) -> None:
	doc.submit()


ACTION = Action("submit", "submit", apply, label="Submit", needs_submittable=True)
