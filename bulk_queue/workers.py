# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""The RQ workers of this bench as RQ's worker registry knows them: whether one is alive, whether any
listens on a queue. Imports nothing of bulk_queue: every layer may ask.

A worker's process can be probed (``os.kill(pid, 0)``) only from the same PID namespace: containers
sharing a hostname (host networking) do not share pids, and another host's pid means nothing here. So
each worker notes its namespace in Redis as it registers (``note_at_birth``) and again as it runs a job
(``note_namespace``), and a pid is probed only when that note matches ours; any other worker is judged
by its registration and its heartbeats, which RQ keeps in Redis for every host alike.
"""

from __future__ import annotations

import os
import socket
from functools import cache

NOTE_TTL = 7 * 24 * 3600  # seconds a worker's namespace note lives (renewed by each new work horse)


@cache
def namespace_id() -> str:
	"""This process's machine boot and PID namespace: equal exactly when pids mean the same processes."""
	try:
		with open("/proc/sys/kernel/random/boot_id") as f:
			boot = f.read().strip()
	except OSError:
		boot = socket.gethostname()
	try:
		pid_ns = os.readlink("/proc/self/ns/pid")
	except OSError:
		pid_ns = ""
	return f"{boot}/{pid_ns}"


def _note_key(worker_name: str) -> str:
	return f"bulk_queue:worker-namespace:{worker_name}"


_noted: set[str] = set()


def note_namespace(worker_name: str | None) -> None:
	"""Record that worker ``worker_name`` (the RQ worker running this process's job) lives in this
	process's PID namespace. Best effort: without the note, the worker is judged by its heartbeats."""
	if not worker_name or worker_name in _noted:
		return
	from frappe.utils.background_jobs import get_redis_conn

	try:
		get_redis_conn().set(_note_key(worker_name), namespace_id(), ex=NOTE_TTL)
		_noted.add(worker_name)
	except Exception:
		pass


def note_at_birth() -> None:
	"""In a ``bench worker`` (or ``worker-pool``) process: note the namespace of every RQ worker this
	process starts as it registers, before its first job, so that one killed before it ran anything
	is known dead at once (``listening``). Wraps RQ's ``register_birth`` (the workers of a pool inherit
	it); best effort."""
	from bulk_queue.preload import is_worker_process

	if not is_worker_process():
		return
	try:
		from rq.worker import Worker

		owner = next(cls for cls in Worker.__mro__ if "register_birth" in cls.__dict__)
		original = owner.register_birth
		if getattr(original, "_bulk_queue_notes", False):
			return

		def register_birth(self, *args, **kwargs):
			result = original(self, *args, **kwargs)
			try:
				self.connection.set(_note_key(self.name), namespace_id(), ex=NOTE_TTL)
			except Exception:
				pass
			return result

		register_birth._bulk_queue_notes = True
		owner.register_birth = register_birth
	except Exception:
		pass


def probe_here(worker) -> bool:
	"""Whether ``worker``'s pid can be probed from this process: it noted our very namespace."""
	if not worker.pid:
		return False
	try:
		noted = worker.connection.get(_note_key(worker.name))
	except Exception:
		return False
	return bool(noted) and noted.decode() == namespace_id()


def process_alive(worker) -> bool:
	"""False when the RQ worker's process is known to be gone (it shares our PID namespace and its pid
	is free); True otherwise - a worker elsewhere is trusted to its registration, which RQ drops minutes
	after its heartbeats stop (and a job's own heartbeat says sooner, see recovery.is_lost)."""
	if probe_here(worker):
		try:
			os.kill(int(worker.pid), 0)
		except ProcessLookupError:
			return False
		except PermissionError:
			return True
	return True


def listening(queue: str) -> bool:
	"""Whether a live worker listens on ``queue``: registered (RQ drops a worker's registration minutes
	after it stops heart-beating; an idle worker beats only every few minutes, so its registration, not
	its last beat, is the sign of life), and its process alive when it can be probed (a killed worker
	stays registered for minutes). True when Redis cannot be asked (nothing to warn about)."""
	from frappe.utils.background_jobs import get_queue, get_workers

	try:
		return any(process_alive(worker) for worker in get_workers(get_queue(queue)))
	except Exception:
		return True
