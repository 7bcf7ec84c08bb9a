"""The lifecycle policy: pure functions of (state, policy, now).

:func:`planned_steps` answers "what will this subscription's lifecycle do next, and when?"
from its recorded state alone; :func:`due_steps` keeps what is due at ``now``. The scheduler
and every command only ask these functions and :func:`execute` their answer, one step at a
time, recomputing after each (a step can enable the next: the second reminder makes the
suspension plannable).

The rule "several notices before any action" lives here, enforced for every plan:

- a site is suspended only after every payment reminder of the overdue invoice was sent (at
  least two, by plan validation) and the grace notice went out, and never sooner than 24 h
  after the last reminder;
- a site is collected only after every collection warning of the suspension in force was
  sent (at least three) and never sooner than 24 h after the last one.

Notices are planned at their due moments. When the engine catches up after an outage the
missed notices are executed first (they fall due earlier) and each action then waits its lead
time after them: the action's moment moves, its due moment stays on record.

The module is about 560 lines because the policy is read as one piece: what is due, when,
what executing each step records, and what the notices of a hold say of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from domain.base import NoticeKind
from domain.customer import Customer
from domain.invoice import Invoice, InvoiceKind, InvoiceLine, ReceiptStatus
from domain.money import Money, total
from domain.plans import MIN_LEAD, LifecyclePolicy
from domain.subscription import BillingPeriod, SiteState, Subscription
from domain.vat import VatSchedule


class Step(StrEnum):
    RENEW = "issue_renewal_invoice"
    END_HOLD = "end_enforcement_hold"
    REMIND = "send_payment_reminder"
    START_GRACE = "start_grace"
    SUSPEND = "suspend_site"
    WARN = "send_collection_warning"
    COLLECT = "collect_site"
    END = "end_subscription"


# At one moment: invoices first, then notices, then the actions they announce.
_RANK = {
    Step.RENEW: 0,
    Step.END_HOLD: 0,
    Step.REMIND: 1,
    Step.START_GRACE: 2,
    Step.SUSPEND: 3,
    Step.WARN: 4,
    Step.COLLECT: 5,
    Step.END: 6,
}


@dataclass(frozen=True)
class DueStep:
    """One step of the lifecycle and the moment it falls due."""

    due_at: datetime
    step: Step
    invoice_id: UUID | None = None
    number: int = 0  # which reminder, warning or period

    @property
    def sort_key(self) -> tuple[datetime, int, int, str]:
        return (self.due_at, _RANK[self.step], self.number, str(self.invoice_id or ""))

    def describe(self) -> str:
        return self.step.value + (f" #{self.number}" if self.number else "")


Invoices = Mapping[UUID, Invoice]


def open_invoices(sub: Subscription, invoices: Invoices) -> list[Invoice]:
    """The subscription's unpaid, unvoided invoices, oldest period first."""
    return [invoices[i] for i in sub.open_invoice_ids if i in invoices and invoices[i].is_open]


def overdue_invoices(sub: Subscription, invoices: Invoices, now: datetime) -> list[Invoice]:
    """Open invoices whose deadline has passed."""
    return [inv for inv in open_invoices(sub, invoices) if inv.deadline <= now]


def past_grace(
    sub: Subscription, invoices: Invoices, policy: LifecyclePolicy, now: datetime
) -> list[Invoice]:
    """Open invoices unpaid past their deadline plus grace: these keep a site suspended."""
    return [inv for inv in open_invoices(sub, invoices) if inv.deadline + policy.grace <= now]


def keeping_suspended(
    sub: Subscription, invoices: Invoices, policy: LifecyclePolicy, now: datetime
) -> list[Invoice]:
    """The invoices that keep a suspended site suspended: every open invoice unpaid past its
    deadline plus grace, and the invoice the suspension in force was for while it is still
    open. An approved offline request moves that invoice's deadline but does not lift the
    suspension: only paying it in full or voiding it does (with nothing else past grace)."""
    keeping = past_grace(sub, invoices, policy, now)
    cause = invoices.get(sub.suspension.invoice_id) if sub.suspension is not None else None
    if cause is not None and cause.is_open and cause not in keeping:
        keeping.insert(0, cause)
    return keeping


def amount_due(sub: Subscription, invoices: Invoices) -> Money:
    return total([inv.balance for inv in open_invoices(sub, invoices)])


def paused_until(inv: Invoice, policy: LifecyclePolicy) -> datetime | None:
    """A bank receipt under review pauses this invoice's suspension and collection until finance
    decides, at most ``receipt_review_days``; a rejected receipt gives the customer a day's
    notice before the lifecycle acts on the invoice again."""
    bounds = []
    under_review = inv.receipts_under_review()
    if under_review:
        first = min(r.registered_at for r in under_review)
        bounds.append(first + timedelta(days=policy.receipt_review_days))
    rejected = [
        r.decided_at
        for r in inv.receipts.values()
        if r.status is ReceiptStatus.REJECTED and r.decided_at is not None
    ]
    if rejected:
        bounds.append(max(rejected) + MIN_LEAD)
    return max(bounds) if bounds else None


def _not_before(moment: datetime, *bounds: datetime | None) -> datetime:
    return max([moment, *(b for b in bounds if b is not None)])


def _after_hold(sub: Subscription) -> datetime | None:
    """After an enforcement hold ends, actions wait a day after the notice that says so."""
    return sub.hold_ended_at + MIN_LEAD if sub.hold_ended_at else None


def reminder_days_of(inv: Invoice, sub: Subscription) -> tuple[int, ...]:
    """The payment reminders of ``inv``, in days before its deadline: the schedule recorded when
    it was issued, so a later plan change never adds or moves reminders of an issued invoice.
    An invoice issued before the schedule was recorded (InvoiceIssued version 1) follows the
    plan its period was billed on, which is what the code of that time applied to it."""
    if inv.reminder_days is not None:
        return inv.reminder_days
    return sub.plan_of_period(inv.period_no).policy.reminder_days


def suspension_moment(inv: Invoice, sub: Subscription, policy: LifecyclePolicy) -> datetime | None:
    """When the site may be suspended for ``inv``; None until every notice it needs was sent."""
    reminders = inv.notices_of(NoticeKind.PAYMENT_REMINDER)
    if len({n.number for n in reminders}) < len(reminder_days_of(inv, sub)):
        return None
    if inv.id not in sub.grace_started:
        return None
    last_reminder = max(n.recorded_at for n in reminders)
    return _not_before(
        inv.deadline + policy.grace,
        last_reminder + MIN_LEAD,
        paused_until(inv, policy),
        _after_hold(sub),
    )


def planned_collection(sub: Subscription, policy: LifecyclePolicy) -> datetime | None:
    """The collection moment of the suspension in force, before any postponement."""
    if sub.suspension is None:
        return None
    return sub.suspension.suspended_at + policy.suspension


def collection_warnings_sent(sub: Subscription) -> list:
    if sub.suspension is None:
        return []
    return [
        n
        for n in sub.notices_of(NoticeKind.COLLECTION_WARNING)
        if n.facts.get("suspension_no") == sub.suspension.number
    ]


def collection_moment(
    sub: Subscription, policy: LifecyclePolicy, invoices: Invoices | None = None
) -> datetime | None:
    """When the site may be collected; None until every collection warning was sent."""
    planned = planned_collection(sub, policy)
    sent = collection_warnings_sent(sub)
    if planned is None or len({n.number for n in sent}) < len(policy.collection_warning_days):
        return None
    pauses = [paused_until(inv, policy) for inv in open_invoices(sub, invoices or {})]
    return _not_before(
        planned, max(n.recorded_at for n in sent) + MIN_LEAD, *pauses, _after_hold(sub)
    )


def planned_steps(sub: Subscription, invoices: Invoices, policy: LifecyclePolicy) -> list[DueStep]:
    """Every step the lifecycle will take next, with its due moment, in the order to run them."""
    if sub.is_closed:
        return []
    steps: list[DueStep] = []

    if sub.contract_ends_at is None:
        steps.append(
            DueStep(sub.current_period.ends_at, Step.RENEW, number=sub.current_period.number + 1)
        )

    held = sub.hold is not None
    if sub.hold is not None:
        steps.append(DueStep(sub.hold.until, Step.END_HOLD))

    unpaid = open_invoices(sub, invoices)
    suspensions: list[DueStep] = []
    for inv in unpaid:
        for number, days in enumerate(reminder_days_of(inv, sub), start=1):
            if not inv.has_notice(NoticeKind.PAYMENT_REMINDER, number):
                at = max(inv.deadline - timedelta(days=days), inv.issued_at)
                steps.append(DueStep(at, Step.REMIND, inv.id, number))
        if inv.id not in sub.grace_started:
            steps.append(DueStep(inv.deadline, Step.START_GRACE, inv.id))
        elif sub.site_state is SiteState.UP and not held:
            suspend_at = suspension_moment(inv, sub, policy)
            if suspend_at is not None:
                suspensions.append(DueStep(suspend_at, Step.SUSPEND, inv.id))
    if suspensions:
        steps.append(min(suspensions, key=lambda s: s.sort_key))

    if sub.site_state is SiteState.SUSPENDED and not held:
        planned = planned_collection(sub, policy)
        assert planned is not None and sub.suspension is not None
        sent = {n.number for n in collection_warnings_sent(sub)}
        for number, days in enumerate(policy.collection_warning_days, start=1):
            if number not in sent:
                at = max(planned - timedelta(days=days), sub.suspension.suspended_at)
                steps.append(DueStep(at, Step.WARN, number=number))
        collect_at = collection_moment(sub, policy, invoices)
        if collect_at is not None:
            steps.append(DueStep(collect_at, Step.COLLECT))

    ends_at = sub.contract_ends_at
    if ends_at is not None and not unpaid and sub.site_state is SiteState.UP:
        # The contract ends at its end, or when its last invoice was settled, if later.
        steps.append(DueStep(max(ends_at, sub.last_settled_at or ends_at), Step.END))

    return sorted(steps, key=lambda s: s.sort_key)


def due_steps(
    sub: Subscription, invoices: Invoices, policy: LifecyclePolicy, now: datetime
) -> list[DueStep]:
    """The commands due at ``now``: the answer the scheduler executes."""
    return [s for s in planned_steps(sub, invoices, policy) if s.due_at <= now]


def next_step(sub: Subscription, invoices: Invoices, policy: LifecyclePolicy) -> DueStep | None:
    steps = planned_steps(sub, invoices, policy)
    return steps[0] if steps else None


# --- executing a step -----------------------------------------------------------------------


def issue_invoice(
    sub: Subscription,
    period: BillingPeriod,
    kind: InvoiceKind,
    customer: Customer,
    vat: VatSchedule,
    now: datetime,
    *,
    due_at: datetime | None,
) -> Invoice:
    """Issue the invoice of ``period`` at ``now``, send it, and apply the customer's credit."""
    plan = sub.plan
    policy = plan.policy
    days = policy.first_invoice_days if kind is InvoiceKind.FIRST else policy.renewal_invoice_days
    line = InvoiceLine.for_plan(plan, period.period, period.start, period.end, vat.rate_at(now))
    invoice = Invoice(
        subscription_id=sub.id,
        customer_id=sub.customer_id,
        period_no=period.number,
        kind=kind.value,
        period_start=period.start.isoformat(),
        period_end=period.end.isoformat(),
        lines=[line.to_dict()],
        # A late issue (after an outage) still gives the customer the whole window.
        deadline=now + timedelta(days=days),
        due_at=due_at,
        timestamp=now,
        # Recorded, so this invoice's reminders do not follow a later plan change.
        reminder_days=list(policy.reminder_days),
        # The revenue report credits the invoice to the customer's representative of now.
        representative_id=customer.representative_id,
    )
    invoice.send_notice(
        NoticeKind.INVOICE_ISSUED,
        now,
        facts=_facts(amount_due=invoice.balance.rials, deadline=invoice.deadline),
    )
    if use_credit(customer, invoice, now).is_positive and not invoice.is_open:
        sub.note_settled([invoice.id], "credit", now)
    return invoice


def use_credit(customer: Customer, invoice: Invoice, now: datetime) -> Money:
    """Apply the customer's credit to an open invoice; returns what was applied."""
    amount = customer.credit.min(invoice.balance)
    if amount.is_positive and invoice.is_open:
        invoice.apply_credit(amount, now)
        customer.use_credit(amount, invoice.id, now)
        return amount
    return Money(0)


def announced_suspension(sub: Subscription, at: datetime) -> dict[str, datetime | None]:
    """What a reminder or grace notice says of the suspension planned at ``at``: that moment;
    while an enforcement hold is in force, the hold's end too, and no moment when the hold
    prevents it (nothing is suspended sooner than a day after the hold ends)."""
    if sub.hold is None:
        return {"suspension_at": at, "hold_until": None}
    prevented = at < sub.hold.until + MIN_LEAD
    return {"suspension_at": None if prevented else at, "hold_until": sub.hold.until}


def place_hold(
    sub: Subscription, invoices: Invoices, reason: str, until: datetime, now: datetime
) -> None:
    """Finance's enforcement hold, and the notice that tells the customer what it means; the
    hold in force placed again (a retry) records nothing."""
    if sub.place_hold(reason, until, now):
        unpaid = open_invoices(sub, invoices)
        sub.send_notice(
            NoticeKind.HOLD_PLACED,
            now,
            facts=_facts(
                until=until,
                amount_due=amount_due(sub, invoices).rials,
                site=sub.site_state.value,
                invoice_id=str(unpaid[0].id) if unpaid else None,
            ),
        )


def end_hold(
    sub: Subscription,
    invoices: Invoices,
    now: datetime,
    *,
    due_at: datetime | None = None,
    reason: str | None = None,
) -> None:
    """The hold ends, at its end (``due_at``) or lifted by finance (``reason``), and the
    customer is told what is due and when the lifecycle may act again."""
    if reason is None:
        sub.end_hold(now, due_at=due_at)
    else:
        sub.end_hold(now, due_at=due_at, reason=reason)
    overdue = past_grace(sub, invoices, sub.plan.policy, now)
    unpaid = open_invoices(sub, invoices)
    sub.send_notice(
        NoticeKind.HOLD_ENDED,
        now,
        due_at=due_at,
        facts=_facts(
            amount_due=amount_due(sub, invoices).rials,
            overdue=[str(i.id) for i in overdue],
            action_not_before=now + MIN_LEAD if overdue or sub.suspension else None,
            invoice_id=str(unpaid[0].id) if unpaid else None,
        ),
    )


def _facts(**values: Any) -> dict[str, Any]:
    """A notice's facts; the aggregate checks them against the kind's shape and writes each
    moment as domain/notices.py says."""
    return values


def execute(
    step: DueStep,
    sub: Subscription,
    invoices: dict[UUID, Invoice],
    customer: Callable[[], Customer],
    vat: VatSchedule,
    now: datetime,
) -> Invoice | None:
    """Record ``step`` at ``now`` on the aggregates; returns a newly issued invoice, if any.

    ``customer`` is called only by the steps that need the customer (a renewal may use credit).
    """
    policy = sub.plan.policy
    inv = invoices.get(step.invoice_id) if step.invoice_id else None

    if step.step is Step.RENEW:
        following = sub.next_period()
        invoice_id = Invoice.create_id(sub.id, following.number)
        period = sub.renew(invoice_id, step.due_at, now)
        new = issue_invoice(
            sub, period, InvoiceKind.RENEWAL, customer(), vat, now, due_at=step.due_at
        )
        invoices[new.id] = new
        return new

    if step.step is Step.END_HOLD:
        end_hold(sub, invoices, now, due_at=step.due_at)
        return None

    if step.step is Step.REMIND:
        assert inv is not None
        inv.send_notice(
            NoticeKind.PAYMENT_REMINDER,
            now,
            number=step.number,
            due_at=step.due_at,
            facts=_facts(
                deadline=inv.deadline,
                amount_due=inv.balance.rials,
                **announced_suspension(sub, inv.deadline + policy.grace),
            ),
        )
    elif step.step is Step.START_GRACE:
        assert inv is not None
        sub.start_grace(inv.id, step.due_at, now)
        at = suspension_moment(inv, sub, policy) or inv.deadline + policy.grace
        inv.send_notice(
            NoticeKind.GRACE_STARTED,
            now,
            due_at=step.due_at,
            facts=_facts(
                deadline=inv.deadline,
                amount_due=inv.balance.rials,
                **announced_suspension(sub, at),
            ),
        )
    elif step.step is Step.SUSPEND:
        assert inv is not None
        sub.suspend(inv.id, step.due_at, now)
        sub.send_notice(
            NoticeKind.SITE_SUSPENDED,
            now,
            due_at=step.due_at,
            facts=_facts(
                invoice_id=str(inv.id),
                amount_due=amount_due(sub, invoices).rials,
                collection_at=planned_collection(sub, policy),
            ),
        )
    elif step.step is Step.WARN:
        assert sub.suspension is not None
        planned = planned_collection(sub, policy)
        assert planned is not None
        is_last = step.number == len(policy.collection_warning_days)
        sub.send_notice(
            NoticeKind.COLLECTION_WARNING,
            now,
            number=step.number,
            due_at=step.due_at,
            facts=_facts(
                suspension_no=sub.suspension.number,
                amount_due=amount_due(sub, invoices).rials,
                collection_at=max(planned, now + MIN_LEAD) if is_last else planned,
            ),
        )
    elif step.step is Step.COLLECT:
        voided = open_invoices(sub, invoices)
        written_off = amount_due(sub, invoices)
        for open_invoice in voided:
            open_invoice.void("uncollectible: the site was collected", now, due_at=step.due_at)
        sub.collect([v.id for v in voided], step.due_at, now)
        sub.send_notice(
            NoticeKind.SITE_COLLECTED,
            now,
            due_at=step.due_at,
            facts=_facts(
                voided_invoices=[str(v.id) for v in voided], amount_voided=written_off.rials
            ),
        )
    elif step.step is Step.END:
        sub.end(step.due_at, now)
        sub.send_notice(NoticeKind.SUBSCRIPTION_ENDED, now, due_at=step.due_at)
    return None


# --- payments -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Allocation:
    invoice_id: UUID
    amount: Money


@dataclass(frozen=True)
class PaymentOutcome:
    reference: str
    amount: Money
    allocations: tuple[Allocation, ...]
    credit: Money
    restored: bool
    still_overdue: tuple[UUID, ...]


def settle_payment(
    *,
    payment_id: UUID,
    reference: str,
    amount: Money,
    method: str,
    named: Invoice | None,
    sub: Subscription,
    invoices: dict[UUID, Invoice],
    customer: Customer,
    now: datetime,
) -> PaymentOutcome:
    """Apply a received payment: the named invoice first, then the subscription's other open
    invoices oldest first, the rest to the customer's credit; restore the site in the same
    step when nothing keeps it suspended (:func:`keeping_suspended`)."""
    policy = sub.plan.policy
    if named is not None:
        named.check_payable()
    targets = ([named] if named is not None and named.is_open else []) + [
        inv for inv in open_invoices(sub, invoices) if named is None or inv.id != named.id
    ]
    remaining = amount
    allocations = []
    for inv in targets:
        if not remaining.is_positive:
            break
        part = remaining.min(inv.balance)
        inv.record_payment(payment_id, reference, part, method, now)
        allocations.append(Allocation(inv.id, part))
        remaining = remaining - part
    if remaining.is_positive:
        customer.add_credit(remaining, reference, now)
    paid_in_full = [inv.id for inv in targets if not inv.is_open]
    sub.note_settled(paid_in_full, reference, now)

    still = tuple(inv.id for inv in keeping_suspended(sub, invoices, policy, now))
    restored = sub.site_state is SiteState.SUSPENDED and not still
    if restored:
        sub.restore(reference, now)
    sub.send_notice(
        NoticeKind.SITE_RESTORED if restored else NoticeKind.PAYMENT_RECEIVED,
        now,
        facts=_facts(
            reference=reference,
            amount=amount.rials,
            credit=remaining.rials,
            amount_due=amount_due(sub, invoices).rials,
            site=sub.site_state.value,
            still_overdue=[str(i) for i in still],
        ),
    )
    return PaymentOutcome(reference, amount, tuple(allocations), remaining, restored, still)
