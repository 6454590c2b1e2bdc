# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Terminal rendering of a job's progress (pure: no frappe import)."""

from __future__ import annotations


def duration(seconds: float | None) -> str:
	"""``"1h 02m"``, ``"3m 10s"``, ``"42s"``, or ``"-"`` when unknown."""
	if seconds is None:
		return "-"
	seconds = max(0, round(seconds))
	hours, rest = divmod(seconds, 3600)
	minutes, secs = divmod(rest, 60)
	if hours:
		return f"{hours}h {minutes:02d}m"
	if minutes:
		return f"{minutes}m {secs:02d}s"
	return f"{secs}s"


def bar(percent: float, width: int = 30) -> str:
	"""``[#########.....................]`` for ``percent`` (0-100)."""
	filled = min(width, max(0, int(width * percent / 100)))
	return "[" + "#" * filled + "." * (width - filled) + "]"


def progress_line(progress: dict, width: int = 30) -> str:
	"""One line: bar, records, percent, rate and time left (or status when not running).

	>>> progress_line(
	...     {
	...         "status": "Running",
	...         "processed": 250,
	...         "total": 1000,
	...         "percent": 25.0,
	...         "rate": 50.0,
	...         "eta": 15,
	...         "failed": 2,
	...     },
	...     width=10,
	... )
	'[##........]  250/1,000  25.0%  50.0 rec/s  ETA 15s  2 failed'
	"""
	total = progress.get("total") or 0
	processed = progress.get("processed") or 0
	total_text = f"~{total:,}" if progress.get("planning") else f"{total:,}"
	parts = [
		bar(progress.get("percent") or 0.0, width),
		f"{processed:,}/{total_text}",
		f"{progress.get('percent') or 0.0:.1f}%",
	]
	if progress.get("rate"):
		parts.append(f"{progress['rate']:.1f} rec/s")
	if progress.get("status") in ("Running", "Queued", "Planning"):
		if progress.get("eta") is not None:
			parts.append(f"ETA {duration(progress['eta'])}")
		elif progress.get("status") != "Running":
			parts.append(progress["status"].lower())
	else:
		parts.append(progress.get("status") or "")
	if progress.get("failed"):
		parts.append(f"{progress['failed']:,} failed")
	return "  ".join(p for p in parts if p)


def summary(progress: dict) -> list[str]:
	"""The lines printed when a job has ended."""
	return [
		f"{progress.get('bulk_job')}: {progress.get('status')} - {progress.get('title') or ''}".rstrip(" -"),
		f"  succeeded {progress.get('succeeded', 0):,}   failed {progress.get('failed', 0):,}"
		f"   of {progress.get('total', 0):,}"
		+ (f"   ({progress['unchanged']:,} left as is)" if progress.get("unchanged") else ""),
		f"  took {duration(progress.get('elapsed'))}"
		+ (f" at {progress['rate']:.1f} records/s" if progress.get("rate") else ""),
	] + (
		[f"  file {progress.get('output_path') or progress['output_file']}"]
		if progress.get("output_file")
		else []
	)
