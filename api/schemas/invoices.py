"""Invoices, the payments finance records, and official invoices."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import FreeText, Identifier, Input, jalali
from domain.invoice import Invoice
from domain.service_invoices import (
    MAX_DESCRIPTION,
    MAX_DUE_DAYS,
    MAX_LINES,
    MAX_QUANTITY,
    MAX_UNIT_PRICE,
    MIN_DUE_DAYS,
)
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
            lines=[
                InvoiceLineOut(
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
                for line in inv.lines
            ],
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
