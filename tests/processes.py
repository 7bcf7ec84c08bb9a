"""A population for the scheduler-process tests: subscriptions on one store with a stored clock,
and the wait until the schedulers working on it have done everything due."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

from adapters.clock import StoredClock
from bootstrap import build_application, build_read_models
from tests.builders import T0, a_person, a_plan


def populate(url: str, subscriptions: int):
    """``subscriptions`` monthly orders 7 s apart on two plans (every third on ``lean``, no
    grace), ten per customer, and a stored clock at the last order: (app, read models, clock,
    subscription ids)."""
    app = build_application(database_url=url)
    app.define_plan(a_plan(), T0)
    app.define_plan(a_plan("lean", 700_000, grace_days=0), T0)
    customers = [
        app.register_customer(a_person(f"Customer {i}"), T0)
        for i in range(max(subscriptions // 10, 1))
    ]
    subs = [
        app.start_subscription(
            customers[i % len(customers)],
            "basic" if i % 3 else "lean",
            "monthly",
            T0 + i * timedelta(seconds=7),
        )
        for i in range(subscriptions)
    ]
    read_models = build_read_models(app, database_url=url)
    clock = StoredClock(read_models, start=T0 + subscriptions * timedelta(seconds=7))
    return app, read_models, clock, subs


def settled(read_models, clock, timeout: float = 300.0) -> None:
    """Wait until nothing is due by the clock's now (the schedulers did it all)."""
    deadline = time.monotonic() + timeout
    while True:
        read_models.catch_up()
        if not read_models.due_subscriptions(clock.now(), 1):
            return
        if time.monotonic() > deadline:
            raise AssertionError("the schedulers did not finish what was due")
        time.sleep(0.2)


def events(app) -> list:
    """Every event the store holds, in the order of the log."""
    found, after = [], 0
    while batch := app.recorder.select_notifications(
        start=after, limit=2000, inclusive_of_start=False
    ):
        found += [app.mapper.to_domain_event(n) for n in batch]
        after = batch[-1].id
    return found


def assert_each_time_based_event_once(app) -> None:
    seen: Counter = Counter()
    site: dict = {}
    for e in events(app):
        name = type(e).__name__
        key = None
        if name == "SubscriptionRenewed":
            key = (e.originator_id, name, e.period_no)
        elif name == "NoticeSent":
            key = (
                e.originator_id,
                name,
                e.kind,
                e.number,
                e.facts.get("suspension_no"),
                e.facts.get("reference"),
            )
        elif name in ("GraceStarted", "SiteSuspended"):
            key = (e.originator_id, name, e.invoice_id, getattr(e, "suspension_no", None))
        elif name == "SiteCollected":
            key = (e.originator_id, name)
        if key is not None:
            seen[key] += 1
        if name in ("SiteSuspended", "SiteRestored"):
            assert site.get(e.originator_id) != name, f"{name} twice in a row for {e.originator_id}"
            site[e.originator_id] = name
    doubled = [k for k, n in seen.items() if n > 1]
    assert not doubled, f"recorded more than once: {doubled[:5]}"
