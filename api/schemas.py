"""Request and response shapes of the API, apart from the domain. Times are ISO 8601 UTC,
with a Jalali string beside those a person reads; amounts are integer rials."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Query
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo

from domain import text as policy
from domain.customer import Customer
from domain.errors import InvalidInput
from domain.invoice import Invoice
from domain.jalali import format_moment
from domain.lifecycle import DueStep
from domain.plans import Period, Plan
from domain.subscription import Subscription
from service_layer.application import Lifecycle
from service_layer.timeline import iso

PeriodName = Literal["monthly", "quarterly", "yearly"]


def _not_a_number(value: Any) -> Any:
    """A moment is ISO 8601 text; a bare number (a Unix time) is refused, not guessed at."""
    if isinstance(value, int | float) or (
        isinstance(value, str) and re.fullmatch(r"\s*[+-]?[\d.eE+-]+\s*", value)
    ):
        raise ValueError(
            "give a moment in ISO 8601 with a time zone (2026-05-08T00:00:00Z), not a number"
        )
    return value


#: A moment in a query string: ISO 8601 with its time zone.
Moment = Annotated[
    datetime,
    BeforeValidator(_not_a_number),
    Query(description="ISO 8601 with a time zone, e.g. 2026-05-08T00:00:00Z"),
]
OptionalMoment = Annotated[
    datetime | None, BeforeValidator(_not_a_number), Query(description="ISO 8601 with a time zone")
]


# --- text: every text field passes the one input policy (domain/text.py, docs/SECURITY.md) ------


def _policy(clean: Any, **limits: int) -> AfterValidator:
    def check(value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        try:
            return clean(value, info.field_name or "value", **limits)
        except InvalidInput as error:
            raise ValueError(error.message) from None

    return AfterValidator(check)


def FreeText(max_length: int, min_length: int = 1) -> Any:
    """One line for people (a name, an address, a label)."""
    return Annotated[
        str,
        Field(max_length=max_length),
        _policy(policy.free_text, max_length=max_length, min_length=min_length),
    ]


def MultilineText(max_length: int = 500, min_length: int = 1) -> Any:
    """A reason or a note: newlines allowed."""
    return Annotated[
        str,
        Field(max_length=max_length),
        _policy(policy.multiline_text, max_length=max_length, min_length=min_length),
    ]


def Identifier(max_length: int) -> Any:
    """A code, reference or address machines compare: invisible characters dropped."""
    return Annotated[
        str, Field(max_length=max_length), _policy(policy.identifier, max_length=max_length)
    ]


class Input(BaseModel):
    """A request body with no unknown fields; numbers are strict (no "3" for 3, no false for 0)."""

    model_config = ConfigDict(extra="forbid")


def jalali(moment: datetime | None) -> str | None:
    return format_moment(moment) if moment else None


# --- plans --------------------------------------------------------------------------------------


class PlanPeriod(BaseModel):
    months: int
    discount_percent: float
    price: int = Field(description="The period's price before VAT, in rials.")


class PlanPolicyIn(Input):
    first_invoice_days: int = Field(30, ge=1, le=365, strict=True)
    renewal_invoice_days: int = Field(7, ge=1, le=365, strict=True)
    grace_days: int = Field(3, ge=0, le=365, strict=True)
    suspension_days: int = Field(30, ge=1, le=3650, strict=True)
    reminder_days: list[Annotated[int, Field(strict=True)]] = Field(
        [3, 1], min_length=2, max_length=10
    )
    collection_warning_days: list[Annotated[int, Field(strict=True)]] = Field(
        [14, 7, 1], min_length=3, max_length=10
    )


#: A discount in percent with at most two decimals (basis points), below 100: a period that
#: costs nothing is not a plan. 12.5 is 1,250 basis points; 12.345 is refused, not rounded.
Percent = Annotated[
    Decimal,
    Field(ge=0, lt=100, decimal_places=2, allow_inf_nan=False),
]


class PlanIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"id": "business", "name": "Business", "monthly_price": 2_500_000, "grace_days": 3}
            ]
        },
    )
    id: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="Lower-case letters, digits and hyphens."
    )
    name: FreeText(200)
    monthly_price: int = Field(gt=0, le=10**15, description="Rials a month.", strict=True)
    grace_days: int | None = Field(None, ge=0, le=365, strict=True)
    quarterly_discount_percent: Percent = Decimal(5)
    yearly_discount_percent: Percent = Decimal(15)
    policy: PlanPolicyIn | None = None


class PlanOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "business",
                    "name": "Business",
                    "monthly_price": 2_500_000,
                    "grace_days": 3,
                    "periods": {
                        "monthly": {"months": 1, "discount_percent": 0, "price": 2_500_000},
                        "quarterly": {"months": 3, "discount_percent": 5, "price": 7_125_000},
                        "yearly": {"months": 12, "discount_percent": 15, "price": 25_500_000},
                    },
                    "policy": {
                        "first_invoice_days": 30,
                        "renewal_invoice_days": 7,
                        "grace_days": 3,
                        "suspension_days": 30,
                        "reminder_days": [3, 1],
                        "collection_warning_days": [14, 7, 1],
                        "receipt_review_days": 3,
                    },
                }
            ]
        }
    )
    id: str
    name: str
    monthly_price: int
    grace_days: int
    periods: dict[PeriodName, PlanPeriod]
    policy: dict[str, Any]

    @classmethod
    def of(cls, plan: Plan) -> PlanOut:
        return cls(
            id=plan.id,
            name=plan.name,
            monthly_price=plan.monthly_price.rials,
            grace_days=plan.policy.grace_days,
            periods={
                p.value: PlanPeriod(
                    months=p.months,
                    discount_percent=plan.discount(p).basis_points / 100,
                    price=plan.price(p).rials,
                )
                for p in Period
            },
            policy=plan.policy.to_dict(),
        )


# --- customers ----------------------------------------------------------------------------------


class ProfileIn(Input):
    """A customer's whole billing profile (``PUT /customers/{id}/profile`` replaces the old one
    from now on)."""

    name: FreeText(200)
    kind: Literal["person", "legal"]
    email: Identifier(254)
    mobile: Identifier(20)
    national_code: Identifier(20) | None = None
    economic_code: Identifier(20) | None = None
    national_id: Identifier(20) | None = None
    registration_number: Identifier(40) | None = None
    postal_code: Identifier(20) | None = None
    address: FreeText(500) | None = None


class CustomerIn(ProfileIn):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Sara Ahmadi",
                    "kind": "person",
                    "email": "sara@example.ir",
                    "mobile": "09121234567",
                },
                {
                    "name": "Pars Co",
                    "kind": "legal",
                    "email": "finance@pars.example.ir",
                    "mobile": "09351234567",
                    "economic_code": "411111111111",
                    "national_id": "10380284790",
                    "registration_number": "12345",
                    "postal_code": "1193653471",
                    "address": "Tehran, Valiasr St., No. 1",
                },
            ]
        },
    )
    representative_id: UUID | None = None


class CustomerOut(BaseModel):
    id: UUID
    name: str
    kind: str
    email: str
    mobile: str
    representative_id: UUID | None
    profile: dict[str, Any]
    credit: int = Field(description="Credit held for the next invoices, in rials.")
    open_balance: int = Field(description="What the customer's open invoices still ask, in rials.")

    @classmethod
    def of(cls, customer: Customer, open_balance: int) -> CustomerOut:
        p = customer.profile
        return cls(
            id=customer.id,
            name=p.name,
            kind=p.kind.value,
            email=p.email,
            mobile=p.mobile,
            representative_id=customer.representative_id,
            profile=p.to_dict(),
            credit=customer.credit.rials,
            open_balance=open_balance,
        )


# --- subscriptions -------------------------------------------------------------------------------


class SubscriptionIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "customer_id": "5c4c1b6e-3a0e-4a54-9d6e-6f8b2f1f9a10",
                    "plan_id": "business",
                    "period": "monthly",
                }
            ]
        },
    )
    customer_id: UUID
    plan_id: str = Field(min_length=1, max_length=63)
    period: PeriodName
    site: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9.-]{0,62}$",
        description="The site's name; generated when absent.",
    )


class ChangePlanIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"plan_id": "pro", "period": "yearly"}]},
    )
    plan_id: str = Field(min_length=1, max_length=63)
    period: PeriodName | None = None


class CancelIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "moving to another provider"}]},
    )
    reason: MultilineText() = "requested by the customer"


class PeriodOut(BaseModel):
    number: int
    start: str = Field(description="The first day, Jalali (1405/01/15).")
    end: str = Field(description="The last day, Jalali.")
    starts_at: str
    ends_at: str


class NextStepOut(BaseModel):
    action: str
    at: str
    at_jalali: str


class SubscriptionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "9f6d9081-3e61-4bb6-a8a6-2a4a0e0f6f41",
                    "customer_id": "5c4c1b6e-3a0e-4a54-9d6e-6f8b2f1f9a10",
                    "plan_id": "business",
                    "period": "monthly",
                    "status": "active",
                    "site": "site-9f6d9081",
                    "site_state": "up",
                    "current_period": {
                        "number": 1,
                        "start": "1405/01/15",
                        "end": "1405/02/14",
                        "starts_at": "2026-04-04T05:30:00Z",
                        "ends_at": "2026-05-04T20:30:00Z",
                    },
                    "next_step": {
                        "action": "send_payment_reminder",
                        "at": "2026-05-01T05:30:00Z",
                        "at_jalali": "1405/02/11 09:00",
                    },
                    "ordered_at": "2026-04-04T05:30:00Z",
                    "cancelled_at": None,
                    "open_invoices": 1,
                }
            ]
        }
    )
    id: UUID
    customer_id: UUID
    representative_id: UUID | None = None
    plan_id: str
    period: str
    status: Literal["active", "grace", "suspended", "collected", "cancelled"]
    site: str
    site_state: str
    current_period: PeriodOut
    next_step: NextStepOut | None
    ordered_at: str
    cancelled_at: str | None
    open_invoices: int

    @classmethod
    def of_lifecycle(cls, life: Lifecycle) -> SubscriptionOut:
        """The subscription and its next step, from one load of it and its open invoices."""
        return cls.of(life.subscription, life.next_step())

    @classmethod
    def of(cls, sub: Subscription, step: DueStep | None) -> SubscriptionOut:
        current = sub.current_period
        return cls(
            id=sub.id,
            customer_id=sub.customer_id,
            representative_id=sub.representative_id,
            plan_id=sub.plan.id,
            period=sub.period.value,
            status=sub.status.value,
            site=sub.site,
            site_state=sub.site_state.value,
            current_period=PeriodOut(
                number=current.number,
                start=current.start.isoformat(),
                end=current.last_day.isoformat(),
                starts_at=iso(current.starts_at),
                ends_at=iso(current.ends_at),
            ),
            next_step=NextStepOut(
                action=step.step.value, at=iso(step.due_at), at_jalali=jalali(step.due_at)
            )
            if step
            else None,
            ordered_at=iso(sub.ordered_at),
            cancelled_at=iso(sub.cancelled_at),
            open_invoices=len(sub.open_invoice_ids),
        )


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


class PaymentIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reference": "BANK-20260509-0001", "amount": 2_750_000}]},
    )
    reference: Identifier(200) = Field(
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


# --- lists, audit, reports, the clock -----------------------------------------------------------


class Page(BaseModel):
    items: list[Any]
    next_cursor: str | None = None


class ClockAdvanceIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"days": 30}, {"to": "2026-05-08T00:00:00Z"}]},
    )
    days: float | None = Field(None, gt=0, le=3650, strict=True)
    to: datetime | None = None


class ClockOut(BaseModel):
    now: str
    now_jalali: str
    executed: int = 0
    #: Due subscriptions that could not be advanced (they stay due); always a list.
    failed: list[str] = Field(default_factory=list)


class TokenIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"role": "customer", "subject": "5c4c1b6e-3a0e-4a54-9d6e-6f8b2f1f9a10"}]
        },
    )
    role: Literal["customer", "representative", "finance", "admin"]
    subject: UUID | None = None
    label: FreeText(200, min_length=0) = Field(
        "", description="A note for people, e.g. who holds it."
    )


class TokenOut(BaseModel):
    token: str = Field(description="Shown once; only its hash is kept.")
    role: str
    subject: UUID | None


# --- payments -----------------------------------------------------------------------------------


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
    reason: MultilineText()


class DecisionIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "Approved by the finance manager."}]},
    )
    reason: MultilineText(min_length=0) = ""


class RejectionIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "The amount on the slip does not match."}]},
    )
    reason: MultilineText()


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
    reason: MultilineText()
    until: datetime


class VoidIn(Input):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "Issued twice by mistake"}]}
    )
    reason: MultilineText()


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
