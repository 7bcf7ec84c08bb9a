"""What every aggregate of the billing domain shares: time comes in as an argument."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import InvalidTime, TimeWentBackwards

#: Namespace of the deterministic ids (uuid5) of aggregates that time or a payment creates, so
#: that two schedulers, or a retried callback, can never create the same thing twice.
BILLING_NAMESPACE = UUID("7d0f3f2e-57a4-4c43-9b7e-0c5d8a1e2b60")


def deterministic_id(*parts: object) -> UUID:
    return uuid5(BILLING_NAMESPACE, "/".join(str(p) for p in parts))


#: Moments the engine accepts: far enough back for any record, far enough ahead for any
#: contract, and well inside the Jalali calendar's range.
EARLIEST = datetime(1925, 1, 1, tzinfo=UTC)
LATEST = datetime(2400, 1, 1, tzinfo=UTC)


def iso(moment: datetime | None) -> str:
    """A recorded moment as messages write it (ISO 8601); one that was never recorded, too."""
    return moment.isoformat() if moment is not None else "an unrecorded moment"


def check_moment(now: datetime) -> datetime:
    """A moment must be timezone-aware and between 1925 and 2400; it is normalised to UTC."""
    if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise InvalidTime(
            f"A moment must be a timezone-aware date and time (ISO 8601 with offset, e.g. "
            f"2026-04-04T05:30:00Z); got {now!r}."
        )
    try:
        inside = EARLIEST <= now <= LATEST
    except OverflowError:  # a moment at the very edge of what datetime can hold
        inside = False
    if not inside:
        raise InvalidTime(
            f"{now.isoformat()} is outside the years 1925-2400 this engine keeps records for."
        )
    return now.astimezone(UTC)


class BillingAggregate(Aggregate):
    """Base class: guards that recorded time never runs backwards within an aggregate."""

    def _now(self, now: datetime) -> datetime:
        """``now`` if it is not before this aggregate's last change; else TimeWentBackwards,
        which names that change: the application runs the command again at that moment when
        the difference is within its clock-skew tolerance (two requests racing, another
        machine's clock a moment behind), and refuses it beyond."""
        now = check_moment(now)
        if now < self.modified_on:
            raise TimeWentBackwards(
                f"{type(self).__name__} {self.id} was last changed at {self.modified_on.isoformat()}; "
                f"a command at {now.isoformat()} would rewrite history. Use the current time.",
                latest=self.modified_on,
            )
        return now


class NoticeKind(StrEnum):
    """What a notice tells the customer. Templates are chosen by this name."""

    INVOICE_ISSUED = "invoice_issued"
    PAYMENT_REMINDER = "payment_reminder"
    GRACE_STARTED = "grace_started"
    SITE_SUSPENDED = "site_suspended"
    COLLECTION_WARNING = "collection_warning"
    SITE_COLLECTED = "site_collected"
    PAYMENT_RECEIVED = "payment_received"
    SITE_RESTORED = "site_restored"
    SUBSCRIPTION_ENDED = "subscription_ended"
    OFFLINE_APPROVED = "offline_approved"
    OFFLINE_REJECTED = "offline_rejected"
    RECEIPT_REJECTED = "receipt_rejected"
    INVOICE_VOIDED = "invoice_voided"
    HOLD_ENDED = "hold_ended"
    HOLD_PLACED = "hold_placed"
    PAYMENT_KEPT_AS_CREDIT = "payment_kept_as_credit"
    #: A side-service invoice's reminder before its deadline, and its one overdue notice
    #: (domain/service_invoices.py): neither speaks of the site, which they never touch.
    SERVICE_REMINDER = "service_reminder"
    SERVICE_OVERDUE = "service_overdue"
    REFUND_SENT = "refund_sent"
    #: Part of a paid invoice was returned (برگشت از فروش) and became the customer's credit.
    SALE_RETURNED = "sale_returned"


@dataclass(frozen=True)
class Notice:
    """One notice as the aggregate remembers it (its NoticeSent event holds the same facts)."""

    kind: NoticeKind
    number: int
    recorded_at: datetime
    due_at: datetime | None
    facts: dict = field(default_factory=dict, compare=True)

    @property
    def shape(self) -> object:
        """The facts as the dataclass of this notice's kind (domain/notices.py)."""
        from domain.notices import shape_of  # it builds on this module

        return shape_of(self.kind, self.facts)
