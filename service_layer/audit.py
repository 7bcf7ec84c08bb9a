"""Audit replay: any aggregate's state as of a past moment, and why it is in that state.

Both are computed from the stored events (never from a read model): the state as of a moment
is the fold of the events recorded up to it. This module gathers the facts (which invoice is
overdue, what comes next and when, who decided what: docs/AUDIT.md, "Actors");
``presentation.explain_text`` says them in English and Persian.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from domain import lifecycle
from domain.actor import Actor, recorded_actor
from domain.base import Notice, NoticeKind, check_moment
from domain.customer import Customer
from domain.errors import NotFound
from domain.invoice import Invoice, Receipt
from domain.payment import Payment
from domain.representative import Representative
from domain.subscription import Subscription, SubscriptionStatus
from presentation import explain_text
from presentation.words import Words, iso
from service_layer.timeline import entry_of

#: What ``explain`` answers: the same account in English and in Persian.
Explanation = Words


@dataclass(frozen=True)
class History:
    """An aggregate as the events recorded by a moment made it, with those events in order."""

    state: Any
    events: tuple[Any, ...]


def history_as_of(app: Any, aggregate_id: UUID, at: datetime) -> History:
    """The aggregate as the events recorded up to ``at`` made it, and those events."""
    at = check_moment(at)
    aggregate = None
    first: datetime | None = None
    events = []
    for event in app.events.get(aggregate_id):
        first = first or event.timestamp
        if event.timestamp > at:
            break
        aggregate = event.mutate(aggregate)
        events.append(event)
    if aggregate is None:
        if first is None:
            raise NotFound(
                f"No events are stored for {aggregate_id}. Check the id and the database."
            )
        raise NotFound(
            f"{aggregate_id} did not exist yet at {iso(at)}: its first event was recorded at {iso(first)}."
        )
    return History(aggregate, tuple(events))


def state_as_of(app: Any, aggregate_id: UUID, at: datetime) -> Any:
    """The aggregate as the events recorded up to ``at`` made it."""
    return history_as_of(app, aggregate_id, at).state


def _invoice_summary(inv: Invoice) -> dict[str, Any]:
    return {
        "invoice_id": str(inv.id),
        "period_no": inv.period_no,
        "kind": inv.kind.value,
        "status": inv.status.value,
        "issued_at": iso(inv.issued_at),
        "deadline": iso(inv.deadline),
        "total": inv.total.rials,
        "paid": inv.paid.rials,
        "balance": inv.balance.rials,
        "voided_at": iso(inv.voided_at),
        "notices": [_notice(n) for n in inv.notices],
    }


def _notice(n: Notice) -> dict[str, Any]:
    return {
        "kind": n.kind.value,
        "number": n.number,
        "recorded_at": iso(n.recorded_at),
        "due_at": iso(n.due_at),
    }


def describe_as_of(app: Any, aggregate_id: UUID, at: datetime) -> dict[str, Any]:
    """A JSON-ready account of the aggregate at ``at`` (a subscription with its invoices)."""
    agg = state_as_of(app, aggregate_id, at)
    base = {
        "aggregate": type(agg).__name__,
        "id": str(agg.id),
        "version": agg.version,
        "as_of": iso(at),
    }
    if isinstance(agg, Subscription):
        invoices = {}
        for invoice_id in agg.invoice_ids:
            try:
                invoices[invoice_id] = state_as_of(app, invoice_id, at)
            except NotFound:
                continue  # issued after `at`
        open_ = {i: inv for i, inv in invoices.items() if inv.is_open}
        step = lifecycle.next_step(agg, open_, agg.plan.policy)
        current = agg.current_period
        return base | {
            "status": agg.status.value,
            "site_state": agg.site_state.value,
            "plan_id": agg.plan.id,
            "period": agg.period.value,
            "current_period": {
                "number": current.number,
                "start": current.start.isoformat(),
                "last_day": current.last_day.isoformat(),
            },
            "grace_started": {str(k): iso(v) for k, v in agg.grace_started.items()},
            "suspended_at": iso(agg.suspension.suspended_at) if agg.suspension else None,
            "cancelled_at": iso(agg.cancelled_at),
            "collected_at": iso(agg.collected_at),
            "amount_due": lifecycle.amount_due(agg, open_).rials,
            "next_step": {"action": step.step.value, "at": iso(step.due_at)} if step else None,
            "invoices": [_invoice_summary(inv) for inv in invoices.values()],
            "notices": [_notice(n) for n in agg.notices],
        }
    if isinstance(agg, Invoice):
        return base | _invoice_summary(agg) | {"subscription_id": str(agg.subscription_id)}
    if isinstance(agg, Customer):
        return base | {
            "profile": agg.profile.to_dict(),
            "representative_id": str(agg.representative_id) if agg.representative_id else None,
            "credit": agg.credit.rials,
        }
    if isinstance(agg, Representative):
        return base | agg.details.to_dict() | {"added_at": iso(agg.added_at)}
    if isinstance(agg, Payment):
        return base | {
            "reference": agg.reference,
            "amount": agg.amount.rials,
            "method": agg.method,
            "subscription_id": str(agg.subscription_id),
            "received_at": iso(agg.received_at),
        }
    return base


# --- explain: the facts ------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """A decision someone made, as recorded (docs/AUDIT.md, "Actors"): its event, when, by
    whom, and its data as the timeline holds it, with the invoice it is about
    (``invoice_id``) and, for a bank receipt, its ``tracking_number`` and ``amount``."""

    event_type: type
    event: str
    aggregate_id: UUID
    recorded_at: datetime
    actor: Actor
    data: dict[str, Any]


#: The events that record a decision someone made, by class. A void at collection and a hold
#: that ran out are time's doing (they carry a ``due_at``); a payment through the gateway is
#: the gateway's, and a confirmed receipt's payment is the confirmation (both by ``method``).
_DECISIONS = (
    Invoice.OfflinePaymentApproved,
    Invoice.OfflinePaymentRejected,
    Invoice.ReceiptConfirmed,
    Invoice.ReceiptRejected,
    Invoice.VoidProposed,
    Invoice.InvoiceVoided,
    Invoice.PaymentRecorded,
    Subscription.EnforcementHoldPlaced,
    Subscription.EnforcementHoldEnded,
    Subscription.SubscriptionCancelled,
    Subscription.PlanChangeScheduled,
    Subscription.PlanChanged,
)
_NOT_A_PERSONS_PAYMENT = ("gateway", "bank_receipt", "credit")


def _is_decision(event: Any) -> bool:
    if not isinstance(event, _DECISIONS):
        return False
    if isinstance(event, Invoice.InvoiceVoided | Subscription.EnforcementHoldEnded):
        return event.due_at is None
    if isinstance(event, Invoice.PaymentRecorded):
        return event.method not in _NOT_A_PERSONS_PAYMENT
    return True


def decisions_in(history: History) -> list[Decision]:
    """The decisions recorded on one aggregate by the moment of ``history``, in order."""
    state, found = history.state, []
    for event in history.events:
        if not _is_decision(event):
            continue
        entry = entry_of(event)
        data = dict(entry.data)
        if isinstance(state, Invoice):
            data["invoice_id"] = str(state.id)
            receipt_id = getattr(event, "receipt_id", None)
            receipt = state.receipts.get(receipt_id) if receipt_id is not None else None
            if receipt is not None:
                data |= {"tracking_number": receipt.tracking_number, "amount": receipt.amount.rials}
        found.append(
            Decision(
                entry.event_type or type(event),
                entry.event,
                entry.aggregate_id,
                entry.recorded_at,
                entry.actor,
                data,
            )
        )
    return found


def _last_actor(history: History, event_class: type) -> Actor | None:
    """Who recorded the last event of ``event_class`` in ``history`` (None: there is none)."""
    last = [e for e in history.events if isinstance(e, event_class)]
    return recorded_actor(last[-1]) if last else None


@dataclass(frozen=True)
class SubscriptionFacts:
    """What explains a subscription's state at ``at``, from the events recorded by then."""

    subscription: Subscription
    at: datetime
    #: Collected: the invoices voided, what they wrote off, the warnings sent before.
    voided: tuple[Invoice, ...] = ()
    written_off: int = 0
    warnings: tuple[Notice, ...] = ()
    #: The unpaid overdue invoice behind grace or suspension; else the open one due first.
    cause: Invoice | None = None
    first_due: Invoice | None = None
    #: Suspended: the suspension notices and collection warnings sent since.
    site_notices: tuple[Notice, ...] = ()
    #: The last restoration, when the site is up again, and who caused it.
    restored: Notice | None = None
    restored_by: Actor | None = None
    next_step: lifecycle.DueStep | None = None
    #: Suspended: when the site is collected unless paid, and what restores it (rials).
    collect_at: datetime | None = None
    overdue_due: int = 0
    #: Overdue but not suspended: when the site is suspended unless paid.
    suspend_at: datetime | None = None
    #: Every decision on the subscription and its invoices recorded by ``at``, in order.
    decisions: tuple[Decision, ...] = ()

    def last_decision(self, event_class: type) -> Decision | None:
        found = [d for d in self.decisions if d.event_type is event_class]
        return found[-1] if found else None


@dataclass(frozen=True)
class InvoiceFacts:
    """What explains an invoice at ``at``: it, its receipts waiting for finance, its site,
    and who decided about it."""

    invoice: Invoice
    at: datetime
    receipts_under_review: tuple[Receipt, ...]
    #: Its subscription at ``at`` (None if the store lacks it).
    subscription: Subscription | None
    #: The decisions recorded on it by ``at``, in order.
    decisions: tuple[Decision, ...] = ()
    #: Who recorded each of ``invoice.settlements`` (the same order).
    settled_by: tuple[Actor, ...] = ()
    #: Who voided it (a person, or the scheduler at collection).
    voided_by: Actor | None = None
    #: Under the four-eyes rule, who proposed the void the second person carried out.
    void_proposed_by: Actor | None = None

    def decisions_of(self, event_class: type) -> list[Decision]:
        return [d for d in self.decisions if d.event_type is event_class]


@dataclass(frozen=True)
class CustomerFacts:
    """A customer at ``at``, with each of its subscriptions that existed then."""

    customer: Customer
    at: datetime
    #: Each subscription as it stood at ``at``, with what it owed then (rials).
    subscriptions: tuple[tuple[Subscription, int], ...]


def _histories_as_of(app: Any, ids: list[UUID], at: datetime) -> dict[UUID, History]:
    """The aggregates among ``ids`` that existed at ``at``, as they stood then."""
    histories = {}
    for aggregate_id in ids:
        try:
            histories[aggregate_id] = history_as_of(app, aggregate_id, at)
        except NotFound:
            continue  # created after `at`
    return histories


def _states_as_of(app: Any, ids: list[UUID], at: datetime) -> dict[UUID, Any]:
    return {i: h.state for i, h in _histories_as_of(app, ids, at).items()}


def subscription_facts(app: Any, history: History, at: datetime) -> SubscriptionFacts:
    sub: Subscription = history.state
    histories = _histories_as_of(app, sub.invoice_ids, at)
    invoices = {i: h.state for i, h in histories.items()}
    decisions = decisions_in(history)
    for invoice_history in histories.values():
        decisions += decisions_in(invoice_history)
    said = tuple(
        sorted(decisions, key=lambda d: d.recorded_at)
    )  # stable: the same moment keeps order
    if sub.status is SubscriptionStatus.COLLECTED:
        voided = tuple(inv for inv in invoices.values() if inv.is_void)
        return SubscriptionFacts(
            sub,
            at,
            voided=voided,
            written_off=sum(inv.voided_amount.rials for inv in voided),
            warnings=tuple(sub.notices_of(NoticeKind.COLLECTION_WARNING)),
            decisions=said,
        )
    if sub.status is SubscriptionStatus.CANCELLED:
        return SubscriptionFacts(sub, at, decisions=said)
    policy = sub.plan.policy
    open_ = {i: inv for i, inv in invoices.items() if inv.is_open}
    overdue = [inv for inv in open_.values() if inv.deadline <= at]
    suspension = sub.suspension
    cause = overdue[0] if overdue else None
    if suspension is not None:
        cause = invoices.get(suspension.invoice_id) or cause
    first_due = min(open_.values(), key=lambda inv: inv.deadline) if open_ else None
    restored = sub.notices_of(NoticeKind.SITE_RESTORED)
    facts: dict[str, Any] = {
        "cause": cause,
        "first_due": first_due if cause is None else None,
        "restored": restored[-1] if restored and suspension is None else None,
        "restored_by": _last_actor(history, Subscription.SiteRestored),
        "next_step": lifecycle.next_step(sub, open_, policy),
        "decisions": said,
    }
    if suspension is not None:
        facts["site_notices"] = tuple(
            n
            for n in sub.notices
            if n.kind in (NoticeKind.SITE_SUSPENDED, NoticeKind.COLLECTION_WARNING)
            and n.recorded_at >= suspension.suspended_at
        )
        facts["collect_at"] = lifecycle.collection_moment(
            sub, policy, open_
        ) or lifecycle.planned_collection(sub, policy)
        facts["overdue_due"] = sum(
            inv.balance.rials for inv in lifecycle.past_grace(sub, open_, policy, at)
        )
    elif cause is not None:
        facts["suspend_at"] = (
            lifecycle.suspension_moment(cause, sub, policy) or cause.deadline + policy.grace
        )
    return SubscriptionFacts(sub, at, **facts)


def invoice_facts(app: Any, history: History, at: datetime) -> InvoiceFacts:
    inv: Invoice = history.state
    subscription = _states_as_of(app, [inv.subscription_id], at).get(inv.subscription_id)
    settling = (Invoice.PaymentRecorded, Invoice.CreditApplied)
    return InvoiceFacts(
        inv,
        at,
        tuple(inv.receipts_under_review()),
        subscription,
        decisions=tuple(decisions_in(history)),
        settled_by=tuple(recorded_actor(e) for e in history.events if isinstance(e, settling)),
        voided_by=_last_actor(history, Invoice.InvoiceVoided),
        void_proposed_by=_last_actor(history, Invoice.VoidProposed),
    )


def customer_facts(
    app: Any, customer: Customer, at: datetime, subscription_ids: list[UUID]
) -> CustomerFacts:
    owing = []
    for sub in _states_as_of(app, subscription_ids, at).values():
        invoices = _states_as_of(app, sub.open_invoice_ids, at)
        owing.append((sub, lifecycle.amount_due(sub, invoices).rials))
    return CustomerFacts(customer, at, tuple(owing))


def explain(
    app: Any,
    aggregate_id: UUID,
    at: datetime,
    *,
    subscriptions_of: Callable[[UUID], list[UUID]] | None = None,
) -> Explanation:
    """Why an aggregate is in its state at ``at``, and who decided what brought it there: a
    subscription (its site), an invoice, a customer (its subscriptions, one line each;
    ``subscriptions_of`` names them), a payment; any other aggregate by its events' count. An
    id with no events is :class:`NotFound`."""
    history = history_as_of(app, aggregate_id, at)
    aggregate = history.state
    if isinstance(aggregate, Subscription):
        return explain_text.subscription_explained(subscription_facts(app, history, at))
    if isinstance(aggregate, Invoice):
        return explain_text.invoice_explained(invoice_facts(app, history, at))
    if isinstance(aggregate, Customer):
        ids = subscriptions_of(aggregate.id) if subscriptions_of is not None else []
        return explain_text.customer_explained(customer_facts(app, aggregate, at, ids))
    if isinstance(aggregate, Payment):
        recorded_by = recorded_actor(history.events[0])
        return explain_text.payment_explained(aggregate, at, recorded_by)
    return explain_text.other_explained(aggregate, at)
