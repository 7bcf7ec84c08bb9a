"""Side-service invoices: what a representative or finance bills a customer for besides hosting
(domain registration, design, redesign, training, content upload, SEO, forms), each line priced
by agreement (docs/INVOICES.md, "Side-service invoices").

A side-service invoice is an ``Invoice`` of kind ``service``: paid, reminded, aged, voided and
officially invoiced as any other. It names one subscription of the customer, which carries its
payments and its notices' site, but it is **not** one of the subscription's billing periods:
the subscription never lists it among its open invoices, so an unpaid side-service invoice
never starts grace, suspends or collects a site (docs/LIFECYCLE.md, "Side-service invoices":
hosting is not held hostage for a separate service). Its own short schedule is planned here:
a reminder some days before the deadline (:data:`REMINDER_DAYS`) and one overdue notice at the
deadline, then nothing more; the aging report keeps showing it until it is paid or voided.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from domain.base import NoticeKind
from domain.customer import Customer
from domain.errors import InvalidAmount, InvalidInput
from domain.invoice import Invoice, InvoiceKind
from domain.invoice_lines import InvoiceLine
from domain.jalali import JalaliDate
from domain.money import Money, Rate
from domain.subscription import Subscription
from domain.text import free_text

#: How many lines one invoice may have, and the bounds of each figure (whole numbers).
MAX_LINES = 20
MAX_QUANTITY = 1_000
MAX_UNIT_PRICE = 100_000_000_000  # rials: ten billion tomans, far above any side service
MIN_DUE_DAYS, MAX_DUE_DAYS = 1, 90
MAX_DESCRIPTION = 200

#: Reminders before the deadline, in days; a reminder that would fall at issue is not planned
#: (the invoice's own notice says the same at that moment).
REMINDER_DAYS = (3, 1)

#: The code and unit an official invoice prints for a side-service line.
SERVICE_CODE = "service"
SERVICE_UNIT = "item"


@dataclass(frozen=True)
class ServiceLine:
    """One side service as the biller sends it, checked: text through the input policy,
    figures positive whole numbers within the limits above."""

    description: str
    unit_price: Money
    quantity: int

    @classmethod
    def of(
        cls, description: object, unit_price: object, quantity: object, *, at: int
    ) -> ServiceLine:
        where = f"lines[{at}]"
        text = free_text(description, f"{where}.description", max_length=MAX_DESCRIPTION)
        price = Money.positive(unit_price, f"{where}.unit_price")
        if price.rials > MAX_UNIT_PRICE:
            raise InvalidAmount(
                f"{where}.unit_price is {price.rials:,} rials; at most {MAX_UNIT_PRICE:,} are "
                "accepted for one item. Split the service into lines, or check the figure.",
                field=f"{where}.unit_price",
            )
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise InvalidInput(
                f"{where}.quantity must be a whole number; got {quantity!r}.",
                field=f"{where}.quantity",
            )
        if not 1 <= quantity <= MAX_QUANTITY:
            raise InvalidInput(
                f"{where}.quantity must be between 1 and {MAX_QUANTITY:,}; got {quantity}.",
                field=f"{where}.quantity",
            )
        return cls(text, price, quantity)

    def priced(self, vat_rate: Rate) -> InvoiceLine:
        return InvoiceLine.price(
            code=SERVICE_CODE,
            description=self.description,
            quantity=self.quantity,
            unit=SERVICE_UNIT,
            unit_price=self.unit_price,
            discount_rate=Rate(0),
            vat_rate=vat_rate,
        )


def check_lines(lines: list[ServiceLine]) -> list[ServiceLine]:
    if not lines:
        raise InvalidInput("A side-service invoice needs at least one line.", field="lines")
    if len(lines) > MAX_LINES:
        raise InvalidInput(
            f"A side-service invoice has at most {MAX_LINES} lines; got {len(lines)}. "
            "Issue a second invoice for the rest.",
            field="lines",
        )
    return lines


def check_due_days(due_days: object) -> int:
    if isinstance(due_days, bool) or not isinstance(due_days, int):
        raise InvalidInput(f"due_days must be a whole number; got {due_days!r}.", field="due_days")
    if not MIN_DUE_DAYS <= due_days <= MAX_DUE_DAYS:
        raise InvalidInput(
            f"due_days must be between {MIN_DUE_DAYS} and {MAX_DUE_DAYS}; got {due_days}.",
            field="due_days",
        )
    return due_days


def issue_service_invoice(
    invoice_id: UUID,
    sub: Subscription,
    customer: Customer,
    lines: list[ServiceLine],
    due_days: int,
    vat_rate: Rate,
    now: datetime,
) -> Invoice:
    """Issue a side-service invoice at ``now``, due ``due_days`` later, with the VAT rate in
    force on its day (the caller reads it from the dated schedule) and send it. The customer's
    credit is not applied here: the caller does, as for any invoice at issue."""
    check_lines(lines)
    due_days = check_due_days(due_days)
    today = JalaliDate.of(now).isoformat()
    # No period to derive its id from: the caller chooses it (a retry names the same one).
    invoice = Invoice.issue_as(
        invoice_id,
        subscription_id=sub.id,
        customer_id=customer.id,
        period_no=0,  # not a billing period of the subscription
        kind=InvoiceKind.SERVICE.value,
        period_start=today,
        period_end=today,
        lines=[line.priced(vat_rate).to_dict() for line in lines],
        deadline=now + timedelta(days=due_days),
        due_at=None,
        timestamp=now,
        reminder_days=[d for d in REMINDER_DAYS if d < due_days],
        representative_id=customer.representative_id,
    )
    invoice.send_notice(
        NoticeKind.INVOICE_ISSUED,
        now,
        facts={"amount_due": invoice.balance.rials, "deadline": invoice.deadline},
    )
    return invoice


# --- the side-service invoice's own schedule ------------------------------------------------


@dataclass(frozen=True, order=True)
class ServiceStep:
    """A notice a side-service invoice is due: a reminder (``number`` 1, 2, ...) or the
    overdue notice (``number`` 0)."""

    due_at: datetime
    number: int
    kind: NoticeKind

    def describe(self) -> str:
        return self.kind.value + (f" #{self.number}" if self.number else "")


def planned_service_steps(inv: Invoice) -> list[ServiceStep]:
    """The notices still to send for a side-service invoice, earliest first: each reminder not
    yet sent, then the overdue notice at the deadline; nothing once it is paid or voided."""
    if not inv.is_service or not inv.is_open:
        return []
    steps = [
        ServiceStep(
            max(inv.deadline - timedelta(days=days), inv.issued_at),
            number,
            NoticeKind.SERVICE_REMINDER,
        )
        for number, days in enumerate(inv.reminder_days or (), start=1)
        if not inv.has_notice(NoticeKind.SERVICE_REMINDER, number)
        # A reminder whose moment passed the deadline (a deadline moved earlier never
        # happens; a late catch-up does) is still sent before the overdue notice.
    ]
    if not inv.has_notice(NoticeKind.SERVICE_OVERDUE):
        steps.append(ServiceStep(inv.deadline, 0, NoticeKind.SERVICE_OVERDUE))
    return sorted(steps, key=lambda s: (s.due_at, s.kind is NoticeKind.SERVICE_OVERDUE, s.number))


def due_service_steps(inv: Invoice, now: datetime) -> list[ServiceStep]:
    return [s for s in planned_service_steps(inv) if s.due_at <= now]


def next_service_moment(inv: Invoice) -> datetime | None:
    steps = planned_service_steps(inv)
    return steps[0].due_at if steps else None


def execute_service_step(step: ServiceStep, inv: Invoice, now: datetime) -> None:
    """Send the notice ``step`` at ``now`` (its due moment stays on record)."""
    facts: dict[str, Any] = {"deadline": inv.deadline, "amount_due": inv.balance.rials}
    inv.send_notice(step.kind, now, number=step.number, due_at=step.due_at, facts=facts)
