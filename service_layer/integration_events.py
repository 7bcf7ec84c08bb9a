"""Integration events: the public, stable events the engine publishes (docs/WEBHOOKS.md).

The stored domain events are the engine's own record; their classes and fields may change
(upcasters keep old ones readable). What a portal integrates with is this smaller, public
vocabulary instead: ``invoice.paid``, ``subscription.suspended`` … Each integration event is
derived from exactly one stored event, read from the notification log, so:

- its **id** is derived from that stored event: ``evt_<aggregate id, 32 hex>_<version>``. It is
  the same in the events feed and on every webhook delivery of it (``webhook-id``), on SQLite
  and on PostgreSQL, and after a copy of the store to another database;
- its **order** is the log's order (the notification id, kept as ``position``);
- its **data** is the object as the API shows it (the schemas of ``api/schemas``), built from
  the aggregate as of that event (``repository.get(id, version=event.originator_version)``),
  plus ``actor``, who caused it. So the feed read today and the webhook sent then carry the same
  body.

Only ``invoice.overdue`` (recorded on the subscription when an invoice's grace starts) shows
another aggregate: the invoice as it stood at the event's recorded moment.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from api.schemas.customers import CustomerOut
from api.schemas.invoices import InvoiceOut, OfficialInvoiceOut
from api.schemas.payments import OfflineItemOut
from api.schemas.subscriptions import SubscriptionOut
from api.schemas.webhooks import NoticeOut, PaymentEventOut
from domain.actor import recorded_actor
from domain.customer import Customer
from domain.errors import InvalidEventType, InvalidInput
from domain.invoice import Invoice, InvoiceStatus
from domain.notices import NoticeSentEvent
from domain.payment import Payment
from domain.subscription import Subscription
from presentation.words import iso
from projections.model import moment
from projections.payment_views import offline_item

#: Every type the engine publishes, in the order docs/WEBHOOKS.md lists them.
EVENT_TYPES: tuple[str, ...] = (
    "customer.created",
    "subscription.created",
    "subscription.plan_changed",
    "subscription.suspended",
    "subscription.restored",
    "subscription.collected",
    "subscription.cancelled",
    "invoice.issued",
    "invoice.overdue",
    "invoice.paid",
    "invoice.voided",
    "payment.recorded",
    "offline_request.requested",
    "offline_request.approved",
    "offline_request.rejected",
    "receipt.registered",
    "receipt.confirmed",
    "receipt.rejected",
    "notice.sent",
    "official_invoice.issued",
)
#: An endpoint subscribed to this receives every type.
ALL = "*"


@dataclass(frozen=True)
class IntegrationEvent:
    id: str
    type: str
    timestamp: datetime
    data: dict[str, Any]
    #: The stored event's notification id: the log's order.
    position: int
    #: What its order is kept within: the subscription (the customer for customer.created).
    subject: str
    customer_id: str

    def payload(self) -> dict[str, Any]:
        """The JSON a webhook carries (the Standard Webhooks shape)."""
        return {"type": self.type, "timestamp": iso(self.timestamp), "data": self.data}

    def body(self) -> str:
        """The exact text sent (and signed): compact, keys sorted, Persian kept as is."""
        return json.dumps(self.payload(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    def feed_item(self) -> dict[str, Any]:
        return {"id": self.id, **self.payload()}


def event_id(domain_event: Any) -> str:
    """``evt_`` + the aggregate's id (32 hex) + ``_`` + the event's version in it."""
    return f"evt_{UUID(str(domain_event.originator_id)).hex}_{domain_event.originator_version}"


def check_types(types: Iterable[str], *, field: str, allow_all: bool = False) -> list[str]:
    """The types as given, each one the engine publishes (or ``*`` where ``allow_all``);
    refused with every valid type named."""
    wanted = [t.strip() for t in types]
    unknown = [t for t in wanted if t not in EVENT_TYPES and not (allow_all and t == ALL)]
    if unknown or not wanted:
        valid = ", ".join(EVENT_TYPES)
        what = f"Unknown event type(s) {', '.join(map(repr, unknown))}" if unknown else "No type"
        raise InvalidEventType(
            f"{what}; choose from {valid}" + (' or "*" for all.' if allow_all else "."),
            field=field,
        )
    return list(dict.fromkeys(wanted))


# --- from a stored event to its integration event ----------------------------------------------

Loader = Callable[..., Any]


class Source:
    """Where the builders read aggregates: the application's repository and event store."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def at(self, aggregate_id: UUID, version: int) -> Any:
        return self.app.repository.get(aggregate_id, version=version)

    def as_of(self, aggregate_id: UUID, when: datetime) -> Any:
        """The aggregate with the events recorded at or before ``when``."""
        version = None
        for stored in self.app.repository.event_store.get(aggregate_id):
            if stored.timestamp > when:
                break
            version = stored.originator_version
        return None if version is None else self.at(aggregate_id, version)


_SUBSCRIPTION = {
    Subscription.SubscriptionStarted: "subscription.created",
    Subscription.PlanChangeScheduled: "subscription.plan_changed",
    Subscription.PlanChanged: "subscription.plan_changed",
    Subscription.SiteSuspended: "subscription.suspended",
    Subscription.SiteRestored: "subscription.restored",
    Subscription.SiteCollected: "subscription.collected",
    Subscription.SubscriptionCancelled: "subscription.cancelled",
}
_INVOICE = {
    Invoice.InvoiceIssued: "invoice.issued",
    Invoice.InvoiceVoided: "invoice.voided",
}
_OFFLINE = {
    Invoice.OfflinePaymentRequested: "offline_request.requested",
    Invoice.OfflinePaymentApproved: "offline_request.approved",
    Invoice.OfflinePaymentRejected: "offline_request.rejected",
    Invoice.ReceiptRegistered: "receipt.registered",
    Invoice.ReceiptConfirmed: "receipt.confirmed",
    Invoice.ReceiptRejected: "receipt.rejected",
}
_SETTLING = (Invoice.PaymentRecorded, Invoice.CreditApplied)
_WANTED: tuple[type, ...] = (
    Customer.CustomerRegistered,
    *_SUBSCRIPTION,
    *_INVOICE,
    *_OFFLINE,
    *_SETTLING,
    Subscription.GraceStarted,
    Payment.PaymentReceived,
    NoticeSentEvent,
    Invoice.OfficialInvoiceIssued,
)


def publishes(event_type: type) -> bool:
    """Whether stored events of this class can become an integration event."""
    return issubclass(event_type, _WANTED)


def integration_event(domain_event: Any, position: int, source: Source) -> IntegrationEvent | None:
    """The integration event of one stored event, or None (most events have none)."""
    kind = type(domain_event)
    if not publishes(kind):
        return None
    built = _build(domain_event, kind, source)
    if built is None:
        return None
    type_, data, subject, customer_id = built
    return IntegrationEvent(
        id=event_id(domain_event),
        type=type_,
        timestamp=domain_event.timestamp,
        data=data | {"actor": recorded_actor(domain_event).to_dict()},
        position=position,
        subject=str(subject),
        customer_id=str(customer_id),
    )


def _dump(model: Any) -> dict[str, Any]:
    return model.model_dump(mode="json")


def _build(event: Any, kind: type, source: Source) -> tuple[str, dict, Any, Any] | None:
    version = event.originator_version
    if issubclass(kind, Customer.CustomerRegistered):
        customer = source.at(event.originator_id, version)
        return "customer.created", _dump(CustomerOut.of(customer, 0)), customer.id, customer.id
    if issubclass(kind, NoticeSentEvent):
        return _notice(event, source)
    if issubclass(kind, Payment.PaymentReceived):
        payment = source.at(event.originator_id, version)
        out = PaymentEventOut(
            id=str(payment.id),
            reference=payment.reference,
            amount=payment.amount.rials,
            method=payment.method,
            customer_id=str(payment.customer_id),
            subscription_id=str(payment.subscription_id),
            invoice_id=str(payment.invoice_id) if payment.invoice_id else None,
            received_at=iso(payment.received_at),
        )
        return "payment.recorded", _dump(out), payment.subscription_id, payment.customer_id
    if issubclass(kind, Subscription.GraceStarted):
        invoice = source.as_of(event.invoice_id, event.timestamp)
        if invoice is None:
            return None
        return "invoice.overdue", _dump(InvoiceOut.of(invoice)), *_of_invoice(invoice)
    if (type_ := _type_in(kind, _SUBSCRIPTION)) is not None:
        sub = source.at(event.originator_id, version)
        # next_step and representative_id depend on other aggregates and on the moment read:
        # null here (GET /subscriptions/{id} gives them now).
        return type_, _dump(SubscriptionOut.of(sub, None, None)), sub.id, sub.customer_id
    invoice = source.at(event.originator_id, version)
    if (type_ := _type_in(kind, _INVOICE)) is not None:
        return type_, _dump(InvoiceOut.of(invoice)), *_of_invoice(invoice)
    if (type_ := _type_in(kind, _OFFLINE)) is not None:
        item_id = event.request_id if type_.startswith("offline_request.") else event.receipt_id
        item = offline_item(invoice, item_id)
        if item is None:
            return None
        offline = OfflineItemOut(
            id=item["item_id"],
            kind=item["kind"],
            invoice_id=item["invoice_id"],
            subscription_id=item["subscription_id"],
            customer_id=item["customer_id"],
            status=item["status"],
            detail=item["detail"],
            created_at=moment(item["created_at"]) or "",
            decided_at=moment(item["decided_at"]),
        )
        return type_, _dump(offline), *_of_invoice(invoice)
    if issubclass(kind, _SETTLING):
        if invoice.status is not InvoiceStatus.PAID:
            return None  # paid in part: the invoice is not settled yet
        return "invoice.paid", _dump(InvoiceOut.of(invoice)), *_of_invoice(invoice)
    if issubclass(kind, Invoice.OfficialInvoiceIssued) and invoice.official is not None:
        out_ = OfficialInvoiceOut.of(invoice.id, invoice.official)
        return "official_invoice.issued", _dump(out_), *_of_invoice(invoice)
    return None


def _type_in(kind: type, types: Mapping[Any, str]) -> str | None:
    return next((name for cls, name in types.items() if issubclass(kind, cls)), None)


def _of_invoice(invoice: Invoice) -> tuple[UUID, UUID]:
    return invoice.subscription_id, invoice.customer_id


def _notice(event: Any, source: Source) -> tuple[str, dict, Any, Any] | None:
    aggregate = source.at(event.originator_id, event.originator_version)
    if isinstance(aggregate, Invoice):
        invoice_id: str | None = str(aggregate.id)
        subscription_id, customer_id = _of_invoice(aggregate)
    elif isinstance(aggregate, Subscription):
        invoice_id = event.facts.get("invoice_id")
        subscription_id, customer_id = aggregate.id, aggregate.customer_id
    else:
        return None
    out = NoticeOut(
        kind=event.kind,
        number=event.number,
        subscription_id=str(subscription_id),
        invoice_id=invoice_id,
        customer_id=str(customer_id),
        facts=event.facts,
        sent_at=iso(event.timestamp),
    )
    return "notice.sent", _dump(out), subscription_id, customer_id


# --- the feed -----------------------------------------------------------------------------------

#: Stored events one page of the feed reads at most (a page may then hold fewer items).
SCAN_LIMIT = 5_000
BATCH = 500


@dataclass(frozen=True)
class FeedPage:
    items: list[IntegrationEvent]
    #: The position the next page starts after (the last stored event read).
    after: int
    has_more: bool


def feed(
    app: Any,
    *,
    after: int = 0,
    types: Iterable[str] | None = None,
    limit: int = 50,
    scan_limit: int = SCAN_LIMIT,
) -> FeedPage:
    """The integration events recorded after position ``after``, in the log's order, of
    ``types`` (all when None), at most ``limit``, reading at most ``scan_limit`` stored events."""
    if after < 0 or limit < 1:
        raise InvalidInput("after must be 0 or more and limit 1 or more.", field="cursor")
    wanted = set(types) if types is not None else None
    source = Source(app)
    items: list[IntegrationEvent] = []
    last, read = after, 0
    while read < scan_limit and len(items) < limit:
        batch = app.recorder.select_notifications(
            start=last, limit=min(BATCH, scan_limit - read), inclusive_of_start=False
        )
        if not batch:
            break
        for notification in batch:
            last, read = notification.id, read + 1
            domain_event = app.mapper.to_domain_event(notification)
            if not publishes(type(domain_event)):
                continue
            found = integration_event(domain_event, notification.id, source)
            if found is not None and (wanted is None or found.type in wanted):
                items.append(found)
                if len(items) >= limit:
                    break
    return FeedPage(items, last, (app.recorder.max_notification_id() or 0) > last)
