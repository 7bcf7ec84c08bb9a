"""The read models of money: every movement on an invoice (the ledger), every movement of a
customer's credit (the customer's ledger), and the revenue per Jalali month. Each dispatches
on the event's class (``Invoice.PaymentRecorded``, ...)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from domain.customer import Customer
from domain.invoice import Invoice
from domain.subscription import Subscription
from projections.model import (
    Add,
    AggregateStates,
    Append,
    Entry,
    ReadModel,
    Table,
    jalali_month,
    moment,
    one_of,
)

LEDGER_ENTRIES = ("issued", "paid", "credit", "voided", "returned", "deadline")
#: What an invoice sells, as the revenue report separates it: the site's hosting (first,
#: renewal) or side services (kind ``service``).
LINES = ("hosting", "services")
#: The events that move money on an invoice.
MONEY_EVENTS = (
    Invoice.InvoiceIssued,
    Invoice.PaymentRecorded,
    Invoice.CreditApplied,
    Invoice.InvoiceVoided,
    Invoice.SaleReturned,
)
#: Events that move an invoice's deadline (an approved offline payment request).
DEADLINE_EVENTS = (Invoice.OfflinePaymentApproved,)


def _moves_money(event_type: type) -> bool:
    return issubclass(event_type, MONEY_EVENTS)


class InvoiceLedger(ReadModel):
    """Every movement of money on an invoice, and every move of its deadline, at its recorded
    moment: the basis of the aging report and of any report "as of" a past date (filter by
    recorded_at). Each row carries the invoice's deadline as it stood after that event, so the
    deadline as of a moment is the one on the invoice's last row recorded by then.

    Each row also says what the invoice sells (``line``: hosting or services) and whom it is
    credited to (``representative_id``: the customer's representative when it was issued;
    for an invoice issued before that was recorded, the representative the subscription's
    order recorded), so revenue can be split and grouped by them."""

    name = "invoice_ledger"
    #: 2: ``line`` and ``representative_id``. 3: ``returned`` rows (a return from sale: its
    #: amount and VAT share, all of it ``credited``; the balance does not change).
    version = 3
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
            ("line", "TEXT NOT NULL"),
            ("representative_id", "TEXT"),
        ),
        key=("invoice_id", "version"),
        checks=(
            "amount >= 0",
            "vat >= 0",
            "credited >= 0",
            one_of("entry", LEDGER_ENTRIES),
            one_of("line", LINES),
        ),
        indexes=(("recorded_at",), ("jalali_month",), ("customer_id",)),
    )

    def wants(self, event_type: type) -> bool:
        return issubclass(event_type, MONEY_EVENTS + DEADLINE_EVENTS)

    def entries(self, event: Any, states: AggregateStates) -> Iterable[Entry]:
        inv = states.require(event.originator_id, Invoice)
        amount, vat, reference, credited = 0, 0, None, 0
        if isinstance(event, DEADLINE_EVENTS):
            entry, reference = "deadline", str(event.request_id)
        elif isinstance(event, Invoice.InvoiceIssued):
            entry, amount, vat = "issued", inv.total.rials, inv.vat.rials
        elif isinstance(event, Invoice.PaymentRecorded):
            entry, amount, reference = "paid", event.amount, event.reference
        elif isinstance(event, Invoice.CreditApplied):
            entry, amount = "credit", event.amount
        elif isinstance(event, Invoice.InvoiceVoided):
            entry, amount, reference = "voided", inv.voided_amount.rials, event.reason
            credited = _credited_by_void(event, inv)
        elif isinstance(event, Invoice.SaleReturned):
            entry, amount, vat = "returned", event.amount, event.vat
            reference, credited = event.reason, event.amount
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
                "line": "services" if inv.is_service else "hosting",
                "representative_id": _representative_of(inv, states),
            }
        )


def _representative_of(inv: Invoice, states: AggregateStates) -> str | None:
    """Whom revenue of ``inv`` is credited to: the representative recorded at issue, or, for an
    invoice issued before that was recorded (InvoiceIssued version 2), the one the
    subscription's order recorded, which never changes."""
    if inv.representative_id is not None:
        return str(inv.representative_id)
    sub = states.get(inv.subscription_id, Subscription)
    rep = sub.representative_id if sub is not None else None
    return str(rep) if rep is not None else None


def _credited_by_void(event: Any, inv: Invoice) -> int:
    """What a void by finance (not a collection: no due moment) moved from the invoice back to
    the customer's credit: everything paid on it, by payments or by credit."""
    return inv.credited_by_void.rials if event.due_at is None else 0


CUSTOMER_LEDGER_ENTRIES = ("added", "used", "refunded")
#: The events that move a customer's credit.
CREDIT_EVENTS = (Customer.CreditAdded, Customer.CreditUsed, Customer.CreditRefunded)


class CustomerLedger(ReadModel):
    """Every movement of a customer's credit at its recorded moment: added (a payment's excess,
    a void's money), used (paid an invoice), refunded (given back outside the engine), with the
    credit after it. Revenue "as of" a moment reads its refunds here."""

    name = "customer_ledger"
    table = Table(
        "rm_customer_ledger",
        columns=(
            ("customer_id", "TEXT NOT NULL"),
            ("version", "INTEGER NOT NULL"),
            ("entry", "TEXT NOT NULL"),
            ("amount", "BIGINT NOT NULL"),
            ("credit", "BIGINT NOT NULL"),
            ("reference", "TEXT"),
            ("recorded_at", "TEXT NOT NULL"),
            ("jalali_month", "TEXT NOT NULL"),
        ),
        key=("customer_id", "version"),
        checks=("amount > 0", "credit >= 0", one_of("entry", CUSTOMER_LEDGER_ENTRIES)),
        indexes=(("recorded_at",), ("jalali_month",)),
    )

    def wants(self, event_type: type) -> bool:
        return issubclass(event_type, CREDIT_EVENTS)

    def entries(self, event: Any, states: AggregateStates) -> Iterable[Entry]:
        customer = states.require(event.originator_id, Customer)
        if isinstance(event, Customer.CreditAdded):
            entry, reference = "added", event.reference
        elif isinstance(event, Customer.CreditUsed):
            entry, reference = "used", str(event.invoice_id)
        elif isinstance(event, Customer.CreditRefunded):
            entry, reference = "refunded", event.bank_reference
        else:
            return
        yield Append(
            {
                "customer_id": str(customer.id),
                "version": event.originator_version,
                "entry": entry,
                "amount": event.amount,
                "credit": customer.credit.rials,
                "reference": reference,
                "recorded_at": moment(event.timestamp),
                "jalali_month": jalali_month(event.timestamp),
            }
        )


class RevenueByMonth(ReadModel):
    """Per Jalali month (of the recorded moment): invoiced, its VAT, paid, credit used, voided,
    credited (what finance's voids and returns from sale moved from paid invoices back to
    customers' credit), and
    refunded (credit given back to customers outside the engine).

    Version 2: ``refunded``. Version 3: returns from sale counted in ``credited``."""

    name = "revenue_by_month"
    version = 3
    counters = ("invoiced", "vat", "paid", "credit_used", "voided", "credited", "refunded")
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
            ("refunded", "BIGINT NOT NULL"),
        ),
        key=("jalali_month",),
        checks=tuple(
            f"{c} >= 0"
            for c in ("invoiced", "vat", "paid", "credit_used", "voided", "credited", "refunded")
        ),
    )

    def wants(self, event_type: type) -> bool:
        return _moves_money(event_type) or issubclass(event_type, Customer.CreditRefunded)

    def entries(self, event: Any, states: AggregateStates) -> Iterable[Entry]:
        row: dict[str, Any] = dict.fromkeys(self.counters, 0)
        if isinstance(event, Invoice.InvoiceIssued):
            inv = states.require(event.originator_id, Invoice)
            row["invoiced"], row["vat"] = inv.total.rials, inv.vat.rials
        elif isinstance(event, Invoice.PaymentRecorded):
            row["paid"] = event.amount
        elif isinstance(event, Invoice.CreditApplied):
            row["credit_used"] = event.amount
        elif isinstance(event, Invoice.InvoiceVoided):
            inv = states.require(event.originator_id, Invoice)
            row["voided"], row["credited"] = inv.voided_amount.rials, _credited_by_void(event, inv)
        elif isinstance(event, Invoice.SaleReturned):
            row["credited"] = event.amount  # a return from sale: paid money back to credit
        elif isinstance(event, Customer.CreditRefunded):
            row["refunded"] = event.amount
        else:
            return
        row["jalali_month"] = jalali_month(event.timestamp)
        yield Add(row)
