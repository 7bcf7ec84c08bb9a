"""The read models: one class per question the portal or finance asks.

Each row is computed from aggregate states (see :mod:`projections.model`), so it equals a
fold of the events by construction; database constraints repeat the invariants they can
(an invoice's total is what was paid plus what is owed plus what was voided; balances and
credit are never negative; one invoice per subscription period).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from domain import lifecycle
from domain.banks import BANKS
from domain.customer import Customer
from domain.invoice import Invoice, InvoiceStatus
from domain.jalali import JalaliDate
from domain.payment import GatewayPayment, GatewayStatus
from domain.plans import Period
from domain.subscription import SiteState, Subscription, SubscriptionStatus
from projections.model import (
    Add,
    AggregateStates,
    Append,
    Entry,
    ReadModel,
    Table,
    as_json,
    moment,
    uuid_text,
)


def jalali_month(moment_: Any) -> str:
    """``1405/02``: the Jalali month of a moment in Tehran."""
    return JalaliDate.of(moment_).isoformat()[:7]


def _one_of(column: str, values: Iterable[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class SubscriptionsView(ReadModel):
    """What state is this site in, on which plan and period?"""

    name = "subscriptions"
    table = Table(
        "rm_subscriptions",
        columns=(
            ("subscription_id", "TEXT NOT NULL"),
            ("customer_id", "TEXT NOT NULL"),
            ("representative_id", "TEXT"),
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
            ("version", "INTEGER NOT NULL"),
            ("updated_at", "TEXT NOT NULL"),
        ),
        key=("subscription_id",),
        checks=(
            _one_of("status", [s.value for s in SubscriptionStatus]),
            _one_of("site_state", [s.value for s in SiteState]),
            _one_of("period", [p.value for p in Period]),
            "open_invoices >= 0",
            "period_no >= 1",
        ),
        indexes=(("customer_id",), ("representative_id",), ("status",)),
    )

    def wants(self, event_type: type) -> bool:
        return issubclass(event_type, Subscription.Event)

    def touched(self, event: Any, states: AggregateStates) -> Iterable[UUID]:
        yield event.originator_id

    def row(self, key: UUID, states: AggregateStates) -> dict[str, Any] | None:
        sub: Subscription | None = states.get(key)
        if sub is None:
            return None
        current = sub.current_period
        return {
            "subscription_id": str(sub.id),
            "customer_id": str(sub.customer_id),
            "representative_id": uuid_text(sub.representative_id),
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
            "version": sub.version,
            "updated_at": moment(sub.modified_on),
        }


class InvoicesView(ReadModel):
    """What does each invoice say, and what is still owed on it?"""

    name = "invoices"
    table = Table(
        "rm_invoices",
        columns=(
            ("invoice_id", "TEXT NOT NULL"),
            ("subscription_id", "TEXT NOT NULL"),
            ("customer_id", "TEXT NOT NULL"),
            ("period_no", "INTEGER NOT NULL"),
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
            ("notices", "INTEGER NOT NULL"),
            ("version", "INTEGER NOT NULL"),
            ("updated_at", "TEXT NOT NULL"),
        ),
        key=("invoice_id",),
        uniques=(("subscription_id", "period_no"),),
        checks=(
            _one_of("status", [s.value for s in InvoiceStatus]),
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
        inv: Invoice | None = states.get(key)
        if inv is None:
            return None
        return {
            "invoice_id": str(inv.id),
            "subscription_id": str(inv.subscription_id),
            "customer_id": str(inv.customer_id),
            "period_no": inv.period_no,
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
            "notices": len(inv.notices),
            "version": inv.version,
            "updated_at": moment(inv.modified_on),
        }


class CustomerAccountsView(ReadModel):
    """Who is the customer, who represents them, and how much credit do they hold?

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
        checks=("credit >= 0", _one_of("kind", ["person", "legal"])),
        indexes=(("representative_id",),),
    )

    def wants(self, event_type: type) -> bool:
        return issubclass(event_type, Customer.Event)

    def touched(self, event: Any, states: AggregateStates) -> Iterable[UUID]:
        yield event.originator_id

    def row(self, key: UUID, states: AggregateStates) -> dict[str, Any] | None:
        customer: Customer | None = states.get(key)
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
        return event_type.__name__ == "NoticeSent"

    def entries(self, event: Any, states: AggregateStates) -> Iterable[Entry]:
        aggregate = states.get(event.originator_id)
        subscription_id = _subscription_of(aggregate)
        if subscription_id is None:
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


LEDGER_ENTRIES = ("issued", "paid", "credit", "voided", "deadline")
MONEY_EVENTS = frozenset({"InvoiceIssued", "PaymentRecorded", "CreditApplied", "InvoiceVoided"})
#: Events that move an invoice's deadline (an approved offline payment request).
DEADLINE_EVENTS = frozenset({"OfflinePaymentApproved"})


def _moves_money(event_type: type) -> bool:
    return issubclass(event_type, Invoice.Event) and event_type.__name__ in MONEY_EVENTS


class InvoiceLedger(ReadModel):
    """Every movement of money on an invoice, and every move of its deadline, at its recorded
    moment: the basis of the aging report and of any report "as of" a past date (filter by
    recorded_at). Each row carries the invoice's deadline as it stood after that event, so the
    deadline as of a moment is the one on the invoice's last row recorded by then."""

    name = "invoice_ledger"
    table = Table(
        "rm_invoice_ledger",
        columns=(
            ("invoice_id", "TEXT NOT NULL"),
            ("version", "INTEGER NOT NULL"),
            ("subscription_id", "TEXT NOT NULL"),
            ("customer_id", "TEXT NOT NULL"),
            ("entry", "TEXT NOT NULL"),
            ("amount", "BIGINT NOT NULL"),
            ("vat", "BIGINT NOT NULL"),
            ("recorded_at", "TEXT NOT NULL"),
            ("jalali_month", "TEXT NOT NULL"),
            ("deadline", "TEXT NOT NULL"),
            ("reference", "TEXT"),
            ("credited", "BIGINT NOT NULL"),
        ),
        key=("invoice_id", "version"),
        checks=("amount >= 0", "vat >= 0", "credited >= 0", _one_of("entry", LEDGER_ENTRIES)),
        indexes=(("recorded_at",), ("jalali_month",), ("customer_id",)),
    )

    def wants(self, event_type: type) -> bool:
        return _moves_money(event_type) or (
            issubclass(event_type, Invoice.Event) and event_type.__name__ in DEADLINE_EVENTS
        )

    def entries(self, event: Any, states: AggregateStates) -> Iterable[Entry]:
        name = type(event).__name__
        inv: Invoice = states.get(event.originator_id)
        amount, vat, reference, credited = 0, 0, None, 0
        if name in DEADLINE_EVENTS:
            entry, reference = "deadline", str(event.request_id)
        elif name == "InvoiceIssued":
            entry, amount, vat = "issued", inv.total.rials, inv.vat.rials
        elif name == "PaymentRecorded":
            entry, amount, reference = "paid", event.amount, event.reference
        elif name == "CreditApplied":
            entry, amount = "credit", event.amount
        elif name == "InvoiceVoided":
            entry, amount, reference = "voided", inv.voided_amount.rials, event.reason
            credited = _credited_by_void(event, inv)
        else:
            return
        yield Append(
            {
                "invoice_id": str(inv.id),
                "version": event.originator_version,
                "subscription_id": str(inv.subscription_id),
                "customer_id": str(inv.customer_id),
                "entry": entry,
                "amount": amount,
                "vat": vat,
                "recorded_at": moment(event.timestamp),
                "jalali_month": jalali_month(event.timestamp),
                "deadline": moment(inv.deadline),
                "reference": reference,
                "credited": credited,
            }
        )


def _credited_by_void(event: Any, inv: Invoice) -> int:
    """What a void by finance (not a collection: no due moment) moved from the invoice back to
    the customer's credit: everything paid on it, by payments or by credit."""
    return inv.paid.rials if event.due_at is None else 0


class RevenueByMonth(ReadModel):
    """Per Jalali month (of the recorded moment): invoiced, its VAT, paid, credit used, voided,
    and credited (what finance's voids moved from paid invoices back to customers' credit)."""

    name = "revenue_by_month"
    counters = ("invoiced", "vat", "paid", "credit_used", "voided", "credited")
    table = Table(
        "rm_revenue_by_month",
        columns=(
            ("jalali_month", "TEXT NOT NULL"),
            ("invoiced", "BIGINT NOT NULL"),
            ("vat", "BIGINT NOT NULL"),
            ("paid", "BIGINT NOT NULL"),
            ("credit_used", "BIGINT NOT NULL"),
            ("voided", "BIGINT NOT NULL"),
            ("credited", "BIGINT NOT NULL"),
        ),
        key=("jalali_month",),
        checks=tuple(
            f"{c} >= 0" for c in ("invoiced", "vat", "paid", "credit_used", "voided", "credited")
        ),
    )

    def wants(self, event_type: type) -> bool:
        return _moves_money(event_type)

    def entries(self, event: Any, states: AggregateStates) -> Iterable[Entry]:
        name = type(event).__name__
        row = dict.fromkeys(self.counters, 0)
        if name == "InvoiceIssued":
            inv: Invoice = states.get(event.originator_id)
            row["invoiced"], row["vat"] = inv.total.rials, inv.vat.rials
        elif name == "PaymentRecorded":
            row["paid"] = event.amount
        elif name == "CreditApplied":
            row["credit_used"] = event.amount
        elif name == "InvoiceVoided":
            inv = states.get(event.originator_id)
            row["voided"], row["credited"] = inv.voided_amount.rials, _credited_by_void(event, inv)
        else:
            return
        row["jalali_month"] = jalali_month(event.timestamp)
        yield Add(row)


class DueActionsView(ReadModel):
    """Which subscription needs the scheduler next, for what, and when?"""

    name = "due_actions"
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
        checks=(_one_of("action", [s.value for s in lifecycle.Step]),),
        indexes=(("due_at",),),
    )

    def wants(self, event_type: type) -> bool:
        return issubclass(event_type, Subscription.Event | Invoice.Event)

    def touched(self, event: Any, states: AggregateStates) -> Iterable[UUID]:
        if isinstance(event, Subscription.Event):
            yield event.originator_id
        elif isinstance(event, Invoice.Event):
            invoice = states.get(event.originator_id)
            if invoice is not None:
                yield invoice.subscription_id

    def row(self, key: UUID, states: AggregateStates) -> dict[str, Any] | None:
        sub: Subscription | None = states.get(key)
        if sub is None:
            return None
        invoices = {i: states.get(i) for i in sub.open_invoice_ids}
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


class GatewayPaymentsView(ReadModel):
    """Which online payments were started, and where each stands (reconciliation reads it)."""

    name = "gateway_payments"
    table = Table(
        "rm_gateway_payments",
        columns=(
            ("authority", "TEXT NOT NULL"),
            ("invoice_id", "TEXT NOT NULL"),
            ("subscription_id", "TEXT NOT NULL"),
            ("amount", "BIGINT NOT NULL"),
            ("status", "TEXT NOT NULL"),
            ("ref_id", "TEXT"),
            ("created_at", "TEXT NOT NULL"),
            ("updated_at", "TEXT NOT NULL"),
        ),
        key=("authority",),
        checks=("amount > 0", _one_of("status", [s.value for s in GatewayStatus])),
        indexes=(("status", "created_at"), ("invoice_id",)),
    )

    def wants(self, event_type: type) -> bool:
        return issubclass(event_type, GatewayPayment.Event)

    def touched(self, event: Any, states: AggregateStates) -> Iterable[UUID]:
        yield event.originator_id

    def row(self, key: UUID, states: AggregateStates) -> dict[str, Any] | None:
        attempt: GatewayPayment | None = states.get(key)
        if attempt is None:
            return None
        return {
            "authority": attempt.authority,
            "invoice_id": str(attempt.invoice_id),
            "subscription_id": str(attempt.subscription_id),
            "amount": attempt.amount.rials,
            "status": attempt.status.value,
            "ref_id": attempt.ref_id,
            "created_at": moment(attempt.created_on),
            "updated_at": moment(attempt.modified_on),
        }


class OfflineRequestsView(ReadModel):
    """Offline payment requests and receipts awaiting finance, by id (the API looks them up)."""

    name = "offline_payments"
    #: 2: receipts show their bank's names and possible duplicates.
    version = 2
    table = Table(
        "rm_offline_payments",
        columns=(
            ("item_id", "TEXT NOT NULL"),
            ("kind", "TEXT NOT NULL"),
            ("invoice_id", "TEXT NOT NULL"),
            ("subscription_id", "TEXT NOT NULL"),
            ("customer_id", "TEXT NOT NULL"),
            ("status", "TEXT NOT NULL"),
            ("detail", "TEXT NOT NULL"),
            ("created_at", "TEXT NOT NULL"),
            ("decided_at", "TEXT"),
        ),
        key=("item_id",),
        checks=(_one_of("kind", ["request", "receipt"]),),
        indexes=(("kind", "status"), ("invoice_id",)),
    )

    def wants(self, event_type: type) -> bool:
        return issubclass(event_type, Invoice.Event) and (
            "Offline" in event_type.__name__ or "Receipt" in event_type.__name__
        )

    def touched(self, event: Any, states: AggregateStates) -> Iterable[tuple[str, str]]:
        item = getattr(event, "request_id", None) or getattr(event, "receipt_id", None)
        yield (str(event.originator_id), str(item))

    def row(self, key: tuple[str, str], states: AggregateStates) -> dict[str, Any] | None:
        invoice: Invoice | None = states.get(UUID(key[0]))
        item = UUID(key[1])
        if invoice is None:
            return None
        base = {
            "item_id": str(item),
            "invoice_id": str(invoice.id),
            "subscription_id": str(invoice.subscription_id),
            "customer_id": str(invoice.customer_id),
        }
        if item in invoice.offline_requests:
            r = invoice.offline_requests[item]
            return base | {
                "kind": "request",
                "status": r.status.value,
                "detail": as_json({"reason": r.reason, "decision": r.decision}),
                "created_at": moment(r.requested_at),
                "decided_at": moment(r.decided_at),
            }
        if item in invoice.receipts:
            r = invoice.receipts[item]
            bank = BANKS.get(r.bank)  # None for a receipt registered when banks were free text
            return base | {
                "kind": "receipt",
                "status": r.status.value,
                "detail": as_json(
                    {
                        "bank": r.bank,
                        "bank_name_fa": bank.name_fa if bank else None,
                        "bank_name_en": bank.name_en if bank else None,
                        "tracking_number": r.tracking_number,
                        "amount": r.amount.rials,
                        "paid_on": r.paid_on,
                        "scan_hash": r.scan_hash,
                        "decision": r.decision,
                        "possible_duplicates": [str(d) for d in r.possible_duplicates],
                    }
                ),
                "created_at": moment(r.registered_at),
                "decided_at": moment(r.decided_at),
            }
        return None


ALL_READ_MODELS: tuple[ReadModel, ...] = (
    SubscriptionsView(),
    InvoicesView(),
    CustomerAccountsView(),
    NoticesView(),
    InvoiceLedger(),
    RevenueByMonth(),
    DueActionsView(),
    GatewayPaymentsView(),
    OfflineRequestsView(),
)


def read_model(name: str) -> ReadModel:
    for model in ALL_READ_MODELS:
        if model.name == name:
            return model
    known = ", ".join(m.name for m in ALL_READ_MODELS)
    raise KeyError(f"There is no read model {name!r}; known: {known}.")
