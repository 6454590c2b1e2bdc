# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Bar chart of a ``speed.py`` or ``scale.py`` result: records per second of each scenario.

/opt/frappe-bench/env/bin/pip install matplotlib   # once
/opt/frappe-bench/env/bin/python benchmarks/plot.py docs/benchmarks/speed.csv docs/benchmarks/speed.png
/opt/frappe-bench/env/bin/python benchmarks/plot.py docs/benchmarks/scale.csv docs/benchmarks/scale.png
"""

from __future__ import annotations

import csv
import statistics
import sys
from collections import Counter, defaultdict
from pathlib import Path


def main(source: str, target: str) -> None:
	import matplotlib

	matplotlib.use("Agg")
	import matplotlib.pyplot as plt

	lines = Path(source).read_text().splitlines()
	machine = lines[0].lstrip("# ").strip() if lines and lines[0].startswith("#") else ""
	rows = list(csv.DictReader(line for line in lines if not line.startswith("#")))
	if rows and "benchmark" in rows[0]:
		return plot_scale(plt, rows, machine, target)
	rates: dict[str, list[float]] = defaultdict(list)
	ratios: dict[str, list[float]] = defaultdict(list)
	for row in rows:
		rates[row["scenario"]].append(float(row["records_per_s"]))
		if row["ratio_to_loop"]:
			ratios[row["scenario"]].append(float(row["ratio_to_loop"]))
	scenarios = list(rates)
	medians = [statistics.median(rates[s]) for s in scenarios]

	fig, ax = plt.subplots(figsize=(9, 4.5))
	bars = ax.bar(scenarios, medians, color="#5e64ff")
	for i, scenario in enumerate(scenarios):
		ax.scatter([i] * len(rates[scenario]), rates[scenario], color="#1f272e", s=12, zorder=3)
	for bar, scenario in zip(bars, scenarios, strict=True):
		ratio = statistics.median(ratios[scenario]) if ratios[scenario] else None
		label = f"{bar.get_height():.0f}/s" + (f"\n{ratio:.2f}× loop" if ratio else "")
		top = max(bar.get_height(), *rates[scenario])
		ax.annotate(label, (bar.get_x() + bar.get_width() / 2, top * 1.02), ha="center", va="bottom")
	ax.set_ylabel("records per second (median; dots: rounds)")
	ax.set_title(f"Changing {rows[0]['records']} ToDos\n{machine}", fontsize=9)
	ax.set_ylim(0, max(max(v) for v in rates.values()) * 1.3)
	fig.tight_layout()
	fig.savefig(target, dpi=110)
	print(f"wrote {target}")


def plot_scale(plt, rows: list[dict], machine: str, target: str) -> None:
	"""Records per second of every timed scenario of ``scale.py`` (log scale: from a save loop to raw
	SQL), medians of the rounds."""
	rates: dict[str, list[float]] = defaultdict(list)
	# Rows kept from an earlier run (scale.py keeps what a partial run did not repeat) are starred.
	runs = Counter(row.get("run") or machine for row in rows)
	latest = max(runs, key=lambda run: run.rsplit("; ", 1)[-1]) if runs else machine
	earlier = sorted({row.get("run") or machine for row in rows} - {latest})
	for row in rows:
		if row["records_per_s"] and int(row["records"]) > 1 and not row["scenario"].startswith("enqueue"):
			star = " *" if (row.get("run") or machine) != latest else ""
			rates[f"{row['scenario']}{star}\n({int(row['records']):,})"].append(float(row["records_per_s"]))
	labels = sorted(rates, key=lambda k: statistics.median(rates[k]))
	medians = [statistics.median(rates[k]) for k in labels]
	fig, ax = plt.subplots(figsize=(10, 0.45 * len(labels) + 1.5))
	bars = ax.barh(labels, medians, color="#5e64ff")
	ax.set_xscale("log")
	for bar, value in zip(bars, medians, strict=True):
		ax.annotate(f" {value:,.0f}/s", (value, bar.get_y() + bar.get_height() / 2), va="center", fontsize=8)
	ax.set_xlabel("records per second (median of rounds, log scale)")
	ax.set_title(f"bulk_queue at scale\n{latest}", fontsize=9)
	if earlier:
		fig.text(0.01, 0.005, "* an earlier run: " + " | ".join(earlier), fontsize=7)
	ax.tick_params(axis="y", labelsize=7)
	ax.set_xlim(right=max(medians) * 8)
	fig.tight_layout()
	fig.savefig(target, dpi=110)
	print(f"wrote {target}")


if __name__ == "__main__":
	main(*sys.argv[1:3])
