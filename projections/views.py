"""The read models: one class per question the portal or finance asks.

This module holds the read models of subscriptions, invoices, customers, notices and due
actions, and the list of them all; the money read models are in :mod:`projections.money_views`,
those of payments in :mod:`projections.payment_views`, that of representatives in
:mod:`projections.representative_views`. Each chooses its events by their class
(``wants``), never by name.

Each row is computed from aggregate states (see :mod:`projections.model`), so it equals a
fold of the events by construction; database constraints repeat the invariants they can
(an invoice's total is what was paid plus what is owed plus what was voided; balances and
credit are never negative).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from domain import lifecycle
from domain.base import NoticeKind
from domain.customer import Customer
from domain.invoice import Invoice, InvoiceStatus
from domain.notices import NoticeSentEvent
from domain.official import CreditNote, OfficialCorrection
from domain.plans import Period
from domain.service_invoices import planned_service_steps
from domain.subscription import SiteState, Subscription, SubscriptionStatus
from projections.model import (
    AggregateStates,
    Append,
    Entry,
    ReadModel,
    Table,
    as_json,
    moment,
    one_of,
    uuid_text,
)
from projections.money_views import CustomerLedger, InvoiceLedger, RevenueByMonth
from projections.payment_views import GatewayPaymentsView, OfflineRequestsView
from projections.representative_views import RepresentativesView
from projections.search_index import SearchIndex


class SubscriptionsView(ReadModel):
    """What state is this site in, on which plan and period?

    No representative here: who serves a site is its customer's representative of the moment
    (``rm_customer_accounts``), which a copy taken at order would contradict after a move.
    """

    name = "subscriptions"
    table = Table(
        "rm_subscriptions",
        columns=(
            ("subscription_id", "TEXT NOT NULL"),
            ("customer_id", "TEXT NOT NULL"),
            ("plan_id", "TEXT NOT NULL"),
            ("plan_name", "TEXT NOT NULL"),
            ("period", "TEXT NOT NULL"),
            ("status", "TEXT NOT NULL"),
            ("site", "TEXT NOT NULL"),
            ("site_state", "TEXT NOT NULL"),
            ("period_no", "INTEGER NOT NULL"),
            ("period_start", "TEXT NOT NULL"),
            ("period_last_day", "TEXT NOT NULL"),
            ("period_starts_at", "TEXT NOT NULL"),
            ("period_ends_at", "TEXT NOT NULL"),
            ("ordered_at", "TEXT NOT NULL"),
            ("suspended_at", "TEXT"),
            ("cancelled_at", "TEXT"),
            ("contract_ends_at", "TEXT"),
            ("ended_at", "TEXT"),
            ("collected_at", "TEXT"),
            ("open_invoices", "INTEGER NOT NULL"),
            # A plan change waiting for the renewal (the API's ``pending_change``).
            ("pending_plan_id", "TEXT"),
            ("pending_period", "TEXT"),
            ("version", "INTEGER NOT NULL"),
            ("updated_at", "TEXT NOT NULL"),
        ),
        key=("subscription_id",),
        checks=(
            one_of("status", [s.value for s in SubscriptionStatus]),
            one_of("site_state", [s.value for s in SiteState]),
            one_of("period", [p.value for p in Period]),
            "open_invoices >= 0",
            "period_no >= 1",
        ),
        indexes=(("customer_id",), ("status",)),
    )

    def wants(self, event_type: type) -> bool:
        return issubclass(event_type, Subscription.Event)

    def touched(self, event: Any, states: AggregateStates) -> Iterable[UUID]:
        yield event.originator_id

    def row(self, key: UUID, states: AggregateStates) -> dict[str, Any] | None:
        sub = states.get(key, Subscription)
        if sub is None:
            return None
        current = sub.current_period
        return {
            "subscription_id": str(sub.id),
            "customer_id": str(sub.customer_id),
            "plan_id": sub.plan.id,
            "plan_name": sub.plan.name,
            "period": sub.period.value,
            "status": sub.status.value,
            "site": sub.site,
            "site_state": sub.site_state.value,
            "period_no": current.number,
            "period_start": current.start.isoformat(),
            "period_last_day": current.last_day.isoformat(),
            "period_starts_at": moment(current.starts_at),
            "period_ends_at": moment(current.ends_at),
            "ordered_at": moment(sub.ordered_at),
            "suspended_at": moment(sub.suspension.suspended_at) if sub.suspension else None,
            "cancelled_at": moment(sub.cancelled_at),
            "contract_ends_at": moment(sub.contract_ends_at),
            "ended_at": moment(sub.ended_at),
            "collected_at": moment(sub.collected_at),
            "open_invoices": len(sub.open_invoice_ids),
            "pending_plan_id": sub.pending_change[0].id if sub.pending_change else None,
            "pending_period": sub.pending_change[1].value if sub.pending_change else None,
            "version": sub.version,
            "updated_at": moment(sub.modified_on),
        }


class InvoicesView(ReadModel):
    """What does each invoice say, and what is still owed on it?

    A side-service invoice is no billing period of its subscription: its ``period_no`` is
    NULL, so the one-invoice-per-period constraint does not count it."""

    name = "invoices"
    #: 2: side-service invoices (kind ``service``, no period number).
    version = 2
    table = Table(
        "rm_invoices",
        columns=(
            ("invoice_id", "TEXT NOT NULL"),
            ("subscription_id", "TEXT NOT NULL"),
            ("customer_id", "TEXT NOT NULL"),
            ("period_no", "INTEGER"),
            ("kind", "TEXT NOT NULL"),
            ("status", "TEXT NOT NULL"),
            ("issued_at", "TEXT NOT NULL"),
            ("deadline", "TEXT NOT NULL"),
            ("period_start", "TEXT NOT NULL"),
            ("period_end", "TEXT NOT NULL"),
            ("total", "BIGINT NOT NULL"),
            ("vat", "BIGINT NOT NULL"),
            ("paid", "BIGINT NOT NULL"),
            ("balance", "BIGINT NOT NULL"),
            ("voided_amount", "BIGINT NOT NULL"),
            ("voided_at", "TEXT"),
            ("void_reason", "TEXT"),
            ("lines", "TEXT NOT NULL"),
            # What the API's invoice answer shows besides (projections/reads.py): the official
            # invoice's number, its correcting documents, returns, credit notes (JSON lists).
            ("official_number", "TEXT"),
            ("corrections", "TEXT NOT NULL"),
            ("returned", "BIGINT NOT NULL"),
            ("credit_notes", "TEXT NOT NULL"),
            ("notices", "INTEGER NOT NULL"),
            ("version", "INTEGER NOT NULL"),
            ("updated_at", "TEXT NOT NULL"),
        ),
        # One invoice per subscription period is kept by the key: a period's invoice id is
        # derived from (subscription, period number). A proration invoice shares its period's
        # number (docs/INVOICES.md), so (subscription_id, period_no) is not unique.
        key=("invoice_id",),
        checks=(
            one_of("status", [s.value for s in InvoiceStatus]),
            "total >= 0",
            "vat >= 0",
            "paid >= 0",
            "balance >= 0",
            "voided_amount >= 0",
            "total = paid + balance + voided_amount",
        ),
        indexes=(("subscription_id",), ("customer_id",), ("status", "deadline")),
    )

    def wants(self, event_type: type) -> bool:
        return issubclass(event_type, Invoice.Event)

    def touched(self, event: Any, states: AggregateStates) -> Iterable[UUID]:
        yield event.originator_id

    def row(self, key: UUID, states: AggregateStates) -> dict[str, Any] | None:
        inv = states.get(key, Invoice)
        if inv is None:
            return None
        return {
            "invoice_id": str(inv.id),
            "subscription_id": str(inv.subscription_id),
            "customer_id": str(inv.customer_id),
            "period_no": None if inv.is_service else inv.period_no,
            "kind": inv.kind.value,
            "status": inv.status.value,
            "issued_at": moment(inv.issued_at),
            "deadline": moment(inv.deadline),
            "period_start": inv.period_start.isoformat(),
            "period_end": inv.period_end.isoformat(),
            "total": inv.total.rials,
            "vat": inv.vat.rials,
            "paid": inv.paid.rials,
            "balance": inv.balance.rials,
            "voided_amount": inv.voided_amount.rials,
            "voided_at": moment(inv.voided_at),
            "void_reason": inv.void_reason,
            "lines": as_json([line.to_dict() for line in inv.lines]),
            "official_number": inv.official.number_text if inv.official else None,
            "corrections": as_json([_correction(c) for c in inv.corrections]),
            "returned": inv.returned.rials,
            "credit_notes": as_json([_credit_note(n) for n in inv.credit_notes]),
            "notices": len(inv.notices),
            "version": inv.version,
            "updated_at": moment(inv.modified_on),
        }


def _correction(c: OfficialCorrection) -> dict[str, Any]:
    return {
        "subject": c.subject.value,
        "number": c.number_text,
        "tax_id": c.tax_id,
        "original_number": c.original_number,
        "original_tax_id": c.original_tax_id,
        "amount": c.amount,
        "reason": c.reason,
        "issued_at": moment(c.issued_at),
    }


def _credit_note(note: CreditNote) -> dict[str, Any]:
    return {
        "number": note.number,
        "cause": note.cause,
        "amount": note.amount.rials,
        "vat": note.vat.rials,
        "reason": note.reason,
        "issued_at": moment(note.issued_at),
    }


class CustomerAccountsView(ReadModel):
    """Who is the customer, who represents them now, and how much credit do they hold?

    The open balance is summed from the invoices read model when asked, so it cannot
    disagree with it.
    """

    name = "customer_accounts"
    table = Table(
        "rm_customer_accounts",
        columns=(
            ("customer_id", "TEXT NOT NULL"),
            ("name", "TEXT NOT NULL"),
            ("kind", "TEXT NOT NULL"),
            ("email", "TEXT NOT NULL"),
            ("mobile", "TEXT NOT NULL"),
            ("representative_id", "TEXT"),
            ("profile", "TEXT NOT NULL"),
            ("credit", "BIGINT NOT NULL"),
            ("version", "INTEGER NOT NULL"),
            ("updated_at", "TEXT NOT NULL"),
        ),
        key=("customer_id",),
        checks=("credit >= 0", one_of("kind", ["person", "legal"])),
        indexes=(("representative_id",),),
    )

    def wants(self, event_type: type) -> bool:
        return issubclass(event_type, Customer.Event)

    def touched(self, event: Any, states: AggregateStates) -> Iterable[UUID]:
        yield event.originator_id

    def row(self, key: UUID, states: AggregateStates) -> dict[str, Any] | None:
        customer = states.get(key, Customer)
        if customer is None:
            return None
        profile = customer.profile
        return {
            "customer_id": str(customer.id),
            "name": profile.name,
            "kind": profile.kind.value,
            "email": profile.email,
            "mobile": profile.mobile,
            "representative_id": uuid_text(customer.representative_id),
            "profile": as_json(profile.to_dict()),
            "credit": customer.credit.rials,
            "version": customer.version,
            "updated_at": moment(customer.modified_on),
        }


def _subscription_of(aggregate: Any) -> UUID | None:
    if isinstance(aggregate, Subscription):
        return aggregate.id
    if isinstance(aggregate, Invoice):
        return aggregate.subscription_id
    return None


class NoticesView(ReadModel):
    """Which notices went out to a customer, when, due when, and what did they say?"""

    name = "notices"
    #: 2: facts in one shape per kind, every moment as ISO 8601 UTC with its offset (NoticeSent
    #: version 2, docs/EVENTS.md): rows of older code are rebuilt.
    version = 2
    table = Table(
        "rm_notices",
        columns=(
            ("aggregate_id", "TEXT NOT NULL"),
            ("version", "INTEGER NOT NULL"),
            ("aggregate", "TEXT NOT NULL"),
            ("subscription_id", "TEXT NOT NULL"),
            ("invoice_id", "TEXT"),
            ("customer_id", "TEXT NOT NULL"),
            ("kind", "TEXT NOT NULL"),
            ("number", "INTEGER NOT NULL"),
            ("due_at", "TEXT"),
            ("recorded_at", "TEXT NOT NULL"),
            ("facts", "TEXT NOT NULL"),
        ),
        key=("aggregate_id", "version"),
        checks=("due_at IS NULL OR due_at <= recorded_at",),
        indexes=(("subscription_id", "recorded_at"), ("customer_id", "recorded_at")),
    )

    def wants(self, event_type: type) -> bool:
        return issubclass(event_type, NoticeSentEvent)

    def entries(self, event: Any, states: AggregateStates) -> Iterable[Entry]:
        aggregate = states.get(event.originator_id)
        subscription_id = _subscription_of(aggregate)
        if subscription_id is None or not isinstance(aggregate, Subscription | Invoice):
            return
        is_invoice = isinstance(aggregate, Invoice)
        yield Append(
            {
                "aggregate_id": str(event.originator_id),
                "version": event.originator_version,
                "aggregate": type(aggregate).__name__,
                "subscription_id": str(subscription_id),
                "invoice_id": str(aggregate.id) if is_invoice else None,
                "customer_id": str(aggregate.customer_id),
                "kind": event.kind,
                "number": event.number,
                "due_at": moment(event.due_at),
                "recorded_at": moment(event.timestamp),
                "facts": as_json(event.facts),
            }
        )


#: The due actions of a side-service invoice's own schedule.
SERVICE_ACTIONS = (NoticeKind.SERVICE_REMINDER.value, NoticeKind.SERVICE_OVERDUE.value)


class DueActionsView(ReadModel):
    """Which subscription needs the scheduler next, for what, and when?

    A side-service invoice has a row of its own, under its own id (in ``subscription_id``,
    the key the scheduler advances by): its next reminder or overdue notice
    (domain/service_invoices.py)."""

    name = "due_actions"
    #: 2: an invoice's reminders follow the schedule it was issued with (InvoiceIssued version 2).
    #: 3: side-service invoices' rows.
    version = 3
    table = Table(
        "rm_due_actions",
        columns=(
            ("subscription_id", "TEXT NOT NULL"),
            ("action", "TEXT NOT NULL"),
            ("due_at", "TEXT NOT NULL"),
            ("invoice_id", "TEXT"),
            ("number", "INTEGER NOT NULL"),
        ),
        key=("subscription_id",),
        checks=(one_of("action", [s.value for s in lifecycle.Step] + list(SERVICE_ACTIONS)),),
        indexes=(("due_at",),),
    )

    def wants(self, event_type: type) -> bool:
        return issubclass(event_type, Subscription.Event | Invoice.Event)

    def touched(self, event: Any, states: AggregateStates) -> Iterable[UUID]:
        if isinstance(event, Subscription.Event):
            yield event.originator_id
        elif isinstance(event, Invoice.Event):
            invoice = states.get(event.originator_id, Invoice)
            if invoice is not None:
                yield invoice.id if invoice.is_service else invoice.subscription_id

    def row(self, key: UUID, states: AggregateStates) -> dict[str, Any] | None:
        found = states.get(key)
        if isinstance(found, Invoice):
            return _service_row(found)
        sub = found if isinstance(found, Subscription) else None
        if sub is None:
            return None
        invoices = {i: states.get(i, Invoice) for i in sub.open_invoice_ids}
        step = lifecycle.next_step(sub, {i: v for i, v in invoices.items() if v}, sub.plan.policy)
        if step is None:
            return None
        return {
            "subscription_id": str(sub.id),
            "action": step.step.value,
            "due_at": moment(step.due_at),
            "invoice_id": uuid_text(step.invoice_id),
            "number": step.number,
        }


def _service_row(inv: Invoice) -> dict[str, Any] | None:
    """A side-service invoice's next notice, filed under the invoice's own id."""
    steps = planned_service_steps(inv)
    if not steps:
        return None
    return {
        "subscription_id": str(inv.id),
        "action": steps[0].kind.value,
        "due_at": moment(steps[0].due_at),
        "invoice_id": str(inv.id),
        "number": steps[0].number,
    }


ALL_READ_MODELS: tuple[ReadModel, ...] = (
    SubscriptionsView(),
    InvoicesView(),
    CustomerAccountsView(),
    NoticesView(),
    InvoiceLedger(),
    RevenueByMonth(),
    CustomerLedger(),
    DueActionsView(),
    GatewayPaymentsView(),
    OfflineRequestsView(),
    RepresentativesView(),
    SearchIndex(),
)


def read_model(name: str) -> ReadModel:
    for model in ALL_READ_MODELS:
        if model.name == name:
            return model
    known = ", ".join(m.name for m in ALL_READ_MODELS)
    raise KeyError(f"There is no read model {name!r}; known: {known}.")
