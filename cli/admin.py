"""Operators' commands: API tokens (``tokens create``) and the outbox (``outbox …``)."""

from __future__ import annotations

import argparse
import sys

from cli.common import (
    EXIT_CONFIG,
    EXIT_OK,
    EXIT_USAGE,
    aggregate_id,
    rows_out,
    runtime_for,
    store_command,
)
from projections.visibility import OPERATOR, visible_customer


def add_tokens_parser(commands) -> None:
    tokens = commands.add_parser("tokens", help="API tokens")
    token_commands = tokens.add_subparsers(dest="tokens_command", required=True, metavar="ACTION")
    create = token_commands.add_parser(
        "create", help="create a token; it is printed once, alone on the last line"
    )
    create.add_argument(
        "--role", required=True, choices=["customer", "representative", "finance", "admin"]
    )
    who = create.add_mutually_exclusive_group()
    who.add_argument(
        "--customer", type=aggregate_id, metavar="ID", help="the customer a customer token acts for"
    )
    who.add_argument(
        "--representative",
        type=aggregate_id,
        metavar="ID",
        help="the representative a token acts for",
    )
    create.add_argument("--label", default="", help="a note for people, e.g. who holds it")
    store_command(create, run_token_create)


def add_outbox_parser(commands) -> None:
    outbox = commands.add_parser(
        "outbox", help="what leaves the engine: notices and platform requests"
    )
    outbox_commands = outbox.add_subparsers(dest="outbox_command", required=True, metavar="ACTION")
    for name, text in (
        ("status", "deliveries by channel and status"),
        ("failed", "deliveries that gave up, and those being retried"),
        ("retry", "give failed deliveries another round of attempts"),
        ("send", "send what is due now (the scheduler does this all the time)"),
        ("reconcile-sites", "compare the hosting platform's sites with the engine's and correct"),
    ):
        action = outbox_commands.add_parser(name, help=text)
        store_command(action, run_outbox)


def run_token_create(args: argparse.Namespace) -> int:
    runtime = runtime_for(args.db).build_all()
    subject = args.customer or args.representative
    if args.role == "customer" and args.customer is None:
        print("billing: a customer token needs --customer ID", file=sys.stderr)
        return EXIT_USAGE
    if args.role == "representative" and args.representative is None:
        print("billing: a representative token needs --representative ID", file=sys.stderr)
        return EXIT_USAGE
    if args.customer is not None:
        visible_customer(runtime.app, OPERATOR, args.customer)  # refused when there is none
    if args.representative is not None:
        runtime.app.get_representative(args.representative)  # refused when none was added
    token = runtime.tokens.create(args.role, runtime.clock.now(), subject=subject, label=args.label)
    runtime.close()
    print(f"{args.role} token (shown once; keep it secret):")
    print(token)
    return EXIT_OK


def run_outbox(args: argparse.Namespace) -> int:
    runtime = runtime_for(args.db).build_all()
    store = runtime.outbox
    runtime.read_models.catch_up()
    if args.outbox_command == "status":
        rows = [
            {"channel": c, "status": s, "deliveries": n}
            for (c, s), n in sorted(store.counts().items())
        ]
        rows_out(rows, "text", ["channel", "status", "deliveries"])
    elif args.outbox_command == "failed":
        rows = store.failed_deliveries()
        rows_out(
            rows,
            "text",
            ["delivery_id", "channel", "kind", "recipient", "status", "attempts", "last_error"],
        )
        if not rows:
            print("no failed deliveries")
    elif args.outbox_command == "retry":
        print(f"{store.requeue_failed(runtime.clock.now())} failed delivery(ies) queued again")
    elif args.outbox_command == "reconcile-sites":
        if "platform" not in runtime.dispatcher.senders:
            print("billing: the hosting platform is not configured (BILLING_PLATFORM_URL)")
            runtime.close()
            return EXIT_CONFIG
        corrected = runtime.reconcile_sites()
        print(f"{corrected} site(s) differed from the engine; their corrections are queued")
    else:
        report = runtime.dispatcher.dispatch(limit=1_000)
        print(
            f"delivered {report.delivered}, retrying {report.retried}, failed {report.failed}, skipped {report.skipped}"
        )
    runtime.close()
    return EXIT_OK
