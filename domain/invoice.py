"""The Invoice aggregate: what is owed for one billing period, and how it was settled.

An invoice is issued at the start of its period (the first one at order), with a payment
deadline. It is settled by payments (partial payments allowed) and by the customer's credit,
or voided (at collection, or by finance). Its notices (reminders, the grace notice) are
recorded on it, because the rule "no suspension without two notices about that invoice"
counts them here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.base import BillingAggregate, Notice, NoticeKind, deterministic_id
from domain.errors import InvalidAmount, InvoiceNotPayable
from domain.jalali import JalaliDate
from domain.money import Money, Rate, total
from domain.plans import Period, Plan


class InvoiceKind(StrEnum):
    FIRST = "first"  # issued at order; its deadline is the evaluation window
    RENEWAL = "renewal"  # issued at the start of each later period


class InvoiceStatus(StrEnum):
    OPEN = "open"
    PAID = "paid"
    VOID = "void"


@dataclass(frozen=True)
class InvoiceLine:
    """One line of the invoice, priced once at issue (the only place rounding happens).

    gross = unit price × quantity; discount = period discount of gross (rounded half up);
    VAT = VAT rate of (gross − discount) (rounded half up); total = gross − discount + VAT.
    """

    code: str
    description: str
    quantity: int
    unit: str
    unit_price: Money
    discount_rate: Rate
    discount: Money
    vat_rate: Rate
    vat: Money

    @classmethod
    def price(
        cls,
        *,
        code: str,
        description: str,
        quantity: int,
        unit: str,
        unit_price: Money,
        discount_rate: Rate,
        vat_rate: Rate,
    ) -> InvoiceLine:
        gross = unit_price * quantity
        discount = discount_rate.of(gross)
        vat = vat_rate.of(gross - discount)
        return cls(
            code, description, quantity, unit, unit_price, discount_rate, discount, vat_rate, vat
        )

    @classmethod
    def for_plan(
        cls, plan: Plan, period: Period, start: JalaliDate, end: JalaliDate, vat_rate: Rate
    ) -> InvoiceLine:
        last_day = JalaliDate.from_gregorian(end.to_gregorian() - timedelta(days=1))
        return cls.price(
            code=plan.id,
            description=f"Website plan {plan.name} ({period.value}), {start} to {last_day}",
            quantity=period.months,
            unit="month",
            unit_price=plan.monthly_price,
            discount_rate=plan.discount(period),
            vat_rate=vat_rate,
        )

    @property
    def gross(self) -> Money:
        return self.unit_price * self.quantity

    @property
    def net(self) -> Money:
        return self.gross - self.discount

    @property
    def total(self) -> Money:
        return self.net + self.vat

    def to_dict(self) -> dict[str, Any]:
        """The line as stored in the InvoiceIssued event (integers are rials or basis points)."""
        return {
            "code": self.code,
            "description": self.description,
            "quantity": self.quantity,
            "unit": self.unit,
            "unit_price": self.unit_price.rials,
            "discount_rate_bp": self.discount_rate.basis_points,
            "discount": self.discount.rials,
            "vat_rate_bp": self.vat_rate.basis_points,
            "vat": self.vat.rials,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InvoiceLine:
        return cls(
            code=data["code"],
            description=data["description"],
            quantity=data["quantity"],
            unit=data["unit"],
            unit_price=Money(data["unit_price"]),
            discount_rate=Rate(data["discount_rate_bp"]),
            discount=Money(data["discount"]),
            vat_rate=Rate(data["vat_rate_bp"]),
            vat=Money(data["vat"]),
        )


@dataclass(frozen=True)
class Settlement:
    """A payment or a use of credit, as applied to this invoice."""

    reference: str
    amount: Money
    method: str
    recorded_at: datetime


class Invoice(BillingAggregate):
    @staticmethod
    def create_id(subscription_id: UUID, period_no: int) -> UUID:
        # One invoice per subscription period, whoever issues it: a second scheduler that
        # tries to issue the same renewal collides on this id and records nothing.
        return deterministic_id("invoice", subscription_id, period_no)

    @event("InvoiceIssued")
    def __init__(
        self,
        subscription_id: UUID,
        customer_id: UUID,
        period_no: int,
        kind: str,
        period_start: str,
        period_end: str,
        lines: list[dict[str, Any]],
        deadline: datetime,
        due_at: datetime | None,
        timestamp: datetime,
    ) -> None:
        self.subscription_id = subscription_id
        self.customer_id = customer_id
        self.period_no = period_no
        self.kind = InvoiceKind(kind)
        self.period_start = JalaliDate.parse(period_start)
        self.period_end = JalaliDate.parse(period_end)
        self.lines = tuple(InvoiceLine.from_dict(line) for line in lines)
        # An issued invoice's lines never change: its total and VAT are worked out once.
        self.total = total([line.total for line in self.lines])
        self.vat = total([line.vat for line in self.lines])
        self.deadline = deadline
        self.issued_at = timestamp
        self.settlements: list[Settlement] = []
        self.notices: list[Notice] = []
        self.voided_at: datetime | None = None
        self.void_reason: str | None = None

    # --- what the invoice says --------------------------------------------------------------

    @property
    def paid(self) -> Money:
        return total([s.amount for s in self.settlements])

    @property
    def is_void(self) -> bool:
        return self.voided_at is not None

    @property
    def balance(self) -> Money:
        """What is still owed: total − paid, and nothing once voided."""
        return Money(0) if self.is_void else self.total - self.paid

    @property
    def voided_amount(self) -> Money:
        return self.total - self.paid if self.is_void else Money(0)

    @property
    def is_open(self) -> bool:
        return not self.is_void and self.balance.is_positive

    @property
    def status(self) -> InvoiceStatus:
        if self.is_void:
            return InvoiceStatus.VOID
        return InvoiceStatus.OPEN if self.balance.is_positive else InvoiceStatus.PAID

    @property
    def settled_at(self) -> datetime | None:
        """When the last payment or credit made the balance zero."""
        if self.status is not InvoiceStatus.PAID:
            return None
        return self.settlements[-1].recorded_at if self.settlements else self.issued_at

    def references(self) -> set[str]:
        return {s.reference for s in self.settlements}

    def notices_of(self, *kinds: NoticeKind) -> list[Notice]:
        return [n for n in self.notices if n.kind in kinds]

    def has_notice(self, kind: NoticeKind, number: int = 0) -> bool:
        return any(n.kind is kind and n.number == number for n in self.notices)

    # --- commands ---------------------------------------------------------------------------

    def check_payable(self) -> None:
        if self.is_void:
            raise InvoiceNotPayable(
                f"Invoice {self.id} was voided on {self.voided_at.isoformat()} ({self.void_reason}) "
                "and can no longer be paid. Nothing was recorded; if money was sent, ask finance "
                "to refund it.",
                invoice_id=str(self.id),
            )

    def record_payment(
        self, payment_id: UUID, reference: str, amount: Money, method: str, now: datetime
    ) -> None:
        now = self._now(now)
        self.check_payable()
        if not amount.is_positive or amount > self.balance:
            raise InvalidAmount(
                f"A payment of {amount} does not fit invoice {self.id}, whose balance is {self.balance}.",
            )
        self._payment_recorded(payment_id, reference, amount.rials, method, now)

    @event("PaymentRecorded")
    def _payment_recorded(
        self, payment_id: UUID, reference: str, amount: int, method: str, timestamp: datetime
    ) -> None:
        self.settlements.append(Settlement(reference, Money(amount), method, timestamp))

    def apply_credit(self, amount: Money, now: datetime) -> None:
        now = self._now(now)
        self.check_payable()
        if not amount.is_positive or amount > self.balance:
            raise InvalidAmount(f"Credit of {amount} does not fit the balance {self.balance}.")
        self._credit_applied(amount.rials, now)

    @event("CreditApplied")
    def _credit_applied(self, amount: int, timestamp: datetime) -> None:
        self.settlements.append(Settlement("credit", Money(amount), "credit", timestamp))

    def send_notice(
        self,
        kind: NoticeKind,
        now: datetime,
        *,
        number: int = 0,
        due_at: datetime | None = None,
        facts: dict[str, Any] | None = None,
    ) -> None:
        now = self._now(now)
        self._notice_sent(kind.value, number, due_at, facts or {}, now)

    @event("NoticeSent")
    def _notice_sent(
        self,
        kind: str,
        number: int,
        due_at: datetime | None,
        facts: dict[str, Any],
        timestamp: datetime,
    ) -> None:
        self.notices.append(Notice(NoticeKind(kind), number, timestamp, due_at, facts))

    def void(self, reason: str, now: datetime, *, due_at: datetime | None = None) -> None:
        now = self._now(now)
        if self.is_void:
            return  # voiding twice changes nothing; a retry must be safe
        self._invoice_voided(reason, due_at, now)

    @event("InvoiceVoided")
    def _invoice_voided(self, reason: str, due_at: datetime | None, timestamp: datetime) -> None:
        self.voided_at = timestamp
        self.void_reason = reason
