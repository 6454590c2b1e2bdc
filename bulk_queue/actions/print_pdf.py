# Copyright (c) 2026, bulk_queue contributors
# For license information, please see license.txt
"""Print: every record through Frappe's own print view (``frappe.get_print``) into one PDF.

Each record is rendered as the requester, as Frappe's list Print does (``download_multi_pdf``): the
print format, letter head and language chosen, the requester's ``print`` permission, Print Settings'
rule on drafts and cancelled documents ("Not allowed to print draft documents" is the record's
failure), the Access Log of each print. Each commit's pages are one part of the job's file and the
job's end merges them in the selection's order (``outputs.py``): no page missing, none twice, whatever
happens to the workers. At most ``bulk_queue_max_print_records`` (10,000) records a job; the PDF is
attached to the job (its Output File) and linked from the notification.

Values, all optional: ``{"print_format": "Standard", "letterhead": "Company", "no_letterhead": 0,
"language": "de", "page_size": "A4"}``. Needs ``wkhtmltopdf``, as Frappe's own PDFs do.
"""

from __future__ import annotations

import functools

import frappe
from frappe import _

from bulk_queue.actions.base import Action
from bulk_queue.outputs import Spec

# wkhtmltopdf's page sizes (Frappe's list Print offers these).
PAGE_SIZES = (
	"A0",
	"A1",
	"A2",
	"A3",
	"A4",
	"A5",
	"A6",
	"A7",
	"A8",
	"A9",
	"B0",
	"B1",
	"B2",
	"B3",
	"B4",
	"B5",
	"B6",
	"B7",
	"B8",
	"B9",
	"B10",
	"C5E",
	"Comm10E",
	"DLE",
	"Executive",
	"Folio",
	"Ledger",
	"Legal",
	"Letter",
	"Tabloid",
)
KEYS = ("print_format", "letterhead", "no_letterhead", "language", "page_size")


def print_formats(doctype: str) -> list[str]:
	"""The print formats one may choose for ``doctype``, as Desk's print view lists them: the
	DocType's default first, Standard, then its enabled formats that render to HTML (not JS nor raw
	printing)."""
	names = frappe.get_all(
		"Print Format",
		filters={"doc_type": doctype, "disabled": 0, "print_format_type": ("!=", "JS"), "raw_printing": 0},
		pluck="name",
		order_by="name",
	)
	default = frappe.get_meta(doctype).default_print_format
	return list(dict.fromkeys([*([default] if default in names else []), "Standard", *names]))


def check(meta, values: dict, user: str) -> dict:
	unknown = set(values) - set(KEYS)
	if unknown:
		frappe.throw(_("Print takes {0}, not {1}.").format(", ".join(KEYS), ", ".join(sorted(unknown))))
	checked = {}
	print_format = values.get("print_format")
	if print_format:
		if print_format != "Standard":
			row = frappe.db.get_value(
				"Print Format",
				print_format,
				["doc_type", "disabled", "print_format_type", "raw_printing"],
				as_dict=True,
			)
			if not row or row.doc_type != meta.name:
				frappe.throw(
					_("{0} is not a Print Format of {1}.").format(frappe.bold(print_format), _(meta.name)),
					frappe.DoesNotExistError,
				)
			if row.disabled:
				frappe.throw(_("Print Format {0} is disabled.").format(frappe.bold(print_format)))
			if row.print_format_type == "JS" or row.raw_printing:
				frappe.throw(
					_("Print Format {0} is for raw printing, not for a PDF.").format(
						frappe.bold(print_format)
					)
				)
		checked["print_format"] = print_format
	letterhead = values.get("letterhead")
	if letterhead:
		if not frappe.db.get_value("Letter Head", {"name": letterhead, "disabled": 0}):
			frappe.throw(
				_("No enabled Letter Head {0}.").format(frappe.bold(letterhead)), frappe.DoesNotExistError
			)
		checked["letterhead"] = letterhead
	if values.get("no_letterhead") not in (None, "", 0, "0", False):
		if letterhead:
			frappe.throw(_("Choose a letter head or no letter head, not both."))
		checked["no_letterhead"] = 1
	language = values.get("language")
	if language:
		if not frappe.db.get_value("Language", {"name": language, "enabled": 1}):
			frappe.throw(
				_("No enabled Language {0}.").format(frappe.bold(language)), frappe.DoesNotExistError
			)
		checked["language"] = language
	page_size = values.get("page_size")
	if page_size:
		if page_size not in PAGE_SIZES:
			frappe.throw(_("page_size must be one of {0}.").format(", ".join(PAGE_SIZES)))
		checked["page_size"] = page_size
	return checked


def apply(doc, values: dict) -> bytes:
	"""The record's pages, as one PDF: in the language chosen, else the requester's (as Desk prints
	for them); with the letter head chosen, none, or Print Settings' default."""
	from frappe.translate import get_user_lang, print_language

	if values.get("no_letterhead"):
		no_letterhead = 1
	elif values.get("letterhead"):
		no_letterhead = 0
	else:
		no_letterhead = None  # Print Settings' "with letter head"
	print_format = values.get("print_format") or doc.meta.default_print_format or "Standard"
	extra = {}
	if _chooses_generator():
		# Frappe v16 renders with the print format's own PDF generator (wkhtmltopdf or Chrome), and
		# keeps the last one chosen in form_dict across calls: name it every time.
		frappe.local.form_dict.pop("pdf_generator", None)
		extra["pdf_generator"] = _generator_of(print_format)
	lang, jenv = frappe.local.lang, frappe.local.jenv
	try:
		with print_language(values.get("language") or get_user_lang(frappe.session.user)):
			return frappe.get_print(
				doc.doctype,
				doc.name,
				print_format,
				doc=doc,
				as_pdf=True,
				no_letterhead=no_letterhead,
				letterhead=values.get("letterhead") or None,
				pdf_options={"page-size": values["page_size"]} if values.get("page_size") else None,
				**extra,
			)
	finally:
		# Frappe v15's print_language does not restore them when the print raises.
		frappe.local.lang, frappe.local.jenv = lang, jenv
		if extra:
			frappe.local.form_dict.pop("pdf_generator", None)


@functools.cache
def _chooses_generator() -> bool:
	"""Whether this Frappe's ``get_print`` takes a PDF generator (v16); asked once per process."""
	import inspect

	return "pdf_generator" in inspect.signature(frappe.get_print).parameters


def _generator_of(print_format: str) -> str:
	"""The PDF generator Desk would use for ``print_format`` (Frappe v16): the format's own, for
	Standard Print Settings'."""
	if print_format == "Standard":
		generator = frappe.db.get_single_value("Print Settings", "pdf_generator")
	else:
		generator = frappe.get_cached_value("Print Format", print_format, "pdf_generator")
	return generator or "wkhtmltopdf"


def preview(doc, values: dict) -> list[dict]:
	"""What a dry run says: whether the record would print, from Frappe's own checks, without
	rendering it (on Frappe v15 a render commits its Access Log)."""
	from frappe.www.printview import validate_print_permission

	validate_print_permission(doc)
	if doc.meta.is_submittable:
		settings = frappe.get_single("Print Settings")
		if doc.docstatus == 0 and not frappe.utils.cint(settings.allow_print_for_draft):
			frappe.throw(_("Not allowed to print draft documents"), frappe.PermissionError)
		if doc.docstatus == 2 and not frappe.utils.cint(settings.allow_print_for_cancelled):
			frappe.throw(_("Not allowed to print cancelled documents"), frappe.PermissionError)
	print_format = values.get("print_format") or doc.meta.default_print_format or "Standard"
	return [{"field": "print", "label": _("Print"), "old": None, "new": _(print_format)}]


def form(meta, user: str, selection: dict) -> list[dict]:
	formats = print_formats(meta.name)
	return [
		{
			"fieldtype": "Select",
			"fieldname": "print_format",
			"label": _("Print Format"),
			"options": formats,
			"default": formats[0] if formats else "Standard",
		},
		{
			"fieldtype": "Link",
			"fieldname": "letterhead",
			"label": _("Letter Head"),
			"options": "Letter Head",
			"description": _("Empty: the default letter head."),
		},
		{"fieldtype": "Check", "fieldname": "no_letterhead", "label": _("No Letter Head")},
		{
			"fieldtype": "Link",
			"fieldname": "language",
			"label": _("Language"),
			"options": "Language",
		},
		{
			"fieldtype": "Select",
			"fieldname": "page_size",
			"label": _("Page Size"),
			"options": ["", *PAGE_SIZES],
			"description": _("Empty: Print Settings' page size."),
		},
	]


def output(meta, values: dict) -> Spec:
	return Spec("pdf")


ACTION = Action(
	"print_pdf",
	"print",
	apply,
	label="Print",
	check=check,
	preview=preview,
	form=form,
	output=output,
	max_records_key="bulk_queue_max_print_records",
	# Rendering takes a good part of a second a record: chunks of 20 spread a print over the workers.
	chunk_size=20,
)
