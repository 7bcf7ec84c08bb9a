"""The invariants of the lifecycle, checked on what an engine recorded.

:class:`Ledger` folds an engine's events as they arrive (by name and field, not with the
engine's own code) and checks, for every batch of new events:

- every time-based event's due moment is no later than its recorded moment;
- no suspension without at least two payment reminders about that invoice, the last at least
  24 h before, and its grace notice no later than the suspension;
- no collection without at least three collection warnings of the suspension in force, the
  last at least 24 h before;
- collected is final: no subscription event, invoice, payment or credit on it afterwards;
- the customer is told: every enforcement hold placed or ended has its notice in the same
  save (the placed one naming its end), a payment reminder or grace notice sent while a hold
  is in force names the hold's end and no suspension sooner than a day after it (one sent
  outside every hold names none), and money a payment leaves as credit is said by that
  payment's notice or the payment_kept_as_credit notice, with its amount;
- one payment reference (a gateway authority, a bank receipt, a manual reference) is
  received once and counted once: what its invoices recorded plus the credit it left equals
  its amount;
- every invoice's balance equals issued − paid − voided (≥ 0), every customer's credit equals
  added − used − refunded (≥ 0), and the engine's aggregates and read models say the same;
- a plan change at once is an upgrade billed in the same save: its proration invoice charges,
  before VAT, exactly the prorated difference of docs/INVOICES.md for the Jalali days left
  (counted here from the periods folded, not from the event's own counts), at least a rial;
  and every renewal bills the plan in force (the upgraded one, or the change scheduled).
- a side-service invoice never starts grace, never causes a suspension, is never voided by a
  collection and never counts among its subscription's open invoices; its reminders and its
  overdue notice go out only while it is open, each once, none after its deadline as it
  then stood, the overdue notice due exactly at that deadline.
- money in = money applied + credit + refunded: what was received (payments, verified gateway
  payments) equals what the invoices not voided by finance were paid (by payments or credit)
  less what returns from sale took back, plus the credit customers hold, plus what was
  refunded to them; every refund is told (``refund_sent``, with its amount, in its save), and
  every return (``sale_returned``); a return is only of a paid invoice, never of more than was paid, and its amount becomes
  credit once;
- official numbers are gapless across originals and corrections: per fiscal year the claimed
  numbers are exactly 1..n, each printed by exactly one document (an official invoice or a
  correcting one), and an invoice voided with an official invoice has its cancelling document
  in the void's save; each return has its return-from-sale document (an officially invoiced
  invoice) or its credit note (any other) in its save.

The state invariants that need "now" (suspended exactly when…) are functions below; the
test machine calls them after each step.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from domain.jalali import JalaliDate
from projections.reports import revenue
from tests.property.model import MONTHS, days, half_up, prorated, status_of

LEAD = timedelta(hours=24)
MIN_REMINDERS, MIN_WARNINGS = 2, 3


class InvariantBroken(AssertionError):
    pass


def name_of(event: Any) -> tuple[str, str]:
    aggregate, _, name = type(event).__qualname__.rpartition(".")
    return aggregate, name


@dataclass
class InvoiceFold:
    subscription: UUID
    total: int
    paid: int = 0
    returned: int = 0  # SaleReturned: paid money taken back into credit
    voided: int = 0
    void: bool = False
    reminders: dict[int, datetime] = field(default_factory=dict)
    grace_notice: datetime | None = None
    service: bool = False
    deadline: datetime | None = None
    told: set = field(default_factory=set)  # a side-service invoice's (kind, number) sent


@dataclass
class SubscriptionFold:
    customer: UUID
    suspension_no: int = 0
    warnings: dict[int, dict[int, datetime]] = field(default_factory=lambda: defaultdict(dict))
    collected_at: datetime | None = None
    site: str = "up"
    open: set[UUID] = field(default_factory=set)
    grace: set[UUID] = field(default_factory=set)
    #: Each enforcement hold: [placed at, until, ended at (None while in force)].
    holds: list[list] = field(default_factory=list)
    #: The plan in force (its terms as recorded) and period, a change scheduled, and the
    #: current period's first day and end.
    plan: dict = field(default_factory=dict)
    period: str = ""
    pending: tuple[dict, str] | None = None
    start: JalaliDate | None = None
    end: JalaliDate | None = None


def net_of(plan: dict, period: str) -> int:
    """A period's price before VAT, from a plan's recorded terms."""
    gross = plan["monthly_price"] * MONTHS[period]
    return gross - half_up(gross, plan["discounts"][period])


class Ledger:
    """One engine's events, folded independently, with the event invariants checked."""

    def __init__(self) -> None:
        self.invoices: dict[UUID, InvoiceFold] = {}
        self.subs: dict[UUID, SubscriptionFold] = {}
        self.credit: Counter[UUID] = Counter()
        self.received: dict[str, int] = {}  # reference → amount (PaymentReceived)
        self.counted: Counter[str] = Counter()  # reference → recorded on invoices + credit
        self.links: dict[str, int] = {}  # gateway reference → amount of the attempt
        self.verified: Counter[str] = Counter()
        self.authorities: dict[UUID, str] = {}  # gateway attempt → its payment reference
        #: "void:<invoice>" → paid on it (less returned) when finance voided it, and
        #: "return:<invoice>:<n>" → what return n took back: each must become credit, once.
        self.refunds: dict[str, int] = {}
        self.finance_voided: set[UUID] = set()  # their payments went back to credit
        self.refunded = 0  # CreditRefunded, in all
        #: Official numbers: claimed (OfficialNumberClaimed) and printed (issued, corrections).
        self.claimed: dict[int, list[int]] = defaultdict(list)
        self.printed: dict[int, list[int]] = defaultdict(list)
        self.officials: set[UUID] = set()  # invoices with an official invoice
        # What the revenue report must add up to, over all months.
        self.revenue: Counter[str] = Counter()
        # The batch's reminders and grace notices, checked against the holds once it is folded.
        self.said_under_holds: list[tuple[SubscriptionFold, Any]] = []
        self.issued: dict[UUID, Any] = {}  # invoice → its InvoiceIssued
        # The batch's changes at once, with the terms and period they left.
        self.upgrades: list[tuple[Any, dict, str, JalaliDate, JalaliDate]] = []

    def fold(self, batch: list[Any]) -> None:
        """Fold one step's new events, then check what they did."""
        actions = []
        self._check_told(batch)
        for e in batch:
            self._check_due(e)
            aggregate, name = name_of(e)
            key = e.originator_id
            if aggregate == "Invoice":
                self._invoice(key, name, e)
            elif aggregate == "Subscription":
                if name in ("SiteSuspended", "SiteCollected"):
                    actions.append(e)
                self._subscription(key, name, e)
            elif aggregate == "Customer":
                if name == "CreditAdded":
                    self.credit[key] += e.amount
                    self.counted[e.reference] += e.amount
                elif name == "CreditUsed":
                    self.credit[key] -= e.amount
                elif name == "CreditRefunded":
                    self.credit[key] -= e.amount
                    self.refunded += e.amount
                    self.revenue["refunded"] += e.amount
                if self.credit[key] < 0:
                    raise InvariantBroken(f"customer {key}: credit {self.credit[key]} < 0")
            elif aggregate == "OfficialNumberClaim":
                self.claimed[e.fiscal_year].append(e.number)
            elif aggregate == "Payment" and name == "PaymentReceived":
                if e.reference in self.received:
                    raise InvariantBroken(f"payment {e.reference!r} received twice")
                self.received[e.reference] = e.amount
            elif aggregate == "GatewayPayment":
                reference = f"gateway:{e.authority}" if name == "PaymentLinkCreated" else None
                if reference:
                    self.links[reference] = e.amount
                    self.authorities[key] = reference
                elif name == "GatewayPaymentVerified":
                    self.verified[self.authorities[key]] += 1
        for e in actions:  # checked once the whole step is folded: notices share the moment
            self._check_action(e)
        # Also once the whole step is folded: a save may log an invoice's reminder before the
        # subscription's hold end of the same catch-up (the aggregate loaded first is saved first).
        for sub, e in self.said_under_holds:
            self._check_hold_said(sub, e)
        self.said_under_holds.clear()
        for upgrade in self.upgrades:  # its invoice may be logged after it in the save
            self._check_upgrade(*upgrade)
        self.upgrades.clear()
        self._check_references()
        self._check_money_in()
        self._check_official_numbers(batch)

    # --- folding --------------------------------------------------------------------------------

    def _invoice(self, key: UUID, name: str, e: Any) -> None:
        if name == "InvoiceIssued":
            total = sum(
                li["unit_price"] * li["quantity"] - li["discount"] + li["vat"] for li in e.lines
            )
            service = e.kind == "service"
            self.invoices[key] = InvoiceFold(
                e.subscription_id, total, service=service, deadline=e.deadline
            )
            self.issued[key] = e
            self.revenue["invoiced"] += total
            sub = self.subs[e.subscription_id]
            if not service:  # a side-service invoice is no period of the subscription
                sub.open.add(key)
            self._after_collection(sub, key, name, e)
            return
        inv = self.invoices[key]
        sub = self.subs[inv.subscription]
        if name in ("PaymentRecorded", "CreditApplied"):
            self._after_collection(sub, key, name, e)
            inv.paid += e.amount
            if name == "PaymentRecorded":
                self.counted[e.reference] += e.amount
            self.revenue["paid" if name == "PaymentRecorded" else "credit_used"] += e.amount
        elif name == "OfflinePaymentApproved":
            inv.deadline = e.deadline
        elif name == "NoticeSent" and e.kind in ("service_reminder", "service_overdue"):
            self._check_service_notice(key, inv, e)
        elif name == "InvoiceVoided":
            if inv.service and e.due_at is not None:
                raise InvariantBroken(f"side-service invoice {key} voided by a collection")
            inv.voided, inv.void = inv.total - inv.paid, True
            self.revenue["voided"] += inv.voided
            if e.due_at is None:  # voided by finance, not by a collection
                self.finance_voided.add(key)
                self.refunds[f"void:{key}"] = inv.paid - inv.returned
                self.revenue["credited"] += inv.paid - inv.returned  # back to credit
        elif name == "SaleReturned":
            if inv.void or inv.total - inv.paid != 0:
                raise InvariantBroken(f"invoice {key}: a return of an open or voided invoice")
            inv.returned += e.amount
            if inv.returned > inv.paid:
                raise InvariantBroken(f"invoice {key}: returned {inv.returned} > paid {inv.paid}")
            self.refunds[f"return:{key}:{e.number}"] = e.amount
            self.revenue["credited"] += e.amount
        elif name == "OfficialInvoiceIssued":
            self.printed[e.fiscal_year].append(e.number)
            self.officials.add(key)
        elif name == "OfficialCorrectionIssued":
            self.printed[e.fiscal_year].append(e.number)
        elif name == "NoticeSent" and e.kind == "payment_reminder":
            inv.reminders.setdefault(e.number, e.timestamp)
            self.said_under_holds.append((sub, e))
        elif name == "NoticeSent" and e.kind == "grace_started":
            inv.grace_notice = e.timestamp
            self.said_under_holds.append((sub, e))
        if inv.total - inv.paid - inv.voided < 0:
            raise InvariantBroken(f"invoice {key}: paid {inv.paid} + voided beyond {inv.total}")
        if inv.total - inv.paid - inv.voided == 0:
            sub.open.discard(key)

    @staticmethod
    def _check_service_notice(key: UUID, inv: InvoiceFold, e: Any) -> None:
        """A side-service invoice's reminder or overdue notice: sent once each, while it is
        open, never due after its deadline, the overdue notice due exactly at it."""
        told = (e.kind, e.number)
        if not inv.service:
            raise InvariantBroken(f"{e.kind} on invoice {key}, which is not a side-service one")
        if told in inv.told:
            raise InvariantBroken(f"{e.kind} #{e.number} of invoice {key} sent twice")
        inv.told.add(told)
        if inv.void or inv.paid >= inv.total:
            raise InvariantBroken(f"{e.kind} of invoice {key} sent after it was settled")
        due, deadline = e.due_at, inv.deadline
        assert deadline is not None
        if due is None or due > deadline or (e.kind == "service_overdue" and due != deadline):
            raise InvariantBroken(
                f"{e.kind} of invoice {key} due {due}, its deadline being {deadline}"
            )

    @staticmethod
    def _after_collection(sub: SubscriptionFold, key: UUID, name: str, e: Any) -> None:
        # One save logs the subscription's events before its invoices', so an invoice event
        # of the collecting catch-up may follow SiteCollected in the log at the same moment;
        # the subscription's own stream (checked below) orders renewals and settlements.
        if sub.collected_at is not None and e.timestamp > sub.collected_at:
            raise InvariantBroken(f"{name} on invoice {key} after its site was collected")

    def _subscription(self, key: UUID, name: str, e: Any) -> None:
        if name == "SubscriptionStarted":
            self.subs[key] = SubscriptionFold(
                e.customer_id,
                plan=e.plan,
                period=e.period,
                start=JalaliDate.parse(e.anchor),
                end=JalaliDate.parse(e.first_period_end),
            )
            return
        sub = self.subs[key]
        closing = name == "NoticeSent" and e.kind == "site_collected"
        if sub.collected_at is not None and not (closing and e.timestamp == sub.collected_at):
            raise InvariantBroken(
                f"subscription {key}: {name} recorded after its site was collected (final)"
            )
        if name == "SiteSuspended":
            sub.suspension_no, sub.site = e.suspension_no, "suspended"
        elif name == "SiteRestored":
            sub.site = "up"
        elif name == "SiteCollected":
            sub.collected_at, sub.site = e.timestamp, "collected"
        elif name == "SubscriptionEnded":
            sub.site = "removed"
        elif name == "GraceStarted":
            if self.invoices[e.invoice_id].service:
                raise InvariantBroken(f"grace started for side-service invoice {e.invoice_id}")
            sub.grace.add(e.invoice_id)
        elif name == "GraceWithdrawn":
            sub.grace.discard(e.invoice_id)
        elif name == "NoticeSent" and e.kind == "collection_warning":
            number = e.facts.get("suspension_no")
            sub.warnings[number].setdefault(e.number, e.timestamp)
        elif name == "EnforcementHoldPlaced":
            if sub.holds and sub.holds[-1][2] is None:
                sub.holds[-1][2] = e.timestamp  # replaced
            sub.holds.append([e.timestamp, e.until, None])
        elif name == "EnforcementHoldEnded":
            sub.holds[-1][2] = e.timestamp
        elif name == "PlanChangeScheduled":
            sub.pending = (e.plan, e.period)
        elif name == "SubscriptionCancelled":
            sub.pending = None
        elif name == "SubscriptionRenewed":
            if sub.pending is not None:
                (sub.plan, sub.period), sub.pending = sub.pending, None
            if (e.plan_id, e.period) != (sub.plan["id"], sub.period):
                raise InvariantBroken(
                    f"subscription {key}: period {e.period_no} billed on {e.plan_id} "
                    f"({e.period}), but {sub.plan['id']} ({sub.period}) is in force"
                )
            sub.start, sub.end = JalaliDate.parse(e.start), JalaliDate.parse(e.end)
        elif name == "PlanChanged":
            assert sub.start is not None and sub.end is not None
            self.upgrades.append((e, sub.plan, sub.period, sub.start, sub.end))
            sub.plan, sub.period, sub.pending = e.plan, e.period, None
            sub.end = JalaliDate.parse(e.period_end)

    # --- checks ---------------------------------------------------------------------------------

    def _check_upgrade(
        self, e: Any, plan: dict, period: str, start: JalaliDate, old_end: JalaliDate
    ) -> None:
        """A change at once is an upgrade, billed in its save at the prorated difference."""
        invoice = self.issued.get(e.invoice_id)
        if invoice is None or invoice.kind != "proration" or invoice.timestamp != e.timestamp:
            raise InvariantBroken(f"plan change at once {e.invoice_id} without its invoice")
        new_end = JalaliDate.parse(e.period_end)
        if e.period == period and new_end != old_end:
            raise InvariantBroken(f"an upgrade on the same period moved its end to {new_end}")
        today = JalaliDate.of(e.timestamp)
        left, total = days(today, new_end) - 1, days(start, new_end)
        if (left, total) != (e.days_left, e.days_total):
            raise InvariantBroken(
                f"upgrade on {today}: {e.days_left} of {e.days_total} days, not {left} of {total}"
            )
        expected = prorated(
            net_of(e.plan, e.period),
            left,
            total,
            net_of(plan, period),
            days(today, old_end) - 1,
            days(start, old_end),
        )
        charged = sum(li["unit_price"] * li["quantity"] - li["discount"] for li in invoice.lines)
        if expected < 1 or charged != expected:
            raise InvariantBroken(
                f"upgrade from {plan['id']} to {e.plan['id']} on {today}: charged {charged} "
                f"before VAT, the prorated difference is {expected}"
            )

    @staticmethod
    def _check_hold_said(sub: SubscriptionFold, e: Any) -> None:
        """A reminder or grace notice under a hold says its end and no suspension it prevents.
        A notice at the very moment a hold began or ended is left out: a command's catch-up
        sends what was due before the command's own hold, at the same moment."""
        at = e.timestamp
        held = [h for h in sub.holds if h[0] < at and (h[2] is None or at < h[2])]
        outside = all(at < h[0] or (h[2] is not None and h[2] < at) for h in sub.holds)
        said, suspension = e.facts.get("hold_until"), e.facts.get("suspension_at")
        if held:
            until = held[-1][1]
            if said is None or datetime.fromisoformat(said) != until:
                raise InvariantBroken(f"{e.kind} at {at} under a hold until {until} says {said}")
            if suspension is not None and datetime.fromisoformat(suspension) < until + LEAD:
                raise InvariantBroken(
                    f"{e.kind} at {at} announces a suspension at {suspension} that the hold "
                    f"until {until} prevents"
                )
        elif outside and said is not None:
            raise InvariantBroken(f"{e.kind} at {at} outside every hold says one until {said}")

    @staticmethod
    def _check_told(batch: list[Any]) -> None:
        """What a save did to the customer's hold or money, its notices say, in that save."""
        told: dict[str, list[dict]] = defaultdict(list)
        for e in batch:
            if name_of(e)[1] == "NoticeSent":
                told[e.kind].append(e.facts)
        for e in batch:
            _, name = name_of(e)
            if name == "EnforcementHoldPlaced":
                ends = [datetime.fromisoformat(f["until"]) for f in told["hold_placed"]]
                if e.until not in ends:
                    raise InvariantBroken(f"hold until {e.until} placed untold (told {ends})")
            elif name == "EnforcementHoldEnded" and not told["hold_ended"]:
                raise InvariantBroken(f"hold of {e.originator_id} ended untold")
            elif name == "CreditRefunded":
                said = [
                    f["amount"]
                    for f in told["refund_sent"]
                    if f["bank_reference"] == e.bank_reference
                ]
                if e.amount not in said:
                    raise InvariantBroken(
                        f"refund {e.bank_reference} of {e.amount} untold ({said})"
                    )
            elif name == "CreditAdded" and e.reference.startswith("return:"):
                said = [f["amount"] for f in told["sale_returned"]]
                if e.amount not in said:
                    raise InvariantBroken(
                        f"return {e.reference!r} of {e.amount} became credit untold ({said})"
                    )
            elif name == "CreditAdded" and not e.reference.startswith("void:"):
                said = [
                    f["credit"]
                    for kind in ("payment_received", "site_restored")
                    for f in told[kind]
                    if f["reference"] == e.reference
                ] + [
                    f["amount"]
                    for f in told["payment_kept_as_credit"]
                    if f["reference"] == e.reference
                ]
                if e.amount not in said:
                    raise InvariantBroken(
                        f"{e.amount} of payment {e.reference!r} became credit untold ({said})"
                    )

    def _check_money_in(self) -> None:
        """Money in = money applied + credit + refunded."""
        money_in = sum(self.received.values()) + sum(
            amount
            for reference, amount in self.links.items()
            if self.verified[reference] and reference not in self.received
        )
        applied = sum(
            inv.paid - inv.returned
            for key, inv in self.invoices.items()
            if key not in self.finance_voided
        )
        credit = sum(self.credit.values())
        if money_in != applied + credit + self.refunded:
            raise InvariantBroken(
                f"money in {money_in} != applied {applied} + credit {credit} + refunded "
                f"{self.refunded}"
            )

    def _check_official_numbers(self, batch: list[Any]) -> None:
        """Gapless across originals and corrections; a void of an officially invoiced invoice
        carries its cancelling document in its save."""
        for year, claimed in self.claimed.items():
            if sorted(claimed) != list(range(1, len(claimed) + 1)):
                raise InvariantBroken(f"official numbers of {year} claimed {sorted(claimed)}")
            if sorted(self.printed[year]) != sorted(claimed):
                raise InvariantBroken(
                    f"official numbers of {year}: claimed {sorted(claimed)}, printed "
                    f"{sorted(self.printed[year])}"
                )
        cancelled = {
            e.originator_id
            for e in batch
            if name_of(e)[1] == "OfficialCorrectionIssued" and e.subject == "cancelling"
        }
        # Each return of an officially invoiced invoice carries its return-from-sale document
        # in its save; of any other invoice, its credit note.
        documents = Counter(
            e.originator_id
            for e in batch
            if name_of(e)[1] == "OfficialCorrectionIssued" and e.subject == "return"
        )
        notes = Counter(
            e.originator_id
            for e in batch
            if name_of(e)[1] == "CreditNoteIssued" and e.cause == "return"
        )
        returns = Counter(e.originator_id for e in batch if name_of(e)[1] == "SaleReturned")
        for key, count in returns.items():
            wanted = documents if key in self.officials else notes
            if wanted[key] != count:
                raise InvariantBroken(
                    f"invoice {key}: {count} return(s) in a save with {wanted[key]} document(s)"
                )
        for e in batch:
            if (
                name_of(e) == ("Invoice", "InvoiceVoided")
                and e.originator_id in self.officials
                and e.originator_id not in cancelled
            ):
                raise InvariantBroken(
                    f"invoice {e.originator_id} voided without its cancelling document"
                )

    @staticmethod
    def _check_due(e: Any) -> None:
        due = getattr(e, "due_at", None)
        if due is not None and due > e.timestamp:
            raise InvariantBroken(
                f"{type(e).__qualname__} of {e.originator_id} recorded at {e.timestamp}, "
                f"before it was due ({due})"
            )

    def _check_action(self, e: Any) -> None:
        at = e.timestamp
        _, name = name_of(e)
        if name == "SiteSuspended":
            inv = self.invoices[e.invoice_id]
            if inv.service:
                raise InvariantBroken(f"site suspended for side-service invoice {e.invoice_id}")
            # Strictly before: a reminder at the suspension's own moment came after it in the
            # same catch-up (one sent in a catch-up before its suspension is caught by
            # check_late_catch_up, which sees the steps in order).
            sent = [t for t in inv.reminders.values() if t < at]
            if len(sent) < MIN_REMINDERS or max(sent) > at - LEAD:
                raise InvariantBroken(
                    f"site suspended at {at} for invoice {e.invoice_id} after reminders "
                    f"{sorted(sent)}: needs {MIN_REMINDERS}, the last 24 h before"
                )
            if inv.grace_notice is None or inv.grace_notice > at:
                raise InvariantBroken(f"site suspended at {at} before its grace notice")
        else:
            sub = self.subs[e.originator_id]
            sent = [t for t in sub.warnings[sub.suspension_no].values() if t <= at]
            if len(sent) < MIN_WARNINGS or max(sent) > at - LEAD:
                raise InvariantBroken(
                    f"site collected at {at} after warnings {sorted(sent)}: needs "
                    f"{MIN_WARNINGS}, the last 24 h before"
                )

    def _check_references(self) -> None:
        for reference, amount in self.received.items():
            if self.counted[reference] != amount:
                raise InvariantBroken(
                    f"payment {reference!r} of {amount} was counted {self.counted[reference]}"
                )
        for reference, amount in self.links.items():
            if self.verified[reference] > 1:
                raise InvariantBroken(f"gateway {reference!r} verified twice")
            expected = amount if self.verified[reference] else 0
            if self.counted[reference] != expected:
                raise InvariantBroken(
                    f"gateway {reference!r} of {amount} (verified {self.verified[reference]}×) "
                    f"was counted {self.counted[reference]}"
                )
        for reference, paid in self.refunds.items():
            if self.counted[reference] != paid:
                raise InvariantBroken(
                    f"{reference}: {paid} was paid on the voided invoice but "
                    f"{self.counted[reference]} went back to credit"
                )
        for reference in self.counted:
            known = self.received.keys() | self.links.keys() | self.refunds.keys()
            if reference not in known:
                raise InvariantBroken(f"{reference!r} counted without a received payment")

    def expected_status(self, key: UUID) -> str:
        sub = self.subs[key]
        return status_of(sub.site, bool(sub.open & sub.grace))


# --- comparing the engine with the fold ------------------------------------------------------


def check_balances(ledger: Ledger, life: Any, customer: Any) -> None:
    """Every balance equals issued − paid − voided, and credit is never negative, as the engine's
    aggregates say it and as the fold of the events says it. ``life``: a subscription with all
    its invoices (``app.lifecycle_of(id, all_invoices=True)``)."""
    for inv_id, inv in life.invoices.items():
        fold = ledger.invoices[inv_id]
        expected = fold.total - fold.paid - fold.voided
        got = (inv.total.rials, inv.paid.rials, inv.balance.rials, inv.voided_amount.rials)
        if got != (fold.total, fold.paid, expected, fold.voided) or expected < 0:
            raise InvariantBroken(
                f"invoice {inv_id}: engine says (total, paid, balance, voided) = {got}, "
                f"the events say {(fold.total, fold.paid, expected, fold.voided)}"
            )
    if customer.credit.rials != ledger.credit[customer.id] or customer.credit.rials < 0:
        raise InvariantBroken(
            f"customer {customer.id}: credit {customer.credit.rials}, "
            f"the events say {ledger.credit[customer.id]}"
        )


def check_read_models(ledger: Ledger, read_models: Any) -> None:
    """The read models equal a fold of the events (this module's fold, not theirs)."""
    read_models.catch_up()
    rows = read_models.query(
        "SELECT invoice_id, total, paid, balance, voided_amount, status FROM {rm_invoices}"
    )
    got = {UUID(r["invoice_id"]): r for r in rows}
    if set(got) != set(ledger.invoices):
        raise InvariantBroken("the invoices read model lists other invoices than the events")
    for key, fold in ledger.invoices.items():
        r, balance = got[key], fold.total - fold.paid - fold.voided
        status = "void" if fold.void else ("open" if balance else "paid")
        if (r["total"], r["paid"], r["balance"], r["voided_amount"], r["status"]) != (
            fold.total,
            fold.paid,
            balance,
            fold.voided,
            status,
        ):
            raise InvariantBroken(f"rm_invoices {key}: {r} but the events say {fold}")
    rows = read_models.query(
        "SELECT subscription_id, status, open_invoices FROM {rm_subscriptions}"
    )
    got = {UUID(r["subscription_id"]): (r["status"], r["open_invoices"]) for r in rows}
    expected = {k: (ledger.expected_status(k), len(s.open)) for k, s in ledger.subs.items()}
    if got != expected:
        raise InvariantBroken(f"rm_subscriptions {got} but the events say {expected}")
    columns = ("invoiced", "paid", "credit_used", "voided", "credited", "refunded")
    for as_of in (None, datetime(2399, 1, 1, tzinfo=UTC)):  # the read model, and the ledger
        months = revenue(read_models, as_of=as_of)
        got = {c: sum(int(row[c]) for row in months) for c in columns}
        if got != {c: ledger.revenue[c] for c in columns}:
            raise InvariantBroken(
                f"revenue {got} (as of {as_of}) but the events say {ledger.revenue}"
            )
    rows = read_models.query("SELECT customer_id, credit FROM {rm_customer_accounts}")
    for r in rows:
        if r["credit"] != ledger.credit[UUID(r["customer_id"])]:
            raise InvariantBroken(f"rm_customer_accounts {r} but the events say otherwise")


def check_read_models_rebuild(read_models: Any) -> None:
    """A rebuild from the events gives the live read models."""
    drifts = read_models.verify()[1]
    if drifts:
        raise InvariantBroken(f"read models drift from a rebuild: {[str(d) for d in drifts]}")


# --- the state at "now" -------------------------------------------------------------------------


def excused(sub: Any, inv: Any, policy: Any, now: datetime) -> str | None:
    """Why an invoice unpaid past its deadline plus grace may leave the site up at ``now``
    (docs/LIFECYCLE.md), or None if nothing does."""
    if sub.hold is not None:
        return "enforcement hold"
    if sub.hold_ended_at is not None and sub.hold_ended_at + LEAD > now:
        return "a day's notice after the hold ended"
    reminders = [n.recorded_at for n in inv.notices if n.kind.value == "payment_reminder"]
    if reminders and max(reminders) + LEAD > now:
        return "24 h lead after a late reminder"
    for r in inv.receipts.values():
        if (
            r.status.value == "under_review"
            and r.registered_at + policy.receipt_review_days * timedelta(days=1) > now
        ):
            return "receipt under review"
        if r.status.value == "rejected" and r.decided_at + LEAD > now:
            return "a day's notice after a rejected receipt"
    return None


def check_site_state(life: Any, now: datetime) -> None:
    """After the subscription was brought up to date at ``now``: the site is suspended exactly
    when an invoice is unpaid past its deadline plus grace, or its suspension's own invoice is
    still unpaid (and it is not collected), unless a documented postponement applies; the
    status follows the oldest unpaid invoice."""
    sub, policy = life.subscription, life.subscription.plan.policy
    sub_id = sub.id
    opened = {i: life.invoices[i] for i in sub.open_invoice_ids}
    state = sub.site_state.value
    if state in ("collected", "removed"):
        if opened:
            raise InvariantBroken(f"{sub_id} is {state} with open invoices {list(opened)}")
        return
    grace = timedelta(days=policy.grace_days)
    overdue = [i for i in opened.values() if i.deadline + grace <= now]
    cause = opened.get(sub.suspension.invoice_id) if sub.suspension else None
    if state == "suspended" and not overdue and cause is None:
        raise InvariantBroken(
            f"{sub_id} suspended at {now} with no invoice unpaid past its deadline plus grace "
            f"and its suspension's invoice settled "
            f"(deadlines {[str(i.deadline) for i in opened.values()]})"
        )
    if state == "up":
        for inv in overdue:
            if excused(sub, inv, policy, now) is None:
                raise InvariantBroken(
                    f"{sub_id} up at {now} though invoice {inv.id} is unpaid past "
                    f"{inv.deadline + grace} and nothing postpones the suspension"
                )
        late = any(i.deadline <= now for i in opened.values())
        expected = "grace" if late else "active"
        if sub.status.value != expected:
            raise InvariantBroken(
                f"{sub_id} status {sub.status.value} at {now}, expected {expected} "
                f"(deadlines {[str(i.deadline) for i in opened.values()]})"
            )
