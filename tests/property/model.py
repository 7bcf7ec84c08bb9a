"""A reference model of the lifecycle rules, written from the rule books, not from the engine.

Sources: docs/LIFECYCLE.md (the lifecycle, time and money as built: the 24-hour lead, late
catch-ups, receipt pauses, enforcement holds) and docs/PAYMENTS.md. It is plain
state and plain functions: no event store, no aggregates, nothing imported from the engine
but the Jalali calendar (period boundaries clamp to month ends; writing a second calendar here
would be a few hundred lines of its own and is tested in tests/unit/test_jalali.py).

One :class:`Site` per subscription, each with its own customer (so credit is per site here),
and the side-service invoices billed on it (``Site.services``): they are paid and aged as any
invoice, follow their own schedule (two reminders and one overdue notice, advanced only by
the clock and the scheduler's ticks, never by a command's catch-up), and are never part of
the site's lifecycle (docs/LIFECYCLE.md, "Side-service invoices").
Time moves in two ways, as in docs/LIFECYCLE.md, Time:

- ``catch_up(until, on_time=True)``: the simulated clock; every step is recorded at its own
  due moment (never before the last thing recorded);
- ``catch_up(until, on_time=False)``: a late catch-up (a tick after an outage, or the catch-up
  every command does first); every step due by then is recorded at ``until``.

A command that is refused raises :class:`Refused` with the name of the error the engine must
raise, and changes nothing (not even the catch-up it began with).
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from domain.jalali import JalaliDate

DAY = timedelta(days=1)
LEAD = timedelta(hours=24)  # the last notice before an action is at least this much earlier
MONTHS = {"monthly": 1, "quarterly": 3, "yearly": 12}
DISCOUNT_BP = {"monthly": 0, "quarterly": 500, "yearly": 1_500}  # catalogue defaults
VAT_BP = 1_000  # 10 % since 1403/01/01; the histories here all run after that


class Refused(Exception):
    """The command must be refused; ``args[0]`` names the engine's error class."""


def status_of(site: str, in_grace: bool) -> str:
    """docs/LIFECYCLE.md, Status: collected, cancelled (the contract ended), suspended, else grace while an
    unpaid invoice's grace has started, else active."""
    closed = {"collected": "collected", "removed": "cancelled", "suspended": "suspended"}
    return closed.get(site) or ("grace" if in_grace else "active")


def half_up(amount: int, basis_points: int) -> int:
    return (amount * basis_points + 5_000) // 10_000


def net_price(monthly: int, period: str) -> int:
    """A period's price before VAT: monthly price × months, less the period discount."""
    gross = monthly * MONTHS[period]
    return gross - half_up(gross, DISCOUNT_BP[period])


def price(monthly: int, period: str) -> tuple[int, int]:
    """One invoice line: monthly price × months, less the period discount, plus VAT; and the
    VAT alone."""
    net = net_price(monthly, period)
    vat = half_up(net, VAT_BP)
    return net + vat, vat


def days(first: JalaliDate, end: JalaliDate) -> int:
    return (end.to_gregorian() - first.to_gregorian()).days


def prorated(new: int, left: int, total: int, old: int, old_left: int, old_total: int) -> int:
    """docs/INVOICES.md, "Proration invoices": new × left / total − old × old_left / old_total,
    rounded half up to the rial once (0 when it is not positive)."""
    numerator = new * left * old_total - old * old_left * total
    denominator = total * old_total
    return (2 * numerator + denominator) // (2 * denominator) if numerator > 0 else 0


def month_of(moment: datetime) -> str:
    """The Jalali month (Tehran) a figure belongs to: ``1405/02``."""
    return JalaliDate.of(moment).isoformat()[:7]


AGING_BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")


def days_overdue_bucket(deadline: datetime, now: datetime) -> str:
    """Any part of a day past the deadline counts as a day (docs/AUDIT.md)."""
    if now <= deadline:
        return "current"
    days = -((deadline - now) // DAY)  # the ceiling of the days past
    return "1-30" if days <= 30 else "31-60" if days <= 60 else "61-90" if days <= 90 else "90+"


@dataclass(frozen=True)
class Terms:
    """A plan as the model needs it (every duration in days, reminders/warnings in days before)."""

    id: str
    monthly: int
    grace_days: int = 3
    first_days: int = 30
    renewal_days: int = 7
    suspension_days: int = 30
    reminders: tuple[int, ...] = (3, 1)
    warnings: tuple[int, ...] = (14, 7, 1)
    review_days: int = 3


@dataclass
class Receipt:
    registered: datetime
    amount: int
    tracking: str
    status: str = "review"  # review | confirmed | rejected
    decided: datetime | None = None


@dataclass
class Bill:
    """An invoice."""

    no: int
    issued: datetime
    deadline: datetime
    total: int
    order: str  # breaks ties between invoices' steps at one moment (the engine: by invoice id)
    #: Which invoice this is: its period's number, or "upgrade-N" for the N-th change at once.
    ref: int | str = 0
    paid: int = 0
    returned: int = 0  # what returns from sale took back of ``paid`` into credit
    void: bool = False
    reminded: dict[int, datetime] = field(default_factory=dict)  # reminder number → sent at
    grace: bool = False
    requests: dict[str, str] = field(default_factory=dict)  # offline request → status
    receipts: dict[str, Receipt] = field(default_factory=dict)
    #: The reminder days in force at issue: a later plan change does not move them.
    reminders: tuple[int, ...] = (3, 1)
    #: A side-service invoice: its own schedule, never the site's lifecycle.
    service: bool = False
    overdue: datetime | None = None  # a side-service invoice's overdue notice, sent at
    #: The last change recorded on a side-service invoice (its notices wait for it).
    last_change: datetime | None = None

    @property
    def balance(self) -> int:
        return 0 if self.void else self.total - self.paid

    @property
    def open(self) -> bool:
        return self.balance > 0

    @property
    def status(self) -> str:
        return "void" if self.void else ("open" if self.open else "paid")

    def paused_until(self, review_days: int) -> datetime | None:
        """A receipt under review pauses enforcement up to the review days after the first one;
        a rejected receipt gives a day's notice."""
        bounds = []
        review = [r.registered for r in self.receipts.values() if r.status == "review"]
        if review:
            bounds.append(min(review) + review_days * DAY)
        rejected = [r.decided for r in self.receipts.values() if r.status == "rejected"]
        if rejected:
            bounds.append(max(rejected) + LEAD)
        return max(bounds) if bounds else None


@dataclass
class Site:
    """A subscription, its invoices, its site and its customer's credit."""

    terms: Terms
    period: str
    anchor: JalaliDate
    months: int  # months from the anchor to the end of the current period
    periods: list[tuple[JalaliDate, JalaliDate, str, str]]  # start, end, plan, period
    bills: list[Bill]
    last_change: datetime
    order: Callable[[int | str], str]  # an invoice's tie-break key, by its ref
    legal: bool = False  # the customer is an organisation (only they may pay offline)
    site: str = "up"  # up | suspended | collected | removed
    suspended_at: datetime | None = None
    cause: Bill | None = None  # the invoice the suspension in force is for
    suspensions: int = 0
    warned: dict[int, datetime] = field(default_factory=dict)  # of the suspension in force
    cancelled: bool = False
    pending: tuple[Terms, str] | None = None
    upgrades: int = 0  # plan changes at once so far
    hold: datetime | None = None  # until
    hold_ended: datetime | None = None
    last_settled: datetime | None = None
    collected_at: datetime | None = None
    ended_at: datetime | None = None
    credit: int = 0
    #: The revenue report's figures: (Jalali month, column, line) → rials, the line being
    #: ``hosting`` or ``services`` (docs/AUDIT.md).
    money: Counter = field(default_factory=Counter)
    #: Side-service invoices billed on this subscription, in order.
    services: list[Bill] = field(default_factory=list)

    def book(self, at: datetime, column: str, amount: int, line: str = "hosting") -> None:
        if amount:
            self.money[(month_of(at), column, line)] += amount

    @property
    def period_end(self) -> datetime:
        return self.periods[-1][1].start_in_tehran()

    @property
    def closed(self) -> bool:
        return self.site in ("collected", "removed")

    @property
    def unpaid(self) -> list[Bill]:
        """The open hosting invoices: the only ones the site's lifecycle reads."""
        return [b for b in self.bills if b.open]

    @property
    def status(self) -> str:
        return status_of(self.site, any(b.grace for b in self.unpaid))

    def past_grace(self, now: datetime) -> list[Bill]:
        return [b for b in self.unpaid if b.deadline + self.terms.grace_days * DAY <= now]

    @property
    def amount_due(self) -> int:
        return sum(b.balance for b in self.unpaid)


# At one moment: invoices first, then notices, then the actions they announce.
RANK = {"renew": 0, "end_hold": 0, "remind": 1, "grace": 2, "suspend": 3, "warn": 4}
RANK |= {"collect": 5, "end": 6}


@dataclass(frozen=True, order=True)
class Step:
    due: datetime
    rank: int
    number: int
    order: str
    kind: str = field(compare=False)
    bill: int = field(default=0, compare=False)  # the invoice's number (0: none)


def _latest(*moments: datetime | None) -> datetime:
    return max(m for m in moments if m is not None)


def planned(s: Site) -> list[Step]:
    """Everything the lifecycle will do next, with its due moment, in the order to do it."""
    if s.closed:
        return []
    t, out = s.terms, []
    after_hold = s.hold_ended + LEAD if s.hold_ended else None
    if not s.cancelled:
        out.append(Step(s.period_end, 0, len(s.periods) + 1, "", "renew"))
    if s.hold:
        out.append(Step(s.hold, 0, 0, "", "end_hold"))
    suspend_at = []
    for b in s.unpaid:
        for n, days in enumerate(b.reminders, start=1):
            if n not in b.reminded:
                at = max(b.deadline - days * DAY, b.issued)
                out.append(Step(at, 1, n, b.order, "remind", b.no))
        if not b.grace:
            out.append(Step(b.deadline, 2, 0, b.order, "grace", b.no))
        elif s.site == "up" and not s.hold and len(b.reminded) >= len(b.reminders):
            suspend_at.append(
                Step(
                    _latest(
                        b.deadline + t.grace_days * DAY,
                        max(b.reminded.values()) + LEAD,
                        b.paused_until(t.review_days),
                        after_hold,
                    ),
                    3,
                    0,
                    b.order,
                    "suspend",
                    b.no,
                )
            )
    if suspend_at:
        out.append(min(suspend_at))
    if s.site == "suspended" and not s.hold:
        collect = s.suspended_at + t.suspension_days * DAY
        for n, days in enumerate(t.warnings, start=1):
            if n not in s.warned:
                out.append(Step(max(collect - days * DAY, s.suspended_at), 4, n, "", "warn"))
        if len(s.warned) >= len(t.warnings):
            pauses = [b.paused_until(t.review_days) for b in s.unpaid]
            at = _latest(collect, max(s.warned.values()) + LEAD, *pauses, after_hold)
            out.append(Step(at, 5, 0, "", "collect"))
    if s.cancelled and not s.unpaid and s.site == "up":
        out.append(Step(_latest(s.period_end, s.last_settled), 6, 0, "", "end"))
    return sorted(out)


def _bill(s: Site, no: int) -> Bill:
    return s.bills[no - 1]


def _issue(s: Site, at: datetime, days: int, net: int | None = None) -> None:
    """Issue the current period's invoice, or (``net``) the proration invoice of a change at
    once, with that charge before VAT."""
    no = len(s.bills) + 1
    if net is None:
        ref: int | str = len(s.periods)
        total, vat = price(s.terms.monthly, s.period)
    else:
        ref = f"upgrade-{s.upgrades}"
        vat = half_up(net, VAT_BP)
        total = net + vat
    bill = Bill(no, at, at + days * DAY, total, s.order(ref), ref, reminders=s.terms.reminders)
    s.book(at, "invoiced", total)
    s.book(at, "vat", vat)
    use = min(s.credit, bill.total)
    if use:
        bill.paid, s.credit = use, s.credit - use
        s.book(at, "credit_used", use)
        if not bill.open:
            s.last_settled = at
    s.bills.append(bill)


def execute(s: Site, step: Step, at: datetime) -> None:
    s.last_change = at
    if step.kind == "renew":
        if s.pending:
            (s.terms, s.period), s.pending = s.pending, None
        start = s.periods[-1][1]
        s.months += MONTHS[s.period]
        end = s.anchor.add_months(s.months, anchor_day=s.anchor.day)
        s.periods.append((start, end, s.terms.id, s.period))
        _issue(s, at, s.terms.renewal_days)
    elif step.kind == "end_hold":
        s.hold, s.hold_ended = None, at
    elif step.kind == "remind":
        _bill(s, step.bill).reminded[step.number] = at
    elif step.kind == "grace":
        _bill(s, step.bill).grace = True
    elif step.kind == "suspend":
        s.site, s.suspended_at, s.suspensions, s.warned = "suspended", at, s.suspensions + 1, {}
        s.cause = _bill(s, step.bill)
    elif step.kind == "warn":
        s.warned[step.number] = at
    elif step.kind == "collect":
        for b in s.unpaid:
            s.book(at, "voided", b.balance)  # written off; what was paid stays earned
            b.void = True
        s.site, s.collected_at, s.suspended_at, s.cause = "collected", at, None, None
    elif step.kind == "end":
        s.site, s.ended_at = "removed", at


def catch_up(s: Site, until: datetime, *, on_time: bool) -> list[tuple[Step, datetime]]:
    """Do everything due by ``until``, one step at a time; returns (step, recorded at)."""
    done = []
    while (steps := planned(s)) and steps[0].due <= until:
        at = max(steps[0].due if on_time else until, s.last_change)
        execute(s, steps[0], at)
        done.append((steps[0], at))
    return done


def settle(s: Site, amount: int, now: datetime, named: Bill | None) -> bool:
    """Apply a payment: the named invoice, then the others oldest first, the rest to credit;
    then restore the site if nothing keeps it suspended. Returns whether it was restored."""
    if named is not None and named.void:
        raise Refused("InvoiceNotPayable")
    targets = [named] if named is not None and named.open else []
    targets += [b for b in s.unpaid if b is not named]
    for b in targets:
        part = min(amount, b.balance)
        b.paid, amount = b.paid + part, amount - part
        s.book(now, "paid", part, "services" if b.service else "hosting")
        if part and b.service:
            b.last_change = now
    s.credit += amount
    if any(not b.open for b in targets if not b.service):  # the contract's last settlement
        s.last_settled = now
    s.last_change = now
    return restore_if_free(s, now)


def restore_if_free(s: Site, now: datetime) -> bool:
    """Restore a suspended site when nothing keeps it suspended: no invoice unpaid past its
    deadline plus grace, and the suspension's own invoice paid in full or voided (an approved
    offline request that moved its deadline does not lift the suspension)."""
    if s.site != "suspended" or s.past_grace(now) or s.cause.open:
        return False
    s.site, s.suspended_at, s.cause = "up", None, None
    return True


# --- side-service invoices: their own schedule -------------------------------------------------

SERVICE_REMINDERS = (3, 1)  # days before the deadline, those after the issue


def service_planned(b: Bill) -> list[tuple[datetime, bool, int]]:
    """A side-service invoice's notices still to send: (due, is the overdue notice, number)."""
    if not b.open:
        return []
    out = [
        (max(b.deadline - days * DAY, b.issued), False, n)
        for n, days in enumerate(b.reminders, start=1)
        if n not in b.reminded
    ]
    if b.overdue is None:
        out.append((b.deadline, True, 0))
    return sorted(out)


def catch_up_service(b: Bill, until: datetime, *, on_time: bool) -> list:
    done = []
    while (steps := service_planned(b)) and steps[0][0] <= until:
        due, overdue, number = steps[0]
        assert b.last_change is not None
        at = max(due if on_time else until, b.last_change)
        if overdue:
            b.overdue = at
        else:
            b.reminded[number] = at
        b.last_change = at
        done.append((steps[0], at))
    return done


def check_open(s: Site) -> None:
    if s.site == "collected":
        raise Refused("SubscriptionCollected")
    if s.site == "removed":
        raise Refused("SubscriptionNotActive")


def _mark(b: Bill) -> tuple:
    """What a command can change on an invoice (to know whether it recorded something)."""
    return (b.paid, b.void, b.deadline, tuple(b.requests.items()), len(b.receipts))


class Model:
    """Every subscription of one history, by its key."""

    def __init__(
        self, bill_order: Callable[[int, int | str], str] = lambda key, ref: f"{ref:0>6}"
    ) -> None:
        self.sites: dict[int, Site] = {}
        self.bill_order = bill_order
        # A tracking number → (subscription, invoice number, receipt) of the receipt holding it.
        self.tracking: dict[str, tuple[int, int, str]] = {}

    def order(self, key: int, terms: Terms, period: str, now: datetime, *, legal: bool) -> None:
        anchor = JalaliDate.of(now)
        end = anchor.add_months(MONTHS[period])
        periods = [(anchor, end, terms.id, period)]
        s = Site(
            terms, period, anchor, MONTHS[period], periods, [], now, self._order_of(key), legal
        )
        _issue(s, now, terms.first_days)
        self.sites[key] = s

    def _order_of(self, key: int) -> Callable[[int | str], str]:
        return lambda ref: self.bill_order(key, ref)

    # --- the finance reports, from the model's own state --------------------------------------

    def aging(self, now: datetime) -> dict[str, int]:
        """Open balances by days past each invoice's deadline as it stands now."""
        totals = dict.fromkeys(AGING_BUCKETS, 0)
        for s in self.sites.values():
            for b in s.unpaid + [b for b in s.services if b.open]:
                totals[days_overdue_bucket(b.deadline, now)] += b.balance
        return totals

    def revenue(self) -> dict[str, dict[str, int]]:
        """Per Jalali month, every column of the revenue report (months with figures only)."""
        months: dict[str, dict[str, int]] = {}
        for s in self.sites.values():
            for (month, column, _), amount in s.money.items():
                row = months.setdefault(month, Counter())
                row[column] += amount
        return {month: dict(row) for month, row in months.items()}

    def revenue_by_line(self) -> dict[tuple[str, str], dict[str, int]]:
        """Per (Jalali month, line), every column with figures (months with figures only)."""
        out: dict[tuple[str, str], Counter] = {}
        for s in self.sites.values():
            for (month, column, line), amount in s.money.items():
                if column != "refunded":  # out of credit: of no invoice, so of no line
                    out.setdefault((month, line), Counter())[column] += amount
        return {key: dict(row) for key, row in out.items() if any(row.values())}

    def advance(self, until: datetime, *, on_time: bool) -> dict[int, list]:
        """The clock or a tick: every subscription, and every side-service invoice on its own."""
        for s in self.sites.values():
            for b in s.services:
                catch_up_service(b, until, on_time=on_time)
        return {k: catch_up(s, until, on_time=on_time) for k, s in self.sites.items()}

    def command(self, key: int, now: datetime, action) -> object:
        """Catch the subscription up at ``now``, then act; a refusal leaves no trace. A
        side-service invoice the command changed records that change at ``now``."""
        before = copy.deepcopy(self.sites[key])
        s = self.sites[key]
        try:
            catch_up(s, now, on_time=False)
            marks = [_mark(b) for b in s.services]
            result = action(s)
        except Refused:
            self.sites[key] = before
            raise
        for b, mark in zip(s.services, marks, strict=False):
            if _mark(b) != mark:
                b.last_change = now
        return result

    # --- the commands -------------------------------------------------------------------------

    def bill_services(self, key: int, total: int, vat: int, days: int, now: datetime) -> None:
        """A side-service invoice on a running subscription, due ``days`` later; the
        customer's credit pays it as far as it goes, as at any issue."""

        def act(s: Site) -> None:
            if s.closed:
                raise Refused("ServiceInvoiceRefused")
            reminders = tuple(d for d in SERVICE_REMINDERS if d < days)
            bill = Bill(len(s.services) + 1, now, now + days * DAY, total, "", reminders=reminders)
            bill.service, bill.last_change = True, now
            s.book(now, "invoiced", total, "services")
            s.book(now, "vat", vat, "services")
            use = min(s.credit, total)
            if use:
                bill.paid, s.credit = use, s.credit - use
                s.book(now, "credit_used", use, "services")
            s.services.append(bill)

        self.command(key, now, act)

    def pay_service(self, key: int, index: int, amount: int, now: datetime) -> bool:
        """A payment naming a side-service invoice: it first, then the hosting invoices."""

        def act(s: Site) -> bool:
            named = s.services[index]
            if s.site == "collected":
                raise Refused("InvoiceNotPayable" if named.void else "SubscriptionCollected")
            return settle(s, amount, now, named)

        return self.command(key, now, act)

    def void_service(self, key: int, index: int, now: datetime) -> None:
        def act(s: Site) -> None:
            b = s.services[index]
            if b.void:
                raise Refused("InvoiceNotPayable")
            s.book(now, "voided", b.balance, "services")
            s.book(now, "credited", b.paid, "services")
            b.void = True
            s.credit += b.paid

        self.command(key, now, act)

    def pay(self, key: int, amount: int, now: datetime, bill_no: int | None = None) -> bool:
        def act(s: Site) -> bool:
            named = _bill(s, bill_no) if bill_no else None
            if s.site == "collected":
                raise Refused(
                    "InvoiceNotPayable" if named and named.void else "SubscriptionCollected"
                )
            if named is None and not s.unpaid:
                raise Refused("NothingToPay")
            return settle(s, amount, now, named)

        return self.command(key, now, act)

    def gateway_verified(self, key: int, bill_no: int, amount: int, now: datetime) -> None:
        def act(s: Site) -> None:
            named = _bill(s, bill_no)
            if s.site == "collected" or named.void:
                s.credit += amount  # the gateway took the money: kept as credit, never dropped
                s.last_change = now
            else:
                settle(s, amount, now, named)

        self.command(key, now, act)

    def request_offline(self, key: int, bill_no: int, request: str, now: datetime) -> None:
        def act(s: Site) -> None:
            if not s.legal:
                raise Refused("OfflineRequestRefused")  # a person pays online
            b = _bill(s, bill_no)
            if b.void:
                raise Refused("InvoiceNotPayable")
            if not b.open:
                raise Refused("NothingToPay")
            if {"pending", "approved"} & set(b.requests.values()):
                raise Refused("OfflineRequestRefused")
            b.requests[request] = "pending"
            s.last_change = now

        self.command(key, now, act)

    def decide_offline(self, key, bill_no, request, now, *, approve: bool, days: int) -> None:
        def act(s: Site) -> None:
            b = _bill(s, bill_no)
            if request not in b.requests:
                raise Refused("OfflineRequestNotFound")
            if b.requests[request] != "pending":
                raise Refused("OfflineRequestRefused")
            if approve and b.void:
                raise Refused("InvoiceNotPayable")  # nothing is owed: finance rejects instead
            b.requests[request] = "approved" if approve else "rejected"
            s.last_change = now
            if approve:
                b.deadline = max(b.deadline, now) + days * DAY
                if b.deadline > now and b.open and not s.closed:
                    b.grace = False  # not late any more: grace starts again at the new deadline
                restore_if_free(s, now)

        self.command(key, now, act)

    def register_receipt(self, key, bill_no, receipt, tracking, amount, now) -> None:
        """A tracking number counts once while its receipt stands (a rejection releases it)."""
        holder = self.tracking.get(tracking)
        if holder is not None and self.receipt(*holder).status != "rejected":
            raise Refused("TrackingNumberUsed")

        def act(s: Site) -> None:
            b = _bill(s, bill_no)
            if b.void:
                raise Refused("InvoiceNotPayable")
            if "approved" not in b.requests.values():
                raise Refused("OfflineRequestRefused")
            b.receipts[receipt] = Receipt(now, amount, tracking)
            s.last_change = now

        self.command(key, now, act)
        self.tracking[tracking] = (key, bill_no, receipt)

    def receipt(self, key: int, bill_no: int, receipt: str) -> Receipt:
        return _bill(self.sites[key], bill_no).receipts[receipt]

    def decide_receipt(self, key, bill_no, receipt, now, *, confirm: bool) -> None:
        def act(s: Site) -> None:
            b = _bill(s, bill_no)
            r = b.receipts[receipt]
            if r.status != "review":
                raise Refused("ReceiptRefused")
            r.status, r.decided = ("confirmed" if confirm else "rejected"), now
            s.last_change = now
            if confirm and (s.site == "collected" or b.void):
                s.credit += r.amount  # the money is in the bank: kept as credit, never dropped
            elif confirm:
                settle(s, r.amount, now, b)

        self.command(key, now, act)

    def cancel(self, key: int, now: datetime) -> None:
        def act(s: Site) -> None:
            check_open(s)
            if not s.cancelled:
                s.cancelled, s.pending, s.last_change = True, None, now

        self.command(key, now, act)

    def change_plan(
        self, key: int, terms: Terms, period: str, now: datetime, when: str | None = None
    ) -> str:
        """docs/LIFECYCLE.md, "Plan changes": at the renewal, or at once with a proration
        invoice when that costs at least a rial more (an upgrade); without ``when``, at once
        for an upgrade on the same period, else at the renewal. Returns when it takes effect."""

        def act(s: Site) -> str:
            check_open(s)
            if s.cancelled:
                raise Refused("SubscriptionNotActive")
            start, old_end, _, _ = s.periods[-1]
            before = s.months - MONTHS[s.period]  # months from the anchor to the period start
            months = before + MONTHS[period]
            new_end = s.anchor.add_months(months, anchor_day=s.anchor.day)
            today = JalaliDate.of(now)
            net = prorated(
                net_price(terms.monthly, period),
                max(0, days(today, new_end) - 1),
                days(start, new_end),
                net_price(s.terms.monthly, s.period),
                max(0, days(today, old_end) - 1),
                days(start, old_end),
            )
            taking = when or ("now" if period == s.period and net > 0 else "renewal")
            if any(b.deadline <= now for b in s.unpaid):
                raise Refused("PlanChangeRefused")
            s.last_change = now
            if taking == "renewal":
                s.pending = (terms, period)
                return taking
            if days(today, new_end) <= 1 or net <= 0:  # no day left, or not an upgrade
                raise Refused("ImmediatePlanChangeRefused")
            s.terms, s.period, s.pending, s.months = terms, period, None, months
            s.periods[-1] = (start, new_end, terms.id, period)
            s.upgrades += 1
            _issue(s, now, terms.renewal_days, net)
            return taking

        return self.command(key, now, act)

    def place_hold(self, key: int, until: datetime, now: datetime) -> None:
        def act(s: Site) -> None:
            check_open(s)
            if until <= now:
                raise Refused("HoldRefused")
            if s.hold == until:
                return  # the hold in force placed again (the machine's reason never varies)
            s.hold, s.last_change = until, now

        self.command(key, now, act)

    def lift_hold(self, key: int, now: datetime) -> None:
        def act(s: Site) -> None:
            if s.hold is None:
                raise Refused("HoldRefused")
            s.hold, s.hold_ended, s.last_change = None, now, now

        self.command(key, now, act)

    def refund(self, key: int, amount: int, now: datetime) -> None:
        """Finance gives ``amount`` of the customer's credit back (never more than it)."""

        def act(s: Site) -> None:
            if not 0 < amount <= s.credit:
                raise Refused("RefundRefused")
            s.credit -= amount
            s.book(now, "refunded", amount)
            s.last_change = now

        self.command(key, now, act)

    def void(self, key: int, bill_no: int, now: datetime) -> None:
        def act(s: Site) -> None:
            b = _bill(s, bill_no)
            if b.void:
                raise Refused("InvoiceNotPayable")
            kept = b.paid - b.returned  # what a return did not already move to credit
            s.book(now, "voided", b.balance)
            s.book(now, "credited", kept)  # moved back to credit: not earned
            b.void, s.last_change = True, now
            s.credit += kept  # what was paid on it goes back to the customer's credit
            restore_if_free(s, now)

        self.command(key, now, act)

    def return_sale(self, key: int, bill_no: int, amount: int, now: datetime) -> None:
        """Return from sale: ``amount`` of a paid invoice back to credit, never more than what
        was paid and not yet returned; an open or a voided invoice is refused."""

        def act(s: Site) -> None:
            b = _bill(s, bill_no)
            if b.status != "paid" or not 0 < amount <= b.paid - b.returned:
                raise Refused("ReturnRefused")
            b.returned += amount
            s.credit += amount
            s.book(now, "credited", amount)
            s.last_change = now

        self.command(key, now, act)
