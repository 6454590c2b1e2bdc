# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Exponential backoff with jitter for transient errors (pure, no ``frappe`` import)."""

from __future__ import annotations

import random


def backoff_delay(
	attempt: int,
	*,
	base: float = 0.2,
	cap: float = 10.0,
	rng: random.Random | None = None,
) -> float:
	"""Seconds to wait before retry number ``attempt`` ("full jitter").

	The ceiling doubles with every attempt (``base * 2 ** (attempt - 1)``) up to ``cap``; the delay is
	drawn uniformly between half the ceiling and the ceiling, so two workers that deadlocked on the same
	rows do not retry in lock-step and still wait a noticeable time.

	Args:
		attempt: 1 for the first retry, 2 for the second, ...
		base: ceiling of the first retry, in seconds.
		cap: largest ceiling, in seconds.
		rng: random source, for deterministic tests.
	"""
	if attempt < 1:
		return 0.0
	ceiling = min(cap, base * (2 ** (attempt - 1)))
	draw = (rng or random).random()
	return ceiling / 2 + draw * ceiling / 2
