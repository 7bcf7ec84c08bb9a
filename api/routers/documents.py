"""Invoice documents: the plain invoice PDF (a proforma while unpaid) and the official invoice."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response

from adapters.documents.pdf import InvoiceDocuments
from api.context import ContextDep, PrincipalDep
from api.permissions import ISSUE_OFFICIAL
from api.schemas import OfficialInvoiceOut
from domain.errors import CreditNoteNotFound, OfficialInvoiceRefused
from domain.invoice import Invoice
from projections.visibility import visible_invoice

router = APIRouter(prefix="/invoices", tags=["documents"])

PDF: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}}, "description": "The PDF (A4)."}
}
#: What every PDF route answers: the document itself, described as such in the OpenAPI.
PDF_ROUTE: dict[str, Any] = {"response_class": Response, "responses": PDF}


class _Rendered:
    """The last official invoices served, by invoice id. An issued official invoice never
    changes (it renders to the same bytes every time), so a repeated download costs a lookup,
    not a 150 ms render."""

    def __init__(self, size: int = 128) -> None:
        self.size = size
        self.pdfs: OrderedDict[UUID, bytes] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, invoice: Invoice, documents: InvoiceDocuments) -> bytes:
        with self.lock:
            if invoice.id in self.pdfs:
                self.pdfs.move_to_end(invoice.id)
                return self.pdfs[invoice.id]
        content = documents.official_pdf(invoice)
        with self.lock:
            self.pdfs[invoice.id] = content
            while len(self.pdfs) > self.size:
                self.pdfs.popitem(last=False)
        return content


rendered = _Rendered()


def _pdf(content: bytes, filename: str) -> Response:
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


@router.get(
    "/{invoice_id}/invoice.pdf",
    summary="The invoice as a PDF: a proforma while unpaid, marked paid or void after",
    **PDF_ROUTE,
)
def plain_pdf(invoice_id: UUID, ctx: ContextDep, who: PrincipalDep) -> Response:
    invoice = visible_invoice(ctx.app, who, invoice_id)
    profile = ctx.app.get_customer(invoice.customer_id).profile
    seller = ctx.app.seller.party.name if ctx.app.seller else ctx.runtime.settings.portal_name
    content = ctx.runtime.documents.plain_pdf(invoice, profile, seller)
    return _pdf(content, f"invoice-{invoice_id}.pdf")


@router.get(
    "/{invoice_id}/official.pdf",
    summary="The official invoice (صورتحساب فروش کالا و خدمات) of a paid invoice",
    **PDF_ROUTE,
)
def official_pdf(invoice_id: UUID, ctx: ContextDep, who: PrincipalDep) -> Response:
    """Rendered from the recorded events alone: the same bytes every time it is asked for."""
    invoice = visible_invoice(ctx.app, who, invoice_id)
    if invoice.official is None:
        raise ctx.app.why_no_official(invoice_id)
    content = rendered.get(invoice, ctx.runtime.documents)
    return _pdf(content, f"official-invoice-{invoice.official.number_text}.pdf")


@router.get(
    "/{invoice_id}/official/corrections/{number}.pdf",
    summary="A correcting official document of an official invoice (a void's cancelling one, ابطالی; a return's return-from-sale one, برگشت از فروش)",
    **PDF_ROUTE,
)
def correction_pdf(invoice_id: UUID, number: str, ctx: ContextDep, who: PrincipalDep) -> Response:
    """``number`` as printed, e.g. ``1405-000013`` (the invoice's ``official_corrections``
    list it). Rendered from the recorded events alone."""
    invoice = visible_invoice(ctx.app, who, invoice_id)
    found = [c for c in invoice.corrections if c.number_text == number]
    if not found:
        raise OfficialInvoiceRefused(
            f"Invoice {invoice_id} has no correcting official document {number}; "
            + (
                "its corrections are " + ", ".join(c.number_text for c in invoice.corrections) + "."
                if invoice.corrections
                else "it has none (a void of an officially invoiced invoice issues one)."
            ),
            reason="no_such_correction",
        )
    content = ctx.runtime.documents.correction_pdf(invoice, found[0])
    return _pdf(content, f"official-correction-{number}.pdf")


@router.get(
    "/{invoice_id}/credit-notes/{number}.pdf",
    summary="A credit note of an invoice with no official document (a void or a return)",
    **PDF_ROUTE,
)
def credit_note_pdf(invoice_id: UUID, number: int, ctx: ContextDep, who: PrincipalDep) -> Response:
    """``number``: the credit note's number on the invoice (the invoice's ``credit_notes``
    list them). Rendered from the recorded events alone."""
    invoice = visible_invoice(ctx.app, who, invoice_id)
    found = [n for n in invoice.credit_notes if n.number == number]
    if not found:
        raise CreditNoteNotFound(
            f"Invoice {invoice_id} has no credit note {number}; it has "
            f"{len(invoice.credit_notes)} (a void that credits money, or a return, of an invoice "
            "with no official document issues one).",
        )
    profile = ctx.app.get_customer(invoice.customer_id).profile
    seller = ctx.app.seller.party.name if ctx.app.seller else ctx.runtime.settings.portal_name
    content = ctx.runtime.documents.credit_note_pdf(invoice, found[0], profile, seller)
    return _pdf(content, f"credit-note-{str(invoice_id)[:8]}-{number}.pdf")


@router.post(
    "/{invoice_id}/official",
    response_model=OfficialInvoiceOut,
    summary="Issue the official invoice of a paid invoice (once; asking again returns it)",
)
def issue_official(invoice_id: UUID, ctx: ContextDep, who: PrincipalDep) -> OfficialInvoiceOut:
    """For a legal entity that completed its profile after paying; payments issue it by
    themselves otherwise. Refused (409 official_invoice_refused) with the reason and, for an
    incomplete profile, the missing fields."""
    ISSUE_OFFICIAL.check(who)
    visible_invoice(ctx.app, who, invoice_id)
    record = ctx.app_for(who).issue_official_invoice(invoice_id, ctx.now())
    return OfficialInvoiceOut.of(invoice_id, record)
