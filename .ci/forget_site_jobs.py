# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Remove every RQ job of one site from the bench's queues and job registries (started, failed,
finished, deferred, scheduled, canceled).

`bench purge-jobs --site S` only empties the queues. A job of a dropped site left in a registry - a
test kills its worker, the job stays "started" - makes the next worker that cleans its registries
call Frappe's failure callback for a site that no longer exists, and that worker dies. Run from the
bench's sites folder with the bench's Python: ``python forget_site_jobs.py SITE``.
"""

import sys

import frappe
from frappe.utils.background_jobs import get_queues, get_redis_conn
from rq.job import Job
from rq.registry import (
	CanceledJobRegistry,
	DeferredJobRegistry,
	FailedJobRegistry,
	FinishedJobRegistry,
	ScheduledJobRegistry,
	StartedJobRegistry,
)

REGISTRIES = (
	StartedJobRegistry,
	FailedJobRegistry,
	FinishedJobRegistry,
	DeferredJobRegistry,
	ScheduledJobRegistry,
	CanceledJobRegistry,
)


def main(site: str) -> int:
	with frappe.init_site():
		connection = get_redis_conn()
		queues = get_queues(connection)  # this bench's queues only
	removed = 0
	for queue in queues:
		ids = set(queue.get_job_ids())
		for registry in REGISTRIES:
			# Read the sorted set itself: get_job_ids() first "cleans up", which runs the very failure
			# callback that fails for a dropped site.
			key = registry(queue=queue).key
			ids |= {i.decode() if isinstance(i, bytes) else i for i in connection.zrange(key, 0, -1)}
		for job_id in ids:
			if not job_id.startswith(f"{site}::"):  # Frappe prefixes every job id with its site
				continue
			job = Job(job_id, connection=connection)
			for registry in REGISTRIES:
				connection.zrem(registry(queue=queue).key, job_id)
			queue.remove(job_id)
			try:
				job.delete()
			except Exception:
				pass
			removed += 1
	print(f"removed {removed} RQ jobs of {site}")
	return 0


if __name__ == "__main__":
	sys.exit(main(sys.argv[1]))
