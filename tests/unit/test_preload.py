# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Only ``bench worker`` processes are warmed."""

from bulk_queue.preload import is_worker_process


def test_worker_commands_are_recognised():
	"""`bench worker` and `bench worker-pool` run Frappe's bench_helper with a worker command."""
	helper = "/opt/frappe-bench/apps/frappe/frappe/utils/bench_helper.py"
	assert is_worker_process([helper, "frappe", "worker", "--queue", "short,default"])
	assert is_worker_process([helper, "frappe", "worker-pool"])


def test_other_commands_are_left_alone():
	"""Migrations, the console, tests and the web server do not pay for the warm-up."""
	helper = "/opt/frappe-bench/apps/frappe/frappe/utils/bench_helper.py"
	assert not is_worker_process([helper, "frappe", "--site", "s", "migrate"])
	assert not is_worker_process([helper, "frappe", "--site", "worker", "bulk-queue", "run", "worker"])
	assert is_worker_process([helper, "frappe", "--site", "s", "--verbose", "worker"])
	assert not is_worker_process(["/usr/bin/pytest", "worker"])
	assert not is_worker_process([])
