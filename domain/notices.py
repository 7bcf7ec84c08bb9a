"""What each notice says: one declared shape per kind, and one time format.

A ``NoticeSent`` event records its kind, its number and its facts: what the customer was told
(amounts, dates, references), from which the e-mail, the SMS and the panel message are
rendered. Each kind has a frozen dataclass below naming its facts; :func:`facts_of` checks a
notice's facts against the shape of its kind when it is sent (an unknown or missing fact is a
programming error, refused before anything is recorded) and writes every moment in one
format: ISO 8601 in UTC with its offset, ``2026-04-04T05:30:00+00:00``.

Stored facts are plain JSON objects (the event store keeps no classes). Before
``NoticeSent`` class_version 2 some moments were written ``…Z`` and others ``…+00:00``;
:func:`normalise_times` is the upcast that rewrites them (docs/EVENTS.md).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain.base import BillingAggregate, NoticeKind


def iso_moment(value: datetime | str | None) -> str | None:
    """A moment as notice facts write it: ISO 8601, in UTC, with its offset (``+00:00``)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"A notice's moment must carry its offset; got {value!r}.")
    return value.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class InvoiceIssuedFacts:
    amount_due: int  # rials
    deadline: str  # moment


@dataclass(frozen=True)
class PaymentReminderFacts:
    """A reminder before the deadline. While an enforcement hold is in force it says so
    (``hold_until``), and ``suspension_at`` is None when the hold prevents the suspension the
    plan would give: a date that will not happen is not announced."""

    deadline: str
    amount_due: int
    suspension_at: str | None  # the deadline plus grace, if still unpaid; None: held past it
    #: The end of the enforcement hold in force when it was sent; None: no hold (and every
    #: notice recorded before holds were told).
    hold_until: str | None = None


@dataclass(frozen=True)
class GraceStartedFacts:
    """The deadline passed; the suspension's moment, or the hold that prevents it (as a
    reminder)."""

    deadline: str
    amount_due: int
    suspension_at: str | None
    hold_until: str | None = None


@dataclass(frozen=True)
class SiteSuspendedFacts:
    invoice_id: str  # the invoice the suspension is for
    amount_due: int
    collection_at: str


@dataclass(frozen=True)
class CollectionWarningFacts:
    suspension_no: int  # which suspension the warning is about
    amount_due: int
    collection_at: str


@dataclass(frozen=True)
class SiteCollectedFacts:
    voided_invoices: list[str]
    amount_voided: int


@dataclass(frozen=True)
class PaymentReceivedFacts:
    """Also the facts of ``site_restored``: a payment (or a void, an approved extension)."""

    reference: str
    amount: int
    credit: int  # what became the customer's credit
    amount_due: int
    site: str  # the site's state after it: up or suspended
    still_overdue: list[str] = dataclasses.field(default_factory=list)
    cause: str | None = None  # a restore without a payment: "void" or "offline"


SiteRestoredFacts = PaymentReceivedFacts


@dataclass(frozen=True)
class SubscriptionEndedFacts:
    pass


@dataclass(frozen=True)
class OfflineApprovedFacts:
    deadline: str  # the new deadline
    note: str
    amount_due: int


@dataclass(frozen=True)
class OfflineRejectedFacts:
    reason: str
    deadline: str
    amount_due: int


@dataclass(frozen=True)
class ReceiptRejectedFacts:
    reason: str
    amount_due: int
    action_not_before: str
    deadline: str
    grace_days: int


@dataclass(frozen=True)
class InvoiceVoidedFacts:
    reason: str
    credit: int  # what was paid on it, now the customer's credit


@dataclass(frozen=True)
class HoldEndedFacts:
    amount_due: int
    overdue: list[str]
    action_not_before: str | None
    #: The oldest open invoice (what the payment link pays); None: nothing open, or a notice
    #: recorded before it was stated.
    invoice_id: str | None = None


@dataclass(frozen=True)
class HoldPlacedFacts:
    """Finance placed an enforcement hold: no suspension, collection warning or collection until
    ``until``; the debt stays due and reminders go on."""

    until: str
    amount_due: int
    site: str  # the site's state: up, or suspended (a hold does not restore a site)
    invoice_id: str | None  # the oldest open invoice (what the payment link pays), if any


@dataclass(frozen=True)
class PaymentKeptAsCreditFacts:
    """Money that arrived after the site was collected, or for a voided invoice, paid nothing
    and was kept whole as the customer's credit."""

    reference: str
    amount: int
    cause: str  # "collected" (the site was collected) or "void" (the invoice was voided)
    credit: int  # the customer's credit after it


@dataclass(frozen=True)
class RefundSentFacts:
    """Money went back to the customer outside the engine (docs/PAYMENTS.md, "Refunds")."""

    amount: int
    via: str  # "transfer" (a bank transfer finance made) or "gateway" (the gateway reversed it)
    bank_reference: str  # the transfer's reference, or the reversed gateway payment
    reason: str
    credit: int  # the customer's credit after it
    payment_reference: str | None = None  # the payment refunded, if one was named


@dataclass(frozen=True)
class SaleReturnedFacts:
    """Finance took back part of a paid invoice; it became credit (docs/INVOICES.md, "Returns")."""

    amount: int
    vat: int  # the VAT share of the amount
    reason: str
    credit: int  # the customer's credit after it
    document: str | None = None  # the return-from-sale official document's number, if any
    credit_note: int | None = None  # the credit note's number on the invoice, if any


#: The shape of each kind's facts.
@dataclass(frozen=True)
class ServiceReminderFacts:
    """A side-service invoice is still unpaid before its deadline (no site action follows)."""

    deadline: str
    amount_due: int


@dataclass(frozen=True)
class ServiceOverdueFacts:
    """A side-service invoice's deadline passed unpaid: said once; the site is not touched."""

    deadline: str
    amount_due: int


SHAPES: dict[NoticeKind, type] = {
    NoticeKind.INVOICE_ISSUED: InvoiceIssuedFacts,
    NoticeKind.PAYMENT_REMINDER: PaymentReminderFacts,
    NoticeKind.GRACE_STARTED: GraceStartedFacts,
    NoticeKind.SITE_SUSPENDED: SiteSuspendedFacts,
    NoticeKind.COLLECTION_WARNING: CollectionWarningFacts,
    NoticeKind.SITE_COLLECTED: SiteCollectedFacts,
    NoticeKind.PAYMENT_RECEIVED: PaymentReceivedFacts,
    NoticeKind.SITE_RESTORED: SiteRestoredFacts,
    NoticeKind.SUBSCRIPTION_ENDED: SubscriptionEndedFacts,
    NoticeKind.OFFLINE_APPROVED: OfflineApprovedFacts,
    NoticeKind.OFFLINE_REJECTED: OfflineRejectedFacts,
    NoticeKind.RECEIPT_REJECTED: ReceiptRejectedFacts,
    NoticeKind.INVOICE_VOIDED: InvoiceVoidedFacts,
    NoticeKind.HOLD_ENDED: HoldEndedFacts,
    NoticeKind.HOLD_PLACED: HoldPlacedFacts,
    NoticeKind.PAYMENT_KEPT_AS_CREDIT: PaymentKeptAsCreditFacts,
    NoticeKind.SERVICE_REMINDER: ServiceReminderFacts,
    NoticeKind.SERVICE_OVERDUE: ServiceOverdueFacts,
    NoticeKind.REFUND_SENT: RefundSentFacts,
    NoticeKind.SALE_RETURNED: SaleReturnedFacts,
}

#: The facts that are moments, whatever the kind.
MOMENTS = frozenset(
    {"deadline", "suspension_at", "collection_at", "action_not_before", "until", "hold_until"}
)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_moment(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def facts_of(kind: NoticeKind, facts: dict[str, Any] | None) -> dict[str, Any]:
    """``facts`` checked against the shape of ``kind`` and written as stored: moments in one
    format, lists as lists. Raises TypeError for a fact the kind does not have or a missing
    one (a programming error: nothing is recorded)."""
    shape = SHAPES[kind]
    given = {k: _plain(v) for k, v in (facts or {}).items()}
    for name in MOMENTS & given.keys():
        given[name] = iso_moment(given[name])
    try:
        checked = shape(**given)
    except TypeError as error:
        raise TypeError(
            f"A {kind.value} notice's facts do not fit {shape.__name__}: {error}"
        ) from None
    return dataclasses.asdict(checked)


def shape_of(kind: NoticeKind, facts: dict[str, Any]) -> Any:
    """The stored facts of a notice as its kind's dataclass (facts it does not declare, which
    no stored notice has, are left out)."""
    shape = SHAPES[kind]
    names = {f.name for f in dataclasses.fields(shape)}
    return shape(**{k: v for k, v in facts.items() if k in names})


def normalise_times(facts: dict[str, Any]) -> dict[str, Any]:
    """Stored facts of before class_version 2 with every moment in the one format."""
    return {
        k: iso_moment(v) if k in MOMENTS and isinstance(v, str) else v for k, v in facts.items()
    }


class NoticeSentEvent(BillingAggregate.Event):
    """``NoticeSent``, as Subscription and Invoice each declare it: a notice of ``kind`` went out
    (``number``: which reminder or warning, else 0; ``due_at``: when the lifecycle planned it,
    None for a notice a command sent); ``facts``: the shape of its kind (:data:`SHAPES`).

    Version 2: every moment in the facts in one format (ISO 8601, UTC, ``+00:00``)."""

    kind: str
    number: int
    due_at: datetime | None
    facts: dict[str, Any]

    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["facts"] = normalise_times(state.get("facts") or {})
