"""The audit trail (``audit timeline|as-of|explain|actions|verify``) and the read models
(``projections rebuild|status``), from the stored events."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from cli.common import (
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    add_format,
    aggregate_id,
    moment,
    print_timeline,
    print_unstorable,
    progress,
    read_models_of,
    runtime_for,
    store_command,
)
from service_layer.timeline import timeline

if TYPE_CHECKING:
    from service_layer.actions import Action

#: The CSV columns of ``audit actions``.
ACTION_COLUMNS = [
    "position",
    "recorded_at",
    "recorded_at_jalali",
    "actor_kind",
    "actor_id",
    "actor_name",
    "actor_role",
    "by",
    "aggregate",
    "aggregate_id",
    "version",
    "event",
    "what",
    "what_fa",
]


def add_audit_parser(commands) -> None:
    audit = commands.add_parser("audit", help="replay the audit trail from the stored events")
    audits = audit.add_subparsers(dest="audit_command", required=True, metavar="AUDIT_COMMAND")
    show = audits.add_parser(
        "timeline",
        help="every event of an aggregate (a subscription: with its invoices and payments)",
    )
    show.add_argument("aggregate_id", type=aggregate_id)
    add_format(show, "text", "jsonl", "csv")
    store_command(show, run_timeline)
    as_of = audits.add_parser(
        "as-of", help="an aggregate's state at a past moment, from its events"
    )
    as_of.add_argument("aggregate_id", type=aggregate_id)
    as_of.add_argument(
        "at", type=moment, metavar="TIME", help="ISO 8601, e.g. 2026-05-08T00:00:00Z"
    )
    add_format(as_of, "text", "json")
    store_command(as_of, run_as_of)
    why = audits.add_parser(
        "explain",
        help="why a subscription, invoice or customer is in its state, in Persian and English",
    )
    why.add_argument("aggregate_id", type=aggregate_id)
    why.add_argument("--at", type=moment, help="explain the state at this moment (default: now)")
    why.add_argument("--lang", choices=["both", "en", "fa"], default="both")
    store_command(why, run_explain)
    actions = audits.add_parser(
        "actions",
        help="what each person did: every recorded event with who caused it, in order",
        description="Every recorded event, in the order the store recorded it, with who "
        "caused it (kind, id, name, role), when (ISO and Jalali), on what, and in words. "
        "Rows are printed as they are read.",
    )
    actions.add_argument(
        "--actor",
        metavar="ACTOR",
        help="an actor kind (staff, client, customer, representative, scheduler, gateway, "
        "operator, unknown), an actor id, or KIND:ID",
    )
    actions.add_argument(
        "--from",
        dest="since",
        metavar="TIME",
        help="recorded at or after, ISO 8601 (2026-05-01T00:00:00Z)",
    )
    actions.add_argument(
        "--to", dest="until", metavar="TIME", help="recorded at or before, ISO 8601"
    )
    add_format(actions, "text", "json", "jsonl", "csv")
    store_command(actions, run_actions)
    verify = audits.add_parser(
        "verify",
        help="rebuild every read model from the events and compare; check the events' hash chain",
    )
    store_command(verify, run_verify)


def add_projections_parser(commands) -> None:
    projections = commands.add_parser("projections", help="the read models")
    projection_commands = projections.add_subparsers(
        dest="projections_command", required=True, metavar="ACTION"
    )
    rebuild = projection_commands.add_parser(
        "rebuild", help="drop and rebuild read models from the events"
    )
    rebuild.add_argument("name", nargs="*", help="read models to rebuild (default: all)")
    rebuild.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="fold in N processes, the customers shared among them (PostgreSQL only; default 1)",
    )
    store_command(rebuild, run_rebuild)
    status = projection_commands.add_parser(
        "status", help="each read model's position in the event log"
    )
    store_command(status, run_projection_status)


# --- audit ---------------------------------------------------------------------------------------


def run_timeline(args: argparse.Namespace) -> int:
    print_timeline(timeline(runtime_for(args.db).app, args.aggregate_id), args.format)
    return EXIT_OK


def run_as_of(args: argparse.Namespace) -> int:
    from service_layer.audit import describe_as_of

    state = describe_as_of(runtime_for(args.db).app, args.aggregate_id, args.at)
    if args.format == "json":
        print(json.dumps(state, ensure_ascii=False, indent=2))
    else:
        _print_state(state)
    return EXIT_OK


def _print_state(state: dict[str, Any], indent: str = "") -> None:
    for key, value in state.items():
        if isinstance(value, dict) and value:
            print(f"{indent}{key}:")
            _print_state(value, indent + "  ")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            print(f"{indent}{key}:")
            for item in value:
                print(f"{indent}  -")
                _print_state(item, indent + "    ")
        else:
            print(f"{indent}{key}: {value if value not in (None, {}, []) else '-'}")


def run_explain(args: argparse.Namespace) -> int:
    from projections.reports import subscriptions_of
    from service_layer.audit import explain

    runtime = runtime_for(args.db)
    at = args.at or runtime.clock.now()
    app = runtime.app
    read_models = read_models_of(runtime)
    explanation = explain(
        app,
        args.aggregate_id,
        at,
        subscriptions_of=lambda customer_id: subscriptions_of(read_models, customer_id),
    )
    parts = {"en": [explanation.english], "fa": [explanation.persian]}.get(
        args.lang, [explanation.english, explanation.persian]
    )
    print("\n\n".join(parts))
    return EXIT_OK


def run_actions(args: argparse.Namespace) -> int:
    from service_layer.actions import ActionFilter, actions

    wanted = ActionFilter.parse(args.actor, args.since, args.until)  # refused before any read
    rows = actions(runtime_for(args.db).app, wanted)
    shown = print_actions(rows, args.format)
    if not shown and args.format == "text":
        print(f"billing: no recorded event matches {_said(wanted)}", file=sys.stderr)
    return EXIT_OK


def print_actions(rows: Iterable[Action], fmt: str) -> int:
    """Each row as it comes: a text line like the timeline's, a JSON array written item by
    item, JSON lines, or CSV. Returns how many rows were printed."""
    out, shown = sys.stdout, 0
    writer = csv.writer(out) if fmt == "csv" else None
    if writer is not None:
        writer.writerow(ACTION_COLUMNS)
    elif fmt == "json":
        out.write("[")
    for action in rows:
        row = action.as_json()
        if writer is not None:
            actor = row["actor"]
            flat = row | {
                f"actor_{key}": actor[key] or "" for key in ("kind", "id", "name", "role")
            }
            writer.writerow([flat[column] for column in ACTION_COLUMNS])
        elif fmt in ("json", "jsonl"):
            separator = ("\n" if not shown else ",\n") if fmt == "json" else ""
            out.write(
                separator + json.dumps(row, ensure_ascii=False) + ("\n" if fmt == "jsonl" else "")
            )
        else:
            out.write(
                f"{row['recorded_at_jalali']}  {row['recorded_at']}  {row['aggregate']:<12} "
                f"{row['aggregate_id'][:8]} {row['event']:<22} {row['what']} — by {row['by']}\n"
            )
        shown += 1
    if fmt == "json":
        out.write("\n]\n" if shown else "]\n")
    return shown


def _said(wanted: Any) -> str:
    given = {k: v for k, v in wanted.as_json().items() if v is not None}
    return " ".join(f"--{k} {v}" for k, v in given.items()) or "(no filter)"


def run_verify(args: argparse.Namespace) -> int:
    from adapters.chain import has_chain, verify_stored_chain

    runtime = runtime_for(args.db)
    app = runtime.app
    read_models = read_models_of(runtime)
    failed = False
    if has_chain(app):
        checked, findings = verify_stored_chain(app)
        if findings:
            failed = True
            print(f"hash chain: {len(findings)} problem(s) in {checked} event(s):")
            for finding in findings:
                print(f"  {finding}")
        else:
            print(f"hash chain: {checked} event(s), every one matches its link")
    else:
        print("hash chain: not kept by this store (in memory)")
    try:
        position, drifts = read_models.verify(progress=progress("rebuilding read models"))
    except Exception as error:  # a tampered event may not even decode
        print(f"read models: could not be rebuilt from the events: {error}")
        return EXIT_REFUSED
    if drifts:
        failed = True
        print(f"read models: {len(drifts)} difference(s) from the events (at event #{position}):")
        for drift in drifts[:200]:
            print(f"  {drift}")
    else:
        print(f"read models: every row equals the fold of the events (at event #{position})")
    print_unstorable(read_models)
    return EXIT_REFUSED if failed else EXIT_OK


# --- projections ---------------------------------------------------------------------------------


def run_rebuild(args: argparse.Namespace) -> int:
    from projections.views import read_model

    for name in args.name:
        try:
            read_model(name)
        except KeyError as error:
            print(f"billing: {error.args[0]}", file=sys.stderr)
            return EXIT_USAGE
    if args.jobs < 1:
        print(f"billing: --jobs must be 1 or more, not {args.jobs}", file=sys.stderr)
        return EXIT_USAGE
    read_models = read_models_of(runtime_for(args.db))
    if args.jobs > 1 and read_models.view.dialect != "postgres":
        print(
            f"billing: --jobs {args.jobs} needs PostgreSQL; on SQLite a rebuild runs as one "
            "job (leave --jobs out)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    last = read_models.rebuild(args.name or None, progress=RebuildProgressLine(), jobs=args.jobs)
    print(f"rebuilt {', '.join(args.name) or 'every read model'} from {last:,} event(s)")
    print_unstorable(read_models)
    return EXIT_OK


class RebuildProgressLine:
    """A rebuild's progress on stderr: events folded of the head, the rate, and the time left
    (redrawn in place on a terminal, a line every few seconds otherwise)."""

    EVERY = 2.0

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.shown = 0.0
        self.finished_at = -1

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        finished = done >= total
        if not finished and now - self.shown < (0.25 if sys.stderr.isatty() else self.EVERY):
            return
        if finished and done == self.finished_at:
            return
        self.finished_at = done if finished else -1
        self.shown = now
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        left = (total - done) / rate if rate and not finished else 0.0
        line = (
            f"rebuilding: {done * 100 // max(total, 1)}% ({done:,}/{total:,} events folded), "
            f"{rate:,.0f} events/s, "
            f"{'done in' if finished else 'about'} {elapsed if finished else left:,.0f} s"
            f"{'' if finished else ' left'}"
        )
        end = "\r" if sys.stderr.isatty() and not finished else "\n"
        sys.stderr.write(line.ljust(78) + end)
        sys.stderr.flush()


def run_projection_status(args: argparse.Namespace) -> int:
    read_models = read_models_of(runtime_for(args.db))
    for name, position in read_models.positions().items():
        print(f"{name:<20} at event #{position}")
    return EXIT_OK
