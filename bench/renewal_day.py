"""Renewal day: N subscriptions whose renewal invoices all fall due at one moment, on PostgreSQL.

What is measured
    A store of N subscriptions (default 100,000; ``--n`` for fewer), every one ordered at the
    same moment on a monthly plan and its first invoice paid, so that the next period's renewal
    invoice of all N falls due at the same moment (the end of the first period) and nothing else
    is due then. The scheduler (``bootstrap.build_engine``, advisory claims, as in production)
    then ticks at that moment until nothing is due:

    - **one scheduler**: one process; its busy tick is timed with ``time.perf_counter()``
      (wall) and ``time.process_time()`` (this process's CPU: deciding, saving, folding the
      new events into the read models; PostgreSQL's own CPU is not in it). The figures are
      CPU milliseconds per due subscription and the wall time of the whole renewal day.
    - **two schedulers** (``--schedulers 1,2``): two processes on a copy of the same store,
      scheduler 0/2 and 1/2 (``BILLING_SCHEDULER_PARTITION``: each advances the due
      subscriptions of its share of the ids, docs/SCHEDULER.md), started together; the renewal
      day's wall time is from the first start to the last end, and the speed-up is one
      scheduler's wall time over it.
    - **the old path** (baseline, same run): one scheduler on a smaller copy (``--baseline-n``,
      default 5,000) folding the tick's events one per transaction (``BATCH`` = 1), as the
      read models did before issue 22; its CPU ms per due subscription against the batched
      fold's on the same small store.

    After each renewal day the due index is checked to hold nothing due at that moment, and
    every subscription to have its renewal invoice (the read model of invoices counts 2 N).

How the store is built (not timed)
    A seed of S subscriptions (``--seed``, default 1,000) is driven through the real engine;
    its events are then copied under fresh aggregate ids N/S - 1 times (``bench/replay.py``'s
    ``templates_of`` and ``replicate``, imported), and every read model is rebuilt. The store
    for the two schedulers and the baseline's are copies made with ``pg_dump``/``psql`` of a
    schema, not built again.

Usage
    .venv/bin/python bench/renewal_day.py [--n 100000] [--seed 1000] [--schedulers 1,2]
        [--baseline-n 5000] [--postgres-url postgresql://postgres@127.0.0.1:5432/billing_bench]

Progress goes to stderr, a table to stdout, and the last line of stdout is one JSON object.
There are no timing assertions: this script measures, it does not judge.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
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
from projections.model import parse_moment
from projections.store import BATCH

ORDERED_AT = START + timedelta(days=1)
PAID_AT = ORDERED_AT + timedelta(hours=1)
DEFAULT_N = 100_000
DEFAULT_SEED = 1_000
DEFAULT_BASELINE_N = 5_000
TARGET_MS_PER_DUE = 1.5
TARGET_DAY_SECONDS = 180.0


# --- the store --------------------------------------------------------------------------------


def drive_seed(url: str, n: int) -> None:
    """n customers, each with a monthly subscription ordered at ORDERED_AT, its first invoice
    paid at PAID_AT (the reference names the subscription, so a copy's reference is its own)."""
    app = build_application(database_url=url)
    try:
        for plan in PLANS:
            app.define_plan(plan, START)
        rng = random.Random(1)
        started = time.perf_counter()
        for i in range(n):
            customer_id = app.register_customer(replay.profile(i), ORDERED_AT)
            plan = "pro" if rng.random() < 0.3 else "basic"
            sub_id = app.start_subscription(customer_id, plan, "monthly", ORDERED_AT)
            if not replay.pay_balance(app, sub_id, f"renewal-{sub_id}", PAID_AT):
                raise SystemExit(f"the first invoice of {sub_id} could not be paid")
            if (i + 1) % 250 == 0 or i + 1 == n:
                progress(
                    f"  seed: {i + 1}/{n} ordered and paid, {time.perf_counter() - started:.1f}s"
                )
    finally:
        app.close()


def build_store(url: str, n: int, seed_size: int) -> dict[str, Any]:
    started = time.perf_counter()
    drive_seed(url, seed_size)
    app = build_application(database_url=url)
    try:
        seed_events = app.recorder.max_notification_id() or 0
        copies = n // seed_size - 1
        if copies:
            templates = replay.templates_of(app)
            replay.replicate(app, templates, copies * len(templates.events))
        events = app.recorder.max_notification_id() or 0
        progress(f"  store holds {events} events; rebuilding the read models")
        read_models = build_read_models(app, database_url=url)
        read_models.rebuild()
        rows = read_models.query(
            "SELECT MIN(due_at) AS first, MAX(due_at) AS last, COUNT(*) AS n FROM {rm_due_actions}"
        )[0]
        if rows["first"] != rows["last"] or rows["n"] != n:
            raise SystemExit(f"not every subscription is due at one moment: {rows}")
    finally:
        app.close()
    seconds = time.perf_counter() - started
    progress(f"  built in {seconds:.1f}s: {events} events, all {n} due at {rows['first']}")
    return {
        "events": events,
        "seed_events": seed_events,
        "due_at": rows["first"],
        "seconds": seconds,
    }


def copy_schema(url: str, to_url: str) -> None:
    """Copy the store of ``url``'s schema into ``to_url``'s (pg_dump | psql)."""
    source, target = (parse_database_url(u).env for u in (url, to_url))
    env = {**os.environ, "PGPASSWORD": source["POSTGRES_PASSWORD"] or ""}
    connection = [
        "-h", source["POSTGRES_HOST"], "-p", str(source["POSTGRES_PORT"]),
        "-U", source["POSTGRES_USER"],
    ]  # fmt: skip
    dump = subprocess.run(
        ["pg_dump", *connection, "-n", source["POSTGRES_SCHEMA"], "--no-owner",
         source["POSTGRES_DBNAME"]],
        env=env, capture_output=True, check=True,
    ).stdout  # fmt: skip
    renamed = dump.replace(source["POSTGRES_SCHEMA"].encode(), target["POSTGRES_SCHEMA"].encode())
    subprocess.run(
        ["psql", *connection, "-q", "-v", "ON_ERROR_STOP=1", target["POSTGRES_DBNAME"]],
        input=renamed, env=env, capture_output=True, check=True,
    )  # fmt: skip


# --- a renewal day ----------------------------------------------------------------------------


@dataclass
class Day:
    """One scheduler's renewal day."""

    partition: str
    ticks: int
    executed: int
    left_to_peers: int
    claimed_elsewhere: int
    busy_wall: float
    busy_cpu: float
    busy_fold_cpu: float  # of busy_cpu: folding into the read models (catch_up)
    wall: float
    cpu: float
    started: float  # time.time(), to line up processes
    ended: float


def run_day(url: str, due_at: str, partition: str = "0/1", *, old_path: bool = False) -> Day:
    """Tick at the renewal moment until a tick finds nothing of this scheduler's to do;
    ``old_path``: fold as before issue 22, one event per transaction, every aggregate loaded."""
    from projections import runner

    runner.BATCH = 1 if old_path else BATCH
    at = parse_moment(due_at)
    engine = build_engine(database_url=url, clock=SimulatedClock(at), scheduler_partition=partition)
    if old_path:
        engine.app.saved_listeners = ()
    fold_cpu = [0.0]
    catch_up = engine.read_models.catch_up

    def timed_catch_up() -> int:
        started = time.process_time()
        try:
            return catch_up()
        finally:
            fold_cpu[0] += time.process_time() - started

    try:
        catch_up()  # opening the store is not the renewal day
        engine.read_models.catch_up = timed_catch_up  # type: ignore[method-assign]
        started, wall0, cpu0 = time.time(), time.perf_counter(), time.process_time()
        ticks = executed = left = elsewhere = 0
        busy_wall = busy_cpu = busy_fold = 0.0
        while True:
            w, c = time.perf_counter(), time.process_time()
            report = engine.tick(deliver=False)
            w, c = time.perf_counter() - w, time.process_time() - c
            ticks += 1
            elsewhere += report.claimed_elsewhere
            if ticks == 1:
                left = report.left_to_peers
                busy_wall, busy_cpu, busy_fold = w, c, fold_cpu[0]
            executed += len(report.executed)
            if not report.executed:
                break
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        return Day(partition, ticks, executed, left, elsewhere, busy_wall, busy_cpu, busy_fold,
                   wall, cpu,
                   started, time.time())  # fmt: skip
    finally:
        engine.close()


def _day_in_process(queue: Any, *args: Any) -> None:
    try:
        queue.put(asdict(run_day(*args)))
    except BaseException as error:  # reported by the parent
        queue.put({"error": repr(error)})
        raise


def run_parallel_day(url: str, due_at: str, count: int) -> list[Day]:
    """``count`` schedulers, each its own process, started together."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    processes = [
        context.Process(target=_day_in_process, args=(queue, url, due_at, f"{i}/{count}"))
        for i in range(count)
    ]
    for p in processes:
        p.start()
    results = [queue.get() for _ in processes]
    for p in processes:
        p.join()
    errors = [r["error"] for r in results if "error" in r]
    if errors:
        raise SystemExit(f"a scheduler failed: {errors}")
    return [Day(**r) for r in results]


def check_renewed(url: str, due_at: str, n: int) -> None:
    app = build_application(database_url=url)
    try:
        read_models = build_read_models(app, database_url=url)
        read_models.catch_up()
        left = len(read_models.due_subscriptions(parse_moment(due_at), 10**9))
        invoices = read_models.query("SELECT COUNT(*) AS n FROM {rm_invoices}")[0]["n"]
        if left or invoices != 2 * n:
            raise SystemExit(f"after the day: {left} still due, {invoices} invoices (not {2 * n})")
    finally:
        app.close()


# --- the run ----------------------------------------------------------------------------------


def ms_per(seconds: float, count: int) -> float:
    return 1000.0 * seconds / max(count, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=DEFAULT_N)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--schedulers", default="1,2", help="scheduler counts to run, e.g. 1,2")
    parser.add_argument("--baseline-n", type=int, default=DEFAULT_BASELINE_N, help="0: none")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.schedulers.split(",") if c]
    seed = min(args.seed, args.n)
    baseline_n = min(args.baseline_n, args.n)
    parts = ("main", *[f"s{c}" for c in counts[1:]])
    if baseline_n:
        parts += ("small_old", "small_new")
    store = postgres_store(args.postgres_url, parts)
    result: dict[str, Any] = {
        "benchmark": "renewal_day",
        "machine": machine(),
        "postgres": postgres_version(args.postgres_url),
        "code": code_version(),
        "load_average": os.getloadavg(),
        "n": args.n,
        "seed": seed,
    }
    try:
        progress(f"building {args.n} subscriptions (seed {seed})")
        result["store"] = build_store(store.urls["main"], args.n, seed)
        due_at = result["store"]["due_at"]
        for count in counts[1:]:
            copy_schema(store.urls["main"], store.urls[f"s{count}"])
        if baseline_n:
            progress(f"building the baseline's {baseline_n} subscriptions")
            small = build_store(store.urls["small_old"], baseline_n, min(seed, baseline_n))
            copy_schema(store.urls["small_old"], store.urls["small_new"])
        days: dict[str, Any] = {}
        for count in counts:
            progress(f"renewal day with {count} scheduler(s)")
            url = store.urls["main" if count == 1 else f"s{count}"]
            schedulers = (
                [run_day(url, due_at)] if count == 1 else run_parallel_day(url, due_at, count)
            )
            check_renewed(url, due_at, args.n)
            wall = max(d.ended for d in schedulers) - min(d.started for d in schedulers)
            cpu = sum(d.busy_cpu for d in schedulers)
            days[str(count)] = {
                "wall_seconds": wall,
                "busy_tick_cpu_ms_per_due": ms_per(cpu, args.n),
                "busy_tick_fold_cpu_ms_per_due": ms_per(
                    sum(d.busy_fold_cpu for d in schedulers), args.n
                ),
                "busy_tick_wall_ms_per_due": ms_per(max(d.busy_wall for d in schedulers), args.n),
                "schedulers": [asdict(d) for d in schedulers],
            }
            progress(
                f"  {count} scheduler(s): day {wall:.1f}s, busy tick "
                f"{ms_per(cpu, args.n):.2f} ms CPU per due subscription"
            )
        if 1 in counts:
            one = days["1"]["wall_seconds"]
            for count in counts[1:]:
                days[str(count)]["speed_up"] = one / days[str(count)]["wall_seconds"]
        result["days"] = days
        if baseline_n:
            progress(f"the old path (one event per transaction) on {baseline_n}")
            old = run_day(store.urls["small_old"], small["due_at"], old_path=True)
            check_renewed(store.urls["small_old"], small["due_at"], baseline_n)
            new = run_day(store.urls["small_new"], small["due_at"])
            check_renewed(store.urls["small_new"], small["due_at"], baseline_n)
            result["baseline"] = {
                "n": baseline_n,
                "old_cpu_ms_per_due": ms_per(old.busy_cpu, baseline_n),
                "new_cpu_ms_per_due": ms_per(new.busy_cpu, baseline_n),
                "old_fold_cpu_ms_per_due": ms_per(old.busy_fold_cpu, baseline_n),
                "new_fold_cpu_ms_per_due": ms_per(new.busy_fold_cpu, baseline_n),
                "old_wall_seconds": old.wall,
                "new_wall_seconds": new.wall,
                "ratio_new_to_old_cpu": new.busy_cpu / old.busy_cpu,
            }
    finally:
        store.cleanup()
    result["load_average_after"] = os.getloadavg()
    print_table(result)
    print(json.dumps(result))
    return 0


def print_table(result: dict[str, Any]) -> None:
    print(f"renewal day, N = {result['n']:,} on PostgreSQL {result['postgres']}")
    print(
        f"{'schedulers':>10}  {'day (s)':>8}  {'busy CPU ms/due':>15}  {'of it fold':>10}  "
        f"{'speed-up':>8}"
    )
    for count, day in result.get("days", {}).items():
        print(
            f"{count:>10}  {day['wall_seconds']:>8.1f}  {day['busy_tick_cpu_ms_per_due']:>15.2f}"
            f"  {day['busy_tick_fold_cpu_ms_per_due']:>10.2f}  {day.get('speed_up', 1.0):>8.2f}"
        )
    base = result.get("baseline")
    if base:
        print(
            f"old path (one event per transaction) at N = {base['n']:,}: "
            f"{base['old_cpu_ms_per_due']:.2f} ms CPU per due, batched "
            f"{base['new_cpu_ms_per_due']:.2f} (ratio {base['ratio_new_to_old_cpu']:.2f}); "
            f"of it the fold {base['old_fold_cpu_ms_per_due']:.2f} → "
            f"{base['new_fold_cpu_ms_per_due']:.2f}"
        )
    print(
        f"targets: <= {TARGET_MS_PER_DUE} ms CPU per due subscription, one scheduler's day "
        f"< {TARGET_DAY_SECONDS:.0f} s"
    )


if __name__ == "__main__":
    sys.exit(main())
