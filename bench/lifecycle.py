"""Throughput of the billing engine over whole subscription lives, against the bare event store.

What is measured
    For each store (SQLite file, PostgreSQL schema) the engine is built exactly as in
    production (``bootstrap.build_application``). One plan is defined, then N customers register
    and order a site each, one per simulated minute, and a simulated clock ticks daily with
    ``app.advance(now, on_time=True)`` until 70 days after the last order: every subscription
    is invoiced, reminded, put in grace, suspended, warned and collected. Every 10th
    subscription pays its open balance once, 35 days after its order. The drive (registrations,
    orders, payments and every tick) is timed with ``time.perf_counter()``; the figure is the
    number of events stored per second of that drive.

The baseline, and why it is fair
    In the same process, the same store gets a fresh, empty event table (a new SQLite file or a
    new PostgreSQL schema) from eventsourcing's own application recorder, built from the same
    environment the engine used. It inserts as many events as the engine stored, in as many
    transactions as the engine's ``save`` calls (one ``insert_events`` call each, of equal size),
    each transaction touching as many aggregates as the engine's saves did on average, with
    consecutive versions per aggregate and ~300-byte JSON payloads. So both sides pay for the
    same rows, indexes, commits and notification-id locking; the baseline is the ceiling for
    writing that history, and ``ratio_to_recorder`` (engine events/s / baseline events/s) is the
    share of that ceiling the engine reaches. What the engine spends beyond it is its own work:
    loading aggregates (reads), deciding, serialising, and following the notification log.

Usage
    .venv/bin/python bench/lifecycle.py [--n 10000] [--quick] [--stores sqlite,postgres]
        [--postgres-url postgresql://postgres@127.0.0.1:5432/billing_bench]

Progress goes to stderr, a table to stdout, and the last line of stdout is one JSON object.
There are no timing assertions: this script measures, it does not judge.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/, for stores
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project

from eventsourcing.persistence import InfrastructureFactory, StoredEvent
from eventsourcing.utils import Environment
from stores import (
    Store,
    add_store_arguments,
    check_store_arguments,
    machine,
    open_stores,
    progress,
)

from adapters.persistence import parse_database_url, tables_created_once
from bootstrap import build_application
from domain import lifecycle
from domain.customer import BillingProfile
from domain.errors import BillingError
from domain.money import Money
from domain.plans import Plan
from service_layer.application import BillingApplication

DEFAULT_N = 10_000
QUICK_N = 1_000

#: Fixed, so two runs drive the same lives (1405/01/15 09:00 in Tehran).
START = datetime(2026, 4, 4, 5, 30, tzinfo=UTC)
ORDER_SPACING = timedelta(minutes=1)
TICK = timedelta(days=1)
RUN_AFTER_LAST_ORDER = timedelta(days=70)
PAY_EVERY = 10
PAY_AFTER = timedelta(days=35)
PLAN = Plan(id="bench", name="Bench", monthly_price=Money(1_000_000))


# --- the engine's drive ----------------------------------------------------------------------


@dataclass
class SaveCounter:
    """Wraps ``app.save`` to count transactions, and the aggregates and events they carry."""

    saves: int = 0
    aggregates_saved: int = 0
    aggregate_ids: set[UUID] = field(default_factory=set)

    def wrap(self, app: BillingApplication) -> None:
        save = app.save

        def counted(*aggregates, **kwargs):
            self.saves += 1
            self.aggregates_saved += len(aggregates)
            self.aggregate_ids.update(a.id for a in aggregates)
            return save(*aggregates, **kwargs)

        app.save = counted


@dataclass
class EngineRun:
    events: int
    seconds: float
    saves: int
    aggregates_per_save: float
    distinct_aggregates: int
    payments: int
    payload_bytes: float
    statuses: dict[str, int]

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds


def profile(i: int) -> BillingProfile:
    return BillingProfile(
        name=f"Bench Customer {i}",
        kind="person",
        email=f"customer{i}@example.ir",
        mobile=f"0912{i % 10_000_000:07d}",
    )


def pay_balance(app: BillingApplication, subscription_id: UUID, now: datetime) -> bool:
    life = app.lifecycle_of(subscription_id)
    due = lifecycle.amount_due(life.subscription, life.invoices)
    if not due.is_positive:
        return False
    try:
        app.record_payment(f"bench-{subscription_id}", due, now, subscription_id=subscription_id)
    except BillingError as error:
        progress(f"payment for {subscription_id} refused: {error.message}")
        return False
    return True


def drive(app: BillingApplication, n: int) -> tuple[list[UUID], int]:
    """Orders n sites on a simulated clock and runs them to the end; returns ids and payments."""
    order_moments = [START + i * ORDER_SPACING for i in range(n)]
    end = order_moments[-1] + RUN_AFTER_LAST_ORDER
    subscription_ids: list[UUID] = []
    payers: list[tuple[datetime, UUID]] = []  # (when to pay, who), in order
    payments = 0
    now, day, started = START, 0, time.perf_counter()
    while now < end:
        now = min(now + TICK, end)
        day += 1
        while len(subscription_ids) < n and order_moments[len(subscription_ids)] <= now:
            i = len(subscription_ids)
            moment = order_moments[i]
            customer_id = app.register_customer(profile(i), moment)
            subscription_ids.append(app.start_subscription(customer_id, PLAN.id, "monthly", moment))
            if i % PAY_EVERY == 0:
                payers.append((moment + PAY_AFTER, subscription_ids[-1]))
        app.advance(now, on_time=True)
        while payers and payers[0][0] <= now:
            payments += pay_balance(app, payers.pop(0)[1], now)
        if day % 10 == 0 or now == end:
            progress(
                f"  day {day:3d}: {len(subscription_ids)} ordered, "
                f"{app.recorder.max_notification_id() or 0} events, "
                f"{time.perf_counter() - started:.1f}s"
            )
    return subscription_ids, payments


def mean_payload_bytes(app: BillingApplication, pages: int = 20, page: int = 100) -> float:
    """The mean size of a stored event's state, sampled evenly across the whole log."""
    last = app.recorder.max_notification_id() or 0
    sizes = []
    for start in range(1, last + 1, max(last // pages, 1)):
        sizes += [len(n.state) for n in app.recorder.select_notifications(start, page)]
    return sum(sizes) / max(len(sizes), 1)


def status_counts(app: BillingApplication, subscription_ids: list[UUID]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for subscription_id in subscription_ids:
        status = app.status_of(subscription_id).value
        counts[status] = counts.get(status, 0) + 1
    return counts


def run_engine(url: str, n: int) -> EngineRun:
    app = build_application(database_url=url)
    try:
        app.define_plan(PLAN, START)
        before = app.recorder.max_notification_id() or 0
        counter = SaveCounter()
        counter.wrap(app)
        started = time.perf_counter()
        subscription_ids, payments = drive(app, n)
        seconds = time.perf_counter() - started
        events = (app.recorder.max_notification_id() or 0) - before
        progress("  checking final statuses (not timed)")
        return EngineRun(
            events=events,
            seconds=seconds,
            saves=counter.saves,
            aggregates_per_save=counter.aggregates_saved / max(counter.saves, 1),
            distinct_aggregates=len(counter.aggregate_ids),
            payments=payments,
            payload_bytes=mean_payload_bytes(app),
            statuses=status_counts(app, subscription_ids),
        )
    finally:
        app.close()


# --- the baseline ----------------------------------------------------------------------------


def payload(rng: random.Random, originator_id: UUID, version: int) -> bytes:
    """A JSON event state shaped like the engine's (ids, moments, amounts), about 300 bytes."""
    moment = START + timedelta(seconds=rng.randrange(10_000_000))
    return json.dumps(
        {
            "originator_id": str(originator_id),
            "originator_version": version,
            "timestamp": {"_type_": "datetime_iso", "_data_": moment.isoformat()},
            "invoice_id": {"_type_": "uuid_hex", "_data_": uuid4().hex},
            "amount": {"_type_": "money", "_data_": rng.randrange(1, 10**9)},
            "due_at": {
                "_type_": "datetime_iso",
                "_data_": (moment + timedelta(days=3)).isoformat(),
            },
            "reason": "bench",
        },
        separators=(",", ":"),
    ).encode()


def split_evenly(total: int, parts: int) -> list[int]:
    size, extra = divmod(total, parts)
    return [size + (1 if i < extra else 0) for i in range(parts)]


def baseline_transactions(engine: EngineRun, seed: int = 1) -> list[list[StoredEvent]]:
    """The engine's event count in the engine's number of transactions, over as many aggregates.

    Built before timing starts, so the baseline times the inserts alone.
    """
    rng = random.Random(seed)
    pool = [uuid4() for _ in range(max(engine.distinct_aggregates, 1))]
    versions = dict.fromkeys(pool, 0)
    per_transaction = max(1, round(engine.aggregates_per_save))
    transactions = []
    for size in split_evenly(engine.events, max(engine.saves, 1)):
        touched = rng.sample(pool, min(per_transaction, size, len(pool)))
        events = []
        for aggregate_id, count in zip(touched, split_evenly(size, len(touched)), strict=True):
            for _ in range(count):
                versions[aggregate_id] += 1
                version = versions[aggregate_id]
                events.append(
                    StoredEvent(
                        originator_id=aggregate_id,
                        originator_version=version,
                        topic="bench:Event",
                        state=payload(rng, aggregate_id, version),
                    )
                )
        transactions.append(events)
    return transactions


def run_baseline(url: str, transactions: list[list[StoredEvent]]) -> float:
    """Seconds for eventsourcing's own recorder to insert ``transactions``, one call each."""
    database = parse_database_url(url)
    # The environment as the engine's Application builds it: process environment, then the URL's.
    env = Environment(BillingApplication.name, {**os.environ, **database.env})
    with tables_created_once(database):  # creates the PostgreSQL schema, as for the engine
        factory = InfrastructureFactory.construct(env)
        recorder = factory.application_recorder()
    try:
        started = time.perf_counter()
        for events in transactions:
            recorder.insert_events(events)
        return time.perf_counter() - started
    finally:
        factory.close()


# --- one store, end to end -------------------------------------------------------------------


@dataclass
class StoreResult:
    engine: EngineRun
    baseline_seconds: float

    @property
    def baseline_events_per_second(self) -> float:
        return self.engine.events / self.baseline_seconds

    @property
    def ratio(self) -> float:
        return self.engine.events_per_second / self.baseline_events_per_second

    def as_json(self) -> dict:
        e = self.engine
        return {
            "events": e.events,
            "seconds": round(e.seconds, 2),
            "events_per_second": round(e.events_per_second, 1),
            "baseline_events_per_second": round(self.baseline_events_per_second, 1),
            "ratio_to_recorder": round(self.ratio, 4),
            "saves": e.saves,
            "aggregates_per_save": round(e.aggregates_per_save, 2),
            "payments": e.payments,
            "mean_event_bytes": round(e.payload_bytes),
            "baseline_seconds": round(self.baseline_seconds, 2),
            "final_statuses": e.statuses,
        }


def bench_store(store: Store, n: int) -> StoreResult:
    try:
        progress(f"{store.name}: engine, {n} subscriptions")
        engine = run_engine(store.urls["engine"], n)
        progress(
            f"{store.name}: engine stored {engine.events} events in {engine.saves} saves, "
            f"{engine.seconds:.1f}s ({engine.events_per_second:.0f} events/s)"
        )
        transactions = baseline_transactions(engine)
        progress(f"{store.name}: baseline, {engine.events} events in {len(transactions)} inserts")
        seconds = run_baseline(store.urls["baseline"], transactions)
        progress(f"{store.name}: baseline {seconds:.1f}s ({engine.events / seconds:.0f} events/s)")
        return StoreResult(engine, seconds)
    finally:
        store.cleanup()


# --- the command -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=None, help=f"subscriptions (default {DEFAULT_N})")
    parser.add_argument("--quick", action="store_true", help=f"N = {QUICK_N}")
    add_store_arguments(parser)
    args = parser.parse_args(argv)
    args.n = args.n or (QUICK_N if args.quick else DEFAULT_N)
    if args.n < 1:
        parser.error("--n must be at least 1")
    check_store_arguments(parser, args)
    return args


def print_table(n: int, results: dict[str, StoreResult], versions: dict[str, str]) -> None:
    header = (
        f"{'store':<22} {'events':>9} {'saves':>8} {'seconds':>9} {'events/s':>10} "
        f"{'baseline/s':>11} {'ratio':>7}"
    )
    print(f"lifecycle benchmark: {n} subscriptions, full life on a daily simulated clock")
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        label = f"{name} {versions[name]}"
        print(
            f"{label:<22} {r.engine.events:>9} {r.engine.saves:>8} {r.engine.seconds:>9.1f} "
            f"{r.engine.events_per_second:>10.0f} {r.baseline_events_per_second:>11.0f} "
            f"{r.ratio:>7.3f}"
        )
    for name, r in results.items():
        print(f"{name}: final statuses {r.engine.statuses}, payments {r.engine.payments}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stores = open_stores(args, prefix="billing-bench-", parts=("engine", "baseline"))
    versions = {store.name: store.version for store in stores}
    results = {store.name: bench_store(store, args.n) for store in stores}
    print_table(args.n, results, versions)
    summary = {"n": args.n, "machine": machine(), "date": date.today().isoformat()}
    summary |= {f"{name}_version": version for name, version in versions.items()}
    summary |= {name: result.as_json() for name, result in results.items()}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
