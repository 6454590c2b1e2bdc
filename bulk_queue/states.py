# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""The statuses a Bulk Queue Job goes through, grouped as every layer asks about them.

    Scheduled ─┐
               ├─> Planning ─> Queued ─> Running ─> Completed | Completed with Errors | Failed
               └────────────────┘           │
    Paused <── Planning | Queued | Running  └─> Cancelled (from any status not ended)

A job is Planning while a background planner still selects its records (its chunks may already run),
Queued until its first chunk starts, Running after. Scheduled waits for its start time and Paused for
a resume: not ended, but nothing of it is on RQ (recovery leaves both alone). The changes themselves
are made under the job's row lock in ``lifecycle.py`` (its table says which); this module only names the groups, so that the
lowest layers (progress, the DocType) can ask about a status without importing the ones that change it.
"""

ACTIVE = ("Planning", "Queued", "Running")
WAITING = ("Scheduled", "Paused")
OPEN = WAITING + ACTIVE
FINISHED = ("Completed", "Completed with Errors", "Failed", "Cancelled")
