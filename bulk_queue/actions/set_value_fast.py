# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""``set_value_fast``: set the same field values on many records with batched SQL.

It skips controllers, validation, Version history, notifications and realtime list updates - that is
what makes it fast, and why it is a power tool: only System Managers (and the roles Bulk Queue Settings
name for it) may use it, and ``skipped`` names what it skips on a DocType. What it keeps: the requesting
user's permissions (role, "if owner", User Permissions, sharing, ``has_permission`` hooks) on each
record as it is and as it will be with the new values - as a save checks them -, their permlevels,
``modified``/``modified_by``, an outcome per record (not found, no permission, not a draft), and the
document cache.

It is refused up front where skipping the controller would leave data wrong or let through what a save
refuses: DocTypes whose controllers keep other data in step (``UNSAFE_DOCTYPES``, extendable by apps
with the ``bulk_queue_fast_path_unsafe`` hook), fields a controller mirrors into other records
(``UNSAFE_FIELDS``), fields a person cannot type into on the form (read-only, hidden, virtual, "Read
Only"), fields that can be set only once, fields other fields fetch from (they would go stale), fetched
fields (the next save overwrites them), a tree's structure (``lft``, ``rgt``, ``old_parent``, the parent
field, ``is_group``), a workflow's state field (its transitions would be bypassed), and fields whose
value lives elsewhere (Password, Attach, Signature). Submitted and cancelled documents are failed per
record: only drafts change.
"""

from __future__ import annotations

import functools
import inspect

import frappe
import frappe.permissions
import frappe.share
from frappe import _, _lt
from frappe.utils import cint, cstr, flt, get_datetime, getdate, now_datetime

from bulk_queue.actions.base import Action, value_keys
from bulk_queue.fields import tree_structure_fields
from bulk_queue.transaction import callback_marks as _callback_marks
from bulk_queue.transaction import drop_callbacks_after as _drop_callbacks_after

# DocTypes whose controllers keep other data in step on every save (caches, files, schedules, the
# schema, permissions, other records, other systems); changing their rows with SQL would leave that data
# wrong. Built by reading the save-time methods (validate, before_save, on_update, on_change, clear_cache,
# db_update ...) of every Frappe v15.44 DocType that is not a child table or a single, and the
# differences in v16; README ("The fast path") says how. Apps add theirs with the
# ``bulk_queue_fast_path_unsafe`` hook.
_NO_TABLE = _lt("it is virtual: it has no table to update")
_SCHEMA = _lt("its controller changes the database schema or clears cached metadata")
_APP_FILES = _lt("its controller writes files into the app (standard records, compiled assets)")
_PERMISSIONS = _lt("its controller clears permission caches or rewrites users' roles")
_RULES = _lt("its controller clears the cache its rules or settings are read from")
_WEBSITE = _lt("its controller clears the website cache or rewrites routes")
_OTHER_ROWS = _lt("its controller keeps other records in step with it")
_OUTSIDE = _lt("its controller keeps another system or the files on disk in step")
UNSAFE_DOCTYPES = {
	**dict.fromkeys(("RQ Job", "RQ Worker", "Recorder"), _NO_TABLE),
	**dict.fromkeys(
		(
			"DocType",
			"DocField",
			"Custom Field",
			"Property Setter",
			"Client Script",
			"Workflow",
			"Kanban Board",
			"Print Format",
			"Module Def",
			"Module Profile",
			"Permission Type",
		),
		_SCHEMA,
	),
	**dict.fromkeys(
		(
			"Page",
			"Report",
			"Dashboard Chart Source",
			"Number Card",
			"Module Onboarding",
			"Print Style",
			"Print Format Field Template",
			"Desktop Icon",
			"Package Release",
			"Package Import",
		),
		_APP_FILES,
	),
	**dict.fromkeys(
		(
			"User",
			"Role",
			"Has Role",
			"DocPerm",
			"Custom DocPerm",
			"User Permission",
			"User Type",
			"Role Profile",
		),
		_PERMISSIONS,
	),
	**dict.fromkeys(
		(
			"Assignment Rule",
			"Document Naming Rule",
			"Energy Point Rule",
			"Milestone Tracker",
			"Notification",
			"Notification Settings",
			"Webhook",
			"Server Script",
			"Scheduled Job Type",
			"Translation",
			"Language",
			"Currency",
			"Letter Head",
			"Dashboard Chart",
			"Form Tour",
			"Workspace",
			"Auto Repeat",
		),
		_RULES,
	),
	**dict.fromkeys(
		(
			"Web Page",
			"Web Form",
			"Web Template",
			"Website Slideshow",
			"Website Theme",
			"Website Route Meta",
			"Blog Post",
			"Blog Category",
			"Blogger",
			"Help Article",
			"Help Category",
			"Newsletter",
		),
		_WEBSITE,
	),
	**dict.fromkeys(("Communication", "Email Unsubscribe", "Note", "Tag Link"), _OTHER_ROWS),
	**dict.fromkeys(("File", "Event", "Email Account", "Email Domain"), _OUTSIDE),
}
# Fields a DocType's controller mirrors into other records on save; the rest of the DocType is safe.
UNSAFE_FIELDS = {
	# ToDo.on_update -> update_in_reference(): the referenced document's _assign follows its open ToDos.
	"ToDo": dict.fromkeys(
		("status", "allocated_to", "reference_type", "reference_name"),
		_lt("its controller rewrites the assignments (_assign) of the document it refers to"),
	),
	# Comment.on_update -> update_comment_in_doc(): the referenced document's _comments.
	"Comment": dict.fromkeys(
		("content", "comment_type", "reference_doctype", "reference_name", "comment_email"),
		_lt("its controller copies the comment into the document it refers to"),
	),
	# Address.validate -> update_preferred_address(); Address Template / Dashboard.on_update.
	"Address": dict.fromkeys(
		("is_primary_address", "is_shipping_address"),
		_lt("its controller unsets the flag on the party's other addresses"),
	),
	"Address Template": {"is_default": _lt("its controller unsets the other default")},
	"Dashboard": {"is_default": _lt("its controller unsets the other default")},
	# The Contact on_update hook pushes these to Google Contacts.
	"Contact": dict.fromkeys(
		("first_name", "middle_name", "last_name", "sync_with_google_contacts", "google_contacts"),
		_lt("a hook syncs it to Google Contacts"),
	),
	"Discussion Reply": {"reply": _lt("its controller pushes the edited reply to open pages")},
}
# Field types whose value lives partly elsewhere: passwords in __Auth, attachments in File records.
_UNSAFE_FIELDTYPES = ("Password", "Attach", "Attach Image", "Signature")

_NUMBERS = {"Int": cint, "Check": cint, "Float": flt, "Currency": flt, "Percent": flt}


def check(meta, values: dict, user: str) -> dict:
	"""Refuse what the fast path cannot do safely; return ``values`` cast to the fields' types.

	Runs once, at enqueue, for the whole job (after ``fields.check_values``: known, writable fields
	within the user's permlevels, Link values their User Permissions allow): every record gets the same
	values, so a Link that does not exist or an option that is not offered is refused here rather than
	written a million times, and HTML is sanitized here as a save would.
	"""
	reason = unsafe_doctypes().get(meta.name)
	if reason:
		_refuse(_("{0} cannot be changed without its controller: {1}.").format(_(meta.name), reason))
	refused = field_refusals(meta, values)
	if refused:
		_refuse(next(iter(refused.values())))
	return {
		fieldname: _sanitize(meta.get_field(fieldname), _cast(meta.get_field(fieldname), value))
		for fieldname, value in values.items()
	}


def field_refusals(meta, fieldnames) -> dict[str, str]:
	"""``{fieldname: why the fast path refuses it}`` for those of ``fieldnames`` it cannot set on
	``meta``'s DocType (the dialog offers the others)."""
	workflow_field = _workflow_state_field(meta.name)
	unsafe_fields = unsafe_fields_of(meta.name)
	tree_fields = tree_structure_fields(meta)
	refused = {}
	for fieldname in fieldnames:
		df = meta.get_field(fieldname)
		if not df:
			continue
		label = frappe.bold(_(df.label or fieldname))
		reason = None
		if fieldname in unsafe_fields:
			reason = _("{0} cannot be changed without its controller: {1}.").format(
				label, unsafe_fields[fieldname]
			)
		elif fieldname in tree_fields:
			reason = _("{0} is part of the tree's structure, which only its controller keeps right.").format(
				label
			)
		elif df.fieldtype in _UNSAFE_FIELDTYPES:
			reason = _("{0} ({1}) is stored by its controller.").format(label, _(df.fieldtype))
		elif df.fieldtype == "Dynamic Link":
			reason = _("{0} links to a DocType named in another field; a save checks the pair.").format(label)
		elif df.fetch_from:
			reason = _("{0} is fetched from {1} whenever a record is saved; change {1} instead.").format(
				label, frappe.bold(df.fetch_from)
			)
		elif df.read_only or df.fieldtype == "Read Only" or df.hidden or df.get("is_virtual"):
			reason = _(
				"{0} cannot be typed into on the form (read-only, hidden or computed): what sets it is the controller the fast path skips."
			).format(label)
		elif df.set_only_once:
			reason = _("{0} can be set only when a record is created; a save refuses to change it.").format(
				label
			)
		elif workflow_field and fieldname == workflow_field:
			reason = _("{0} follows the workflow's transitions.").format(label)
		else:
			dependants = [
				d.fieldname for d in meta.fields if (d.fetch_from or "").startswith(f"{fieldname}.")
			]
			if dependants:
				reason = _("{0} is fetched into {1} on save, which the fast path skips.").format(
					label, ", ".join(frappe.bold(d) for d in dependants)
				)
		if reason:
			refused[fieldname] = reason + " " + _("Use Set Value.")
	return refused


def unsafe_doctypes() -> dict[str, str]:
	"""``UNSAFE_DOCTYPES`` plus those apps declare in ``bulk_queue_fast_path_unsafe`` hooks
	(``{"My DocType": "why"}``)."""
	found = dict(UNSAFE_DOCTYPES)
	for doctype, reasons in (frappe.get_hooks("bulk_queue_fast_path_unsafe") or {}).items():
		found[doctype] = _hook_reason(reasons) or _("an installed app requires its controller")
	return found


def unsafe_fields_of(doctype: str) -> dict[str, str]:
	"""Fields of ``doctype`` that its controller mirrors into other records: ``UNSAFE_FIELDS`` plus
	``bulk_queue_fast_path_unsafe_fields = {"My DocType": {"field": "why"}}`` hooks."""
	found = dict(UNSAFE_FIELDS.get(doctype, {}))
	fields = (frappe.get_hooks("bulk_queue_fast_path_unsafe_fields") or {}).get(doctype) or {}
	if isinstance(fields, dict):
		for field, reasons in fields.items():
			found[field] = _hook_reason(reasons) or _("an installed app requires its controller")
	return found


def _hook_reason(reasons) -> str:
	# frappe.get_hooks merges the apps' hooks into lists: every app's reason, once each.
	if isinstance(reasons, list | tuple):
		return "; ".join(dict.fromkeys(str(r) for r in reasons if r))
	return str(reasons or "")


# Save-time methods the fast path does not run (Document.run_before_save_methods / run_post_save_methods
# and the doc events of hooks, Server Scripts, Notifications and Webhooks named after them).
SAVE_METHODS = ("before_validate", "validate", "before_save", "on_update", "on_change", "after_save")
_SERVER_SCRIPT_EVENTS = ("Before Validate", "Before Save", "After Save")
_NOTIFICATION_EVENTS = ("Save", "Value Change")


def skipped(meta) -> list[dict]:
	"""What a save of ``meta``'s DocType runs and the fast path does not, by name:
	``[{"kind", "name", "source"}]`` - the controller's save-time methods (and the class defining
	each), installed apps' ``doc_events`` for it (and for every DocType) with the app, enabled Server
	Scripts, Notifications and Webhooks on save, and Version history."""
	from frappe.model.base_document import get_controller
	from frappe.model.document import Document

	found = []
	controller = get_controller(meta.name)
	for method in SAVE_METHODS:
		owner = next((k for k in controller.__mro__ if method in k.__dict__), None)
		if owner is not None and owner is not Document and not issubclass(Document, owner):
			found.append(
				{
					"kind": "controller",
					"name": f"{owner.__name__}.{method}",
					"source": owner.__module__.split(".", 1)[0],
				}
			)
	# The DocType's own hooks first, then those for every DocType.
	for key in (meta.name, "*"):
		for app in frappe.get_installed_apps():
			events = frappe.get_hooks("doc_events", app_name=app) or {}
			for method in SAVE_METHODS:
				handlers = (events.get(key) or {}).get(method) or []
				for handler in [handlers] if isinstance(handlers, str) else handlers:
					found.append({"kind": "hook", "name": f"{method}: {handler}", "source": app})
	for kind, doctype, filters in (
		(
			"server_script",
			"Server Script",
			{
				"script_type": "DocType Event",
				"reference_doctype": meta.name,
				"disabled": 0,
				"doctype_event": ("in", _SERVER_SCRIPT_EVENTS),
			},
		),
		(
			"notification",
			"Notification",
			{"document_type": meta.name, "enabled": 1, "event": ("in", _NOTIFICATION_EVENTS)},
		),
		(
			"webhook",
			"Webhook",
			{"webhook_doctype": meta.name, "enabled": 1, "webhook_docevent": ("in", SAVE_METHODS)},
		),
	):
		names = frappe.get_all(doctype, filters=filters, pluck="name", order_by="name")
		if names and not frappe.has_permission(doctype, "read"):
			# Their names are not the requester's to read: how many there are is.
			names = [_("{0} of them").format(len(names))]
		for name in names:
			found.append({"kind": kind, "name": name, "source": doctype})
	if meta.track_changes:
		found.append({"kind": "version", "name": _("Version history (Track Changes)"), "source": "frappe"})
	return found


def apply_batch(doctype: str, names: list[str], values: dict, user: str) -> dict[str, tuple[str, str]]:
	"""Set ``values`` on the records ``names`` that ``user`` may write and that are drafts.

	Returns the failures: ``{name: (exception type, message)}``; every other name was updated. Runs in
	the caller's transaction (the worker commits it with the chunk's watermark).
	"""
	meta = frappe.get_meta(doctype)
	check = _WriteCheck(meta, user, values)
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
		elif (refusal := check.refusal(row)) is not None:
			failures[name] = ("PermissionError", refusal)
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
	"""Whether ``user`` may write a record, as Frappe's save decides: ``has_permission(doctype,
	"write", doc)`` on the record as it is and again on the record with ``values`` applied (a save
	checks after ``doc.update``: User Permissions on the new Link values, ``has_permission`` hooks
	looking at the changed fields).

	Evaluated per batch where it can be: role permissions depend only on whether the user owns the
	record (not on the values), so they are computed twice per batch; ``has_permission`` hooks run per
	record, before and after; a user with User Permissions gets Frappe's full check per record, before
	and after; sharing, looked up only where the rest refuses, can only add."""

	def __init__(self, meta, user: str, values: dict) -> None:
		self.meta = meta
		self.user = user
		self.values = values
		self.admin = user == "Administrator"
		self.hooks = not self.admin and _has_permission_hooks(meta.name)
		self.user_permissions = not self.admin and _user_permissions_apply(meta, user)
		self.per_record = self.hooks or self.user_permissions
		self.by_role = {owner: self._role_allows(owner) for owner in (True, False)}
		# Allowed whatever the record holds: no hook, no User Permission, the role allows owners and
		# others alike (sharing can only add to that).
		self.row_independent = self.admin or (not self.per_record and all(self.by_role.values()))
		self.columns = "*" if self.per_record else "name, owner, docstatus"
		self._reasons: list[str] = []

	def refusal(self, row: frappe._dict) -> str | None:
		"""Why ``user`` may not write the record ``row`` (as it is, or with the values), or None."""
		if self.admin:
			return None
		by_role = self.by_role[(row.owner or "").lower() == self.user.lower()]
		if not self.per_record:
			return None if by_role or self._shared(row) else self._message(row.name)
		doc = self._doc(row)
		if not self._allows(doc, by_role):
			return self._message(row.name)
		doc.update(self.values)
		if not self._allows(doc, by_role):
			return self._message(row.name, self._reasons) or _(
				"User {0} may not write {1} {2} with these values."
			).format(self.user, _(self.meta.name), row.name)
		return None

	def _allows(self, doc, by_role: bool) -> bool:
		if self.user_permissions:
			return self._frappe_allows(doc)
		# Role and hooks only: as Frappe's has_permission, a hook can only deny, sharing can only add.
		self._reasons = []
		if by_role and frappe.permissions.has_controller_permissions(doc, "write", user=self.user):
			return True
		return self._shared(doc)

	def _frappe_allows(self, doc) -> bool:
		# Frappe's own evaluation (role, if owner, User Permissions, hooks, then sharing), collecting
		# the reasons it gives when it refuses.
		frappe.flags.has_permission_check_logs = []
		try:
			return frappe.permissions.has_permission(
				self.meta.name, "write", doc=doc, user=self.user, **_quiet_permission_check()
			)
		finally:
			self._reasons = frappe.flags.pop("has_permission_check_logs", None) or []

	def _message(self, name: str, reasons: list[str] | None = None) -> str:
		if reasons:
			return frappe.utils.strip_html_tags("; ".join(dict.fromkeys(reasons)))
		return _("User {0} does not have permission to write {1} {2}").format(
			self.user, _(self.meta.name), name
		)

	def _role_allows(self, is_owner: bool) -> bool:
		# As frappe.permissions.get_doc_permissions: "if owner" rules override the role's own.
		perms = frappe.permissions.get_role_permissions(self.meta, user=self.user, is_owner=is_owner)
		allowed = perms.get("write")
		if perms.get("has_if_owner_enabled"):
			allowed = perms.get("if_owner", {}).get("write", allowed)
		return bool(allowed)

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
	"""The same for one loaded document (its permission as it is already checked by the worker; as it
	will be, checked here, as a save would)."""
	if frappe.db.get_value(doc.doctype, doc.name, "docstatus", for_update=True) != 0:
		frappe.throw(
			_("{0} {1} is submitted or cancelled; the fast path changes only drafts.").format(
				_(doc.doctype), doc.name
			)
		)
	doc.update(values)
	doc.check_permission("write")
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


@functools.cache
def _quiet_permission_check() -> dict:
	"""The keyword that keeps ``frappe.permissions.has_permission`` from printing (and dropping) its
	reasons: ``raise_exception=False`` on v15, ``print_logs=False`` on v16 (which removed the former)."""
	parameters = inspect.signature(frappe.permissions.has_permission).parameters
	return {"print_logs": False} if "print_logs" in parameters else {"raise_exception": False}


def _has_permission_hooks(doctype: str) -> bool:
	hooks = frappe.get_hooks("has_permission") or {}
	return bool(hooks.get(doctype) or hooks.get("*"))


def _key(name) -> str:
	"""Names compare as MariaDB compares them: case-insensitively, and as text (autoincrement)."""
	return cstr(name).casefold()


def _user_permissions_apply(meta, user: str) -> bool:
	"""Whether ``user`` has User Permissions that can decide a record of ``meta``'s DocType: on the
	DocType itself or on what one of its (or its child tables') Link fields points to."""
	from frappe.core.doctype.user_permission.user_permission import get_user_permissions

	restricted = get_user_permissions(user)
	if not restricted:
		return False
	if meta.name in restricted:
		return True
	metas = [meta, *(frappe.get_meta(df.options) for df in meta.get_table_fields())]
	return any(df.options in restricted for m in metas for df in m.get_link_fields())


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


def _cast(df, value):
	"""``value`` as the field stores it, after the checks a save makes of it; a clear error when it
	cannot be stored or a save would refuse it."""
	label = frappe.bold(_(df.label or df.fieldname))
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
			number = _NUMBERS[df.fieldtype](text)
			if df.non_negative and number < 0:
				# Document._validate_non_negative
				_refuse(_("Value cannot be negative for {0}.").format(label))
			return number
		if df.fieldtype == "Date":
			return getdate(value)
		if df.fieldtype == "Datetime":
			return get_datetime(value)
	except frappe.ValidationError:
		raise
	except Exception:
		_refuse(
			_("{0} is not a valid value for {1} ({2}).").format(
				frappe.bold(str(value)), label, _(df.fieldtype)
			)
		)
	if not isinstance(value, str):
		_refuse(_("{0} must be text.").format(label))
	if df.fieldtype == "Link":
		value = _link_target(df, value, label)
	if df.fieldtype == "Select":
		options = [o for o in (df.options or "").split("\n")]
		if value not in options:
			_refuse(_("{0} is not one of the options of {1}.").format(frappe.bold(value), label))
	if df.fieldtype == "Data" and len(value) > (cint(df.length) or 140):
		_refuse(_("{0} is longer than {1} characters.").format(label, cint(df.length) or 140))
	_validate_data_option(df, value)
	return value


def _link_target(df, value: str, label: str) -> str:
	"""The linked record's name as stored (a save corrects the letter case: User Permissions compare
	names exactly); refused when it does not exist or is cancelled (``Document._validate_links``)."""
	target = frappe.db.get_value(df.options, value, ["name", "docstatus"], as_dict=True)
	if not target:
		_refuse(_("{0} {1} does not exist.").format(_(df.options), frappe.bold(value)))
	if frappe.get_meta(df.options).is_submittable and target.docstatus == 2:
		_refuse(_("{0} {1} is cancelled; {2} cannot link to it.").format(_(df.options), target.name, label))
	return target.name


def _validate_data_option(df, value: str) -> None:
	"""What ``BaseDocument._validate_data_fields`` checks of a Data field with Email, Name, Phone or
	URL options (and of a Phone field), with Frappe's own validators and messages."""
	option = df.options if df.fieldtype == "Data" else ("Phone" if df.fieldtype == "Phone" else None)
	if not value or not option:
		return
	from frappe import utils

	if option == "Email":
		for address in utils.split_emails(value):
			utils.validate_email_address(address, throw=True)
	elif option == "Name":
		utils.validate_name(value, throw=True)
	elif option == "Phone":
		utils.validate_phone_number(value, throw=True)
	elif option == "URL":
		utils.validate_url(value, throw=True)


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


ACTION = Action(
	"set_value_fast",
	"write",
	apply_one,
	label="Set Value (fast, no controllers)",
	needs_values=True,
	apply_batch=apply_batch,
	check=check,
	power=True,
	skips=skipped,
	refused_fields=field_refusals,
	undo_keys=value_keys,
)
