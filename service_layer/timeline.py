"""The audit timeline: every event of an aggregate (and, for a subscription, of its invoices and
payments) in the order it happened, with its due and recorded moments, and in words.

Read straight from the event store, never from a read model, so it is the evidence itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from domain.errors import NotFound
from domain.jalali import JalaliDate, format_moment
from domain.money import Money

_BASE_FIELDS = {"originator_id", "originator_version", "timestamp", "originator_topic", "due_at"}

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
    "EnforcementHoldEnded": 0,
    "SiteRestored": 9,
    "NoticeSent:site_restored": 10,
    "NoticeSent:payment_received": 10,
    "NoticeSent:payment_reminder": 11,
    "GraceStarted": 12,
    "GraceWithdrawn": 6,
    "NoticeSent:grace_started": 13,
    "SiteSuspended": 14,
    "NoticeSent:site_suspended": 15,
    "NoticeSent:collection_warning": 16,
    "SiteCollected": 17,
    "InvoiceVoided": 18,
    "NoticeSent:site_collected": 19,
    "PlanChangeScheduled": 20,
    "SubscriptionCancelled": 20,
    "SubscriptionEnded": 21,
    "NoticeSent:subscription_ended": 22,
}


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


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


def _when(moment: str | None) -> str:
    if not moment:
        return "?"
    return format_moment(datetime.fromisoformat(moment.replace("Z", "+00:00")))


def _last_day(period_end: str) -> str:
    end = JalaliDate.parse(period_end)
    return JalaliDate.from_gregorian(end.to_gregorian() - timedelta(days=1)).isoformat()


def _rials(value: int | None) -> str:
    return f"{value:,} rials" if isinstance(value, int) else "?"


def describe(entry: TimelineEntry) -> str:
    """What happened and why, in one line of English for people."""
    d = entry.data
    facts = d.get("facts", {})
    name = entry.event
    if name == "SubscriptionStarted":
        plan = d["plan"]
        return (
            f"ordered plan {plan['name']} ({d['period']}, {plan['monthly_price']:,} rials a month); "
            f"site {d['site']} created at once; first period from {d['anchor']}"
        )
    if name == "SubscriptionRenewed":
        return f"period {d['period_no']} begins on {d['start']} ({d['plan_id']}, {d['period']}); its invoice is issued"
    if name == "InvoiceIssued":
        total = sum(
            line["unit_price"] * line["quantity"] - line["discount"] + line["vat"]
            for line in d["lines"]
        )
        vat = ", ".join(f"VAT {line['vat_rate_bp'] / 100:g}%" for line in d["lines"])
        return (
            f"{d['kind']} invoice for period {d['period_no']} ({d['period_start']} to {_last_day(d['period_end'])}): "
            f"{_rials(total)} ({vat}); deadline {_when(plain(d['deadline']))}"
        )
    if name == "NoticeSent":
        kind = d["kind"]
        number = f" #{d['number']}" if d.get("number") else ""
        text = {
            "invoice_issued": f"invoice sent: {_rials(facts.get('amount_due'))} due by {_when(facts.get('deadline'))}",
            "payment_reminder": (
                f"payment reminder{number}: {_rials(facts.get('amount_due'))} due by "
                f"{_when(facts.get('deadline'))}; unpaid, the site is suspended on {_when(facts.get('suspension_at'))}"
            ),
            "grace_started": (
                f"deadline passed: the site stays up until {_when(facts.get('suspension_at'))}, "
                "then it is suspended unless paid"
            ),
            "site_suspended": (
                f"site suspended notice: pay {_rials(facts.get('amount_due'))} to restore it; "
                f"collection on {_when(facts.get('collection_at'))}"
            ),
            "collection_warning": (
                f"collection warning{number}: the site is removed on {_when(facts.get('collection_at'))} "
                f"unless {_rials(facts.get('amount_due'))} is paid"
            ),
            "site_collected": f"site collected notice: {_rials(facts.get('amount_voided'))} voided as uncollectible",
            "site_restored": (
                f"{facts.get('reference')}: the site is restored"
                if facts.get("cause")
                else f"payment {facts.get('reference')} received: the site is restored"
            ),
            "payment_received": (
                f"payment {facts.get('reference')} received; {_rials(facts.get('amount_due'))} still due"
                + (" and the site stays suspended" if facts.get("site") == "suspended" else "")
            ),
            "subscription_ended": "the cancelled contract ended: the site is removed",
            "offline_approved": f"offline payment approved; pay by {_when(facts.get('deadline'))}",
            "offline_rejected": f"offline payment refused ({facts.get('reason')})",
            "receipt_rejected": f"receipt rejected ({facts.get('reason')})",
            "invoice_voided": f"invoice voided ({facts.get('reason')})",
            "hold_ended": "enforcement hold ended",
        }.get(kind, kind)
        return f"notice to the customer: {text}"
    if name == "GraceStarted":
        return f"invoice {str(d['invoice_id'])[:8]} unpaid at its deadline: the grace period begins"
    if name == "SiteSuspended":
        return (
            f"invoice {str(d['invoice_id'])[:8]} unpaid past deadline and grace: the site is suspended "
            "(the customer panel still works)"
        )
    if name == "GraceWithdrawn":
        return (
            f"invoice {str(d['invoice_id'])[:8]} has a new deadline, {_when(plain(d['deadline']))}: "
            "not late any more, its grace starts again then"
        )
    if name == "SiteRestored":
        cause, _, what = str(d["payment_reference"]).partition(":")
        cause = {"void": "the void of invoice", "offline": "the approved offline request"}.get(
            cause
        )
        cause = f"{cause} {what[:8]}" if cause else f"payment {d['payment_reference']}"
        return f"{cause} left nothing keeping the site suspended: the site is restored"
    if name == "SiteCollected":
        return (
            f"suspension period over, still unpaid: the site is removed and "
            f"{len(d['voided_invoice_ids'])} open invoice(s) voided"
        )
    if name == "InvoicesSettled":
        source = (
            "the customer's credit" if d["reference"] == "credit" else f"payment {d['reference']}"
        )
        return f"{len(d['invoice_ids'])} invoice(s) paid in full by {source}"
    if name == "OfflinePaymentRequested":
        return f"the customer asked to pay offline: {d['reason']}"
    if name == "OfflinePaymentApproved":
        return (
            f"finance approved paying offline; the deadline moves to {_when(plain(d['deadline']))}"
        )
    if name == "OfflinePaymentRejected":
        return f"finance refused paying offline: {d['reason']}"
    if name == "ReceiptRegistered":
        return (
            f"bank receipt registered: {d['bank']} #{d['tracking_number']}, {_rials(d['amount'])}, paid {d['paid_on']}; "
            "suspension and collection of this invoice wait for finance"
        )
    if name == "ReceiptConfirmed":
        return "finance confirmed the receipt: the payment is recorded"
    if name == "ReceiptRejected":
        return f"finance rejected the receipt: {d['reason']}"
    if name == "TrackingNumberClaimed":
        return f"tracking number {d['tracking_number']} of {d['bank']} claimed"
    if name == "TrackingNumberReleased":
        return f"tracking number released: its receipt was rejected ({d['reason']})"
    if name == "TrackingNumberClaimedAgain":
        return "tracking number claimed again by a new receipt"
    if name == "PaymentLinkCreated":
        return f"payment link opened at the gateway for {_rials(d['amount'])} (authority {d['authority']})"
    if name == "GatewayPaymentVerified":
        return f"the gateway verified the payment (reference id {d['ref_id']})"
    if name == "GatewayPaymentFailed":
        return f"the gateway payment did not go through: {d['reason']}"
    if name == "GatewayVerificationPending":
        return "the gateway did not confirm in time: reconciliation will settle it"
    if name == "EnforcementHoldPlaced":
        return f"finance put enforcement on hold until {_when(plain(d['until']))}: {d['reason']}"
    if name == "EnforcementHoldEnded":
        return f"the enforcement hold ended ({d['reason']}); the lifecycle resumes, notices first"
    if name == "InvoicesClosed":
        return f"{len(d['invoice_ids'])} invoice(s) voided by finance: {d['reason']}"
    if name == "InvoiceVoided":
        return f"invoice voided ({d['reason']})"
    if name == "PaymentReceived":
        return f"payment {d['reference']} of {_rials(d['amount'])} received ({d['method']})"
    if name == "PaymentRecorded":
        return f"{_rials(d['amount'])} of payment {d['reference']} applied to this invoice"
    if name == "CreditApplied":
        return f"{_rials(d['amount'])} of the customer's credit applied"
    if name == "CreditAdded":
        if str(d["reference"]).startswith("void:"):
            voided = str(d["reference"]).removeprefix("void:")[:8]
            return f"{_rials(d['amount'])} paid on voided invoice {voided} moved to credit"
        return (
            f"{_rials(d['amount'])} beyond what was owed kept as credit (payment {d['reference']})"
        )
    if name == "OfficialInvoiceIssued":
        buyer = d["buyer"]
        return (
            f"official invoice {d['fiscal_year']}-{d['number']:06d} issued to {buyer['name']} "
            f"(economic code {buyer['economic_code']}), tax ID {d['tax_id']}, terms {d['terms']}"
        )
    if name == "CreditUsed":
        return f"{_rials(d['amount'])} of credit used for invoice {str(d['invoice_id'])[:8]}"
    if name == "PlanChangeScheduled":
        return (
            f"plan changes to {d['plan']['name']} ({d['period']}) from period {d['from_period_no']}"
        )
    if name == "SubscriptionCancelled":
        return f"cancelled ({d['reason']}): no renewals after {_when(plain(d['effective_at']))}"
    if name == "SubscriptionEnded":
        return "the contract ended after its cancellation; the site is removed"
    if name == "CustomerRegistered":
        return f"customer {d['profile']['name']} ({d['profile']['kind']}) registered"
    if name == "PlanDefined":
        return f"plan {d['plan']['id']} defined"
    return name
