"""Invoices, the payments finance records, official invoices and their corrections, refunds."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import FreeText, Identifier, Input, MultilineText, jalali
from domain.invoice import Invoice
from domain.invoice_lines import InvoiceLine
from domain.service_invoices import (
    MAX_DESCRIPTION,
    MAX_DUE_DAYS,
    MAX_LINES,
    MAX_QUANTITY,
    MAX_UNIT_PRICE,
    MIN_DUE_DAYS,
)
from projections.reads import iso_text, moment_of
from service_layer.timeline import iso

# --- invoices -----------------------------------------------------------------------------------


class InvoiceLineOut(BaseModel):
    code: str
    description: str
    quantity: int
    unit: str
    unit_price: int
    amount: int
    discount: int
    vat_percent: float
    vat: int
    total: int


class CorrectionOut(BaseModel):
    subject: Literal["cancelling", "corrective", "return"]
    number: str = Field(description="The same gapless series as the originals, 1405-000013.")
    tax_id: str
    original_number: str
    original_tax_id: str
    amount: int
    reason: str
    issued_at: str
    pdf: str

    @classmethod
    def of(cls, invoice_id: UUID, c: Any) -> CorrectionOut:
        return cls(
            subject=c.subject.value,
            number=c.number_text,
            tax_id=c.tax_id,
            original_number=c.original_number,
            original_tax_id=c.original_tax_id,
            amount=c.amount,
            reason=c.reason,
            issued_at=iso(c.issued_at),
            pdf=f"/invoices/{invoice_id}/official/corrections/{c.number_text}.pdf",
        )


class CreditNoteOut(BaseModel):
    """A credit note of an invoice with no official document (docs/INVOICES.md, "Credit
    notes")."""

    number: int = Field(description="The credit note's number on its invoice: 1, 2, ...")
    cause: Literal["void", "return"]
    amount: int
    vat: int
    reason: str
    issued_at: str
    pdf: str

    @classmethod
    def of(cls, invoice_id: UUID, note: Any) -> CreditNoteOut:
        return cls(
            number=note.number,
            cause=note.cause,
            amount=note.amount.rials,
            vat=note.vat.rials,
            reason=note.reason,
            issued_at=iso(note.issued_at) or "",
            pdf=f"/invoices/{invoice_id}/credit-notes/{note.number}.pdf",
        )


class InvoiceOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "42708641-8b5e-5c3f-9a32-0e2a2bb3f7a1",
                    "subscription_id": "9f6d9081-3e61-4bb6-a8a6-2a4a0e0f6f41",
                    "customer_id": "5c4c1b6e-3a0e-4a54-9d6e-6f8b2f1f9a10",
                    "status": "open",
                    "kind": "first",
                    "period_no": 1,
                    "issued_at": "2026-04-04T05:30:00Z",
                    "issued_at_jalali": "1405/01/15 09:00",
                    "due_at": "2026-05-04T05:30:00Z",
                    "due_at_jalali": "1405/02/14 09:00",
                    "total": 2_750_000,
                    "vat": 250_000,
                    "paid": 0,
                    "balance": 2_750_000,
                    "lines": [],
                    "official_number": None,
                }
            ]
        }
    )
    id: UUID
    subscription_id: UUID
    customer_id: UUID
    status: Literal["open", "paid", "void"]
    kind: str
    period_no: int
    period_start: str
    period_end: str
    issued_at: str
    issued_at_jalali: str
    due_at: str = Field(description="The payment deadline.")
    due_at_jalali: str
    total: int
    vat: int
    paid: int
    balance: int
    voided_at: str | None = None
    void_reason: str | None = None
    lines: list[InvoiceLineOut]
    official_number: str | None = None
    official_corrections: list[CorrectionOut] = Field(
        default_factory=list,
        description="Correcting official documents of the official invoice (a cancelling one "
        "when voided, a return-from-sale one per return), each with its own number, tax ID "
        "and PDF.",
    )
    returned: int = Field(default=0, description="What returns from sale took back into credit.")
    credit_notes: list[CreditNoteOut] = Field(
        default_factory=list,
        description="Credit notes of an invoice with no official document (a void that "
        "credited money, each return), each with its PDF.",
    )

    @classmethod
    def of(cls, inv: Invoice) -> InvoiceOut:
        return cls(
            id=inv.id,
            subscription_id=inv.subscription_id,
            customer_id=inv.customer_id,
            status=inv.status.value,
            kind=inv.kind.value,
            period_no=inv.period_no,
            period_start=inv.period_start.isoformat(),
            period_end=inv.period_end.isoformat(),
            issued_at=iso(inv.issued_at),
            issued_at_jalali=jalali(inv.issued_at),
            due_at=iso(inv.deadline),
            due_at_jalali=jalali(inv.deadline),
            total=inv.total.rials,
            vat=inv.vat.rials,
            paid=inv.paid.rials,
            balance=inv.balance.rials,
            voided_at=iso(inv.voided_at),
            void_reason=inv.void_reason,
            official_number=inv.official.number_text if inv.official else None,
            official_corrections=[CorrectionOut.of(inv.id, c) for c in inv.corrections],
            returned=inv.returned.rials,
            credit_notes=[CreditNoteOut.of(inv.id, n) for n in inv.credit_notes],
            lines=[_line_out(line) for line in inv.lines],
        )

    @classmethod
    def of_row(cls, row: dict[str, Any]) -> InvoiceOut:
        """The same answer from the invoices read model's row (projections/reads.py)."""
        invoice_id = row["invoice_id"]
        issued_at, deadline = row["issued_at"], row["deadline"]
        return cls(
            id=invoice_id,
            subscription_id=row["subscription_id"],
            customer_id=row["customer_id"],
            status=row["status"],
            kind=row["kind"],
            period_no=row["period_no"] or 0,  # a side-service invoice's is 0 (no period)
            period_start=row["period_start"],
            period_end=row["period_end"],
            issued_at=iso_text(issued_at) or "",
            issued_at_jalali=jalali(moment_of(issued_at)),
            due_at=iso_text(deadline) or "",
            due_at_jalali=jalali(moment_of(deadline)),
            total=row["total"],
            vat=row["vat"],
            paid=row["paid"],
            balance=row["balance"],
            voided_at=iso_text(row["voided_at"]),
            void_reason=row["void_reason"],
            official_number=row["official_number"],
            official_corrections=[
                CorrectionOut(
                    **{**c, "issued_at": iso_text(c["issued_at"]) or ""},
                    pdf=f"/invoices/{invoice_id}/official/corrections/{c['number']}.pdf",
                )
                for c in json.loads(row["corrections"])
            ],
            returned=row["returned"],
            credit_notes=[
                CreditNoteOut(
                    **{**n, "issued_at": iso_text(n["issued_at"]) or ""},
                    pdf=f"/invoices/{invoice_id}/credit-notes/{n['number']}.pdf",
                )
                for n in json.loads(row["credit_notes"])
            ],
            lines=[_line_out(InvoiceLine.from_dict(d)) for d in json.loads(row["lines"])],
        )


def _line_out(line: InvoiceLine) -> InvoiceLineOut:
    return InvoiceLineOut(
        code=line.code,
        description=line.description,
        quantity=line.quantity,
        unit=line.unit,
        unit_price=line.unit_price.rials,
        amount=line.gross.rials,
        discount=line.discount.rials,
        vat_percent=line.vat_rate.basis_points / 100,
        vat=line.vat.rials,
        total=line.total.rials,
    )


class ServiceLineIn(Input):
    description: Annotated[str, *FreeText(MAX_DESCRIPTION)] = Field(
        description="The service, as the customer reads it (e.g. «طراحی لوگو», «ثبت دامنه»)."
    )
    unit_price: int = Field(
        gt=0, le=MAX_UNIT_PRICE, strict=True, description="Rials per item, before VAT."
    )
    quantity: int = Field(ge=1, le=MAX_QUANTITY, strict=True)


class ServiceInvoiceIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "lines": [
                        {"description": "ثبت دامنه .ir", "unit_price": 1_500_000, "quantity": 1},
                        {"description": "SEO, monthly", "unit_price": 2_000_000, "quantity": 3},
                    ],
                    "due_days": 10,
                }
            ]
        },
    )
    lines: list[ServiceLineIn] = Field(min_length=1, max_length=MAX_LINES)
    due_days: int = Field(
        ge=MIN_DUE_DAYS, le=MAX_DUE_DAYS, strict=True, description="Days until the deadline."
    )
    subscription_id: UUID | None = Field(
        None,
        description="The customer's subscription that carries the invoice's payments and "
        "notices; omitted: the customer's one running subscription.",
    )


class PaymentIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reference": "BANK-20260509-0001", "amount": 2_750_000}]},
    )
    reference: Annotated[str, *Identifier(200)] = Field(
        description="The bank's tracking number or the gateway's reference id."
    )
    amount: int = Field(gt=0, le=10**15, description="Rials received.", strict=True)
    method: Literal["bank_transfer", "cash", "gateway", "manual"] = "bank_transfer"


class PaymentOut(BaseModel):
    reference: str
    amount: int
    allocations: list[dict[str, Any]]
    credit: int
    restored: bool


# --- official invoices ---------------------------------------------------------------------------


class OfficialInvoiceOut(BaseModel):
    invoice_id: UUID
    number: str = Field(description="Gapless per Jalali fiscal year, e.g. 1405-000012.")
    fiscal_year: int
    issued_at: str
    issued_at_jalali: str
    tax_id: str = Field(description="The 22-character tax ID of the national taxpayer system.")
    terms: Literal["cash", "credit"]
    references: list[str]
    pdf: str = Field(description="Where to download it.")

    @classmethod
    def of(cls, invoice_id: UUID, record: Any) -> OfficialInvoiceOut:
        return cls(
            invoice_id=invoice_id,
            number=record.number_text,
            fiscal_year=record.fiscal_year,
            issued_at=iso(record.issued_at),
            issued_at_jalali=jalali(record.issued_at),
            tax_id=record.tax_id,
            terms=record.terms.value,
            references=list(record.references),
            pdf=f"/invoices/{invoice_id}/official.pdf",
        )


# --- refunds ------------------------------------------------------------------------------------


class CreditRefundIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "amount": 400_000,
                    "reason": "The customer closed their account.",
                    "bank_reference": "PAYA-1405-778812",
                }
            ]
        },
    )
    amount: int = Field(gt=0, le=10**15, description="Rials given back.", strict=True)
    reason: Annotated[str, *MultilineText()]
    bank_reference: Annotated[str, *Identifier(100)] = Field(
        description="The reference of the transfer finance made outside the engine."
    )


class PaymentRefundIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "payment_reference": "gateway:A00000000000000000000000000000000001",
                    "reason": "Paid twice.",
                    "via": "gateway",
                },
                {
                    "payment_reference": "BANK-20260509-0001",
                    "amount": 500_000,
                    "reason": "Plan cancelled.",
                    "via": "transfer",
                    "bank_reference": "PAYA-1405-778812",
                },
            ]
        },
    )
    payment_reference: Annotated[str, *Identifier(200)]
    amount: int | None = Field(
        default=None, gt=0, le=10**15, strict=True, description="Rials; all that is left if absent."
    )
    reason: Annotated[str, *MultilineText()]
    via: Literal["gateway", "transfer"]
    bank_reference: Annotated[str, *Identifier(100)] | None = None


class ReturnIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"amount": 1_100_000, "reason": "SEO service not delivered."}]
        },
    )
    amount: int = Field(gt=0, le=10**15, strict=True, description="Rials taken back.")
    reason: Annotated[str, *MultilineText()]


class ReturnOut(BaseModel):
    invoice_id: UUID
    number: int = Field(description="The return's number on the invoice: 1, 2, ...")
    amount: int
    vat: int = Field(description="The VAT share of the amount.")
    returnable: int = Field(description="What is still left to return on the invoice.")
    credit: int = Field(description="The customer's credit after the return.")
    document: str | None = Field(
        description="The return-from-sale official document's number, when the invoice has "
        "an official invoice."
    )
    credit_note: int | None = Field(
        description="The credit note's number on the invoice, when it has no official one."
    )
    pdf: str

    @classmethod
    def of(cls, outcome: Any) -> ReturnOut:
        base = f"/invoices/{outcome.invoice_id}"
        pdf = (
            f"{base}/official/corrections/{outcome.document}.pdf"
            if outcome.document
            else f"{base}/credit-notes/{outcome.credit_note}.pdf"
        )
        return cls(
            invoice_id=outcome.invoice_id,
            number=outcome.number,
            amount=outcome.amount,
            vat=outcome.vat,
            returnable=outcome.returnable,
            credit=outcome.credit,
            document=outcome.document,
            credit_note=outcome.credit_note,
            pdf=pdf,
        )


class RefundOut(BaseModel):
    customer_id: UUID
    amount: int
    via: Literal["gateway", "transfer"]
    bank_reference: str
    payment_reference: str | None
    credit: int = Field(description="The customer's credit after the refund.")
    recorded: bool = Field(description="False: this refund was already recorded (a retry).")

    @classmethod
    def of(cls, outcome: Any) -> RefundOut:
        return cls(
            customer_id=outcome.customer_id,
            amount=outcome.amount,
            via=outcome.via,
            bank_reference=outcome.bank_reference,
            payment_reference=outcome.payment_reference,
            credit=outcome.credit,
            recorded=outcome.recorded,
        )
