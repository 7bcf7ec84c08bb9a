"""The ``billing`` console script: thin commands over the composition root.

Exit codes, decided here and nowhere else: 0 done; 1 a billing rule refused the command; 2 bad
input or usage; 3 a configuration problem (database URL, server down); 4 not found.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

from adapters.clock import SimulatedClock
from adapters.persistence import ConfigurationError
from domain.errors import BillingError, InvalidInput, NotFound
from domain.jalali import format_moment
from domain.money import Money
from domain.plans import Period, Plan
from service_layer.timeline import TimelineEntry, describe, iso, timeline

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_CONFIG, EXIT_NOT_FOUND = 0, 1, 2, 3, 4

#: The demo's order moment: 1405/01/15 09:00 in Tehran. Fixed, so two runs give the same events.
DEMO_START = "2026-04-04T05:30:00Z"

_DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")


def duration(text: str) -> timedelta:
    """``120d``, ``35d12h``, ``90m``, ``2w``."""
    match = _DURATION.match(text.strip().lower())
    if not text.strip() or not match or not any(match.groups()):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration; write it like 120d, 35d12h, 36h or 90m."
        )
    weeks, days, hours, minutes = (int(g or 0) for g in match.groups())
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes)


def moment(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time; write it like 2026-04-04T05:30:00Z."
        ) from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone; add Z for UTC.")
    return value


def aggregate_id(text: str) -> UUID:
    try:
        return UUID(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an id (a UUID like 3f2a…-…).") from None


def database_url_for(db: str | None) -> dict[str, str]:
    """``--db`` as a settings override: a path is a SQLite file, 'memory' keeps nothing."""
    if not db:
        return {}
    if db == "memory":
        return {"database_url": "memory:"}
    if "://" in db or db.endswith(":"):
        return {"database_url": db}
    return {"database_url": "sqlite:///" + db}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="billing",
        description="The billing lifecycle engine of a hosted-website portal.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="run one subscription's whole life on a simulated clock and print its timeline",
        description=(
            "Orders one site on a demo plan and runs its life on a simulated clock ticking "
            "hourly: invoice, reminders, grace, suspension, payment and restore, or collection."
        ),
    )
    demo.add_argument(
        "--until", type=duration, default=duration("120d"), help="how long to run (default 120d)"
    )
    demo.add_argument(
        "--grace-days",
        type=int,
        default=3,
        help="days between deadline and suspension (default 3; 0 works)",
    )
    demo.add_argument("--period", choices=[p.value for p in Period], default="monthly")
    demo.add_argument(
        "--pay-at",
        type=duration,
        action="append",
        default=[],
        metavar="OFFSET",
        help="pay the whole open balance at this offset from the order (repeatable), e.g. 35d",
    )
    demo.add_argument(
        "--db",
        metavar="PATH",
        help="SQLite file that keeps the events for later audit (default: BILLING_DATABASE_URL, "
        "else var/billing.sqlite); 'memory' keeps nothing",
    )
    demo.add_argument("--format", choices=["text", "jsonl"], default="text")
    demo.add_argument(
        "--start",
        type=moment,
        default=moment(DEMO_START),
        help=f"order moment (default {DEMO_START})",
    )
    demo.add_argument(
        "--price", type=int, default=2_500_000, help="monthly price in rials (default 2,500,000)"
    )

    sched = commands.add_parser(
        "scheduler",
        help="run the lifecycle scheduler alone (a separate worker): tick, execute what is due",
    )
    sched.add_argument(
        "--interval", type=float, default=60.0, help="seconds between ticks (default 60)"
    )
    sched.add_argument("--once", action="store_true", help="run one tick now and exit")
    sched.add_argument("--db", metavar="PATH", help="SQLite file (default: BILLING_DATABASE_URL)")

    audit = commands.add_parser("audit", help="replay the audit trail from the stored events")
    audit_commands = audit.add_subparsers(
        dest="audit_command", required=True, metavar="AUDIT_COMMAND"
    )
    show = audit_commands.add_parser(
        "timeline",
        help="every event of an aggregate (a subscription: with its invoices and payments)",
    )
    show.add_argument("aggregate_id", type=aggregate_id)
    show.add_argument("--format", choices=["text", "jsonl"], default="text")
    show.add_argument("--db", metavar="PATH", help="SQLite file (default: BILLING_DATABASE_URL)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            return run_demo(args)
        if args.command == "scheduler":
            return run_scheduler(args)
        if args.command == "audit" and args.audit_command == "timeline":
            return run_timeline(args)
    except BillingError as error:
        print(f"billing: {error.message} [{error.code}]", file=sys.stderr)
        if isinstance(error, NotFound):
            return EXIT_NOT_FOUND
        return EXIT_USAGE if isinstance(error, InvalidInput) else EXIT_REFUSED
    except ConfigurationError as error:
        print(f"billing: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except BrokenPipeError:  # e.g. `billing demo | head`
        return EXIT_OK
    return EXIT_USAGE


def _application(db: str | None):
    from bootstrap import build_application

    return build_application(**database_url_for(db))


def run_demo(args: argparse.Namespace) -> int:
    from domain.customer import BillingProfile

    app = _application(args.db)
    clock = SimulatedClock(args.start)
    start = clock.now()
    plan = Plan(
        id=f"demo-grace-{args.grace_days}-{args.price}",
        name="Demo Business",
        monthly_price=Money.positive(args.price, "--price"),
    ).with_grace_days(args.grace_days)
    app.define_plan(plan, start)
    customer_id = app.register_customer(
        BillingProfile(
            name="Demo Customer", kind="person", email="demo@example.ir", mobile="09120000000"
        ),
        start,
    )
    subscription_id = app.start_subscription(customer_id, plan.id, args.period, start)
    print(f"subscription {subscription_id} (customer {customer_id})", file=sys.stderr)

    payments = sorted(start + offset for offset in args.pay_at)
    end = start + args.until
    while clock.now() < end:
        now = clock.advance(min(timedelta(hours=1), end - clock.now()))
        app.advance(now, on_time=True, subscription_ids=[subscription_id])
        while payments and payments[0] <= now:
            payments.pop(0)
            _pay_balance(app, subscription_id, now, number=len(args.pay_at) - len(payments))

    entries = timeline(app, subscription_id)
    _print_timeline(entries, args.format)
    status = app.status_of(subscription_id)
    print(f"status at {iso(clock.now())}: {status.value}", file=sys.stderr)
    return EXIT_OK


def _pay_balance(app, subscription_id: UUID, now: datetime, number: int) -> None:
    from domain import lifecycle

    life = app.lifecycle_of(subscription_id)
    due = lifecycle.amount_due(life.subscription, life.invoices)
    if not due.is_positive:
        print(f"nothing to pay at {iso(now)}", file=sys.stderr)
        return
    try:
        app.record_payment(
            f"demo-{str(subscription_id)[:8]}-{number}",
            due,
            now,
            subscription_id=subscription_id,
            method="demo",
        )
    except BillingError as error:
        print(f"payment at {iso(now)} refused: {error.message}", file=sys.stderr)


def run_scheduler(args: argparse.Namespace) -> int:
    import logging
    import signal

    from adapters.clock import SystemClock
    from scheduler import build_scheduler, tick

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = _application(args.db)
    clock = SystemClock()
    if args.once:
        executed = tick(app, clock)
        print(f"{len(executed)} step(s) executed at {iso(clock.now())}", file=sys.stderr)
        return EXIT_OK
    scheduler = build_scheduler(app, clock, interval_seconds=args.interval, blocking=True)

    def stop(signum, frame):  # a clean stop: the running tick finishes, then we exit
        scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"scheduler ticking every {args.interval:g}s; stop with Ctrl-C", file=sys.stderr)
    scheduler.start()
    app.close()
    return EXIT_OK


def run_timeline(args: argparse.Namespace) -> int:
    app = _application(args.db)
    _print_timeline(timeline(app, args.aggregate_id), args.format)
    return EXIT_OK


def _print_timeline(entries: list[TimelineEntry], fmt: str) -> None:
    out = sys.stdout
    if fmt == "jsonl":
        for entry in entries:
            out.write(json.dumps(entry.as_json(), ensure_ascii=False) + "\n")
        return
    for entry in entries:
        line = (
            f"{format_moment(entry.recorded_at)}  {iso(entry.recorded_at)}  "
            f"{entry.aggregate:<12} {entry.event:<22} {describe(entry)}"
        )
        if entry.late_by:
            line += f"  [due {iso(entry.due_at)}, recorded {entry.late_by} late]"
        out.write(line + "\n")


if __name__ == "__main__":
    sys.exit(main())
