"""Replay throughput: rebuilding every read model from zero, against the library's bare decode.

What is measured
    For each store (SQLite file, PostgreSQL schema) a store is built holding N events that look
    like production, then ``build_read_models(app, database_url=url).rebuild()`` (every read
    model dropped and rebuilt from the first event) is timed with ``time.perf_counter()``; the
    figure is N / seconds. The ReadModels object is constructed (tables created if missing)
    just before the timer starts. ``ReadModels.fold`` is wrapped on that instance with a
    timer, without changing engine code, so the replay splits into its fold (read, decode,
    apply each event to the aggregates' states, collect rows) and its write (scratch tables,
    swap, tracking, catch-up).

How the store is built (not timed)
    The real engine (``bootstrap.build_application``) drives a seed population on a simulated
    clock: subscriptions are ordered at random moments over 60 days (monthly, quarterly and
    yearly, two plans, one in ten by a returning customer), and a clock ticks daily with
    ``app.advance(now, on_time=True)`` until day 120. Half the subscriptions pay every 30 days
    (one in ten of them overpays, leaving credit), a fifth pay once at day 35 after suspension
    (and are restored), a quarter never pay (and are collected), and a few pay and then cancel.
    The stored seed events are then read back with ``app.recorder.select_notifications`` and
    replicated under fresh aggregate ids until N events are stored: copy k maps every aggregate
    id to uuid5(namespace, "k/old id"), and rewrites every id inside the event's JSON state
    (``uuid_hex`` values, ids written out in payment references, and the ``site-xxxxxxxx``
    name derived from the subscription id); versions and topics are kept. The catalogue (one
    per application) is not copied. All copies are interleaved over the seed's timeline: the
    seed log is walked in slices of 200 notifications and each slice is appended for every
    copy in turn, so the log reads like one population K times larger and every aggregate's
    events stay in version order. The copies go through the application's own recorder
    (``insert_events`` in batches of about 5,000 events), so the hash chain beside the events
    is extended as in production. What is never rebuilt (the outbox) has its position set to
    the head of the log, as in a running engine; ``--outbox-from-zero`` leaves it at zero, and
    the rebuild then ends by catching it up event by event.

The baseline, and why it is fair
    In the same process, on the same store, the library's bare read-and-decode of all N
    events: ``app.recorder.select_notifications(start, limit=1000, inclusive_of_start=False)``
    page by page and ``app.mapper.to_domain_event`` on each notification, the decoded events
    discarded. This is exactly the reading and decoding a rebuild cannot avoid (the rebuild
    reads the log the same way, in pages of 1,000), so it is the ceiling for any replay over
    this library and store. It runs once before and once after the replay and the mean is used,
    so neither side is favoured by cold or warm caches. ``ratio_to_bare_decode`` is replay
    events/s / baseline events/s; the issue's target is at least 0.5.

The floor of this design
    Also timed, once, after the replay: ``ReadModels.fold([])``, the rebuild's own loop with
    no read model in it. It reads and decodes every event and advances each aggregate with its
    own event-applying code (the states every read model row is computed from), and nothing
    else. ``decode_and_apply_ratio`` is its events/s / the baseline's: the best ratio any
    rebuild that folds the aggregates' states, as this one does, can reach in one process,
    even if the read models and the writes cost nothing.

Usage
    .venv/bin/python bench/replay.py [--events 1000000] [--quick] [--stores sqlite,postgres]
        [--postgres-url postgresql://postgres@127.0.0.1:5432/billing_bench]
        [--seed-subscriptions 1000] [--outbox-from-zero] [--jobs N] [--profile FILE]

``--jobs N`` (PostgreSQL) also rebuilds in N processes (``rebuild(jobs=N)``, the
customers shared among them), then in one process again, checks each leaves as many rows per
read model, and prints the speed-up: the mean of the two one-job rebuilds over the N-job one.

``--quick`` means N = 100,000. ``--profile FILE`` runs one more rebuild per store under
cProfile after the measurements (not timed), writes its statistics to FILE.<store> and prints
the top functions to stderr. Progress goes to stderr, a table to stdout, and the last line of
stdout is one JSON object. There are no timing assertions: this script measures, it does not
judge.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/, for stores
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project

from eventsourcing.persistence import StoredEvent
from stores import (
    Store,
    add_store_arguments,
    check_store_arguments,
    code_version,
    machine,
    open_stores,
    progress,
)

from bootstrap import build_application, build_read_models
from domain import lifecycle
from domain.catalogue import CATALOGUE_ID
from domain.customer import BillingProfile
from domain.errors import BillingError
from domain.money import Money
from domain.plans import Plan
from projections.views import ALL_READ_MODELS
from service_layer.application import BillingApplication

DEFAULT_EVENTS = 1_000_000
QUICK_EVENTS = 100_000
DEFAULT_SEED_SUBSCRIPTIONS = 1_000

#: Fixed, so two runs drive the same kind of lives (1405/01/15 09:00 in Tehran).
START = datetime(2026, 4, 4, 5, 30, tzinfo=UTC)
ORDER_WINDOW = timedelta(days=60)
RUN_FOR = timedelta(days=120)
TICK = timedelta(days=1)
PLANS = (
    Plan(id="basic", name="Basic", monthly_price=Money(1_000_000)),
    Plan(id="pro", name="Pro", monthly_price=Money(3_000_000)),
)

#: Pages of the notification log, as the rebuild reads it (projections.runner.SECTION).
PAGE = 1_000
#: Seed notifications per slice when interleaving copies, and events per insert_events call.
SLICE = 200
BATCH = 5_000
COPY_NAMESPACE = UUID("0b5a3c1e-6d2f-4e8a-9c47-2f1d8e6b7a90")


# --- the seed population, driven by the real engine ------------------------------------------


@dataclass
class Seed:
    subscriptions: int = 0
    customers: int = 0
    payments: int = 0
    cancellations: int = 0
    seconds: float = 0.0


def profile(i: int) -> BillingProfile:
    return BillingProfile(
        name=f"Seed Customer {i}",
        kind="person",
        email=f"customer{i}@example.ir",
        mobile=f"0912{i % 10_000_000:07d}",
    )


def pay_balance(
    app: BillingApplication, subscription_id: UUID, reference: str, now: datetime, extra: int = 0
) -> bool:
    """Pays what the subscription owes (plus ``extra`` rials, which becomes credit)."""
    life = app.lifecycle_of(subscription_id)
    due = lifecycle.amount_due(life.subscription, life.invoices)
    if not due.is_positive:
        return False
    try:
        app.record_payment(reference, due + Money(extra), now, subscription_id=subscription_id)
    except BillingError:
        return False
    return True


def drive_seed(app: BillingApplication, n: int, rng: random.Random) -> Seed:
    """Orders n sites over 60 days and runs a daily clock to day 120, with mixed payers."""
    seed = Seed()
    for plan in PLANS:
        app.define_plan(plan, START)
    window = int(ORDER_WINDOW.total_seconds() // 60)
    orders = sorted(START + timedelta(minutes=1 + rng.randrange(window)) for _ in range(n))
    end = START + RUN_FOR
    customers: list[UUID] = []
    actions: list[tuple[datetime, int, str, UUID, int]] = []  # (when, tie, what, who, extra)
    now, day, started = START, 0, time.perf_counter()
    ordered = 0
    while now < end:
        now += TICK
        day += 1
        while ordered < n and orders[ordered] <= now:
            moment = orders[ordered]
            if customers and rng.random() < 0.1:
                customer_id = rng.choice(customers)
            else:
                customer_id = app.register_customer(profile(len(customers)), moment)
                customers.append(customer_id)
            plan = "pro" if rng.random() < 0.3 else "basic"
            period = rng.choices(["monthly", "quarterly", "yearly"], [80, 15, 5])[0]
            sub = app.start_subscription(customer_id, plan, period, moment)
            ordered += 1
            kind = rng.choices(["prompt", "late", "never", "cancel"], [50, 20, 25, 5])[0]
            if kind == "prompt":
                extra = 250_000 if rng.random() < 0.1 else 0
                for k, days in enumerate((3, 33, 63, 93)):
                    actions.append(
                        (moment + timedelta(days=days), ordered, "pay", sub, extra * (k == 0))
                    )
            elif kind == "late":
                actions.append((moment + timedelta(days=35), ordered, "pay", sub, 0))
            elif kind == "cancel":
                actions.append((moment + timedelta(days=3), ordered, "pay", sub, 0))
                actions.append((moment + timedelta(days=20), ordered, "cancel", sub, 0))
        actions.sort()
        app.advance(now, on_time=True)
        while actions and actions[0][0] <= now:
            _, _, what, sub, extra = actions.pop(0)
            if what == "pay":
                seed.payments += pay_balance(app, sub, f"seed-{sub}-{seed.payments}", now, extra)
            else:
                try:
                    app.cancel_subscription(sub, now)
                    seed.cancellations += 1
                except BillingError:
                    pass
        if day % 20 == 0 or now >= end:
            progress(
                f"  seed day {day:3d}: {ordered} ordered, "
                f"{app.recorder.max_notification_id() or 0} events, "
                f"{time.perf_counter() - started:.1f}s"
            )
    seed.subscriptions, seed.customers = ordered, len(customers)
    seed.seconds = time.perf_counter() - started
    return seed


# --- replicating the seed under fresh ids -----------------------------------------------------

#: A UUID as the transcoder writes it (32 hex digits) or as text (36 characters with dashes).
UUID_PATTERN = re.compile(
    rb"[0-9a-f]{8}(?:-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{24})"
)
#: The default site name, derived from the subscription id (``site-`` + its first 8 digits).
SITE_PATTERN = re.compile(rb'"site-([0-9a-f]{8})"')


@dataclass
class Template:
    """One seed event, its state split around the aggregate ids it mentions."""

    originator_id: UUID
    version: int
    topic: str
    literals: list[bytes]  # len(literals) == len(holes) + 1
    holes: list[tuple[UUID, str]]  # (old id, how it is written: hex, text, site)


@dataclass
class Templates:
    events: list[Template] = field(default_factory=list)
    aggregate_ids: set[UUID] = field(default_factory=set)
    foreign_ids: int = 0  # UUID-shaped strings that name no aggregate: left as they are


def read_log(app: BillingApplication) -> Iterator:
    after = 0
    while True:
        batch = app.recorder.select_notifications(after, limit=PAGE, inclusive_of_start=False)
        if not batch:
            return
        yield from batch
        after = batch[-1].id


def templates_of(app: BillingApplication) -> Templates:
    notifications = [n for n in read_log(app) if n.originator_id != CATALOGUE_ID]
    result = Templates(aggregate_ids={n.originator_id for n in notifications})
    by_hex = {a.hex: a for a in result.aggregate_ids}
    by_prefix = {a.hex[:8]: a for a in result.aggregate_ids}
    for n in notifications:
        state = bytes(n.state)
        spots: list[tuple[int, int, UUID, str]] = []
        for match in UUID_PATTERN.finditer(state):
            digits = match.group().replace(b"-", b"").decode()
            if digits in by_hex:
                how = "text" if len(match.group()) == 36 else "hex"
                spots.append((match.start(), match.end(), by_hex[digits], how))
            else:
                result.foreign_ids += 1
        for match in SITE_PATTERN.finditer(state):
            prefix = match.group(1).decode()
            if prefix in by_prefix:
                spots.append((match.start(1), match.end(1), by_prefix[prefix], "site"))
        spots.sort()
        literals, holes, at = [], [], 0
        for start, end, old, how in spots:
            literals.append(state[at:start])
            holes.append((old, how))
            at = end
        literals.append(state[at:])
        result.events.append(
            Template(n.originator_id, n.originator_version, n.topic, literals, holes)
        )
    return result


class Copy:
    """Copy k of the seed: every aggregate id mapped to a fresh one."""

    def __init__(self, k: int, aggregate_ids: set[UUID]) -> None:
        self.ids = {old: uuid5(COPY_NAMESPACE, f"{k}/{old.hex}") for old in aggregate_ids}
        self.spelled = {
            old: {
                "hex": new.hex.encode(),
                "text": str(new).encode(),
                "site": new.hex[:8].encode(),
            }
            for old, new in self.ids.items()
        }

    def event(self, t: Template) -> StoredEvent:
        parts = [t.literals[0]]
        for (old, how), literal in zip(t.holes, t.literals[1:], strict=True):
            parts.append(self.spelled[old][how])
            parts.append(literal)
        return StoredEvent(
            originator_id=self.ids[t.originator_id],
            originator_version=t.version,
            topic=t.topic,
            state=b"".join(parts),
        )


def replicate(app: BillingApplication, templates: Templates, to_insert: int) -> int:
    """Inserts ``to_insert`` events: copies of the seed, interleaved slice by slice."""
    per_copy = len(templates.events)
    copies = [Copy(k, templates.aggregate_ids) for k in range(1, -(-to_insert // per_copy) + 1)]
    progress(f"  {len(copies)} copies of {per_copy} events, interleaved in slices of {SLICE}")
    inserted, batch, started = 0, [], time.perf_counter()
    for first in range(0, per_copy, SLICE):
        part = templates.events[first : first + SLICE]
        for copy in copies:
            for t in part:
                if inserted + len(batch) >= to_insert:
                    break
                batch.append(copy.event(t))
            if len(batch) >= BATCH:
                app.recorder.insert_events(batch)
                inserted += len(batch)
                batch = []
        if inserted + len(batch) >= to_insert:
            break
        if first // SLICE % 25 == 0:
            progress(f"  copied {inserted} events, {time.perf_counter() - started:.1f}s")
    if batch:
        app.recorder.insert_events(batch)
        inserted += len(batch)
    return inserted


# --- what is timed ----------------------------------------------------------------------------


def bare_decode(app: BillingApplication) -> tuple[int, float]:
    """The library's own read-and-decode of the whole log: (events, seconds)."""
    recorder, mapper = app.recorder, app.mapper
    count, after = 0, 0
    started = time.perf_counter()
    while True:
        page = recorder.select_notifications(after, limit=PAGE, inclusive_of_start=False)
        if not page:
            break
        for notification in page:
            mapper.to_domain_event(notification)
        count += len(page)
        after = page[-1].id
    return count, time.perf_counter() - started


@dataclass
class Replay:
    events: int
    seconds: float
    fold_seconds: float
    swap: Any = None  # projections.rebuild.Swap: the locked step


def mark_followed(app: BillingApplication, url: str) -> list[str]:
    """Puts what is never rebuilt (the outbox) at the head of the log, as in production.

    A running engine's outbox follows the log as events are recorded; a rebuild skips it and
    then catches up from the least position. On a store built by copying events that position
    would be zero, and the rebuild would end by feeding all N events to the outbox one at a
    time: not what a rebuild costs in production.
    """
    from eventsourcing.persistence import Tracking

    from projections.store import tracking_name

    read_models = build_read_models(app, database_url=url)
    head = app.recorder.max_notification_id() or 0
    marked = []
    positions = read_models.positions()
    for model in getattr(read_models, "models", ()):
        if not getattr(model, "rebuildable", True) and positions.get(model.name, 0) < head:
            read_models.view.insert_tracking(Tracking(tracking_name(app.name, model), head))
            marked.append(model.name)
    return marked


def replay(app: BillingApplication, url: str, total: int, jobs: int = 1) -> Replay:
    """Times ``rebuild(jobs=jobs)`` of every read model; the fold is timed by its progress
    report (with several jobs: until every job has folded the whole log, before the parent
    adds up the counters and indexes the scratch tables)."""
    read_models = build_read_models(app, database_url=url)
    step, shown = max(total // 10, 1), set()
    fold_ended: list[float] = []

    def report(done: int, of: int) -> None:
        # The rebuild reports done == of once its fold from zero has read the whole log,
        # before it writes the scratch tables and swaps them in.
        if done >= of and not fold_ended:
            fold_ended.append(time.perf_counter())
        if done and done % step < 1_000 and done // step not in shown:
            shown.add(done // step)
            progress(f"  folded {done}/{of}")

    started = time.perf_counter()
    events = read_models.rebuild(progress=report, jobs=jobs)
    ended = time.perf_counter()
    read_models.stop()
    swap = getattr(read_models, "last_swap", None)
    return Replay(events, ended - started, (fold_ended or [ended])[0] - started, swap)


def decode_and_apply(app: BillingApplication, url: str) -> float:
    """Seconds for the rebuild's loop with no read model: read, decode, advance the states."""
    read_models = build_read_models(app, database_url=url)
    started = time.perf_counter()
    read_models.fold([])
    seconds = time.perf_counter() - started
    read_models.stop()
    return seconds


def row_counts(app: BillingApplication, url: str) -> dict[str, int]:
    read_models = build_read_models(app, database_url=url)
    return {
        m.name: read_models.query(f"SELECT COUNT(*) AS n FROM {{{m.table.name}}}")[0]["n"]
        for m in getattr(read_models, "models", ALL_READ_MODELS)
    }


def profile_rebuild(app: BillingApplication, url: str, path: str) -> None:
    import cProfile
    import io
    import pstats

    read_models = build_read_models(app, database_url=url)
    profiler = cProfile.Profile()
    profiler.enable()
    read_models.rebuild()
    profiler.disable()
    profiler.dump_stats(path)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(25)
    progress(f"profile written to {path}\n{out.getvalue()}")


# --- one store, end to end -------------------------------------------------------------------


@dataclass
class StoreResult:
    events: int
    seed_events: int
    copies: int
    seed: Seed
    setup_seconds: float
    mean_event_bytes: float
    decode_before: float  # seconds
    decode_after: float
    replay: Replay
    decode_apply: float  # seconds of fold([]): read, decode and the aggregates' mutators
    rows: dict[str, int]
    foreign_ids: int
    followed: list[str]
    #: ``--jobs N`` on PostgreSQL: N, the rebuild in N jobs, and one job again after it.
    jobs: int = 1
    jobs_replay: Replay | None = None
    one_job_again: Replay | None = None

    @property
    def one_job_seconds(self) -> float:
        """The rebuild in one job: the mean of the runs before and after the one in N jobs."""
        again = self.one_job_again
        return (self.replay.seconds + again.seconds) / 2 if again else self.replay.seconds

    @property
    def decode_seconds(self) -> float:
        return (self.decode_before + self.decode_after) / 2

    @property
    def decode_per_second(self) -> float:
        return self.events / self.decode_seconds

    @property
    def replay_per_second(self) -> float:
        return self.events / self.replay.seconds

    @property
    def ratio(self) -> float:
        return self.replay_per_second / self.decode_per_second

    @property
    def floor_ratio(self) -> float:
        return self.decode_seconds / self.decode_apply

    def as_json(self) -> dict:
        r = self.replay
        return {
            "events": self.events,
            "bare_decode_events_per_second": round(self.decode_per_second, 1),
            "bare_decode_seconds_before": round(self.decode_before, 2),
            "bare_decode_seconds_after": round(self.decode_after, 2),
            "replay_seconds": round(r.seconds, 2),
            "replay_events_per_second": round(self.replay_per_second, 1),
            "ratio_to_bare_decode": round(self.ratio, 4),
            "fold_seconds": round(r.fold_seconds, 2),
            "write_seconds": round(r.seconds - r.fold_seconds, 2),
            "swap_seconds_under_lock": round(r.swap.seconds, 3) if r.swap else None,
            "fold_events_per_second": round(self.events / r.fold_seconds, 1),
            "decode_and_apply_seconds": round(self.decode_apply, 2),
            "decode_and_apply_events_per_second": round(self.events / self.decode_apply, 1),
            "decode_and_apply_ratio": round(self.floor_ratio, 4),
            "seed_subscriptions": self.seed.subscriptions,
            "seed_customers": self.seed.customers,
            "seed_payments": self.seed.payments,
            "seed_events": self.seed_events,
            "copies": self.copies,
            "mean_event_bytes": round(self.mean_event_bytes),
            "uuid_strings_not_aggregate_ids": self.foreign_ids,
            "setup_seconds": round(self.setup_seconds, 1),
            "read_model_rows": self.rows,
            "marked_at_head_not_rebuilt": self.followed,
        } | self.jobs_json()

    def jobs_json(self) -> dict:
        j, again = self.jobs_replay, self.one_job_again
        if j is None or again is None:
            return {}
        one_fold = (self.replay.fold_seconds + again.fold_seconds) / 2
        return {
            "jobs": self.jobs,
            "one_job_seconds_again": round(again.seconds, 2),
            "one_job_fold_seconds_again": round(again.fold_seconds, 2),
            "jobs_replay_seconds": round(j.seconds, 2),
            "jobs_fold_seconds": round(j.fold_seconds, 2),
            "jobs_swap_seconds_under_lock": round(j.swap.seconds, 3) if j.swap else None,
            "jobs_speedup": round(self.one_job_seconds / j.seconds, 3),
            "jobs_fold_speedup": round(one_fold / j.fold_seconds, 3),
            "jobs_ratio_to_bare_decode": round(
                (self.events / j.seconds) / self.decode_per_second, 4
            ),
        }


def mean_event_bytes(app: BillingApplication, pages: int = 20, page: int = 100) -> float:
    last = app.recorder.max_notification_id() or 0
    sizes = []
    for start in range(1, last + 1, max(last // pages, 1)):
        sizes += [len(n.state) for n in app.recorder.select_notifications(start, page)]
    return sum(sizes) / max(len(sizes), 1)


def replay_in_jobs(
    app: BillingApplication, store: Store, events: int, jobs: int
) -> tuple[Replay, Replay]:
    """The rebuild in ``jobs`` processes, then in one again (so the one-job figure is the mean
    of a run before and a run after it); each leaves the same number of rows per read model."""
    rows = row_counts(app, store.url)
    progress(f"{store.name}: replay in {jobs} jobs")
    in_jobs = replay(app, store.url, events, jobs=jobs)
    assert in_jobs.events == events, (in_jobs.events, events)
    in_jobs_rows = row_counts(app, store.url)
    assert in_jobs_rows == rows, (in_jobs_rows, rows)
    progress(
        f"{store.name}: replay in {jobs} jobs {in_jobs.seconds:.1f}s, fold "
        f"{in_jobs.fold_seconds:.1f}s; {in_jobs.swap or 'no swap'}"
    )
    progress(f"{store.name}: replay in one job again")
    again = replay(app, store.url, events)
    progress(
        f"{store.name}: replay in one job {again.seconds:.1f}s, fold {again.fold_seconds:.1f}s"
    )
    return in_jobs, again


def bench_store(store: Store, args: argparse.Namespace) -> StoreResult:
    n, seed_subscriptions, profile_path = args.events, args.seed_subscriptions, args.profile
    try:
        app = build_application(database_url=store.url)
        try:
            setup_started = time.perf_counter()
            progress(f"{store.name}: seed population, {seed_subscriptions} subscriptions")
            seed = drive_seed(app, seed_subscriptions, random.Random(1))
            seed_events = app.recorder.max_notification_id() or 0
            progress(f"{store.name}: seed stored {seed_events} events in {seed.seconds:.1f}s")
            templates = templates_of(app)
            copies = 0
            if n > seed_events:
                copies = -(-(n - seed_events) // len(templates.events))
                replicate(app, templates, n - seed_events)
            events = app.recorder.max_notification_id() or 0
            followed = [] if args.outbox_from_zero else mark_followed(app, store.url)
            if followed:
                progress(f"{store.name}: {', '.join(followed)} marked as following the log")
            setup_seconds = time.perf_counter() - setup_started
            progress(f"{store.name}: store holds {events} events (setup {setup_seconds:.0f}s)")

            progress(f"{store.name}: bare decode (before)")
            count, before = bare_decode(app)
            assert count == events, (count, events)
            progress(f"{store.name}: bare decode {before:.1f}s ({events / before:.0f} events/s)")
            progress(f"{store.name}: replay (rebuild of every read model)")
            result = replay(app, store.url, events)
            assert result.events == events, (result.events, events)
            progress(
                f"{store.name}: replay {result.seconds:.1f}s ({events / result.seconds:.0f} "
                f"events/s), fold {result.fold_seconds:.1f}s; {result.swap or 'no swap'}"
            )
            jobs_replay = one_job_again = None
            if args.jobs > 1 and store.name == "postgres":
                jobs_replay, one_job_again = replay_in_jobs(app, store, events, args.jobs)
            progress(f"{store.name}: bare decode (after)")
            _, after = bare_decode(app)
            progress(f"{store.name}: bare decode {after:.1f}s ({events / after:.0f} events/s)")
            progress(f"{store.name}: decode and apply, no read model")
            decode_apply = decode_and_apply(app, store.url)
            progress(f"{store.name}: decode and apply {decode_apply:.1f}s")
            outcome = StoreResult(
                events=events,
                seed_events=seed_events,
                copies=copies,
                seed=seed,
                setup_seconds=setup_seconds,
                mean_event_bytes=mean_event_bytes(app),
                decode_before=before,
                decode_after=after,
                replay=result,
                decode_apply=decode_apply,
                rows=row_counts(app, store.url),
                foreign_ids=templates.foreign_ids,
                followed=followed,
                jobs=args.jobs,
                jobs_replay=jobs_replay,
                one_job_again=one_job_again,
            )
            if profile_path:
                progress(f"{store.name}: one more rebuild under cProfile (not timed)")
                profile_rebuild(app, store.url, f"{profile_path}.{store.name}")
            return outcome
        finally:
            app.close()
    finally:
        store.cleanup()


# --- the command -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--events", type=int, default=None, help=f"events in the store (default {DEFAULT_EVENTS})"
    )
    parser.add_argument("--quick", action="store_true", help=f"N = {QUICK_EVENTS}")
    add_store_arguments(parser)
    parser.add_argument(
        "--seed-subscriptions",
        type=int,
        default=DEFAULT_SEED_SUBSCRIPTIONS,
        help=f"subscriptions the engine drives before copying (default {DEFAULT_SEED_SUBSCRIPTIONS})",
    )
    parser.add_argument(
        "--outbox-from-zero",
        action="store_true",
        help="leave the outbox's position at zero, so the rebuild ends by catching it up",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="on PostgreSQL, also rebuild in N jobs (rebuild --jobs N), then in one job again",
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="after measuring, profile one more rebuild into FILE.<store>",
    )
    args = parser.parse_args(argv)
    args.events = args.events or (QUICK_EVENTS if args.quick else DEFAULT_EVENTS)
    if args.events < 1 or args.seed_subscriptions < 1 or args.jobs < 1:
        parser.error("--events, --seed-subscriptions and --jobs must be at least 1")
    check_store_arguments(parser, args)
    return args


def print_table(n: int, results: dict[str, StoreResult], versions: dict[str, str]) -> None:
    header = (
        f"{'store':<22} {'events':>9} {'decode/s':>10} {'replay s':>9} {'fold s':>8} "
        f"{'write s':>8} {'replay/s':>9} {'ratio':>7} {'floor':>7}"
    )
    print(f"replay benchmark: {n} events requested, rebuild of every read model from zero")
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        label = f"{name} {versions[name]}"
        print(
            f"{label:<22} {r.events:>9} {r.decode_per_second:>10.0f} {r.replay.seconds:>9.1f} "
            f"{r.replay.fold_seconds:>8.1f} {r.replay.seconds - r.replay.fold_seconds:>8.1f} "
            f"{r.replay_per_second:>9.0f} {r.ratio:>7.3f} {r.floor_ratio:>7.3f}"
        )
    print("floor: the ratio of the loop alone (read, decode, apply to the aggregates), no model")
    for name, r in results.items():
        print(
            f"{name}: seed {r.seed.subscriptions} subscriptions, {r.seed_events} events, "
            f"{r.copies} copies; bare decode {r.decode_before:.1f}s before, "
            f"{r.decode_after:.1f}s after; rows {r.rows}"
        )
        if r.jobs_replay is not None and r.one_job_again is not None:
            print(
                f"{name}: in {r.jobs} jobs {r.jobs_replay.seconds:.1f}s (fold "
                f"{r.jobs_replay.fold_seconds:.1f}s) against one job {r.replay.seconds:.1f}s "
                f"before and {r.one_job_again.seconds:.1f}s after: speed-up "
                f"{r.jobs_json()['jobs_speedup']}, of the fold {r.jobs_json()['jobs_fold_speedup']}"
            )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stores = open_stores(args, prefix="billing-replay-", parts=("replay",))
    versions = {store.name: store.version for store in stores}
    code = code_version()
    results = {}
    for i, store in enumerate(stores):
        try:
            results[store.name] = bench_store(store, args)
        except BaseException:
            for later in stores[i + 1 :]:
                later.cleanup()
            raise
    print_table(args.events, results, versions)
    if code_version() != code:
        progress(f"the engine's code changed during the run: {code} -> {code_version()}")
    summary = {"n": args.events, "machine": machine(), "date": date.today().isoformat()}
    summary["code"] = code
    summary |= {f"{name}_version": version for name, version in versions.items()}
    summary |= {name: result.as_json() for name, result in results.items()}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
