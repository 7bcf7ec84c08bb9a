"""Subscriptions at the console: ``subscription change-plan``, the CLI equivalent of
``POST /subscriptions/{id}/change-plan`` (docs/LIFECYCLE.md, "Plan changes and cancellation").
It acts as the console's operator, or as the staff member ``--as`` names (an admin)."""

from __future__ import annotations

import argparse
from typing import Any

from cli.common import EXIT_OK, acting_command, acting_runtime, aggregate_id
from domain.plan_changes import When
from domain.plans import Period


def add_subscription_parser(commands: Any) -> None:
    subscription = commands.add_parser("subscription", help="change a subscription's plan")
    actions = subscription.add_subparsers(
        dest="subscription_command", required=True, metavar="ACTION"
    )
    change = actions.add_parser(
        "change-plan",
        help="move a subscription to another plan: an upgrade at once with a proration "
        "invoice, anything else from the next renewal (or as --when says)",
    )
    change.add_argument("subscription_id", type=aggregate_id, metavar="SUBSCRIPTION_ID")
    change.add_argument("plan_id", metavar="PLAN_ID")
    change.add_argument("--period", choices=[p.value for p in Period], help="the billing period")
    change.add_argument(
        "--when",
        choices=[w.value for w in When],
        help="now: at once, prorated (an upgrade only); renewal: from the next period. "
        "Left out: an upgrade on the same period now, anything else at the renewal",
    )
    acting_command(change, run_change_plan, "change plans", "admin")


def run_change_plan(args: argparse.Namespace) -> int:
    runtime = acting_runtime(args)
    try:
        app = runtime.app
        taking = app.change_plan(
            args.subscription_id,
            args.plan_id,
            runtime.clock.now(),
            period=args.period,
            when=args.when,
        )
        sub = app.get_subscription(args.subscription_id)
        if taking is When.NOW:
            invoice = app.get_invoice(sub.invoice_ids[-1])
            print(
                f"subscription {sub.id} is on {sub.plan.id} ({sub.period.value}) from now; "
                f"proration invoice {invoice.id}: {invoice.total} "
                f"({invoice.lines[0].description.partition(' | ')[0]})"
            )
        else:
            plan, period = sub.pending_change or (sub.plan, sub.period)
            print(
                f"subscription {sub.id} moves to {plan.id} ({period.value}) at the renewal, "
                f"period {sub.current_period.number + 1}"
            )
    finally:
        runtime.close()
    return EXIT_OK
