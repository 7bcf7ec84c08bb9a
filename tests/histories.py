"""Random billing histories for property tests: orders, time passing, payments, cancellations."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hypothesis import strategies as st

from domain import lifecycle
from domain.errors import BillingError
from domain.money import Money
from tests.builders import T0, a_person, a_plan

PLANS = (
    a_plan("basic", 1_000_000),
    a_plan("lean", 700_000, grace_days=0),
    a_plan("pro", 3_000_000),
)

order = st.tuples(
    st.just("order"),
    st.sampled_from([p.id for p in PLANS]),
    st.sampled_from(["monthly", "quarterly", "yearly"]),
)
advance = st.tuples(st.just("advance"), st.integers(min_value=1, max_value=24 * 40))
pay = st.tuples(
    st.just("pay"), st.integers(min_value=0, max_value=20), st.sampled_from(["part", "all", "over"])
)
cancel = st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=20))
change = st.tuples(
    st.just("change"),
    st.integers(min_value=0, max_value=20),
    st.sampled_from([p.id for p in PLANS]),
)
steps = st.lists(st.one_of(order, advance, advance, pay, cancel, change), min_size=5, max_size=40)


@dataclass
class History:
    """Drives an application through a list of steps; remembers what it ordered."""

    app: object
    now: datetime = T0
    subscriptions: list = field(default_factory=list)
    references: int = 0

    def __post_init__(self) -> None:
        for plan in PLANS:
            self.app.define_plan(plan, self.now)
        self.customer = self.app.register_customer(a_person(), self.now)

    def run(self, history) -> None:
        for step in history:
            getattr(self, f"_{step[0]}")(*step[1:])

    def _order(self, plan_id: str, period: str) -> None:
        self.subscriptions.append(
            self.app.start_subscription(self.customer, plan_id, period, self.now)
        )

    def _advance(self, hours: int) -> None:
        self.now += timedelta(hours=hours)
        self.app.advance(self.now, on_time=True)

    def _pick(self, index: int):
        return self.subscriptions[index % len(self.subscriptions)] if self.subscriptions else None

    def _pay(self, index: int, how: str) -> None:
        sub_id = self._pick(index)
        if sub_id is None:
            return
        life = self.app.lifecycle_of(sub_id)
        due = lifecycle.amount_due(life.subscription, life.invoices).rials
        amount = {"part": due // 3, "all": due, "over": due + 250_000}[how]
        self.references += 1
        # Paying a collected or fully paid site is refused: that is part of the history too.
        with contextlib.suppress(BillingError):
            self.app.record_payment(
                f"h-{self.references}", Money(max(amount, 1)), self.now, subscription_id=sub_id
            )

    def _cancel(self, index: int) -> None:
        sub_id = self._pick(index)
        if sub_id is not None:
            with contextlib.suppress(BillingError):
                self.app.cancel_subscription(sub_id, self.now)

    def _change(self, index: int, plan_id: str) -> None:
        sub_id = self._pick(index)
        if sub_id is not None:
            with contextlib.suppress(BillingError):
                self.app.change_plan(sub_id, plan_id, self.now)
