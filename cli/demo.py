"""``billing demo``: one subscription's whole life on a simulated clock, printed as a timeline."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta
from uuid import UUID

from cli.common import EXIT_OK, add_format, duration, moment, print_timeline, runtime_for
from domain.errors import BillingError
from domain.money import Money
from domain.plans import Period, Plan
from service_layer.timeline import iso, timeline

#: The demo's order moment: 1405/01/15 09:00 in Tehran. Fixed, so two runs give the same events.
DEMO_START = "2026-04-04T05:30:00Z"


def add_parser(commands) -> None:
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
    add_format(demo, "text", "jsonl", "csv")
    demo.add_argument(
        "--start",
        type=moment,
        default=moment(DEMO_START),
        help=f"order moment (default {DEMO_START})",
    )
    demo.add_argument(
        "--price", type=int, default=2_500_000, help="monthly price in rials (default 2,500,000)"
    )
    demo.set_defaults(run=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from adapters.clock import MovableClock
    from domain.customer import BillingProfile, CustomerKind

    runtime = runtime_for(args.db, simulated_from=args.start)
    app, clock = runtime.app, runtime.clock
    assert isinstance(clock, MovableClock)  # the runtime was opened with simulated_from
    start = clock.now()
    plan = Plan(
        id=f"demo-grace-{args.grace_days}-{args.price}",
        name="Demo Business",
        monthly_price=Money.positive(args.price, "--price"),
    ).with_grace_days(args.grace_days)
    app.define_plan(plan, start)
    customer_id = app.register_customer(
        BillingProfile(
            name="Demo Customer",
            kind=CustomerKind.PERSON,
            email="demo@example.ir",
            mobile="09120000000",
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

    print_timeline(timeline(app, subscription_id), args.format)
    if args.db != "memory":
        runtime.read_models.catch_up()  # the engine keeps its read models current
    print(f"status at {iso(clock.now())}: {app.status_of(subscription_id).value}", file=sys.stderr)
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
