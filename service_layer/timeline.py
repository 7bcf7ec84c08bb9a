"""The audit timeline: every event of an aggregate (and, for a subscription, of its invoices and
payments) in the order it happened, with its due and recorded moments, who caused it
(docs/AUDIT.md, "Actors"), and in words.

Read straight from the event store, never from a read model, so it is the evidence itself.
This module gathers the entries; their words, one formatter per event class in English and
Persian, are in ``presentation.events``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from domain.actor import UNKNOWN, Actor, recorded_actor
from domain.errors import NotFound
from domain.money import Money
from presentation.actors import who
from presentation.events import words_for
from presentation.words import Words, iso

__all__ = [
    "TimelineEntry",
    "describe",
    "describe_fa",
    "entry_of",
    "events_of",
    "iso",
    "plain",
    "timeline",
    "who_of",
    "words_of",
]

_BASE_FIELDS = {
    "originator_id",
    "originator_version",
    "timestamp",
    "originator_topic",
    "due_at",
    "actor",
}

# Events recorded at the same moment are shown in the order a reader expects: the cause
# before its notice, the payment before the restore it caused.
_RANK = {
    "CatalogueOpened": 0,
    "PlanDefined": 0,
    "PlanRetired": 0,
    "CustomerRegistered": 0,
    "BillingProfileChanged": 0,
    "SubscriptionStarted": 1,
    "SubscriptionRenewed": 2,
    "PlanChanged": 2,  # an upgrade at once before the proration invoice it issued
    "InvoiceIssued": 3,
    "NoticeSent:invoice_issued": 4,
    "CreditUsed": 5,
    "CreditApplied": 5,
    "PaymentReceived": 6,
    "PaymentRecorded": 7,
    "CreditAdded": 8,
    "OfficialInvoiceIssued": 8,
    "InvoicesSettled": 8,
    "InvoicesClosed": 8,
    "OfflinePaymentRequested": 6,
    "OfflinePaymentApproved": 6,
    "OfflinePaymentRejected": 6,
    "ReceiptRegistered": 6,
    "ReceiptConfirmed": 6,
    "ReceiptRejected": 6,
    "PaymentLinkCreated": 6,
    "GatewayPaymentVerified": 6,
    "GatewayPaymentFailed": 6,
    "GatewayVerificationPending": 6,
    "EnforcementHoldPlaced": 20,
    "NoticeSent:hold_placed": 20,  # after its hold: the same aggregate, kept in version order
    "EnforcementHoldEnded": 0,
    "NoticeSent:hold_ended": 1,  # the hold's end and its notice before the renewal of its moment
    "SiteRestored": 9,
    "NoticeSent:site_restored": 10,
    "NoticeSent:payment_received": 10,
    "NoticeSent:payment_kept_as_credit": 10,
    "NoticeSent:payment_reminder": 11,
    "NoticeSent:service_reminder": 11,
    "NoticeSent:service_overdue": 12,
    "GraceStarted": 12,
    "GraceWithdrawn": 6,
    "NoticeSent:grace_started": 13,
    "SiteSuspended": 14,
    "NoticeSent:site_suspended": 15,
    "NoticeSent:collection_warning": 16,
    "SiteCollected": 17,
    "VoidProposed": 18,
    "InvoiceVoided": 18,
    "OfficialCorrectionIssued": 18,  # after its void: the same invoice, kept in version order
    "CreditRefunded": 18,
    "SaleReturned": 18,
    "CreditNoteIssued": 18,
    "NoticeSent:sale_returned": 19,
    "NoticeSent:refund_sent": 19,
    "NoticeSent:site_collected": 19,
    "PlanChangeScheduled": 20,
    "SubscriptionCancelled": 20,
    "SubscriptionEnded": 21,
    "NoticeSent:subscription_ended": 22,
}


def plain(value: Any) -> Any:
    """An event field as JSON: ids and times as strings, amounts stay integer rials."""
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Money):
        return value.rials
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


@dataclass(frozen=True)
class TimelineEntry:
    recorded_at: datetime
    due_at: datetime | None
    aggregate: str
    aggregate_id: UUID
    version: int
    event: str
    data: dict[str, Any]
    #: The event's class (``Subscription.GraceStarted``): what its words are found by.
    event_type: type | None = field(default=None, compare=False, repr=False)
    #: Who caused it (:data:`domain.actor.UNKNOWN` for an event stored before actors were kept).
    actor: Actor = UNKNOWN

    @property
    def rank_name(self) -> str:
        kind = self.data.get("kind") if self.event == "NoticeSent" else None
        return f"{self.event}:{kind}" if kind else self.event

    @property
    def sort_key(self) -> tuple[datetime, int]:
        # Python's sort is stable: entries recorded at the same moment with the same rank keep
        # the order they were gathered in (the subscription, its invoices by period, payments).
        return (self.recorded_at, _RANK.get(self.rank_name, 50))

    @property
    def late_by(self):
        return (
            self.recorded_at - self.due_at
            if self.due_at and self.recorded_at > self.due_at
            else None
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "recorded_at": iso(self.recorded_at),
            "due_at": iso(self.due_at),
            "aggregate": self.aggregate,
            "aggregate_id": str(self.aggregate_id),
            "version": self.version,
            "event": self.event,
            "actor": self.actor.to_dict(),
            "data": self.data,
        }


def entry_of(domain_event: Any) -> TimelineEntry:
    aggregate, _, name = type(domain_event).__qualname__.rpartition(".")
    fields = vars(domain_event)
    return TimelineEntry(
        recorded_at=domain_event.timestamp,
        due_at=fields.get("due_at"),
        aggregate=aggregate or "?",
        aggregate_id=domain_event.originator_id,
        version=domain_event.originator_version,
        event=name,
        data={k: plain(v) for k, v in fields.items() if k not in _BASE_FIELDS},
        event_type=type(domain_event),
        actor=recorded_actor(domain_event),
    )


def events_of(app, aggregate_id: UUID) -> list[TimelineEntry]:
    return [entry_of(e) for e in app.events.get(aggregate_id)]


def timeline(app, aggregate_id: UUID) -> list[TimelineEntry]:
    """All events of the aggregate; for a subscription, also its invoices' and payments'."""
    own = events_of(app, aggregate_id)
    if not own:
        raise NotFound(
            f"No events are stored for {aggregate_id}. Check the id, and that "
            "BILLING_DATABASE_URL (or --db) names the database it was recorded in.",
            aggregate_id=str(aggregate_id),
        )
    entries = list(own)
    if own[0].aggregate == "Subscription":
        try:
            subscription = app.repository.get(aggregate_id)
        except AggregateNotFoundError:  # pragma: no cover - events exist, so it does
            subscription = None
        payment_ids: dict[str, None] = {}
        for invoice_id in getattr(subscription, "invoice_ids", []):
            invoice_entries = events_of(app, invoice_id)
            entries += invoice_entries
            for e in invoice_entries:
                if e.event == "PaymentRecorded":
                    payment_ids[e.data["payment_id"]] = None
        for payment_id in payment_ids:
            entries += events_of(app, UUID(payment_id))
    return sorted(entries, key=lambda e: e.sort_key)


def words_of(entry: TimelineEntry) -> Words:
    """What happened, in English and Persian (the words live in ``presentation.events``)."""
    return words_for(entry.event_type, entry.data, entry.event)


def describe(entry: TimelineEntry) -> str:
    """What happened and why, in one line of English for people."""
    return words_of(entry).english


def describe_fa(entry: TimelineEntry) -> str:
    """What happened and why, in one line of Persian."""
    return words_of(entry).persian


def who_of(entry: TimelineEntry) -> Words:
    """Who caused it, in English and Persian: ``مریم کریمی (finance)``, ``the scheduler``,
    ``unknown (recorded before actors were kept)`` (``presentation.actors``)."""
    return who(entry.actor)
