"""Plan changes: at the next renewal (the default for anything but an upgrade) or at once with
a proration invoice (docs/LIFECYCLE.md, "Plan changes"). Pure decisions across the
subscription, its new invoice and the customer's credit; the arithmetic is in
:mod:`domain.proration`."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from domain.base import NoticeKind, deterministic_id
from domain.customer import Customer
from domain.errors import InvalidInput
from domain.invoice import Invoice, InvoiceKind
from domain.jalali import JalaliDate
from domain.lifecycle import use_credit
from domain.plans import Period, Plan
from domain.proration import Proration, period_end
from domain.subscription import Subscription
from domain.vat import VatSchedule


class When(StrEnum):
    NOW = "now"
    RENEWAL = "renewal"

    @classmethod
    def parse(cls, value: str | When | None) -> When | None:
        if value is None or isinstance(value, When):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            raise InvalidInput(
                f'"when" is "now" or "renewal"; got {value!r}.', field="when"
            ) from None


def proration_invoice_id(subscription_id: UUID, change_no: int) -> UUID:
    """The invoice of the ``change_no``-th change at once: one per change, whoever records it."""
    return deterministic_id("proration", subscription_id, change_no)


def proration_of(sub: Subscription, plan: Plan, period: Period, now: datetime) -> Proration:
    """What moving ``sub`` to (``plan``, ``period``) at ``now`` would cost for the rest of its
    current period (a change of period length moves the period's end)."""
    current = sub.current_period
    new_end = current.end if period is sub.period else period_end(sub.anchor, current.start, period)
    return Proration(
        from_plan=sub.plan,
        from_period=sub.period,
        to_plan=plan,
        to_period=period,
        start=current.start,
        change_day=JalaliDate.of(now),
        old_end=current.end,
        new_end=new_end,
    )


def default_when(sub: Subscription, plan: Plan, period: Period, now: datetime) -> When:
    """Without ``when``: an upgrade on the same period takes effect at once; anything else
    (a cheaper plan, another period) at the renewal."""
    if period is sub.period and proration_of(sub, plan, period, now).is_upgrade:
        return When.NOW
    return When.RENEWAL


def change_now(
    sub: Subscription,
    plan: Plan,
    period: Period,
    customer: Customer,
    vat: VatSchedule,
    overdue: list[UUID],
    now: datetime,
) -> Invoice:
    """Move ``sub`` to the new terms now and issue the proration invoice (sent, and paid from
    the customer's credit first, as every invoice). Refused, recording nothing, when it is not
    an upgrade or any plan change is refused."""
    change = proration_of(sub, plan, period, now)
    invoice_id = proration_invoice_id(sub.id, sub.changes_at_once + 1)
    sub.change_plan_now(change, invoice_id, overdue, now)
    policy = plan.policy
    # Its id is the change's, not the period's (Invoice.create_id names one invoice per period).
    invoice = Invoice._create(
        Invoice.InvoiceIssued,
        id=invoice_id,
        subscription_id=sub.id,
        customer_id=sub.customer_id,
        period_no=sub.current_period.number,
        kind=InvoiceKind.PRORATION.value,
        period_start=change.first_day.isoformat(),
        period_end=change.new_end.isoformat(),
        lines=[change.line(vat.rate_at(now)).to_dict()],
        # The renewal window of the new plan, counted from the change.
        deadline=now + timedelta(days=policy.renewal_invoice_days),
        due_at=None,
        timestamp=now,
        reminder_days=list(policy.reminder_days),
    )
    invoice.send_notice(
        NoticeKind.INVOICE_ISSUED,
        now,
        facts={"amount_due": invoice.balance.rials, "deadline": invoice.deadline},
    )
    if use_credit(customer, invoice, now).is_positive and not invoice.is_open:
        sub.note_settled([invoice.id], "credit", now)
    return invoice
