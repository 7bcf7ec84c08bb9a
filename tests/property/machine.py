"""The lifecycle state machine: random histories driven through engines and the reference model.

Each rule is one thing that can happen to a billing engine: an order, the clock moving (the
simulated clock, an idle scheduler, or an outage), a scheduler tick, a payment of any kind,
an offline request or a bank receipt and finance's decision, a cancellation, a plan change,
an enforcement hold, a void, a replayed gateway callback, or a restart from the store; and
side-service invoices: billed on a subscription, paid by a payment naming them, voided.

Every rule is applied to every engine of the machine (the first one is told to move the clock
as the rule says; an ``hourly`` engine moves it hour by hour) and to the reference model in
:mod:`tests.property.model`. After every step:

- every engine's events pass the ledger's invariants (:mod:`tests.property.invariants`);
- every engine recorded exactly the same events as the first (clock stepping, stores);
- every subscription's state, invoices, notices and next step equal the model's;
- balances, credit and read models equal a fold of the events;
- every subscription brought up to date at this moment passes the site-state invariant.
"""

from __future__ import annotations

import copy
import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from domain import lifecycle
from domain.errors import BillingError
from domain.invoice import Invoice
from domain.money import Money
from domain.plan_changes import proration_invoice_id
from projections.reports import (
    LINE_COLUMNS,
    REVENUE_COLUMNS,
    REVENUE_LINES,
    aging,
    revenue,
    revenue_by_line,
)
from tests.builders import a_company, a_person, a_plan
from tests.property import model as m
from tests.property.engines import Engine
from tests.property.invariants import (
    InvariantBroken,
    check_balances,
    check_read_models,
    check_read_models_rebuild,
    check_site_state,
)

HOUR, DAY, MINUTE = timedelta(hours=1), timedelta(days=1), timedelta(minutes=1)
#: 1405/01/15 09:00 Tehran; each history starts up to a year and a half later.
START = datetime(2026, 4, 4, 5, 30, tzinfo=UTC)

TERMS = {
    t.id: t
    for t in (
        m.Terms("basic", 1_000_000),
        m.Terms("lean", 700_000, grace_days=0),
        m.Terms(
            "pro",
            2_999_999,
            grace_days=1,
            first_days=20,
            renewal_days=5,
            suspension_days=20,
            reminders=(5, 2, 1),
            warnings=(10, 5, 2, 1),
            review_days=2,
        ),
        m.Terms(
            "slow",
            1_234_567,
            grace_days=7,
            renewal_days=10,
            suspension_days=45,
            warnings=(30, 14, 7, 1),
            review_days=5,
        ),
    )
}


def plan_of(t: m.Terms):
    return a_plan(
        t.id,
        t.monthly,
        grace_days=t.grace_days,
        first_invoice_days=t.first_days,
        renewal_invoice_days=t.renewal_days,
        suspension_days=t.suspension_days,
        reminder_days=t.reminders,
        collection_warning_days=t.warnings,
        receipt_review_days=t.review_days,
    )


PLANS = [plan_of(t) for t in TERMS.values()]
PERIODS = ["monthly", "quarterly", "yearly"]
STEP_NAMES = {
    "renew": "issue_renewal_invoice",
    "end_hold": "end_enforcement_hold",
    "remind": "send_payment_reminder",
    "grace": "start_grace",
    "suspend": "suspend_site",
    "warn": "send_collection_warning",
    "collect": "collect_site",
    "end": "end_subscription",
}


def subscription_id(key: int) -> UUID:
    return uuid5(NAMESPACE_URL, f"billing-property/subscription/{key}")


def invoice_of(key: int, ref: int | str) -> UUID:
    """The engine's id of the model's invoice ``ref``: a period's number, or "upgrade-N"."""
    if isinstance(ref, int):
        return Invoice.create_id(subscription_id(key), ref)
    return proration_invoice_id(subscription_id(key), int(ref.removeprefix("upgrade-")))


def service_id(key: int, index: int) -> UUID:
    """The id of the ``index``-th side-service invoice billed on subscription ``key``."""
    return uuid5(NAMESPACE_URL, f"billing-property/service/{key}/{index}")


#: A side-service invoice's lines: (unit price, quantity).
service_lines = st.lists(
    st.tuples(st.integers(1, 5_000_000), st.integers(1, 5)), min_size=1, max_size=3
)


def an_id(kind: str, name: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"billing-property/{kind}/{name}")


durations = st.one_of(
    st.integers(1, 59).map(lambda n: n * MINUTE),
    st.integers(1, 72).map(lambda n: n * HOUR),
    st.integers(1, 45).map(lambda n: n * DAY),
    st.integers(1, 45).map(lambda n: n * DAY),
    st.integers(1, 5).map(lambda n: 30 * n * DAY),
)
#: How much of what is due a payment brings: part of it (twice as often), all, or more.
amounts = st.sampled_from(["part", "part", "exact", "over"])
#: A payment may also bring just what keeps the site suspended (or is overdue).
payments = st.sampled_from(["part", "part", "exact", "over", "overdue"])
index = st.integers(0, 7)


#: Events whose presence in a history is counted (hypothesis.event, and SEEN over a whole run:
#: how often the random histories reach each part of the lifecycle).
SEEN: Counter[str] = Counter()
REPORTED = {
    "SiteSuspended",
    "SiteRestored",
    "SiteCollected",
    "SubscriptionEnded",
    "CreditAdded",
    "CreditApplied",
    "OfflinePaymentApproved",
    "ReceiptConfirmed",
    "ReceiptRejected",
    "TrackingNumberClaimedAgain",
    "EnforcementHoldEnded",
    "PlanChangeScheduled",
    "PlanChanged",
    "GatewayPaymentVerified",
    "CreditRefunded",
    "OfficialCorrectionIssued",
}


# --- what the engine and the model say, side by side -----------------------------------------------


def engine_view(life: Any, customer: Any) -> dict:
    """``life``: a subscription with all its invoices (``app.lifecycle_of(id, all_invoices=True)``)."""
    sub = life.subscription
    suspension = sub.suspension
    invoices = []
    for invoice_id in sub.invoice_ids:
        inv = life.invoices[invoice_id]
        reminders: dict[int, datetime] = {}
        for n in inv.notices:
            if n.kind.value == "payment_reminder":
                reminders.setdefault(n.number, n.recorded_at)
        invoices.append(
            {
                "issued": inv.issued_at,
                "deadline": inv.deadline,
                "total": inv.total.rials,
                "paid": inv.paid.rials,
                "status": inv.status.value,
                "reminders": reminders,
                "grace": invoice_id in sub.grace_started,
                "requests": sorted(r.status.value for r in inv.offline_requests.values()),
                "receipts": sorted(
                    {"under_review": "review"}.get(r.status.value, r.status.value)
                    for r in inv.receipts.values()
                ),
            }
        )
    warnings: dict[int, datetime] = {}
    if suspension is not None:
        for n in sub.notices:
            if (
                n.kind.value == "collection_warning"
                and n.facts.get("suspension_no") == suspension.number
            ):
                warnings.setdefault(n.number, n.recorded_at)
    following = lifecycle.next_step(sub, life.invoices, sub.plan.policy)  # = app.next_step_of
    pending = sub.pending_change
    return {
        "site": sub.site_state.value,
        "status": sub.status.value,
        "suspended_at": suspension.suspended_at if suspension else None,
        "suspensions": sub.suspension_count,
        "warnings": warnings,
        "collected_at": sub.collected_at,
        "ended_at": sub.ended_at,
        "cancelled": sub.cancelled_at is not None,
        "plan": (sub.plan.id, sub.period.value),
        "pending": (pending[0].id, pending[1].value) if pending else None,
        "hold": sub.hold.until if sub.hold else None,
        "hold_ended": sub.hold_ended_at,
        "periods": [
            (p.start.isoformat(), p.end.isoformat(), p.plan_id, p.period.value) for p in sub.periods
        ],
        "credit": customer.credit.rials,
        "invoices": invoices,
        "next": (following.step.value, following.due_at) if following else None,
    }


def model_view(s: m.Site) -> dict:
    following = m.planned(s)
    return {
        "site": s.site,
        "status": s.status,
        "suspended_at": s.suspended_at,
        "suspensions": s.suspensions,
        "warnings": dict(s.warned) if s.site == "suspended" else {},
        "collected_at": s.collected_at,
        "ended_at": s.ended_at,
        "cancelled": s.cancelled,
        "plan": (s.terms.id, s.period),
        "pending": (s.pending[0].id, s.pending[1]) if s.pending else None,
        "hold": s.hold,
        "hold_ended": s.hold_ended,
        "periods": [(a.isoformat(), b.isoformat(), t, p) for a, b, t, p in s.periods],
        "credit": s.credit,
        "invoices": [
            {
                "issued": b.issued,
                "deadline": b.deadline,
                "total": b.total,
                "paid": b.paid,
                "status": b.status,
                "reminders": dict(b.reminded),
                "grace": b.grace,
                "requests": sorted(b.requests.values()),
                "receipts": sorted(r.status for r in b.receipts.values()),
            }
            for b in s.bills
        ],
        "next": (STEP_NAMES[following[0].kind], following[0].due) if following else None,
    }


def engine_service_view(inv: Any) -> dict:
    reminders: dict[int, datetime] = {}
    overdue = None
    for n in inv.notices:
        if n.kind.value == "service_reminder":
            reminders.setdefault(n.number, n.recorded_at)
        elif n.kind.value == "service_overdue":
            overdue = overdue or n.recorded_at
    return {
        "kind": inv.kind.value,
        "issued": inv.issued_at,
        "deadline": inv.deadline,
        "total": inv.total.rials,
        "paid": inv.paid.rials,
        "status": inv.status.value,
        "reminders": reminders,
        "overdue": overdue,
    }


def model_service_view(b: m.Bill) -> dict:
    return {
        "kind": "service",
        "issued": b.issued,
        "deadline": b.deadline,
        "total": b.total,
        "paid": b.paid,
        "status": b.status,
        "reminders": dict(b.reminded),
        "overdue": b.overdue,
    }


def differences(got: dict, expected: dict) -> list[str]:
    out = []
    for k in expected:
        if got.get(k) != expected[k]:
            if k == "invoices" and len(got[k]) == len(expected[k]):
                for n, (g, e) in enumerate(zip(got[k], expected[k], strict=True), start=1):
                    out += [
                        f"invoice {n} {f}: engine {g[f]!r}, model {e[f]!r}"
                        for f in e
                        if g[f] != e[f]
                    ]
            else:
                out.append(f"{k}: engine {got.get(k)!r}, model {expected[k]!r}")
    return out


# --- the machine ----------------------------------------------------------------------------------


class LifecycleMachine(RuleBasedStateMachine):
    #: (store, stepping, with read models) of each engine; the first is the one the rules
    #: describe, the others must record the same events.
    ENGINES: tuple[tuple[str, str, bool], ...] = (
        ("memory", "as told", True),
        ("memory", "hourly", False),
    )

    def __init__(self) -> None:
        super().__init__()
        self.engines = [
            Engine(store, stepping=stepping, read_models=rm) for store, stepping, rm in self.ENGINES
        ]
        self.model = m.Model(lambda key, ref: str(invoice_of(key, ref)))
        self.now = START
        self.keys: list[int] = []
        self.fresh: set[int] = set()  # subscriptions brought up to date at self.now
        self.counter = 0
        self.authorities: list[str] = []
        self.clean = True  # False while a step or a check is under way (see teardown)

    def teardown(self) -> None:
        names = {name.rpartition(".")[2] for name, _ in self.engines[0].log}
        for name in sorted(names & REPORTED):
            if currently_in_test_context():
                event(f"history has {name}")
            SEEN[name] += 1
        SEEN["histories"] += 1
        try:
            for engine in self.engines:
                if engine.read_models and self.clean:  # else a step failed: that is the report
                    check_read_models_rebuild(engine.read_models)
        finally:
            for engine in self.engines:
                engine.close()

    # --- plumbing --------------------------------------------------------------------------------

    def next_name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def both(self, key: int | None, model_call, engine_call) -> list:
        """Apply one command to the model and to every engine: the same accepted or refused."""
        self.clean = False
        try:
            model_call()
            refused = None
        except m.Refused as refusal:
            refused = refusal.args[0]
        results = []
        for engine in self.engines:
            try:
                results.append(engine_call(engine.app))
                got = None
            except BillingError as error:
                got = type(error).__name__
            if got != refused:
                raise InvariantBroken(
                    f"{engine}: the command was {'refused with ' + got if got else 'accepted'}, "
                    f"the model says {'refused with ' + refused if refused else 'accepted'}"
                )
        if key is not None and refused is None:
            self.fresh.add(key)
        self.clean = True
        return results if refused is None else []

    def site(self, k: int) -> tuple[int, m.Site]:
        key = self.keys[k % len(self.keys)]
        return key, self.model.sites[key]

    def invoice_id(self, key: int, bill_no: int) -> UUID:
        return invoice_of(key, self.model.sites[key].bills[bill_no - 1].ref)

    def probe(self, key: int) -> m.Site:
        """The model's subscription as the command will find it after its catch-up."""
        s = copy.deepcopy(self.model.sites[key])
        m.catch_up(s, self.now, on_time=False)
        return s

    @staticmethod
    def amount(due: int, how: str, extra: int) -> int:
        return {
            "part": max(1, due * extra // 100),
            "exact": max(1, due),
            "over": due + extra * 1_000,
        }[how]

    def move_clock(self, until: datetime, how: str) -> None:
        for engine in self.engines:
            step = {"jump": None, "daily": DAY, "hourly": HOUR}[
                how if engine.stepping == "as told" else engine.stepping
            ]
            now = self.now
            while step is not None and now + step < until:
                now += step
                engine.app.advance(now, on_time=True)
            engine.app.advance(until, on_time=True)
        self.model.advance(until, on_time=True)
        self.now = until
        self.fresh = set(self.keys)

    # --- rules: orders and time --------------------------------------------------------------------

    @initialize(offset=st.integers(0, 540 * 24 * 60))
    def open_catalogue(self, offset: int) -> None:
        self.now = START + offset * MINUTE
        for engine in self.engines:
            for plan in PLANS:
                engine.app.define_plan(plan, self.now)

    @precondition(lambda self: len(self.keys) < 3)
    @rule(
        plan=st.sampled_from(sorted(TERMS)),
        period=st.sampled_from(PERIODS),
        legal=st.booleans(),
    )
    def order(self, plan: str, period: str, legal: bool = False) -> None:
        """A new customer (a person, or an organisation that may pay offline) orders a site."""
        key = len(self.keys)
        for engine in self.engines:
            profile = a_company() if legal else a_person()
            customer = engine.app.register_customer(profile, self.now)
            engine.names[customer] = f"customer-{key}"
            engine.app.start_subscription(
                customer, plan, period, self.now, subscription_id=subscription_id(key)
            )
        self.model.order(key, TERMS[plan], period, self.now, legal=legal)
        self.keys.append(key)
        self.fresh.add(key)

    @rule(by=durations, how=st.sampled_from(["jump", "daily"]))
    def clock(self, by: timedelta, how: str) -> None:
        """The simulated clock moves on, the engine running all along (docs/LIFECYCLE.md, Time)."""
        self.move_clock(self.now + by, how)

    @precondition(lambda self: self.keys)
    @rule(k=index, offset=st.sampled_from([-MINUTE, timedelta(0), MINUTE]))
    def clock_to_next_step(self, k: int, offset: timedelta) -> None:
        """The simulated clock lands on (or a minute around) a subscription's next due moment."""
        self.to_next_step(k, offset, idle=False)

    @precondition(lambda self: self.keys)
    @rule(k=index, offset=st.sampled_from([-MINUTE, timedelta(0), MINUTE]))
    def idle_to_next_step(self, k: int, offset: timedelta) -> None:
        """The same, with no tick: the next command (or tick) finds that step due."""
        self.to_next_step(k, offset, idle=True)

    def to_next_step(self, k: int, offset: timedelta, *, idle: bool) -> None:
        key, _ = self.site(k)
        steps = m.planned(self.probe(key))
        if not steps or steps[0].due + offset <= self.now:
            return
        if idle:
            self.now = steps[0].due + offset
            self.fresh = set()
        else:
            self.move_clock(steps[0].due + offset, "jump")

    @rule(by=durations)
    def idle(self, by: timedelta) -> None:
        """Time passes and no tick runs (the scheduler is late): the next command catches up."""
        self.now += by
        self.fresh = set()

    @rule()
    def tick(self) -> None:
        """A scheduler tick at the current moment: a late catch-up of everything due."""
        self.clean = False
        done = [engine.app.advance(self.now) for engine in self.engines]
        self.model.advance(self.now, on_time=False)
        self.fresh = set(self.keys)
        for executed in done:
            check_late_catch_up(executed, self.now)
        self.clean = True

    @rule(by=durations)
    def outage(self, by: timedelta) -> None:
        """The engine is stopped while time passes, then started from its store and ticks: the
        missed notices go out first, each action waits its lead time after them."""
        for engine in self.engines:
            engine.stop()
        self.now += by
        for engine in self.engines:
            engine.start()
        self.tick()

    @precondition(lambda self: self.keys)
    @rule(k=index, hours=st.integers(0, 48))
    def outage_past_next_action(self, k: int, hours: int) -> None:
        """An outage that ends up to two days after a subscription's next suspension or planned
        collection: the catch-up must send the missed notices and wait before acting."""
        key, _ = self.site(k)
        s = self.probe(key)
        if s.site == "suspended":
            target = s.suspended_at + s.terms.suspension_days * DAY
        elif s.unpaid and s.site == "up":
            target = min(b.deadline for b in s.unpaid) + s.terms.grace_days * DAY
        else:
            return
        if target + hours * HOUR > self.now:
            self.outage(target + hours * HOUR - self.now)

    @rule()
    def restart(self) -> None:
        """Stop and start again from the store: the same states, and read models that (caught
        up from where they were, or from zero in memory) equal a rebuild."""
        for engine in self.engines:
            engine.restart()
            if engine.read_models:
                check_read_models_rebuild(engine.read_models)

    # --- rules: payments -----------------------------------------------------------------------------

    @precondition(lambda self: self.keys)
    @rule(k=index, how=payments, extra=st.integers(1, 99), bill=st.none() | index)
    def pay(self, k: int, how: str, extra: int, bill: int | None) -> None:
        """A payment recorded by reference (naming an invoice or not)."""
        key, s = self.site(k)
        bill_no = bill % len(s.bills) + 1 if bill is not None else None
        probe = self.probe(key)
        due = probe.bills[bill_no - 1].balance if bill_no else probe.amount_due
        if how == "overdue":
            keeping = {b.no: b for b in probe.past_grace(self.now)}
            if probe.cause is not None and probe.cause.open:
                keeping[probe.cause.no] = probe.cause
            due, how = sum(b.balance for b in keeping.values()), "exact"
        amount, reference = self.amount(due, how, extra), self.next_name("manual")
        target = (
            {"invoice_id": self.invoice_id(key, bill_no)}
            if bill_no
            else {"subscription_id": subscription_id(key)}
        )
        was = probe.site
        results = self.both(
            key,
            lambda: self.model.pay(key, amount, self.now, bill_no),
            lambda app: app.record_payment(reference, amount, self.now, **target),
        )
        if results:
            self.check_restored_at_once(key, was, [r.restored for r in results])

    @precondition(lambda self: self.keys)
    @rule(
        k=index,
        bill=index,
        how=amounts,
        extra=st.integers(1, 99),
    )
    def pay_online(self, k: int, bill: int, how: str, extra: int) -> None:
        """A payment link, then the gateway's verified callback."""
        key, s = self.site(k)
        bill_no = bill % len(s.bills) + 1
        amount = self.amount(self.probe(key).bills[bill_no - 1].balance, how, extra)
        authority = self.next_name("A0000")
        for engine in self.engines:
            engine.app.open_payment_link(
                self.invoice_id(key, bill_no), authority, Money(amount), "sandbox", self.now
            )
        was = self.probe(key).site
        self.both(
            key,
            lambda: self.model.gateway_verified(key, bill_no, amount, self.now),
            lambda app: app.record_gateway_outcome(
                authority, self.now, verified_ref_id=f"ref-{authority}", code=100
            ),
        )
        self.check_restored_at_once(key, was, None)
        self.authorities.append(authority)

    @precondition(lambda self: self.authorities)
    @rule(n=index)
    def replay_gateway_callback(self, n: int) -> None:
        """The gateway calls back again for a payment it already verified: counted once."""
        authority = self.authorities[n % len(self.authorities)]
        for engine in self.engines:
            before = engine.app.recorder.max_notification_id()
            attempt, outcome = engine.app.record_gateway_outcome(
                authority, self.now, verified_ref_id=f"ref-{authority}", code=100
            )
            if outcome is not None or engine.app.recorder.max_notification_id() != before:
                raise InvariantBroken(f"{engine}: a replayed callback for {authority} recorded")

    # --- rules: paying offline ------------------------------------------------------------------

    def bills_where(self, n: int, *wanted) -> tuple[int, int]:
        """The ``n``-th (key, invoice number) of the subscriptions' invoices for which the first
        satisfiable of ``wanted(bill)`` holds (or of all of them)."""
        every = [(key, b) for key in self.keys for b in self.model.sites[key].bills]
        for predicate in wanted:
            if chosen := [(key, b) for key, b in every if predicate(b)]:
                break
        else:
            chosen = every
        key, b = chosen[n % len(chosen)]
        return key, b.no

    @precondition(lambda self: self.keys)
    @rule(n=index, decide=st.sampled_from([None, "approve", "reject"]), days=st.integers(0, 10))
    def request_offline(self, n: int, decide: str | None, days: int) -> None:
        """A customer asks to pay an invoice offline; finance may decide in the same moment."""
        key, bill_no = self.bills_where(n, lambda b: b.open)
        request = self.request(key, bill_no)
        if request and decide:
            self.decide_request(key, bill_no, request, decide == "approve", days)

    def request(self, key: int, bill_no: int) -> str | None:
        name = self.next_name("request")
        accepted = self.both(
            key,
            lambda: self.model.request_offline(key, bill_no, name, self.now),
            lambda app: app.request_offline_payment(
                self.invoice_id(key, bill_no),
                "the treasury pays by transfer",
                self.now,
                request_id=an_id("request", name),
            ),
        )
        return name if accepted else None

    @precondition(lambda self: self.keys)
    @rule(n=index, approve=st.booleans(), days=st.integers(0, 10))
    def decide_offline(self, n: int, approve: bool, days: int) -> None:
        """Finance approves (the deadline moves by ``days``) or rejects an offline request."""
        key, bill_no = self.bills_where(n, lambda b: "pending" in b.requests.values())
        requests = self.model.sites[key].bills[bill_no - 1].requests
        pending = [r for r, status in requests.items() if status == "pending"]
        request = pending[0] if pending else next(iter(requests), "never-requested")
        self.decide_request(key, bill_no, request, approve, days)

    def decide_request(
        self, key: int, bill_no: int, request: str, approve: bool, days: int
    ) -> bool:
        return bool(
            self.both(
                key,
                lambda: self.model.decide_offline(
                    key, bill_no, request, self.now, approve=approve, days=days
                ),
                lambda app: app.decide_offline_payment(
                    self.invoice_id(key, bill_no),
                    an_id("request", request),
                    self.now,
                    approve=approve,
                    reason="approved by finance" if approve else "pay online please",
                    extension_days=days,
                ),
            )
        )

    @precondition(lambda self: self.keys)
    @rule(n=index, how=amounts, extra=st.integers(1, 99), again=st.none() | index)
    def register_receipt(self, n: int, how: str, extra: int, again: int | None) -> None:
        """A bank receipt, with a new tracking number or ``again`` one already registered."""
        key, bill_no = self.bills_where(n, lambda b: "approved" in b.requests.values())
        self.register(key, bill_no, how, extra, again)

    def register(self, key: int, bill_no: int, how: str, extra: int, again: int | None) -> bool:
        amount = self.amount(self.probe(key).bills[bill_no - 1].balance, how, extra)
        name = self.next_name("receipt")
        used = sorted(self.model.tracking)
        tracking = used[again % len(used)] if again is not None and used else f"{self.counter:08d}"
        return bool(
            self.both(
                key,
                lambda: self.model.register_receipt(key, bill_no, name, tracking, amount, self.now),
                lambda app: app.register_receipt(
                    self.invoice_id(key, bill_no),
                    bank="017",
                    tracking_number=tracking,
                    amount=amount,
                    paid_on="1405/02/01",
                    now=self.now,
                    receipt_id=an_id("receipt", name),
                ),
            )
        )

    @precondition(lambda self: self.model.tracking)
    @rule(n=index, confirm=st.booleans())
    def decide_receipt(self, n: int, confirm: bool) -> None:
        """Finance confirms (a payment) or rejects a receipt under review."""
        key, bill_no = self.bills_where(
            n, lambda b: any(r.status == "review" for r in b.receipts.values())
        )
        self.decide(key, bill_no, confirm)

    def decide(self, key: int, bill_no: int, confirm: bool) -> None:
        receipts = self.model.sites[key].bills[bill_no - 1].receipts
        review = [r for r, x in receipts.items() if x.status == "review"]
        if not review:
            return
        was = self.probe(key).site
        self.both(
            key,
            lambda: self.model.decide_receipt(key, bill_no, review[0], self.now, confirm=confirm),
            lambda app: app.decide_receipt(
                self.invoice_id(key, bill_no),
                an_id("receipt", review[0]),
                self.now,
                confirm=confirm,
                reason="" if confirm else "no such transfer",
            ),
        )
        if confirm:
            self.check_restored_at_once(key, was, None)

    @precondition(lambda self: self.keys)
    @rule(
        n=index,
        days=st.integers(0, 10),
        how=amounts,
        extra=st.integers(1, 99),
        decision=st.sampled_from([None, "confirm", "reject"]),
    )
    def pay_offline(self, n: int, days: int, how: str, extra: int, decision: str | None) -> None:
        """The offline path in one moment: a request, finance's approval, the bank receipt, and
        maybe finance's decision on it (else it stays under review)."""
        # An overdue invoice first (the receipt then pauses its suspension), else any open one.
        key, bill_no = self.bills_where(
            n, lambda b: b.open and b.deadline <= self.now, lambda b: b.open
        )
        request = self.request(key, bill_no)
        approved = request and self.decide_request(key, bill_no, request, True, days)
        if approved and self.register(key, bill_no, how, extra, None) and decision:
            self.decide(key, bill_no, decision == "confirm")

    @precondition(
        lambda self: any(
            s.legal and s.site == "up" and b.open and b.deadline <= self.now
            for s in self.model.sites.values()
            for b in s.bills
        )
    )
    @rule(n=index, how=amounts, extra=st.integers(1, 99))
    def receipt_for_overdue_invoice(self, n: int, how: str, extra: int) -> None:
        """An organisation past its deadline sends a bank receipt, left under review: it pauses
        the suspension for up to the plan's review days."""
        candidates = [
            (key, b.no)
            for key, s in self.model.sites.items()
            if s.legal and s.site == "up"
            for b in s.bills
            if b.open and b.deadline <= self.now
        ]
        key, bill_no = candidates[n % len(candidates)]
        requests = self.model.sites[key].bills[bill_no - 1].requests
        if "approved" not in requests.values():
            pending = [r for r, status in requests.items() if status == "pending"]
            request = pending[0] if pending else self.request(key, bill_no)
            if not (request and self.decide_request(key, bill_no, request, True, 0)):
                return
        self.register(key, bill_no, how, extra, None)

    # --- rules: the contract and finance ----------------------------------------------------------

    @precondition(lambda self: self.keys)
    @rule(
        k=index,
        cancel=st.sampled_from([False, False, False, True]),
        plan=st.sampled_from(sorted(TERMS)),
        period=st.sampled_from(PERIODS),
        when=st.sampled_from([None, None, "now", "renewal"]),
    )
    def contract(
        self, k: int, cancel: bool, plan: str, period: str, when: str | None = None
    ) -> None:
        """The customer changes the plan (three times in four: without "when", an upgrade
        takes effect at once; or at once or at the renewal, as asked) or cancels."""
        if cancel:
            self.cancel(k)
        else:
            self.change_plan(k, plan, period, when)

    @precondition(lambda self: self.keys)
    @rule(
        k=index,
        plan=st.sampled_from(sorted(TERMS)),
        period=st.none() | st.sampled_from(PERIODS),
    )
    def settle_and_upgrade(self, k: int, plan: str, period: str | None) -> None:
        """The customer pays everything due (so no invoice is overdue), then moves to another
        plan (on the same period when ``period`` is None) without saying when: at once if it
        is an upgrade on the same period, else at the renewal (plan changes are otherwise
        rare: most histories have an invoice overdue)."""
        key, s = self.site(k)
        if self.probe(key).amount_due:
            self.pay(k, "exact", 1, None)
        self.change_plan(k, plan, period or s.period)

    def cancel(self, k: int) -> None:
        key, _ = self.site(k)
        self.both(
            key,
            lambda: self.model.cancel(key, self.now),
            lambda app: app.cancel_subscription(subscription_id(key), self.now),
        )

    def change_plan(self, k: int, plan: str, period: str, when: str | None = None) -> None:
        key, _ = self.site(k)
        self.both(
            key,
            lambda: self.model.change_plan(key, TERMS[plan], period, self.now, when),
            lambda app: app.change_plan(
                subscription_id(key), plan, self.now, period=period, when=when
            ),
        )

    @precondition(lambda self: self.keys)
    @rule(
        k=index,
        action=st.sampled_from(
            ["place_hold", "lift_hold", "void", "void_paid", "refund", "return"]
        ),
        hours=st.integers(1, 60 * 24),
        bill=index,
    )
    def finance(self, k: int, action: str, hours: int, bill: int) -> None:
        """Finance places or lifts an enforcement hold, voids an open invoice or a paid one
        (an organisation's: its official invoice gets its cancelling document), refunds part,
        all or more than all of a customer's credit (``bill`` says how much), or returns part,
        all or more than all of what is left to return of a paid invoice (its
        return-from-sale document, or a credit note)."""
        if action == "place_hold":
            self.place_hold(k, hours)
        elif action == "lift_hold":
            self.lift_hold(k)
        elif action == "void_paid":
            self.void(k, bill, paid=True)
        elif action == "refund":
            self.refund(k, bill)
        elif action == "return":
            self.return_sale(k, bill)
        else:
            self.void(k, bill)

    def return_sale(self, k: int, share: int) -> None:
        key, s = self.site(k)
        if s.closed:
            return  # collected or removed is final: its invoices are left as they are
        paid = [b for b in s.bills if b.status == "paid"]
        if not paid:
            return
        b = paid[share % len(paid)]
        left = b.paid - b.returned
        amount = max(1, left * [25, 50, 100, 101][(share // 2) % 4] // 100)  # 101 %: refused
        self.both(
            key,
            lambda: self.model.return_sale(key, b.no, amount, self.now),
            lambda app: app.return_sale(
                self.invoice_id(key, b.no), amount, "not delivered", self.now
            ),
        )

    def refund(self, k: int, share: int) -> None:
        key, s = self.site(k)
        credit = self.probe(key).credit  # as the command finds it, after its catch-up
        amount = max(1, credit * [25, 50, 100, 101][share % 4] // 100)  # 101 %: refused
        told_on = self.invoice_id(key, s.bills[-1].no)  # the latest invoice the engine has
        reference = self.next_name("BT")

        def engine_call(app: Any) -> Any:
            customer = app.get_subscription(subscription_id(key)).customer_id
            return app.refund_credit(
                customer, amount, "asked back", reference, self.now, notice_invoice_id=told_on
            )

        self.both(key, lambda: self.model.refund(key, amount, self.now), engine_call)

    @precondition(
        lambda self: any(
            s.site == "suspended" or s.past_grace(self.now) for s in self.model.sites.values()
        )
    )
    @rule(n=index, hours=st.integers(1, 60 * 24))
    def hold_enforcement(self, n: int, hours: int) -> None:
        """Finance holds a subscription that is suspended or about to be."""
        held = [
            k
            for k, s in self.model.sites.items()
            if s.site == "suspended" or s.past_grace(self.now)
        ]
        self.place_hold(self.keys.index(held[n % len(held)]), hours)

    def place_hold(self, k: int, hours: int) -> None:
        key, _ = self.site(k)
        until = self.now + hours * HOUR
        self.both(
            key,
            lambda: self.model.place_hold(key, until, self.now),
            lambda app: app.place_hold(
                subscription_id(key), "disputed by the customer", until, self.now
            ),
        )

    def lift_hold(self, k: int) -> None:
        key, _ = self.site(k)
        self.both(
            key,
            lambda: self.model.lift_hold(key, self.now),
            lambda app: app.lift_hold(subscription_id(key), "resolved", self.now),
        )

    def void(self, k: int, bill: int, *, paid: bool = False) -> None:
        key, s = self.site(k)
        if paid and s.closed:
            return  # collected or removed is final: nothing is voided any more
        open_bills = [b.no for b in s.bills if (b.status == "paid" if paid else b.open)]
        if not open_bills:
            return
        bill_no = open_bills[bill % len(open_bills)]
        self.both(
            key,
            lambda: self.model.void(key, bill_no, self.now),
            lambda app: app.void_invoice(
                self.invoice_id(key, bill_no), "issued by mistake", self.now
            ),
        )

    # --- rules: side-service invoices -------------------------------------------------------------

    @precondition(lambda self: self.keys)
    @rule(k=index, lines=service_lines, days=st.integers(1, 20))
    def bill_services(self, k: int, lines: list[tuple[int, int]], days: int) -> None:
        """Finance (or the representative) bills side services on a subscription."""
        key, s = self.site(k)
        index = len(s.services)
        vat = sum(m.half_up(price * quantity, m.VAT_BP) for price, quantity in lines)
        total = sum(price * quantity for price, quantity in lines) + vat
        body = [
            {"description": f"service {n}", "unit_price": price, "quantity": quantity}
            for n, (price, quantity) in enumerate(lines)
        ]

        def issue(app: Any) -> UUID:
            customer = app.get_subscription(subscription_id(key)).customer_id
            return app.issue_service_invoice(
                customer,
                subscription_id(key),
                body,
                days,
                self.now,
                invoice_id=service_id(key, index),
            )

        billed = self.both(
            key, lambda: self.model.bill_services(key, total, vat, days, self.now), issue
        )
        if billed and currently_in_test_context():
            event("history has a side-service invoice")

    def a_service(self, n: int) -> tuple[int, int, m.Bill] | None:
        billed = [(k, i, b) for k, s in self.model.sites.items() for i, b in enumerate(s.services)]
        return billed[n % len(billed)] if billed else None

    @precondition(lambda self: any(s.services for s in self.model.sites.values()))
    @rule(n=index, how=amounts, extra=st.integers(1, 99))
    def pay_service(self, n: int, how: str, extra: int) -> None:
        """A payment naming a side-service invoice: it first, then the hosting invoices, then
        credit; a suspended site is restored in the same command when nothing keeps it so."""
        found = self.a_service(n)
        assert found is not None
        key, index, _ = found
        probe = self.probe(key)
        amount = self.amount(probe.services[index].balance, how, extra)
        reference = self.next_name("service")
        results = self.both(
            key,
            lambda: self.model.pay_service(key, index, amount, self.now),
            lambda app: app.record_payment(
                reference, amount, self.now, invoice_id=service_id(key, index)
            ),
        )
        if results:
            self.check_restored_at_once(key, probe.site, [r.restored for r in results])

    @precondition(lambda self: any(s.services for s in self.model.sites.values()))
    @rule(n=index)
    def void_service(self, n: int) -> None:
        found = self.a_service(n)
        assert found is not None
        key, index, _ = found
        self.both(
            key,
            lambda: self.model.void_service(key, index, self.now),
            lambda app: app.void_invoice(service_id(key, index), "not delivered", self.now),
        )

    # --- after every step ---------------------------------------------------------------------------

    def check_restored_at_once(self, key: int, was: str, restored: list | None) -> None:
        """A payment before collection that leaves nothing unpaid past its grace restores the
        site in the same command (the same moment, the same save). ``was``: the site's state
        once the command's catch-up is done."""
        sub_id = subscription_id(key)
        for n, engine in enumerate(self.engines):
            new = engine.pull()
            sub = engine.app.get_subscription(sub_id)
            if was == "suspended" and sub.site_state.value == "up":
                restores = [
                    e
                    for e in new
                    if type(e).__name__ == "SiteRestored" and e.originator_id == sub_id
                ]
                if not restores or restores[-1].timestamp != self.now:
                    raise InvariantBroken(
                        f"{engine}: restored without a SiteRestored at {self.now}"
                    )
            if restored is not None and restored[n] != (
                was == "suspended" and sub.site_state.value == "up"
            ):
                raise InvariantBroken(f"{engine}: the payment's outcome misreports the restore")

    @invariant()
    def engines_agree_with_the_model_and_the_rules(self) -> None:
        SEEN["steps"] += 1
        self.clean = False
        first = self.engines[0]
        for engine in self.engines:
            engine.pull()
            if engine is not first and engine.log != first.log:
                n = next(
                    (
                        i
                        for i, (a, b) in enumerate(zip(engine.log, first.log, strict=False))
                        if a != b
                    ),
                    min(len(engine.log), len(first.log)),
                )
                raise InvariantBroken(
                    f"{engine} recorded other events than {first} from event {n}: "
                    f"{engine.log[n : n + 2]} against {first.log[n : n + 2]}"
                )
            for key in self.keys:
                life = engine.app.lifecycle_of(subscription_id(key), all_invoices=True)
                customer = engine.app.get_customer(life.subscription.customer_id)
                diff = differences(engine_view(life, customer), model_view(self.model.sites[key]))
                if diff:
                    raise InvariantBroken(
                        f"{engine}, subscription {key} at {self.now}:\n  " + "\n  ".join(diff)
                    )
                if key in self.fresh:
                    check_site_state(life, self.now)
                check_balances(engine.ledger, life, customer)
                check_services(engine, key, self.model.sites[key])
            if engine.read_models:
                check_read_models(engine.ledger, engine.read_models)
                check_reports(engine, self.model, self.now)
        self.clean = True


# The three machines: which engines run each history side by side (store, clock, read models).
# test_lifecycle_machine.py runs them at random; test_regressions.py replays named histories.


class InMemory(LifecycleMachine):
    ENGINES = (("memory", "as told", True), ("memory", "hourly", False))


class OnSqlite(LifecycleMachine):
    ENGINES = (("sqlite", "as told", True), ("memory", "hourly", False))


class OnPostgresAndSqlite(LifecycleMachine):
    ENGINES = (("postgres", "as told", True), ("sqlite", "as told", True))


def check_services(engine: Engine, key: int, s: m.Site) -> None:
    """Each side-service invoice of the subscription equals the model's (its notices sent at
    the same moments) and its balance the fold of its events; none is among the
    subscription's invoices, so the site's lifecycle never reads it."""
    sub = engine.app.get_subscription(subscription_id(key))
    for index, bill in enumerate(s.services):
        invoice_id = service_id(key, index)
        inv = engine.app.get_invoice(invoice_id)
        got, expected = engine_service_view(inv), model_service_view(bill)
        diff = [
            f"{f}: engine {got[f]!r}, model {expected[f]!r}"
            for f in expected
            if got[f] != expected[f]
        ]
        if diff:
            raise InvariantBroken(
                f"{engine}, side-service invoice {index} of subscription {key}:\n  "
                + "\n  ".join(diff)
            )
        if invoice_id in sub.invoice_ids or invoice_id in sub.open_invoice_ids:
            raise InvariantBroken(
                f"{engine}: side-service invoice {invoice_id} is a period of {key}"
            )
        fold = engine.ledger.invoices[invoice_id]
        if (inv.total.rials, inv.paid.rials, inv.voided_amount.rials) != (
            fold.total,
            fold.paid,
            fold.voided,
        ):
            raise InvariantBroken(f"side-service invoice {invoice_id}: the events say {fold}")


def check_reports(engine: Engine, model: m.Model, now: datetime) -> None:
    """The engine's aging and revenue reports, as of this step's moment, equal the model's:
    the reports are checked against the rules, not only their rows against the events."""
    report = aging(engine.read_models, now)
    if report.totals != model.aging(now):
        raise InvariantBroken(
            f"{engine}: aging at {now} is {report.totals}, the model says {model.aging(now)}"
        )
    expected = model.revenue()
    for as_of in (None, now):  # the revenue read model, and the ledger as of now
        got = {
            row["jalali_month"]: {c: int(row[c]) for c in REVENUE_COLUMNS if int(row[c])}
            for row in revenue(engine.read_models, as_of=as_of)
        }
        got = {month: row for month, row in got.items() if row}
        if got != expected:
            raise InvariantBroken(
                f"{engine}: revenue (as of {as_of}) is {got}, the model says {expected}"
            )
        # Hosting and side services apart (docs/AUDIT.md, "Revenue: hosting and side services").
        lines = {
            (item["jalali_month"], line): {c: item[line][c] for c in LINE_COLUMNS if item[line][c]}
            for item in revenue_by_line(engine.read_models, as_of=as_of)
            for line in REVENUE_LINES
        }
        lines = {key: row for key, row in lines.items() if row}
        if lines != model.revenue_by_line():
            raise InvariantBroken(
                f"{engine}: revenue by line (as of {as_of}) is {lines}, the model says "
                f"{model.revenue_by_line()}"
            )


def check_late_catch_up(executed: list, now: datetime) -> None:
    """After an outage (or any late tick): everything is recorded now, and no action comes in
    the same catch-up as a notice whose lead it needs (a reminder for a suspension, a warning
    for a collection): the missed notices go out first and the action waits 24 h."""
    notices: set = set()
    for done in executed:
        if done.recorded_at != now:
            raise InvariantBroken(f"a late step {done.step} was recorded at {done.recorded_at}")
        if not isinstance(done.step, lifecycle.DueStep):
            continue  # a side-service invoice's notice: no action ever waits for it
        step, sub = done.step.step.value, done.subscription_id
        if step == "send_payment_reminder":
            notices.add((sub, done.step.invoice_id))
        elif step == "send_collection_warning":
            notices.add((sub, None))
        elif step == "suspend_site" and (sub, done.step.invoice_id) in notices:
            raise InvariantBroken(f"suspended in the catch-up that sent its reminders: {executed}")
        elif step == "collect_site" and (sub, None) in notices:
            raise InvariantBroken(f"collected in the catch-up that sent its warnings: {executed}")


def profile_settings(share: float) -> settings:
    """The active profile (HYPOTHESIS_PROFILE: quick by default, or long), with ``share`` of
    its examples: the database-backed machines run fewer."""
    base = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))
    return settings(base, max_examples=max(2, int(base.max_examples * share)))


def replay(machine: type[LifecycleMachine], *steps: tuple[str, dict]) -> None:
    """Run one history step by step, checking after each step as the machine does: the
    named regression tests are written with this."""
    state = machine()
    try:
        for name, arguments in steps:
            getattr(state, name)(**arguments)
            state.engines_agree_with_the_model_and_the_rules()
    finally:
        state.teardown()
