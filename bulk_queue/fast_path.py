# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""``set_value_fast``: set the same field values on many records with batched SQL.

It skips controllers, validation, Version history, notifications and realtime list updates - that is
what makes it fast. What it keeps: the requesting user's permissions (role, "if owner", user
permissions, sharing, ``has_permission`` hooks), their permlevels, ``modified``/``modified_by``, an
outcome per record (not found, no permission, not a draft), and the document cache.

It is refused up front where skipping the controller would leave data wrong: DocTypes whose controllers
maintain other data (``UNSAFE_DOCTYPES``, extendable by apps with the ``bulk_queue_fast_path_unsafe``
hook), fields other fields fetch from (they would go stale), fetched fields (the next save overwrites
them), a tree's parent field (``lft``/``rgt`` would not follow) and a workflow's state field (its
transitions would be bypassed). Submitted and cancelled documents are failed per record: only drafts
change.
"""

from __future__ import annotations

import frappe
import frappe.permissions
import frappe.share
from frappe import _, _lt
from frappe.utils import cint, cstr, flt, get_datetime, getdate, now_datetime

from bulk_queue.transaction import callback_marks as _callback_marks
from bulk_queue.transaction import drop_callbacks_after as _drop_callbacks_after

# DocTypes whose controllers keep other data in step (caches, files, schedules, the schema); changing
# their rows with SQL would leave that data wrong.
_SCHEMA = _lt("its controller migrates the database table or clears cached metadata")
_PERMISSIONS = _lt("its controller clears permission caches")
_CACHED = _lt("its controller refreshes what is cached or scheduled from it")
UNSAFE_DOCTYPES = {
	"User": _lt("its controller maintains passwords, roles and sessions"),
	"File": _lt("its controller keeps the file on disk in step"),
	"Email Account": _lt("its controller keeps passwords and mail server connections"),
	**dict.fromkeys(
		("DocType", "DocField", "Custom Field", "Property Setter", "Module Def", "Report", "Workspace"),
		_SCHEMA,
	),
	**dict.fromkeys(("DocPerm", "Custom DocPerm", "Role", "Has Role", "User Permission"), _PERMISSIONS),
	**dict.fromkeys(
		(
			"Workflow",
			"Server Script",
			"Client Script",
			"Scheduled Job Type",
			"Print Format",
			"Web Page",
			"Web Form",
			"Notification",
			"Translation",
			"Assignment Rule",
			"Auto Repeat",
		),
		_CACHED,
	),
}
# Field types whose value lives partly elsewhere: passwords in __Auth, attachments in File records.
_UNSAFE_FIELDTYPES = ("Password", "Attach", "Attach Image", "Signature")

_NUMBERS = {"Int": cint, "Check": cint, "Float": flt, "Currency": flt, "Percent": flt}


def check(meta, values: dict, user: str) -> dict:
	"""Refuse what the fast path cannot do safely; return ``values`` cast to the fields' types.

	Runs once, at enqueue, for the whole job (after ``fields.check_values``: known, writable fields
	within the user's permlevels): every record gets the same values, so a Link that does not exist or
	an option that is not offered is refused here rather than written a million times, and HTML is
	sanitized here as a save would.
	"""
	reason = unsafe_doctypes().get(meta.name)
	if reason:
		_refuse(_("{0} cannot be changed without its controller: {1}.").format(_(meta.name), reason))
	workflow_field = _workflow_state_field(meta.name)
	cast = {}
	for fieldname, value in values.items():
		df = meta.get_field(fieldname)
		label = frappe.bold(_(df.label or fieldname))
		if df.fieldtype in _UNSAFE_FIELDTYPES:
			_refuse(_("{0} ({1}) is stored by its controller; use Set Value.").format(label, _(df.fieldtype)))
		if df.fetch_from:
			_refuse(
				_("{0} is fetched from {1} whenever a record is saved; change {1} instead.").format(
					label, frappe.bold(df.fetch_from)
				)
			)
		dependants = [d.fieldname for d in meta.fields if (d.fetch_from or "").startswith(f"{fieldname}.")]
		if dependants:
			_refuse(
				_("{0} is fetched into {1} on save, which the fast path skips; use Set Value.").format(
					label, ", ".join(frappe.bold(d) for d in dependants)
				)
			)
		if meta.get("is_tree") and fieldname == (meta.get("nsm_parent_field") or ""):
			_refuse(_("Moving records in a tree needs their controller; use Set Value."))
		if workflow_field and fieldname == workflow_field:
			_refuse(_("{0} follows the workflow's transitions; use Set Value.").format(label))
		cast[fieldname] = _sanitize(df, _cast(df, value, label))
	return cast


def unsafe_doctypes() -> dict[str, str]:
	"""``UNSAFE_DOCTYPES`` plus those apps declare in ``bulk_queue_fast_path_unsafe`` hooks."""
	found = dict(UNSAFE_DOCTYPES)
	for doctype, reasons in (frappe.get_hooks("bulk_queue_fast_path_unsafe") or {}).items():
		reason = reasons[-1] if isinstance(reasons, list) else reasons
		found[doctype] = str(reason or _("an installed app requires its controller"))
	return found


def apply_batch(doctype: str, names: list[str], values: dict, user: str) -> dict[str, tuple[str, str]]:
	"""Set ``values`` on the records ``names`` that ``user`` may write and that are drafts.

	Returns the failures: ``{name: (exception type, message)}``; every other name was updated. Runs in
	the caller's transaction (the worker commits it with the chunk's watermark).
	"""
	meta = frappe.get_meta(doctype)
	check = _WriteCheck(meta, user)
	if check.row_independent and _write_all(doctype, names, values, user):
		return {}
	# Locked, so a record submitted by someone else meanwhile waits for this batch, or is seen submitted.
	rows = {
		_key(row.name): row
		for row in frappe.db.sql(
			f"select {check.columns} from `tab{doctype}` where name in %s for update", [names], as_dict=True
		)
	}
	failures: dict[str, tuple[str, str]] = {}
	allowed: list[str] = []
	for name in names:
		row = rows.get(_key(name))
		if row is None:
			failures[name] = ("DoesNotExistError", _("{0} {1} not found").format(_(doctype), name))
		elif row.docstatus != 0:
			failures[name] = (
				"ValidationError",
				_("{0} {1} is submitted or cancelled; the fast path changes only drafts.").format(
					_(doctype), name
				),
			)
		elif not check.allows(row):
			failures[name] = (
				"PermissionError",
				_("User {0} does not have permission to write {1} {2}").format(user, _(doctype), name),
			)
		else:
			allowed.append(row.name)
	if allowed:
		write(doctype, allowed, values, user)
	return failures


def _write_all(doctype: str, names: list[str], values: dict, user: str) -> bool:
	"""Update every record of ``names`` without reading them first; False (and nothing changed) when
	the statement did not change exactly that many rows: one is gone, not a draft, or named twice.

	Only for a batch whose permission does not depend on the record (see ``_WriteCheck``): then the
	only per-record outcomes left are "not found" and "not a draft", and when the row count says there
	are none, the read that would find them is saved. Otherwise the caller takes the reading path.
	The document cache is cleared under the names as given, as ``frappe.db.set_value`` does.
	"""
	savepoint = "bq_fast_all"
	frappe.db.savepoint(savepoint)
	marks = _callback_marks()
	changed = write(doctype, names, values, user)
	if changed == len(names):
		frappe.db.release_savepoint(savepoint)
		return True
	frappe.db.rollback(save_point=savepoint)
	_drop_callbacks_after(marks)
	return False


class _WriteCheck:
	"""Whether ``user`` may write a record, as ``frappe.has_permission(doctype, "write", doc)`` decides
	(role and "if owner" permissions, ``has_permission`` hooks, User Permissions, then sharing), but
	evaluated per batch where it can be: role permissions depend only on whether the user owns the
	record, so they are computed twice per batch; hooks run per record on the record's row; a user
	with User Permissions gets Frappe's full check per record."""

	def __init__(self, meta, user: str) -> None:
		self.meta = meta
		self.user = user
		self.admin = user == "Administrator"
		self.hooks = _has_permission_hooks(meta.name)
		self.user_permissions = not self.admin and _has_user_permissions(user)
		self.by_role = {owner: self._role_allows(owner) for owner in (True, False)}
		# Allowed whatever the record holds: no hook, no User Permission, the role allows owners and
		# others alike (sharing can only add to that).
		self.row_independent = self.admin or (
			not self.hooks and not self.user_permissions and all(self.by_role.values())
		)
		full_rows = not self.admin and (self.hooks or self.user_permissions)
		self.columns = "*" if full_rows else "name, owner, docstatus"

	def allows(self, row: frappe._dict) -> bool:
		if self.admin:
			return True
		if self.user_permissions:
			allowed = self._frappe_check(row)
		else:
			allowed = self.by_role[(row.owner or "").lower() == self.user.lower()]
			if allowed and self.hooks:
				# Frappe's own evaluation of the hooks (their order and meaning differ across versions).
				allowed = frappe.permissions.has_controller_permissions(
					self._doc(row), "write", user=self.user
				)
		return allowed or self._shared(row)

	def _role_allows(self, is_owner: bool) -> bool:
		# As frappe.permissions.get_doc_permissions: "if owner" rules override the role's own.
		perms = frappe.permissions.get_role_permissions(self.meta, user=self.user, is_owner=is_owner)
		allowed = perms.get("write")
		if perms.get("has_if_owner_enabled"):
			allowed = perms.get("if_owner", {}).get("write", allowed)
		return bool(allowed)

	def _frappe_check(self, row: frappe._dict) -> bool:
		doc = self._doc(row)
		return bool(frappe.permissions.get_doc_permissions(doc, user=self.user, ptype="write").get("write"))

	def _doc(self, row: frappe._dict):
		"""The record as a Document: built from its row, or loaded with its child tables when the
		DocType has any (hooks and User Permissions may look into them)."""
		if self.meta.get_table_fields():
			return frappe.get_doc(self.meta.name, row.name)
		return frappe.get_doc({**row, "doctype": self.meta.name})

	def _shared(self, row: frappe._dict) -> bool:
		return bool(
			frappe.share.get_shared(
				self.meta.name, self.user, rights=["write"], filters=[["share_name", "=", row.name]], limit=1
			)
		)


def apply_one(doc, values: dict) -> None:
	"""The same for one loaded document (its permission already checked by the worker)."""
	if frappe.db.get_value(doc.doctype, doc.name, "docstatus", for_update=True) != 0:
		frappe.throw(
			_("{0} {1} is submitted or cancelled; the fast path changes only drafts.").format(
				_(doc.doctype), doc.name
			)
		)
	write(doc.doctype, [doc.name], values, frappe.session.user)


def write(doctype: str, names: list[str], values: dict, user: str) -> int:
	"""One ``UPDATE … WHERE name IN (…)`` of the draft records ``names``, with ``modified`` and
	``modified_by``, and their document cache cleared after commit (or rollback); returns how many
	rows it changed (every row it matches changes: ``modified`` does).

	Not ``frappe.db.bulk_update`` (later Frappe versions): it writes a value per record with a
	``CASE`` for each, while every record here gets the same values - one plain statement is the
	fastest way there is.
	"""
	meta = frappe.get_meta(doctype)
	changes = {**values, "modified": now_datetime(), "modified_by": user}
	for fieldname in values:
		# Checked at enqueue (fields.check_values); checked again as the statement is built from them.
		if not meta.has_field(fieldname):
			frappe.throw(_("{0} is not a field of {1}.").format(fieldname, doctype))
	assignments = ", ".join(f"`{fieldname}`=%s" for fieldname in changes)
	frappe.db.sql(
		f"update `tab{doctype}` set {assignments} where name in %s and docstatus=0",
		(*changes.values(), names),
	)
	changed = frappe.db.sql("select row_count()")[0][0]
	_clear_document_cache(doctype, names)
	return changed


def _has_permission_hooks(doctype: str) -> bool:
	hooks = frappe.get_hooks("has_permission") or {}
	return bool(hooks.get(doctype) or hooks.get("*"))


def _key(name) -> str:
	"""Names compare as MariaDB compares them: case-insensitively, and as text (autoincrement)."""
	return cstr(name).casefold()


def _has_user_permissions(user: str) -> bool:
	from frappe.core.doctype.user_permission.user_permission import get_user_permissions

	return bool(get_user_permissions(user))


def _clear_document_cache(doctype: str, names: list[str]) -> None:
	"""Forget the records' cached documents once the change is committed (or rolled back), as
	``frappe.clear_document_cache`` does, with one Redis call per batch instead of two per record."""
	key_of = getattr(frappe, "get_document_cache_key", None)
	if not key_of:
		for name in names:
			frappe.clear_document_cache(doctype, name)
		return
	# What frappe.cache.make_key makes of each key, without its per-call lookups (a thousand a batch).
	prefix = frappe.cache.make_key(key_of(doctype, ""))
	keys = [prefix + cstr(name).encode() for name in names]

	def clear():
		frappe.cache.delete_value(keys, make_keys=False)

	frappe.db.after_commit.add(clear)
	frappe.db.after_rollback.add(clear)


def _workflow_state_field(doctype: str) -> str | None:
	from frappe.model.workflow import get_workflow_name

	workflow = get_workflow_name(doctype)
	return frappe.get_cached_value("Workflow", workflow, "workflow_state_field") if workflow else None


def _cast(df, value, label: str):
	"""``value`` as the field stores it; a clear error when it cannot be."""
	if value in (None, ""):
		if df.reqd:
			_refuse(_("{0} is mandatory.").format(label))
		return None if df.fieldtype not in _NUMBERS else 0
	try:
		if df.fieldtype in _NUMBERS:
			text = str(value).strip()
			whole = df.fieldtype in ("Int", "Check")
			if isinstance(value, bool) or not text.lstrip("-").replace(".", "", 0 if whole else 1).isdigit():
				raise ValueError
			if df.fieldtype == "Check" and text not in ("0", "1"):
				raise ValueError
			return _NUMBERS[df.fieldtype](text)
		if df.fieldtype == "Date":
			return getdate(value)
		if df.fieldtype == "Datetime":
			return get_datetime(value)
	except Exception:
		_refuse(
			_("{0} is not a valid value for {1} ({2}).").format(
				frappe.bold(str(value)), label, _(df.fieldtype)
			)
		)
	if not isinstance(value, str):
		_refuse(_("{0} must be text.").format(label))
	if df.fieldtype == "Link" and not frappe.db.exists(df.options, value):
		_refuse(_("{0} {1} does not exist.").format(_(df.options), frappe.bold(value)))
	if df.fieldtype == "Select":
		options = [o for o in (df.options or "").split("\n")]
		if value not in options:
			_refuse(_("{0} is not one of the options of {1}.").format(frappe.bold(value), label))
	if df.fieldtype == "Data" and len(value) > (cint(df.length) or 140):
		_refuse(_("{0} is longer than {1} characters.").format(label, cint(df.length) or 140))
	return value


def _sanitize(df, value):
	"""What ``BaseDocument._sanitize_content`` does to a draft's value on save (XSS filter)."""
	if not isinstance(value, str) or ("<" not in value and ">" not in value):
		return value
	if (
		df.get("ignore_xss_filter")
		or (df.fieldtype in ("Data", "Small Text", "Text") and df.get("options") == "Email")
		or df.fieldtype in ("Attach", "Attach Image", "Barcode", "Code")
	):
		return value
	from frappe.utils.html_utils import sanitize_html

	return sanitize_html(value, linkify=df.fieldtype == "Text Editor")


def _refuse(message: str) -> None:
	frappe.throw(message, title=_("Set Value (fast) refused"))
