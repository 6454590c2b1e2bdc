# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Rename: records renamed through Frappe's own ``rename_doc``, as the requester - the DocType's
Allow Rename, their write permission, ``before_rename`` / ``after_rename``, and every Link, Dynamic
Link, child row, attachment, version and comment that points at the record.

Values: ``{"renames": {"old name": "new name", ...}, "merge": false}`` (or ``renames`` as a two-column
CSV text or a list of pairs). The records are the old names: a request gives no filters, and ids, if
given, must be the same names. With ``merge`` each record is merged into the existing one of the new
name (and deleted, so it also needs delete permission), as Frappe's Rename Tool does.

Exactly once: a rename and all its link updates run in the record's savepoint, in the transaction
that carries the chunk's watermark. A rename that committed is never repeated (its record is past the
watermark); one that did not commit left nothing behind and is done again. A failed rename is rolled
back whole - never some links pointing at the old name and some at the new.

Unlike Frappe's Rename Tool (500 rows, one request): any number, in chunks, paused and resumed. What
each rename clears from the cache (Frappe clears the whole site's) is cleared once per commit, after
it, and the DocType's global search is rebuilt once per commit (Frappe queues one per rename).
"""

from __future__ import annotations

import csv
import io
import threading
from contextlib import contextmanager

import frappe
from frappe import _

from bulk_queue.actions.base import Action, Renamed

MAX_NAME = 140


def parse_renames(renames) -> dict[str, str]:
	"""``renames`` as ``{old: new}``: from a dict, a list of pairs, or CSV text (two columns; a
	header row "old,new" or similar is skipped when its first name is not a record's)."""
	if isinstance(renames, str):
		rows = [row for row in csv.reader(io.StringIO(renames.strip())) if any(c.strip() for c in row)]
		renames = rows
	if isinstance(renames, list | tuple):
		pairs = {}
		for row in renames:
			if not isinstance(row, list | tuple) or len(row) < 2:
				frappe.throw(_("Each rename needs two columns: the old name and the new name."))
			pairs[str(row[0]).strip()] = str(row[1]).strip()
		renames = pairs
	if not isinstance(renames, dict) or not renames:
		frappe.throw(
			_('Rename needs values: {"renames": {"old name": "new name"}}, or two columns of names.')
		)
	clean = {}
	for old, new in renames.items():
		if not isinstance(old, str | int) or not isinstance(new, str | int):
			frappe.throw(_("Names must be text."))
		old, new = str(old).strip(), str(new).strip()
		if not old or not new:
			frappe.throw(_("Each rename needs an old and a new name; one of them is empty."))
		if len(old) > MAX_NAME or len(new) > MAX_NAME:
			frappe.throw(
				_("Names are at most {0} characters: {1}").format(
					MAX_NAME, (old if len(old) > MAX_NAME else new)[:40]
				)
			)
		clean[old] = new
	return clean


def check(meta, values: dict, user: str) -> dict:
	if set(values) - {"renames", "merge"}:
		frappe.throw(_("Rename takes only renames and merge."))
	if meta.name == "DocType" or meta.issingle:
		frappe.throw(_("{0} records are not renamed in bulk.").format(_(meta.name)))
	if not meta.allow_rename:
		frappe.throw(
			_("{0} does not allow renaming (Allow Rename is off in its DocType).").format(_(meta.name)),
			title=_("Not Allowed"),
		)
	merge = values.get("merge") in (True, 1, "1", "true", "True")
	renames = parse_renames(values.get("renames"))
	header = next(iter(renames))
	if header.lower() in ("old", "old name", "old_name", "name") and not frappe.db.exists(meta.name, header):
		renames.pop(header)  # a CSV's header row
		if not renames:
			frappe.throw(_("Rename needs at least one old name and new name."))
	same = next((old for old, new in renames.items() if old == new), None)
	if same:
		frappe.throw(_("{0} would be renamed to itself.").format(frappe.bold(same)))
	olds = {old.casefold() for old in renames}
	chained = next((new for new in renames.values() if new.casefold() in olds), None)
	if chained:
		frappe.throw(
			_(
				"{0} is both a record to rename and a new name. Renames in a chain or a swap depend on their order: make them in two jobs."
			).format(frappe.bold(chained)),
			title=_("Invalid Values"),
		)
	if not merge:
		seen = set()
		for new in renames.values():
			if new.casefold() in seen:
				frappe.throw(
					_(
						"{0} is the new name of more than one record; to merge them into it, set merge."
					).format(frappe.bold(new)),
					title=_("Invalid Values"),
				)
			seen.add(new.casefold())
	if merge and not frappe.has_permission(meta.name, "delete", user=user):
		frappe.throw(
			_("Merging deletes the merged records: you need delete permission on {0}.").format(_(meta.name)),
			frappe.PermissionError,
		)
	return {"renames": renames, "merge": merge}


def selects(values: dict) -> list[str]:
	"""The records a rename job processes: the old names, in the order given."""
	return list(values["renames"])


def apply(doc, values: dict) -> Renamed:
	renames = values["renames"]
	new = renames.get(doc.name)
	if new is None:  # the database's case of the name differs from the request's
		new = next(v for k, v in renames.items() if k.casefold() == str(doc.name).casefold())
	from frappe.model.rename_doc import rename_doc

	with _site_cache_cleared_on_commit(doc.doctype):
		new = rename_doc(
			doctype=doc.doctype,
			old=doc.name,
			new=new,
			merge=bool(values.get("merge")),
			show_alert=False,
			rebuild_search=False,
			doc=doc,
		)
	return Renamed(new)


_local = threading.local()


@contextmanager
def _site_cache_cleared_on_commit(doctype: str):
	"""Frappe's ``rename_doc`` clears the whole site's cache (every key in Redis) and queues a rebuild
	of the DocType's global search, per record. Here both happen once per commit, after it - when
	other processes can see the new names at all; this process's own request cache is cleared at
	once. Only this thread's calls are deferred (``frappe.clear_cache`` is wrapped once per process,
	the way ``transaction.enqueues_after_commit`` wraps ``enqueue``)."""
	_install_clear_cache_guard()
	previous = getattr(_local, "doctype", None)
	_local.doctype = doctype
	try:
		yield
	finally:
		_local.doctype = previous


def _install_clear_cache_guard() -> None:
	if getattr(frappe.clear_cache, "_bulk_queue_rename", False):
		return
	original = frappe.clear_cache

	def clear_cache(user=None, doctype=None):
		renaming = getattr(_local, "doctype", None)
		if renaming and not user and not doctype:
			frappe.local.cache = {}
			_after_commit(_commit_callback(renaming))
			return None
		return original(user=user, doctype=doctype)

	clear_cache._bulk_queue_rename = True
	clear_cache.__wrapped__ = original
	frappe.clear_cache = clear_cache


def _real_clear_cache() -> None:
	clear = frappe.clear_cache
	getattr(clear, "__wrapped__", clear)()


_callbacks: dict[str, object] = {}


def _commit_callback(doctype: str):
	"""One callback per DocType (so adding it again in the same transaction is a no-op). It must not
	raise: it runs inside ``frappe.db.commit()``, after the COMMIT, before the callbacks behind it."""
	if doctype not in _callbacks:

		def after_commit():
			try:
				_real_clear_cache()
				frappe.enqueue(
					"frappe.utils.global_search.rebuild_for_doctype",
					doctype=doctype,
					job_id=f"bulk_queue:rebuild_search:{doctype}",
					deduplicate=True,
				)
			except Exception:
				frappe.log_error(title=f"bulk_queue: after renaming {doctype} records")

		_callbacks[doctype] = after_commit
	return _callbacks[doctype]


def _after_commit(function) -> None:
	callbacks = frappe.db.after_commit
	if function not in getattr(callbacks, "_functions", ()):
		callbacks.add(function)


def form(meta, user: str, selection: dict) -> list[dict]:
	return [
		{
			"fieldtype": "Code",
			"fieldname": "renames",
			"label": _("Renames"),
			"reqd": 1,
			"description": _(
				"One rename per line: the old name, a comma, the new name (a CSV of two columns). These records are renamed, whatever is selected in the list."
			),
		},
		{
			"fieldtype": "Check",
			"fieldname": "merge",
			"label": _("Merge with existing"),
			"description": _(
				"Merge each record into the existing record of its new name (it is then deleted)."
			),
		},
	]


ACTION = Action(
	"rename",
	"write",
	apply,
	label="Rename",
	check=check,
	selects=selects,
	form=form,
)
