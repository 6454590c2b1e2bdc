# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""A worker that runs each job in its own process, without forking a work horse: RQ's SimpleWorker,
started exactly the way ``bench worker`` starts RQ's forking Worker (Frappe's ``start_worker``, with
its queue names, Redis connection and settings). Run from the bench's sites folder:

    ../env/bin/python simple_worker.py short,default,long

Not a test module: conftest's ``Workers(kind="simple")`` starts it.
"""

import sys

from frappe.utils import background_jobs
from rq import SimpleWorker

if __name__ == "__main__":
	background_jobs.Worker = SimpleWorker
	background_jobs.start_worker(queue=sys.argv[1] if len(sys.argv) > 1 else None)
