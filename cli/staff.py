"""The staff: ``staff create|list|token|disable|set-password`` (docs/SECURITY.md, "Staff, tokens and
passwords"). Each change is recorded with its actor: the member ``--as`` names, or the operator
at this console."""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    acting_command,
    acting_runtime,
    add_format,
    add_token_options,
    aggregate_id,
    print_new_token,
    runtime_for,
    store_command,
)
from service_layer.timeline import iso


def add_staff_parser(commands) -> None:
    staff = commands.add_parser("staff", help="staff members: who acts, in which role")
    actions = staff.add_subparsers(dest="staff_command", required=True, metavar="ACTION")

    create = actions.add_parser(
        "create", help="add a member; their API token is printed once, alone on the last line"
    )
    create.add_argument("--name", required=True, help='as people read it, e.g. "مریم کریمی"')
    create.add_argument("--role", required=True, choices=["admin", "finance", "support"])
    create.add_argument("--email", help="the address they sign in with (optional)")
    acting_command(create, run_create, "add staff members", "admin")

    listing = actions.add_parser("list", help="every member, in the order they were added")
    add_format(listing, "text", "json")
    store_command(listing, run_list)

    disable = actions.add_parser(
        "disable", help="a member may no longer act: their tokens stop working at once"
    )
    disable.add_argument("staff_id", type=aggregate_id, metavar="ID")
    disable.add_argument("--reason", required=True, help="why, for the audit trail")
    acting_command(disable, run_disable, "disable staff members", "admin")

    token = actions.add_parser(
        "token", help="a further API token for an active member, printed alone on the last line"
    )
    token.add_argument("staff_id", type=aggregate_id, metavar="ID")
    add_token_options(token, "the member")
    acting_command(token, run_token, "give staff members tokens", "admin")

    password = actions.add_parser(
        "set-password",
        help="set a member's password (asked twice at a terminal, or read from standard input)",
    )
    password.add_argument("staff_id", type=aggregate_id, metavar="ID")
    password.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input (for scripts)",
    )
    acting_command(password, run_set_password, "set staff passwords", "admin")


def run_create(args: argparse.Namespace) -> int:
    runtime = acting_runtime(args)
    now = runtime.clock.now()
    staff_id = runtime.app.add_staff(args.name, args.role, now, email=args.email)
    issued = runtime.tokens.issue_for_staff(staff_id, now, label="first token")
    runtime.close()
    print(f"staff member {args.name} ({args.role}) added: {staff_id}")
    print_new_token("API token", issued)
    return EXIT_OK


def run_list(args: argparse.Namespace) -> int:
    runtime = runtime_for(args.db)
    members = runtime.credentials.members()
    runtime.close()
    rows = [
        {
            "id": str(m.id),
            "name": m.name,
            "role": m.role,
            "email": m.email,
            "state": m.state,
            "added_at": iso(m.added_at),
            "disabled_at": iso(m.disabled_at),
            "password_set": m.password_set_at is not None,
        }
        for m in members
    ]
    if args.format == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    if not rows:
        print("no staff members yet (billing staff create --name … --role …)")
    for row in rows:
        password = "password set" if row["password_set"] else "no password"
        print(
            f"{row['id']}  {row['role']:<8} {row['state']:<8} {password:<12}  {row['name']}"
            + (f" <{row['email']}>" if row["email"] else "")
        )
    return EXIT_OK


def run_token(args: argparse.Namespace) -> int:
    runtime = acting_runtime(args)
    member = runtime.app.sync_staff_access(args.staff_id)
    issued = runtime.tokens.issue_for_staff(
        args.staff_id,
        runtime.clock.now(),
        label=args.label,
        expires_at=args.expires_at,
        scopes=args.scopes,
    )
    runtime.close()
    print_new_token(f"{member.name}'s API token", issued)
    return EXIT_OK


def run_disable(args: argparse.Namespace) -> int:
    runtime = acting_runtime(args)
    runtime.app.disable_staff(args.staff_id, args.reason, runtime.clock.now())
    member = runtime.app.get_staff(args.staff_id)
    runtime.close()
    print(f"staff member {member.name} ({args.staff_id}) disabled: their tokens no longer work")
    return EXIT_OK


def run_set_password(args: argparse.Namespace) -> int:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif not sys.stdin.isatty():
        print(
            "billing: there is no terminal to ask for the password; pipe it with --password-stdin",
            file=sys.stderr,
        )
        return EXIT_USAGE
    else:
        password = getpass.getpass("new password (at least 12 characters): ")
        if getpass.getpass("the same again: ") != password:
            print("billing: the two passwords differ; nothing was changed", file=sys.stderr)
            return EXIT_USAGE
    runtime = acting_runtime(args)
    runtime.app.set_staff_password(args.staff_id, password, runtime.clock.now())
    member = runtime.app.get_staff(args.staff_id)
    runtime.close()
    print(f"password of staff member {member.name} ({args.staff_id}) set")
    return EXIT_OK
