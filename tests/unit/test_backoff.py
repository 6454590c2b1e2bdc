# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
import random

from bulk_queue.utils.backoff import backoff_delay


def test_grows_exponentially_until_cap():
	"""The ceiling doubles per attempt and stops at the cap."""
	rng = random.Random(1)
	top = [backoff_delay(n, base=1, cap=8, rng=_Max()) for n in range(1, 7)]
	assert top == [1, 2, 4, 8, 8, 8]
	assert all(0.5 <= backoff_delay(1, base=1, rng=rng) <= 1 for _ in range(100))


def test_jitter_spreads_workers():
	"""Two draws for the same attempt differ, so retries are not in lock-step."""
	rng = random.Random(7)
	assert len({round(backoff_delay(3, rng=rng), 6) for _ in range(20)}) > 10


def test_no_wait_before_first_try():
	"""Attempt 0 (the first try) waits nothing."""
	assert backoff_delay(0) == 0.0


class _Max(random.Random):
	def random(self):
		return 1.0
