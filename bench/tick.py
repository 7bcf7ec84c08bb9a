"""Scheduler tick time: an idle tick against one full scan of all subscriptions, by store size.

What is measured
    For each size N (default 1,000, 10,000 and 100,000 subscriptions; ``--quick``: 1,000 and
    10,000) a fresh PostgreSQL schema is filled with N subscriptions (see below) and every
    read model is rebuilt over them. Then an engine is built exactly as in production
    (``bootstrap.build_engine``, advisory claims, the outbox dispatcher; no channel but the
    panel inbox is configured, which changes nothing while the outbox is empty) on a
    ``SimulatedClock``, and ``Engine.tick()`` is timed with ``time.perf_counter()``:

    - **idle**: the clock stands at a moment when no subscription is due. After 5 warm-up
      ticks, 50 ticks are timed; the median and the 95th percentile are reported. An idle tick
      still does everything a tick does: it catches the read models up (nothing new), asks the
      due-actions index for the first page of what is due (nothing), and claims the outbox's
      due deliveries (none).
    - **1 % due**: the clock then moves to a moment when exactly 1 % of the subscriptions have
      one payment reminder due, and one tick is timed: it reads the due pages, claims and
      advances each due subscription (each in its own atomic save), folds the new events into
      the read models and the outbox, and sends the first 100 deliveries. The figure is that
      tick's milliseconds per due subscription; the tick is also split (by wrapping methods on
      the instances, engine code unchanged) into advancing, catching the read models up,
      reading due pages, dispatching, and the rest (claims). A tick consumes what is due, so
      this can only be measured once per store; the outbox's backlog is then drained (not
      timed) and 20 idle ticks at that moment follow, to show the index is as cheap after the
      work as before it.

How the store is built (not timed)
    The real engine (``bootstrap.build_application``) drives a seed of S subscriptions (1,000,
    or N if smaller): two plans, monthly, quarterly and yearly periods, one customer each.
    Every 100th subscription is ordered early (within an hour, on day 1); the rest are ordered
    at an even pace from day 3 to day 27. A first invoice has a 30-day deadline and reminders
    3 and 1 days before it, so at day 27 + 12 h nothing is due (the idle moment) and at day 29
    the early 1 % have their first reminder due and nobody else has anything due (the busy
    moment); both are checked against the due-actions index before timing. The seed's events
    are then copied under fresh aggregate ids, N/S - 1 times, interleaved over the seed's
    timeline (``bench/replay.py``'s ``templates_of`` and ``replicate``, imported, not copied),
    so the store holds N subscriptions with due moments spread over 24 days, as a live
    population would be. ``build_read_models(...).rebuild()`` then fills every read model; the
    outbox (never rebuilt) starts at the head of the log, as in a running engine, and this is
    checked. The tables are left as the rebuild leaves them: no ``ANALYZE`` is run, so the
    planner sees whatever statistics autovacuum has gathered, as a freshly rebuilt production
    store would.

The baseline, and why it is fair
    In the same run, on the same store, through the same read models and connection pool:
    ``read_models.query("SELECT * FROM {rm_subscriptions}")``, every subscription row fetched
    into Python (one warm-up, then the median of 5). This is the least a scheduler without a
    due-actions index must do on every tick: to find what is due it has to look at every
    subscription. The baseline does not even load an aggregate or decide anything, so it is a
    lower bound on such a naive tick, and ``ratio_idle_to_full_scan`` (idle tick median /
    full scan median) understates what the index saves. The issue's target is an idle tick
    under 20 ms whatever the count.

Usage
    .venv/bin/python bench/tick.py [--quick] [--sizes 1000,10000,100000]
        [--postgres-url postgresql://postgres@127.0.0.1:5432/billing_bench]
        [--seed-subscriptions 1000] [--ticks 50] [--svg docs/tick-time.svg] [--profile FILE]

Each size uses a fresh schema ``bench_<random>`` in the database of ``--postgres-url``
(created if missing), dropped at the end. A full run writes the plot of tick time against
subscription count to ``docs/tick-time.svg`` (``--quick`` only with ``--svg``). ``--profile
FILE`` runs 20 more idle ticks of the largest size under cProfile after the measurements,
writes the statistics to FILE and prints the top functions to stderr. Progress goes to stderr,
a table to stdout, and the last line of stdout is one JSON object. There are no timing
assertions: this script measures, it does not judge.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/, for replay and stores
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project

import replay
from replay import PLANS, START
from stores import (
    DEFAULT_POSTGRES_URL,
    code_version,
    machine,
    postgres_store,
    postgres_version,
    progress,
)

from adapters.clock import SimulatedClock
from adapters.persistence import parse_database_url
from bootstrap import build_application, build_engine, build_read_models
from service_layer.application import BillingApplication

DEFAULT_SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (1_000, 10_000)
DEFAULT_SEED = 1_000
DEFAULT_TICKS = 50
WARM_UP_TICKS = 5
AFTER_TICKS = 20
SCANS = 5
DUE_EVERY = 100  # one subscription in 100 is ordered early: 1 % due at the busy moment
TARGET_MS = 20.0
DEFAULT_SVG = Path(__file__).resolve().parent.parent / "docs" / "tick-time.svg"

#: The timeline, from replay.START (1405/01/15 09:00 in Tehran).
EARLY_ORDERS = START + timedelta(days=1)  # the 1 %, within the hour after
MAIN_FROM, MAIN_TO = START + timedelta(days=3), START + timedelta(days=27)
IDLE_AT = START + timedelta(days=27, hours=12)  # first reminders: early day 28, main day 30+
BUSY_AT = START + timedelta(days=29)  # early: first reminder due (day 28), second at day 30

FULL_SCAN = "SELECT * FROM {rm_subscriptions}"
DUE_QUERY = (
    "SELECT due_at, subscription_id FROM {rm_due_actions} WHERE due_at <= ? "
    "AND (due_at > ? OR (due_at = ? AND subscription_id > ?)) "
    "ORDER BY due_at, subscription_id LIMIT {limit}"
)


# --- the store --------------------------------------------------------------------------------


def drive_seed(app: BillingApplication, n: int, rng: random.Random) -> int:
    """Orders n sites; every DUE_EVERY-th early, the rest spread from day 3 to day 27."""
    for plan in PLANS:
        app.define_plan(plan, START)
    early = [i for i in range(n) if i % DUE_EVERY == 0]
    main = [i for i in range(n) if i % DUE_EVERY]
    moments = {
        i: EARLY_ORDERS + timedelta(seconds=k * 3600 // len(early)) for k, i in enumerate(early)
    }
    step = (MAIN_TO - MAIN_FROM) / len(main)
    moments |= {i: MAIN_FROM + step * k for k, i in enumerate(main)}
    started = time.perf_counter()
    for done, i in enumerate(sorted(range(n), key=moments.__getitem__), start=1):
        moment = moments[i]
        customer_id = app.register_customer(replay.profile(i), moment)
        plan = "pro" if rng.random() < 0.3 else "basic"
        period = rng.choices(["monthly", "quarterly", "yearly"], [80, 15, 5])[0]
        app.start_subscription(customer_id, plan, period, moment)
        if done % 250 == 0 or done == n:
            progress(f"  seed: {done}/{n} ordered, {time.perf_counter() - started:.1f}s")
    return len(early)


@dataclass
class Built:
    events: int
    seed_events: int
    copies: int
    seed_seconds: float
    replicate_seconds: float
    rebuild_seconds: float


def build_store(url: str, n: int, seed_size: int) -> Built:
    app = build_application(database_url=url)
    try:
        started = time.perf_counter()
        drive_seed(app, seed_size, random.Random(1))
        seed_seconds = time.perf_counter() - started
        seed_events = app.recorder.max_notification_id() or 0
        progress(f"  seed stored {seed_events} events in {seed_seconds:.1f}s")
        copies = n // seed_size - 1
        started = time.perf_counter()
        if copies:
            templates = replay.templates_of(app)
            replay.replicate(app, templates, copies * len(templates.events))
        replicate_seconds = time.perf_counter() - started
        events = app.recorder.max_notification_id() or 0
        progress(f"  store holds {events} events; rebuilding the read models")
        started = time.perf_counter()
        read_models = build_read_models(app, database_url=url)
        read_models.rebuild()
        rebuild_seconds = time.perf_counter() - started
        behind = {k: v for k, v in read_models.positions().items() if v != events}
        if behind:
            raise SystemExit(f"read models not at the head of the log ({events}): {behind}")
        progress(f"  rebuilt in {rebuild_seconds:.1f}s; every read model at {events}")
        return Built(events, seed_events, copies, seed_seconds, replicate_seconds, rebuild_seconds)
    finally:
        app.close()


# --- what is timed ----------------------------------------------------------------------------


def ms(seconds: float) -> float:
    return seconds * 1000.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def time_ticks(engine: Any, count: int) -> list[float]:
    """Seconds of ``count`` ticks; each must find nothing to do."""
    times = []
    for _ in range(count):
        started = time.perf_counter()
        report = engine.tick()
        times.append(time.perf_counter() - started)
        if report.executed or report.delivered or report.delivery_failures:
            raise SystemExit(f"an idle tick did work: {report}")
    return times


def time_full_scan(read_models: Any, n: int) -> list[float]:
    read_models.query(FULL_SCAN)  # warm-up
    times = []
    for _ in range(SCANS):
        started = time.perf_counter()
        rows = read_models.query(FULL_SCAN)
        times.append(time.perf_counter() - started)
        if len(rows) != n:
            raise SystemExit(f"the full scan returned {len(rows)} rows, expected {n}")
    return times


class Split:
    """Seconds spent in some methods of some objects, timed by wrapping them on the instance
    (the engine's code is unchanged; the wrappers are removed afterwards)."""

    def __init__(self, **targets: tuple[Any, str]) -> None:
        self.targets = targets
        self.seconds = dict.fromkeys(targets, 0.0)

    def __enter__(self) -> Split:
        for label, (obj, name) in self.targets.items():
            original = getattr(obj, name)

            def timed(*args, _original=original, _label=label, **kwargs):
                started = time.perf_counter()
                try:
                    return _original(*args, **kwargs)
                finally:
                    self.seconds[_label] += time.perf_counter() - started

            setattr(obj, name, timed)
        return self

    def __exit__(self, *exc: object) -> None:
        for obj, name in self.targets.values():
            delattr(obj, name)  # the class's method shows through again


def due_count(read_models: Any, moment: Any) -> int:
    return len(read_models.due_subscriptions(moment, 10**9))


def due_plan(read_models: Any, batch: int) -> str:
    """How PostgreSQL runs the tick's due query at the idle moment (the plan's scan nodes)."""
    from projections.model import moment

    rows = read_models.query(
        "EXPLAIN " + DUE_QUERY.replace("{limit}", str(int(batch))),
        (moment(IDLE_AT), "", "", ""),
    )
    lines = [str(next(iter(r.values()))).strip().removeprefix("->  ") for r in rows]
    scans = [line.split("  (")[0] for line in lines if "Scan" in line]
    return " / ".join(scans) or lines[0]


def profile_ticks(engine: Any, path: str, count: int = 20) -> None:
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(count):
        engine.tick()
    profiler.disable()
    profiler.dump_stats(path)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(20)
    progress(f"profile of {count} idle ticks written to {path}\n{out.getvalue()}")


@dataclass
class SizeResult:
    n: int
    built: Built
    idle: list[float]
    scans: list[float]
    due: int
    due_tick_seconds: float
    steps: int
    events_written: int
    delivered: int
    delivery_failures: int
    idle_after: list[float]
    split: dict[str, float]
    plan: str
    seconds: float

    @property
    def idle_median_ms(self) -> float:
        return ms(statistics.median(self.idle))

    @property
    def idle_p95_ms(self) -> float:
        return ms(percentile(self.idle, 0.95))

    @property
    def scan_median_ms(self) -> float:
        return ms(statistics.median(self.scans))

    @property
    def ratio(self) -> float:
        return self.idle_median_ms / self.scan_median_ms

    @property
    def ms_per_due(self) -> float | None:
        return ms(self.due_tick_seconds) / self.due if self.due else None

    def as_json(self) -> dict:
        b = self.built
        return {
            "n": self.n,
            "idle_tick_median_ms": round(self.idle_median_ms, 2),
            "idle_tick_p95_ms": round(ms(percentile(self.idle, 0.95)), 2),
            "idle_tick_min_ms": round(ms(min(self.idle)), 2),
            "idle_ticks": len(self.idle),
            "full_scan_median_ms": round(self.scan_median_ms, 1),
            "ratio_idle_to_full_scan": round(self.ratio, 5),
            "due": self.due,
            "due_tick_seconds": round(self.due_tick_seconds, 3),
            "steps": self.steps,
            "ms_per_due_item": round(self.ms_per_due, 2) if self.due else None,
            "due_tick_events_written": self.events_written,
            "due_tick_split_seconds": {k: round(v, 3) for k, v in self.split.items()},
            "due_tick_deliveries": self.delivered,
            "due_tick_delivery_failures": self.delivery_failures,
            "idle_after_due_median_ms": round(ms(statistics.median(self.idle_after)), 2),
            "due_query_plan": self.plan,
            "events": b.events,
            "seed_events": b.seed_events,
            "copies": b.copies,
            "seed_seconds": round(b.seed_seconds, 1),
            "replicate_seconds": round(b.replicate_seconds, 1),
            "rebuild_seconds": round(b.rebuild_seconds, 1),
            "size_seconds": round(self.seconds, 1),
        }


def bench_size(args: argparse.Namespace, n: int, profile_path: str | None) -> SizeResult:
    begun = time.perf_counter()
    store = postgres_store(args.postgres_url, ("tick",))
    try:
        seed_size = min(n, args.seed_subscriptions)
        progress(f"N = {n}: schema {store.url.rsplit('schema=', 1)[-1]}, seed of {seed_size}")
        built = build_store(store.url, n, seed_size)
        clock = SimulatedClock(IDLE_AT)
        engine = build_engine(database_url=store.url, clock=clock)
        try:
            rm = engine.read_models
            if due_count(rm, IDLE_AT):
                raise SystemExit(f"{due_count(rm, IDLE_AT)} subscriptions due at the idle moment")
            due = due_count(rm, BUSY_AT)
            if due != n // DUE_EVERY:
                raise SystemExit(f"{due} subscriptions due at the busy moment, not {n // 100}")
            plan = due_plan(rm, engine.batch)
            progress(f"  due query: {plan}")

            time_ticks(engine, WARM_UP_TICKS)
            idle = time_ticks(engine, args.ticks)
            progress(
                f"  idle tick: median {ms(statistics.median(idle)):.2f} ms, "
                f"p95 {ms(percentile(idle, 0.95)):.2f} ms over {len(idle)} ticks"
            )
            scans = time_full_scan(rm, n)
            progress(
                f"  full scan of rm_subscriptions: median {ms(statistics.median(scans)):.1f} ms"
            )

            clock.advance_to(BUSY_AT)
            split = Split(
                advance=(engine.app, "advance_subscription"),
                catch_up=(rm, "catch_up"),
                due_pages=(rm, "due_subscriptions"),
                dispatch=(engine.dispatcher, "dispatch"),
            )
            head = engine.app.recorder.max_notification_id() or 0
            with split:
                started = time.perf_counter()
                report = engine.tick()
                due_seconds = time.perf_counter() - started
            written = (engine.app.recorder.max_notification_id() or 0) - head
            split.seconds["claims_and_rest"] = due_seconds - sum(split.seconds.values())
            progress(
                "  busy tick split: " + ", ".join(f"{k} {v:.2f}s" for k, v in split.seconds.items())
            )
            advanced = {step.subscription_id for step in report.executed}
            progress(
                f"  1% due: {len(report.executed)} steps for {len(advanced)} subscriptions in "
                f"{due_seconds:.2f}s ({ms(due_seconds) / max(len(advanced), 1):.2f} ms each), "
                f"{written} events written, {report.delivered} delivered"
            )
            if len(advanced) != due or due_count(rm, BUSY_AT):
                raise SystemExit(f"the busy tick advanced {len(advanced)} of {due} due")
            backlog = engine.dispatcher.drain()  # what the busy tick left in the outbox
            progress(
                f"  outbox drained (not timed): {backlog.delivered} delivered, "
                f"{backlog.skipped} skipped (channel not configured)"
            )
            after = time_ticks(engine, AFTER_TICKS)
            if profile_path:
                progress("  20 more idle ticks under cProfile (not timed)")
                profile_ticks(engine, profile_path)
        finally:
            engine.close()
        return SizeResult(
            n=n,
            built=built,
            idle=idle,
            scans=scans,
            due=due,
            due_tick_seconds=due_seconds,
            steps=len(report.executed),
            events_written=written,
            delivered=report.delivered,
            delivery_failures=report.delivery_failures,
            idle_after=after,
            split=split.seconds,
            plan=plan,
            seconds=time.perf_counter() - begun,
        )
    finally:
        store.cleanup()


# --- the plot -----------------------------------------------------------------------------------


def write_svg(path: Path, results: list[SizeResult], subtitle: str) -> None:
    """A log-log line chart of idle tick and full scan milliseconds against subscriptions."""
    import math
    from html import escape

    width, height = 700, 400
    left, right, top, bottom = 70, 200, 50, 60
    plot_w, plot_h = width - left - right, height - top - bottom
    ns = [r.n for r in results]
    series = [  # (label, colour, dashes, values, where the values are written: above/below)
        ("full scan (median)", "#d62728", "", [r.scan_median_ms for r in results], -8),
        ("idle tick (p95)", "#8fbbe0", "3,3", [r.idle_p95_ms for r in results], 0),
        ("idle tick (median)", "#1f77b4", "", [r.idle_median_ms for r in results], 17),
    ]
    values = [v for _, _, _, vs, _ in series for v in vs] + [TARGET_MS]
    x_lo, x_hi = math.floor(math.log10(min(ns))), math.ceil(math.log10(max(ns)))
    x_hi = max(x_hi, x_lo + 1)
    y_lo = math.floor(math.log10(min(values)))
    y_hi = max(math.ceil(math.log10(max(values))), y_lo + 1)

    def x(n: float) -> float:
        return left + (math.log10(n) - x_lo) / (x_hi - x_lo) * plot_w

    def y(v: float) -> float:
        return top + plot_h - (math.log10(v) - y_lo) / (y_hi - y_lo) * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="22" font-size="15" font-weight="bold">Scheduler tick time '
        "against subscription count (PostgreSQL)</text>",
        f'<text x="{left}" y="39" fill="#555">{escape(subtitle)}</text>',
    ]
    for e in range(x_lo, x_hi + 1):
        px = x(10**e)
        out.append(
            f'<line x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{top + plot_h}" stroke="#ddd"/>'
        )
        out.append(
            f'<text x="{px:.1f}" y="{top + plot_h + 18}" text-anchor="middle">{10**e:,}</text>'
        )
    for e in range(y_lo, y_hi + 1):
        py = y(10**e)
        label = f"{10**e:g}" if e < 0 else f"{10**e:,}"
        out.append(
            f'<line x1="{left}" y1="{py:.1f}" x2="{left + plot_w}" y2="{py:.1f}" stroke="#ddd"/>'
        )
        out.append(f'<text x="{left - 8}" y="{py + 4:.1f}" text-anchor="end">{label}</text>')
    out.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888"/>'
    )
    out.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 18}" text-anchor="middle">'
        "subscriptions (log scale)</text>"
    )
    out.append(
        f'<text transform="translate(18,{top + plot_h / 2:.1f}) rotate(-90)" '
        'text-anchor="middle">milliseconds (log scale)</text>'
    )
    ty = y(TARGET_MS)
    out.append(
        f'<line x1="{left}" y1="{ty:.1f}" x2="{left + plot_w}" y2="{ty:.1f}" stroke="#2ca02c" '
        'stroke-dasharray="6,4" stroke-width="1.5"/>'
    )
    for _, colour, dash, vs, offset in series:
        points = " ".join(f"{x(n):.1f},{y(v):.1f}" for n, v in zip(ns, vs, strict=True))
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"{dashes}/>'
        )
        for n, v in zip(ns, vs, strict=True):
            out.append(f'<circle cx="{x(n):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"/>')
            if offset:
                text = f"{v:.1f}" if v < 100 else f"{v:,.0f}"
                last = n == ns[-1] and len(ns) > 1
                anchor = ' text-anchor="end"' if last else ""
                tx = x(n) - 6 if last else x(n) + 6
                out.append(
                    f'<text x="{tx:.1f}" y="{y(v) + offset:.1f}" fill="{colour}"{anchor}>{text}</text>'
                )
    legend = [(label, colour, dash) for label, colour, dash, _, _ in series]
    legend.append((f"target: idle tick < {TARGET_MS:g} ms", "#2ca02c", "6,4"))
    lx = left + plot_w + 15
    for k, (label, colour, dash) in enumerate(legend):
        ly = top + 15 + 22 * k
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<line x1="{lx}" y1="{ly}" x2="{lx + 22}" y2="{ly}" stroke="{colour}" '
            f'stroke-width="2"{dashes}/>'
        )
        out.append(f'<text x="{lx + 28}" y="{ly + 4}">{escape(label)}</text>')
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n")


# --- the command --------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 1,000 and 10,000")
    parser.add_argument(
        "--sizes",
        default=None,
        help="comma-separated subscription counts (default 1000,10000,100000)",
    )
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument(
        "--seed-subscriptions",
        type=int,
        default=DEFAULT_SEED,
        help=f"subscriptions the engine orders before copying (default {DEFAULT_SEED})",
    )
    parser.add_argument(
        "--ticks",
        type=int,
        default=DEFAULT_TICKS,
        help=f"idle ticks timed (default {DEFAULT_TICKS})",
    )
    parser.add_argument(
        "--svg",
        default=None,
        metavar="PATH",
        help="where to write the plot (default docs/tick-time.svg, --quick: none)",
    )
    parser.add_argument(
        "--profile", metavar="FILE", help="profile 20 idle ticks of the largest size into FILE"
    )
    args = parser.parse_args(argv)
    if args.sizes:
        args.sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()})
    else:
        args.sizes = list(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    seed = args.seed_subscriptions
    if seed < DUE_EVERY or seed % DUE_EVERY:
        parser.error(f"--seed-subscriptions must be a multiple of {DUE_EVERY}")
    for n in args.sizes:
        if n < DUE_EVERY or n % min(n, seed):
            parser.error(f"each size must be a multiple of {DUE_EVERY} and of the seed ({seed})")
    if args.ticks < 1:
        parser.error("--ticks must be at least 1")
    if args.svg is None and not args.quick:
        args.svg = str(DEFAULT_SVG)
    return args


def print_table(results: list[SizeResult]) -> None:
    header = (
        f"{'subscriptions':>13} {'events':>9} {'idle ms':>8} {'p95 ms':>7} {'scan ms':>9} "
        f"{'ratio':>8} {'due':>5} {'due tick s':>10} {'steps':>6} {'ms/due':>7}"
    )
    print("scheduler tick benchmark: idle tick vs one full scan of rm_subscriptions, PostgreSQL")
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.n:>13,} {r.built.events:>9,} {r.idle_median_ms:>8.2f} "
            f"{ms(percentile(r.idle, 0.95)):>7.2f} {r.scan_median_ms:>9.1f} {r.ratio:>8.4f} "
            f"{r.due:>5} {r.due_tick_seconds:>10.2f} {r.steps:>6} {r.ms_per_due or 0:>7.2f}"
        )
    for r in results:
        print(
            f"N={r.n}: idle after the busy tick {ms(statistics.median(r.idle_after)):.2f} ms; "
            f"due query plan: {r.plan}"
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import psycopg

    try:
        version = postgres_version(args.postgres_url)
    except psycopg.OperationalError as error:
        where = parse_database_url(args.postgres_url).display
        progress(f"PostgreSQL is unreachable at {where}: {str(error).strip()}")
        return 1
    code = code_version()
    started = time.perf_counter()
    results = []
    for n in args.sizes:
        profile_path = args.profile if n == args.sizes[-1] else None
        results.append(bench_size(args, n, profile_path))
    progress(f"done in {time.perf_counter() - started:.0f}s")
    print_table(results)
    if code_version() != code:
        progress(f"the engine's code changed during the run: {code} -> {code_version()}")
    today = date.today().isoformat()
    if args.svg:
        write_svg(Path(args.svg), results, f"PostgreSQL {version}, {today}, {machine()}")
        progress(f"plot written to {args.svg}")
    largest = results[-1]
    summary = {
        "machine": machine(),
        "date": today,
        "postgres_version": version,
        "code": code,
        "n": largest.n,
        "idle_tick_median_ms": round(largest.idle_median_ms, 2),
        "ratio_to_full_scan": round(largest.ratio, 5),
        "ms_per_due_item": round(largest.ms_per_due, 2) if largest.due else None,
        "target_idle_tick_ms": TARGET_MS,
        "idle_under_target_at_every_size": all(r.idle_median_ms < TARGET_MS for r in results),
        "seconds": round(time.perf_counter() - started, 1),
        "sizes": [r.as_json() for r in results],
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
