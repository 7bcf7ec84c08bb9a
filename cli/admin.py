"""Operators' commands: API tokens (``tokens create|list|revoke``) and the outbox
(``outbox …``)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from cli.common import (
    EXIT_CONFIG,
    EXIT_OK,
    EXIT_USAGE,
    acting_command,
    acting_runtime,
    add_format,
    add_token_options,
    aggregate_id,
    print_new_token,
    rows_out,
    runtime_for,
    store_command,
)
from projections.visibility import OPERATOR, visible_customer
from service_layer.timeline import iso


def add_tokens_parser(commands) -> None:
    tokens = commands.add_parser("tokens", help="API tokens")
    token_commands = tokens.add_subparsers(dest="tokens_command", required=True, metavar="ACTION")
    create = token_commands.add_parser(
        "create", help="create a token; it is printed once, alone on the last line"
    )
    create.add_argument(
        "--role",
        required=True,
        choices=["customer", "representative", "finance", "support", "admin"],
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
    who.add_argument(
        "--client", metavar="NAME", help="the machine client a token belongs to, e.g. portal"
    )
    add_token_options(create, "the token")
    acting_command(create, run_token_create, "create tokens", "admin")

    listing = token_commands.add_parser(
        "list", help="every token: id, owner, role, scopes, dates, state (never the token)"
    )
    add_format(listing, "text", "json")
    store_command(listing, run_token_list)

    revoke = token_commands.add_parser(
        "revoke", help="revoke a token by its id: it stops working at once, in every process"
    )
    revoke.add_argument("token_id", metavar="ID", help="the token's id, tok_…")
    acting_command(revoke, run_token_revoke, "revoke tokens", "admin")


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
    runtime = acting_runtime(args).build_all()
    subject = args.customer or args.representative
    if args.role == "customer" and args.customer is None:
        print("billing: a customer token needs --customer ID", file=sys.stderr)
        return EXIT_USAGE
    if args.role == "representative" and args.representative is None:
        print("billing: a representative token needs --representative ID", file=sys.stderr)
        return EXIT_USAGE
    if args.customer is not None:
        visible_customer(runtime.app, OPERATOR, args.customer)  # refused when there is none
    representative_name = None
    if args.representative is not None:  # refused when no such representative was added
        representative_name = runtime.app.get_representative(args.representative).name
    issued = runtime.tokens.issue(
        args.role,
        runtime.clock.now(),
        subject=subject,
        owner="client" if args.client is not None else None,
        name=args.client if args.client is not None else representative_name,
        label=args.label,
        expires_at=args.expires_at,
        scopes=args.scopes,
    )
    runtime.close()
    print_new_token(f"{args.role} token", issued)
    return EXIT_OK


def run_token_list(args: argparse.Namespace) -> int:
    runtime = runtime_for(args.db)
    now = runtime.clock.now()
    tokens = runtime.tokens.tokens()
    runtime.close()
    rows: list[dict[str, Any]] = [
        {
            "id": t.id,
            "owner": t.owner.to_dict(),
            "role": t.role.value,
            "scopes": sorted(t.scopes),
            "label": t.label,
            "created_at": iso(t.created_at),
            "expires_at": iso(t.expires_at),
            "last_used_at": iso(t.last_used_at),
            "revoked_at": iso(t.revoked_at),
            "state": t.state(now),
        }
        for t in tokens
    ]
    if args.format == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    if not rows:
        print("no tokens yet (billing tokens create --role …)")
    for row in rows:
        owner = row["owner"]
        who = f"{owner['kind']} {owner['name'] or owner['id']}"
        scopes = ",".join(row["scopes"]) or "all"
        print(
            f"{row['id']}  {row['state']:<14} {row['role']:<14} scopes {scopes:<13} {who}  "
            f"created {row['created_at']}, expires {row['expires_at'] or 'never'}, "
            f"last used {row['last_used_at'] or 'never'}"
        )
    return EXIT_OK


def run_token_revoke(args: argparse.Namespace) -> int:
    runtime = acting_runtime(args)
    revoked = runtime.tokens.revoke_id(args.token_id.strip(), runtime.clock.now())
    runtime.close()
    print(f"token {args.token_id} " + ("revoked" if revoked else "was already revoked"))
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
