"""Paying: payment links, the gateway callback, offline requests and receipts, banks, holds and voids."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Identifier, Input, MultilineText

# --- payments -----------------------------------------------------------------------------------


class PaymentLinkIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"return_url": "https://portal.example/invoices"}]},
    )
    return_url: Annotated[str, *Identifier(2000)] | None = Field(
        None,
        description="Where the invoice page offers to take the customer after the gateway: "
        "http(s) on a host of BILLING_RETURN_URL_HOSTS (else 422 return_url_not_allowed).",
    )


class PaymentLinkOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "url": "http://127.0.0.1:8010/pg/StartPay/A00000000000000000000000000000000001",
                    "authority": "A00000000000000000000000000000000001",
                    "amount": 2_750_000,
                }
            ]
        }
    )
    url: str = Field(description="Send the customer here.")
    authority: str
    amount: int = Field(description="The invoice's open balance when the link was made, in rials.")
    page_url: str = Field(
        description="The invoice's signed page (the link every notice carries): no login."
    )


class CallbackOut(BaseModel):
    status: Literal["paid", "cancelled", "pending", "failed"]
    authority: str
    invoice_id: UUID
    amount: int
    ref_id: str | None = None
    restored: bool = False
    message: str


class OfflineRequestIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "Our treasury pays by bank transfer only."}]},
    )
    reason: Annotated[str, *MultilineText()]


class DecisionIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "Approved by the finance manager."}]},
    )
    reason: Annotated[str, *MultilineText(min_length=0)] = ""


class RejectionIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "The amount on the slip does not match."}]},
    )
    reason: Annotated[str, *MultilineText()]


class ReceiptIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "bank": "Bank Melli",
                    "tracking_number": "123456789012",
                    "amount": 2_750_000,
                    "paid_on": "1405/02/20",
                }
            ]
        },
    )
    bank: str = Field(
        min_length=1, max_length=100, description="The bank's three-digit code (GET /banks)."
    )
    tracking_number: str = Field(
        min_length=4,
        max_length=60,
        description="As on the slip; spaces, hyphens and Persian digits are fine.",
    )
    amount: int = Field(gt=0, le=10**15, strict=True)
    paid_on: str = Field(
        min_length=8, max_length=10, description="The day of the transfer, Jalali (1405/02/20)."
    )
    scan_base64: str | None = Field(
        None, description="Optional: the slip as PDF, JPEG or PNG, base64-encoded."
    )


class BankOut(BaseModel):
    code: str = Field(description="The three-digit code, as in an Iranian IBAN.")
    name_fa: str
    name_en: str
    merged_into: str | None = Field(None, description="The bank it merged into, if it did.")


class OfflineItemOut(BaseModel):
    id: UUID
    kind: Literal["request", "receipt"]
    invoice_id: UUID
    subscription_id: UUID
    customer_id: UUID
    status: str
    detail: dict[str, Any]
    created_at: str
    decided_at: str | None = None


class HoldIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"reason": "Court order pending", "until": "2026-06-01T00:00:00Z"}]
        },
    )
    reason: Annotated[str, *MultilineText()]
    until: datetime


class VoidIn(Input):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "Issued twice by mistake"}]}
    )
    reason: Annotated[str, *MultilineText()]
