"""Representatives at the console: ``representatives create|change|list|assign``.

``assign`` assigns a customer to a representative or moves them from the one they have; it is
here, beside the other representative commands, rather than under a ``customers`` group of its
own (docs/API.md, "Representatives"). Every command acts as the console's operator, so the
events it records say who typed it.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from cli.common import (
    EXIT_OK,
    add_format,
    aggregate_id,
    read_models_of,
    runtime_for,
    store_command,
)
from domain.representative import RepresentativeDetails
from projections.model import parse_moment
from projections.representative_views import representatives
from projections.visibility import OPERATOR
from service_layer.timeline import iso

#: What customers registered before representatives were kept name, never added.
OF_BEFORE = "(registered before representatives were kept: no name; add it with --id)"


def add_representatives_parser(commands: Any) -> None:
    reps = commands.add_parser(
        "representatives", help="representatives, and assigning customers to them"
    )
    actions = reps.add_subparsers(dest="representatives_command", required=True, metavar="ACTION")

    create = actions.add_parser(
        "create", help="add a representative; their id is printed alone on the last line"
    )
    _details_arguments(create)
    create.add_argument(
        "--id",
        dest="representative_id",
        type=aggregate_id,
        metavar="ID",
        help="only for a representative whom customers named before representatives were "
        "kept (listed as not registered): add them under that id, keeping their customers",
    )
    store_command(create, run_create)

    change = actions.add_parser(
        "change", help="replace a representative's name, mobile number and e-mail address"
    )
    change.add_argument("representative_id", type=aggregate_id, metavar="REPRESENTATIVE_ID")
    _details_arguments(change)
    store_command(change, run_change)

    listing = actions.add_parser(
        "list", help="every representative, with how many customers each serves now"
    )
    add_format(listing, "text", "json")
    store_command(listing, run_list)

    assign = actions.add_parser(
        "assign",
        help="assign a customer to a representative, or move them from the one they have "
        "(the new one sees the customer and all of theirs, the old one no longer)",
    )
    assign.add_argument("customer_id", type=aggregate_id, metavar="CUSTOMER_ID")
    assign.add_argument("representative_id", type=aggregate_id, metavar="REPRESENTATIVE_ID")
    assign.add_argument("--reason", required=True, help="why, for the audit trail")
    store_command(assign, run_assign)


def _details_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", required=True, help="the representative's name")
    parser.add_argument("--mobile", help="an Iranian mobile number, like 09121234567")
    parser.add_argument("--email", help="an e-mail address")


def _details(args: argparse.Namespace) -> RepresentativeDetails:
    """The details as typed, through the input policy (refused: exit 2, the field named)."""
    return RepresentativeDetails(args.name, args.mobile, args.email)


def run_create(args: argparse.Namespace) -> int:
    details = _details(args)
    runtime = runtime_for(args.db)
    try:
        app = runtime.app
        added = app.add_representative(
            details, runtime.clock.now(), representative_id=args.representative_id
        )
        print(f"representative {app.get_representative(added).name} added; their id:")
        print(added)
    finally:
        runtime.close()
    return EXIT_OK


def run_change(args: argparse.Namespace) -> int:
    details = _details(args)
    runtime = runtime_for(args.db)
    try:
        runtime.app.change_representative(args.representative_id, details, runtime.clock.now())
        print(f"representative {args.representative_id} is now {details.name}")
    finally:
        runtime.close()
    return EXIT_OK


def _listed(row: dict[str, Any]) -> dict[str, Any]:
    """A row as GET /representatives answers it."""
    return {
        "id": row["representative_id"],
        "name": row["name"],
        "mobile": row["mobile"],
        "email": row["email"],
        "registered": row["registered"],
        "added_at": iso(parse_moment(row["added_at"])),
        "customers": row["customers"],
    }


def run_list(args: argparse.Namespace) -> int:
    runtime = runtime_for(args.db)
    try:
        read_models = read_models_of(runtime)
        rows, after = [], ""
        while page := representatives(read_models, OPERATOR, after=after, limit=500):
            rows += [_listed(row) for row in page]
            after = page[-1]["representative_id"]
    finally:
        runtime.close()
    if args.format == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    if not rows:
        print("no representatives yet (billing representatives create --name …)")
        return EXIT_OK
    print(f"{'id':<36}  {'customers':>9}  name")
    for row in rows:
        if row["registered"]:
            reach = ", ".join(w for w in (row["mobile"], row["email"]) if w)
            who = row["name"] + (f" ({reach})" if reach else "")
        else:
            who = OF_BEFORE
        print(f"{row['id']:<36}  {row['customers']:>9,}  {who}")
    return EXIT_OK


def run_assign(args: argparse.Namespace) -> int:
    runtime = runtime_for(args.db)
    try:
        app = runtime.app
        before = app.get_customer(args.customer_id).representative_id
        app.assign_representative(
            args.customer_id, args.representative_id, args.reason, runtime.clock.now()
        )
        name = app.get_representative(args.representative_id).name
    finally:
        runtime.close()
    if before is None:
        print(f"customer {args.customer_id} assigned to representative {name}")
    else:
        print(f"customer {args.customer_id} moved from representative {before} to {name}")
    print(args.representative_id)
    return EXIT_OK
