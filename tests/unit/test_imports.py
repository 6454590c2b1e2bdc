# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""The package's modules form no import cycle, counting imports inside functions: a lower layer never
reaches up into a higher one, even lazily. Reads the source only (no frappe needed)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "bulk_queue"


def _modules() -> dict[str, Path]:
	found = {}
	for path in PACKAGE.rglob("*.py"):
		parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
		if parts[-1] == "__init__":
			parts.pop()
		found[".".join(parts)] = path
	return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
	"""The package's modules ``name`` imports anywhere in its source (the package itself excluded)."""
	package = name if path.name == "__init__.py" else name.rpartition(".")[0]
	targets = set()
	for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
		if isinstance(node, ast.Import):
			targets.update(alias.name for alias in node.names)
		elif isinstance(node, ast.ImportFrom):
			base = node.module or ""
			if node.level:
				anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
				base = ".".join([*anchor, base] if base else anchor)
			targets.update(
				f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names
			)
	found = set()
	for target in targets:
		while target and target not in known:
			target = target.rpartition(".")[0]
		if target and target != name and target != "bulk_queue" and not name.startswith(target + "."):
			found.add(target)
	return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
	"""Strongly connected groups of more than one module (Tarjan)."""
	index: dict[str, int] = {}
	low: dict[str, int] = {}
	stack: list[str] = []
	on_stack: set[str] = set()
	groups: list[list[str]] = []

	def visit(node: str) -> None:
		index[node] = low[node] = len(index)
		stack.append(node)
		on_stack.add(node)
		for nxt in sorted(graph[node]):
			if nxt not in index:
				visit(nxt)
				low[node] = min(low[node], low[nxt])
			elif nxt in on_stack:
				low[node] = min(low[node], index[nxt])
		if low[node] == index[node]:
			group = []
			while True:
				member = stack.pop()
				on_stack.discard(member)
				group.append(member)
				if member == node:
					break
			if len(group) > 1:
				groups.append(sorted(group))

	for node in sorted(graph):
		if node not in index:
			visit(node)
	return groups


def test_the_package_has_no_import_cycle():
	"""No two modules of bulk_queue need each other, directly or round a loop."""
	modules = _modules()
	graph = {name: _imports(name, path, set(modules)) for name, path in modules.items()}
	assert len(graph) > 40, "the package was not found"
	assert _cycles(graph) == []


def test_the_checker_finds_a_cycle():
	"""The checker itself sees a loop of three."""
	assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
