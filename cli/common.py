"""What every command shares: exit codes, argument types, the runtime, and output helpers."""

from __future__ import annotations

import argparse
import csv
import getpass
import json
import os
import re
import socket
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain.actor import Actor, ActorKind
from domain.jalali import format_moment
from service_layer.timeline import TimelineEntry, describe, iso, who_of

if TYPE_CHECKING:
    from bootstrap import Runtime

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_CONFIG, EXIT_NOT_FOUND = 0, 1, 2, 3, 4

_DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")


# --- argument types ------------------------------------------------------------------------------


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


def database_url_for(db: str | None) -> dict[str, Any]:
    """``--db`` as a settings override: a path is a SQLite file, 'memory' keeps nothing."""
    if not db:
        return {}
    if db == "memory":
        return {"database_url": "memory:"}
    if "://" in db or db.endswith(":"):
        return {"database_url": db}
    return {"database_url": "sqlite:///" + db}


def add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", metavar="PATH", help="SQLite file or database URL (default: BILLING_DATABASE_URL)"
    )


def store_command(
    parser: argparse.ArgumentParser, run: Callable[[argparse.Namespace], int]
) -> None:
    """A command that works on the store: ``--db`` as its last option, and ``run`` runs it."""
    add_db(parser)
    parser.set_defaults(run=run)


def add_format(parser: argparse.ArgumentParser, *choices: str) -> None:
    parser.add_argument("--format", choices=choices, default=choices[0])


def add_token_options(parser: argparse.ArgumentParser, holder: str) -> None:
    """What a new token may carry: a label, an expiry and scopes narrower than ``holder``'s
    role (``billing tokens create``, ``billing staff token``)."""
    parser.add_argument("--label", default="", help="a note for people, e.g. who holds it")
    parser.add_argument(
        "--expires-at", type=moment, metavar="WHEN", help="when it stops working (ISO 8601)"
    )
    parser.add_argument(
        "--scope",
        dest="scopes",
        action="append",
        choices=["read", "payments"],
        default=[],
        help=f"narrower than {holder}'s role: read (reads only) or payments (reads and the "
        "payment routes); repeat for both",
    )


def print_new_token(heading: str, issued: Any) -> None:
    """A new token, shown this once: ``heading`` names it, the token stands alone on the last
    line (what scripts read)."""
    print(f"{heading} {issued.id} (shown once; keep it secret):")
    print(issued.token)


def acting_command(
    parser: argparse.ArgumentParser,
    run: Callable[[argparse.Namespace], int],
    action: str,
    *roles: str,
) -> None:
    """A command that changes things: ``--as STAFF_ID`` (it acts as that staff member, who
    must be active and hold one of ``roles``, else it is refused saying they may not
    ``action``; without it, as the console's operator), ``--db``, and ``run`` runs it.
    ``acting_runtime(args)`` opens its runtime."""
    parser.add_argument(
        "--as",
        dest="as_staff",
        type=aggregate_id,
        metavar="STAFF_ID",
        help=f"act as this active staff member ({' or '.join(roles)}); the events record them "
        "(default: the operator at this console)",
    )
    parser.set_defaults(acting_roles=roles, acting_action=action)
    store_command(parser, run)


# --- the runtime ---------------------------------------------------------------------------------


def console_operator() -> Actor:
    """Who a command typed at the console acts for: the operating-system user on this host
    (``--as STAFF_ID`` names a staff member instead, where a command offers it)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        user = f"uid {os.getuid()}"
    who = f"{user}@{socket.gethostname()}"
    return Actor(ActorKind.OPERATOR, id=who, name=who)


def runtime_for(db: str | None, *, actor: Actor | None = None, **overrides: Any) -> Runtime:
    """The composition root's runtime for ``--db``: each part is built when a command first
    uses it (a command that reads only events opens no read models). Its commands act for
    ``actor``, by default the console's operator."""
    from bootstrap import open_runtime

    return open_runtime(**database_url_for(db), actor=actor or console_operator(), **overrides)


def acting_runtime(args: argparse.Namespace, **overrides: Any) -> Runtime:
    """The runtime of an :func:`acting_command`: its commands act for the staff member
    ``--as`` names, checked now (unknown: not found; disabled or without the role: refused,
    each saying what to do), or else for the console's operator."""
    runtime = runtime_for(args.db, **overrides)
    if getattr(args, "as_staff", None) is not None:
        runtime.act_as(staff_actor(runtime, args.as_staff, args.acting_action, args.acting_roles))
    return runtime


def staff_actor(runtime: Runtime, staff_id: UUID, action: str, roles: tuple[str, ...]) -> Actor:
    """The actor of an active staff member holding one of ``roles``, as the credentials
    table has them now."""
    from domain.errors import StaffDisabled, StaffNotFound, StaffRoleRefused

    account = runtime.credentials.get(staff_id)
    if account is None:
        raise StaffNotFound(
            f"--as {staff_id}: there is no such staff member. `billing staff list` names them.",
            staff_id=str(staff_id),
        )
    if not account.active:
        raise StaffDisabled(
            f"--as {staff_id}: {account.name} was disabled on {iso(account.disabled_at)}; nothing "
            "is done in their name. Act as an active member, or leave out --as.",
            staff_id=str(staff_id),
        )
    if account.role not in roles:
        raise StaffRoleRefused(
            f"--as {staff_id}: {account.name} is {account.role}, who may not {action}; act as "
            f"a member who is {' or '.join(roles)}, or leave out --as.",
            staff_id=str(staff_id),
        )
    return Actor(ActorKind.STAFF, id=str(account.id), name=account.name, role=account.role)


def read_models_of(runtime: Runtime):
    """The runtime's read models, caught up with every stored event."""
    read_models = runtime.read_models
    read_models.catch_up()
    return read_models


def configure_logging() -> None:
    """INFO for the engine; libraries only when something is wrong (httpx would log every
    request's URL, APScheduler every run it skipped because the last one still runs)."""
    import logging

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


# --- output --------------------------------------------------------------------------------------


def print_timeline(entries: list[TimelineEntry], fmt: str) -> None:
    """The timeline as text (a line per event ending ``— by`` whom), JSON lines (each with its
    ``actor``) or CSV (the actor's words, then its kind, id, name and role)."""
    out = sys.stdout
    if fmt == "jsonl":
        for entry in entries:
            out.write(json.dumps(entry.as_json(), ensure_ascii=False) + "\n")
        return
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(
            [
                "recorded_at",
                "recorded_at_jalali",
                "due_at",
                "aggregate",
                "aggregate_id",
                "version",
                "event",
                "what",
                "by",
                "actor_kind",
                "actor_id",
                "actor_name",
                "actor_role",
                "data",
            ]
        )
        for e in entries:
            writer.writerow(
                [
                    iso(e.recorded_at),
                    format_moment(e.recorded_at),
                    iso(e.due_at),
                    e.aggregate,
                    e.aggregate_id,
                    e.version,
                    e.event,
                    describe(e),
                    who_of(e).english,
                    e.actor.kind.value,
                    e.actor.id or "",
                    e.actor.name or "",
                    e.actor.role or "",
                    json.dumps(e.data, ensure_ascii=False),
                ]
            )
        return
    for entry in entries:
        line = (
            f"{format_moment(entry.recorded_at)}  {iso(entry.recorded_at)}  "
            f"{entry.aggregate:<12} {entry.event:<22} {describe(entry)} — by {who_of(entry).english}"
        )
        if entry.late_by:
            line += f"  [due {iso(entry.due_at)}, recorded {entry.late_by} late]"
        out.write(line + "\n")


def rows_out(rows: list[dict[str, Any]], fmt: str, columns: list[str]) -> None:
    if fmt == "jsonl":
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
    elif fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    else:
        print("  ".join(f"{c:>14}" for c in columns))
        for row in rows:
            print(
                "  ".join(
                    f"{row[c]:>14,}" if isinstance(row[c], int) else f"{row[c]!s:>14}"
                    for c in columns
                )
            )


def print_unstorable(read_models) -> None:
    """Stored events whose text a read model could not hold as recorded: worth a look, not a
    failure (the events are as recorded, the rows equal them with U+FFFD in place)."""
    if read_models.unstorable:
        print(f"note: {len(read_models.unstorable)} stored event(s) hold text stored with U+FFFD:")
        for finding in read_models.unstorable:
            print(f"  {finding}")


def progress(label: str):
    last = {"shown": -1}

    def show(done: int, total: int) -> None:
        if not sys.stderr.isatty() and done != total:
            return
        percent = 100 if not total else done * 100 // total
        if percent == last["shown"]:
            return
        last["shown"] = percent
        bar = "#" * (percent // 4)
        sys.stderr.write(f"\r{label} [{bar:<25}] {percent:3d}% ({done:,}/{total:,} events)")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show
