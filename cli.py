"""The ``billing`` console script: thin commands over the composition root.

Exit codes, decided here and nowhere else: 0 done; 1 a billing rule refused the command, or
``audit verify`` found drift or tampering; 2 bad input or usage; 3 a configuration problem
(database URL, server down); 4 not found.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import re
import sys
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.persistence import MapperDeserialisationError

from adapters.clock import SimulatedClock, SystemClock
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


def database_url_for(db: str | None) -> dict[str, str]:
    """``--db`` as a settings override: a path is a SQLite file, 'memory' keeps nothing."""
    if not db:
        return {}
    if db == "memory":
        return {"database_url": "memory:"}
    if "://" in db or db.endswith(":"):
        return {"database_url": db}
    return {"database_url": "sqlite:///" + db}


# --- the parser ----------------------------------------------------------------------------------


def _db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", metavar="PATH", help="SQLite file or database URL (default: BILLING_DATABASE_URL)"
    )


def _format(parser: argparse.ArgumentParser, *choices: str) -> None:
    parser.add_argument("--format", choices=choices, default=choices[0])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="billing", description="The billing lifecycle engine of a hosted-website portal."
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
    _format(demo, "text", "jsonl", "csv")
    demo.add_argument(
        "--start",
        type=moment,
        default=moment(DEMO_START),
        help=f"order moment (default {DEMO_START})",
    )
    demo.add_argument(
        "--price", type=int, default=2_500_000, help="monthly price in rials (default 2,500,000)"
    )

    serve = commands.add_parser(
        "serve", help="the HTTP API with the scheduler in-process (SQLite by default)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--demo",
        action="store_true",
        help="seed a plan catalogue and a sample customer of each kind, and print tokens",
    )
    serve.add_argument(
        "--no-scheduler",
        action="store_true",
        help="serve the API only (run `billing scheduler` apart)",
    )
    _db(serve)

    sandbox = commands.add_parser(
        "sandbox-gateway",
        help="a sandbox payment gateway speaking Zarinpal's v4 protocol, on loopback",
    )
    sandbox.add_argument("--port", type=int, default=8010)
    sandbox.add_argument("--merchant-id", default="00000000-0000-0000-0000-000000000000")

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
    _db(create)

    sched = commands.add_parser(
        "scheduler",
        help="run the lifecycle scheduler alone (a separate worker): tick, execute what is due",
    )
    sched.add_argument(
        "--interval",
        type=float,
        default=None,
        help="seconds between ticks (default BILLING_TICK_INTERVAL, 60)",
    )
    sched.add_argument("--once", action="store_true", help="run one tick now and exit")
    sched.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve the scheduler's Prometheus metrics on http://HOST:PORT/metrics",
    )
    sched.add_argument(
        "--metrics-host", default="127.0.0.1", help="where to serve them (default 127.0.0.1)"
    )
    _db(sched)

    audit = commands.add_parser("audit", help="replay the audit trail from the stored events")
    audits = audit.add_subparsers(dest="audit_command", required=True, metavar="AUDIT_COMMAND")
    show = audits.add_parser(
        "timeline",
        help="every event of an aggregate (a subscription: with its invoices and payments)",
    )
    show.add_argument("aggregate_id", type=aggregate_id)
    _format(show, "text", "jsonl", "csv")
    _db(show)
    as_of = audits.add_parser(
        "as-of", help="an aggregate's state at a past moment, from its events"
    )
    as_of.add_argument("aggregate_id", type=aggregate_id)
    as_of.add_argument(
        "at", type=moment, metavar="TIME", help="ISO 8601, e.g. 2026-05-08T00:00:00Z"
    )
    _format(as_of, "text", "json")
    _db(as_of)
    why = audits.add_parser(
        "explain",
        help="why a subscription, invoice or customer is in its state, in Persian and English",
    )
    why.add_argument("aggregate_id", type=aggregate_id)
    why.add_argument("--at", type=moment, help="explain the state at this moment (default: now)")
    why.add_argument("--lang", choices=["both", "en", "fa"], default="both")
    _db(why)
    verify = audits.add_parser(
        "verify",
        help="rebuild every read model from the events and compare; check the events' hash chain",
    )
    _db(verify)

    projections = commands.add_parser("projections", help="the read models")
    projection_commands = projections.add_subparsers(
        dest="projections_command", required=True, metavar="ACTION"
    )
    rebuild = projection_commands.add_parser(
        "rebuild", help="drop and rebuild read models from the events"
    )
    rebuild.add_argument("name", nargs="*", help="read models to rebuild (default: all)")
    _db(rebuild)
    status = projection_commands.add_parser(
        "status", help="each read model's position in the event log"
    )
    _db(status)

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
        _db(outbox_commands.add_parser(name, help=text))

    reports = commands.add_parser("reports", help="finance reports from the read models")
    report_commands = reports.add_subparsers(dest="report", required=True, metavar="REPORT")
    aging = report_commands.add_parser("aging", help="open balances by days past their deadline")
    aging.add_argument("--as-of", type=moment, help="as recorded at this moment (default: now)")
    aging.add_argument("--detail", action="store_true", help="one line per open invoice")
    _format(aging, "text", "csv", "jsonl")
    _db(aging)
    income = report_commands.add_parser(
        "revenue", help="invoiced, VAT, paid, credit used and voided per Jalali month"
    )
    income.add_argument(
        "--from", dest="first", metavar="YYYY/MM", help="first Jalali month, e.g. 1405/01"
    )
    income.add_argument("--to", dest="last", metavar="YYYY/MM", help="last Jalali month")
    income.add_argument(
        "--as-of", type=moment, help="as recorded at this moment (default: everything)"
    )
    _format(income, "text", "csv", "jsonl")
    _db(income)

    invoice = commands.add_parser("invoice", help="invoice documents")
    invoice_commands = invoice.add_subparsers(dest="invoice_command", required=True, metavar="CMD")
    pdf = invoice_commands.add_parser(
        "pdf", help="write an invoice's official invoice (default) or plain invoice as PDF"
    )
    pdf.add_argument("invoice_id", type=aggregate_id)
    pdf.add_argument("--out", required=True, metavar="FILE", help="where to write the PDF")
    pdf.add_argument(
        "--plain",
        action="store_true",
        help="the plain invoice (a proforma while unpaid) instead of the official one",
    )
    _db(pdf)
    official = invoice_commands.add_parser(
        "official", help="issue the official invoice of a paid invoice (once) and print it"
    )
    official.add_argument("invoice_id", type=aggregate_id)
    _db(official)
    return parser


# --- running -------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {
        ("demo", None): run_demo,
        ("scheduler", None): run_scheduler,
        ("serve", None): run_serve,
        ("sandbox-gateway", None): run_sandbox,
        ("tokens", "create"): run_token_create,
        ("audit", "timeline"): run_timeline,
        ("audit", "as-of"): run_as_of,
        ("audit", "explain"): run_explain,
        ("audit", "verify"): run_verify,
        ("projections", "rebuild"): run_rebuild,
        ("projections", "status"): run_projection_status,
        ("outbox", "status"): run_outbox,
        ("outbox", "failed"): run_outbox,
        ("outbox", "retry"): run_outbox,
        ("outbox", "send"): run_outbox,
        ("outbox", "reconcile-sites"): run_outbox,
        ("reports", "aging"): run_aging,
        ("reports", "revenue"): run_revenue,
        ("invoice", "pdf"): run_invoice_pdf,
        ("invoice", "official"): run_invoice_official,
    }[
        (
            args.command,
            getattr(args, "audit_command", None)
            or getattr(args, "projections_command", None)
            or getattr(args, "outbox_command", None)
            or getattr(args, "tokens_command", None)
            or getattr(args, "report", None)
            or getattr(args, "invoice_command", None),
        )
    ]
    try:
        return handler(args)
    except BillingError as error:
        print(f"billing: {error.message} [{error.code}]", file=sys.stderr)
        if isinstance(error, NotFound):
            return EXIT_NOT_FOUND
        return EXIT_USAGE if isinstance(error, InvalidInput) else EXIT_REFUSED
    except ConfigurationError as error:
        print(f"billing: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except MapperDeserialisationError as error:  # a stored event's bytes no longer decode
        print(
            f"billing: a stored event cannot be read, so this answer cannot be given: {error}. "
            "The store may have been altered; `billing audit verify` names every changed or "
            "removed event.",
            file=sys.stderr,
        )
        return EXIT_REFUSED
    except BrokenPipeError:  # e.g. `billing demo | head`
        return EXIT_OK


def _application(db: str | None):
    from bootstrap import build_application

    return build_application(**database_url_for(db))


def _read_models(app, db: str | None):
    from bootstrap import build_read_models

    read_models = build_read_models(app, **database_url_for(db))
    read_models.catch_up()
    return read_models


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

    _print_timeline(timeline(app, subscription_id), args.format)
    if args.db != "memory":
        _read_models(app, args.db)  # the engine keeps its read models current
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


def _logging() -> None:
    """INFO for the engine; libraries only when something is wrong (httpx would log every
    request's URL, APScheduler every run it skipped because the last one still runs)."""
    import logging

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app import create_app
    from bootstrap import build_engine

    _logging()
    engine = build_engine(**database_url_for(args.db))
    api = create_app(engine, start_scheduler=not args.no_scheduler)
    base = f"http://{args.host}:{args.port}"
    lines = [
        f"billing API on {base} (OpenAPI at {base}/docs), store {engine.app.describe()['persistence']}"
    ]
    if args.demo and engine.app.seller is None:
        engine.app.seller = _demo_seller()
        lines.append(
            "official invoices name a SAMPLE seller (demo only): set BILLING_SELLER_* and "
            "BILLING_TAX_MEMORY_ID for real ones"
        )

    if args.demo or engine.settings.test_mode:
        # The demo and test mode pay through the sandbox gateway by default.
        sandbox = _sandbox_if_needed(engine)
        if sandbox:
            lines.append(f"sandbox payment gateway on {sandbox} (payment links lead there)")
    if args.demo:
        lines += _seed_demo(api)
    else:
        lines.append("create a token with: .venv/bin/billing tokens create --role admin")

    print("\n".join(lines), file=sys.stderr)
    uvicorn.run(api, host=args.host, port=args.port, log_level="warning")
    engine.close()
    return EXIT_OK


def run_sandbox(args: argparse.Namespace) -> int:
    from adapters.sandbox_gateway import SandboxGateway

    gateway = SandboxGateway(args.merchant_id, port=args.port)
    print(
        f"sandbox gateway on {gateway.url} (merchant id {args.merchant_id}); stop with Ctrl-C",
        file=sys.stderr,
    )
    with contextlib.suppress(KeyboardInterrupt):
        gateway.httpd.serve_forever()
    return EXIT_OK


def _sandbox_if_needed(engine) -> str | None:
    """`serve --demo` and `serve` in test mode start the sandbox gateway in-process when the
    gateway is a loopback one and nothing answers there."""

    import socket
    from urllib.parse import urlsplit

    from adapters.sandbox_gateway import SandboxGateway

    settings = engine.settings
    parts = urlsplit(settings.gateway_url)
    if parts.hostname not in ("127.0.0.1", "localhost"):
        return None
    with socket.socket() as probe:
        probe.settimeout(0.5)
        if probe.connect_ex((parts.hostname, parts.port or 80)) == 0:
            return None  # one is running already
    SandboxGateway(settings.gateway_merchant_id, port=parts.port or 80).start()
    return settings.gateway_url


def _seed_demo(api) -> list[str]:
    """A plan catalogue, one customer of each kind, and tokens to try the API with."""
    from domain.customer import BillingProfile
    from domain.plans import LifecyclePolicy

    ctx = api.state.context
    app, now = ctx.app, ctx.now()
    for plan in (
        Plan(id="basic", name="Basic", monthly_price=Money(1_500_000)),
        Plan(id="business", name="Business", monthly_price=Money(2_500_000)),
        Plan(
            id="pro",
            name="Pro",
            monthly_price=Money(6_000_000),
            policy=LifecyclePolicy(grace_days=5),
        ),
    ):
        app.define_plan(plan, now)
    known = {
        row["email"]
        for row in ctx.fresh_read_models().query("SELECT email FROM {rm_customer_accounts}")
    }
    people = {
        "sara@example.ir": BillingProfile(
            name="سارا احمدی",
            kind="person",
            email="sara@example.ir",
            mobile="09121234567",
            national_code="0012345679",
        ),
        "finance@pars.example.ir": BillingProfile(
            name="شرکت پارس",
            kind="legal",
            email="finance@pars.example.ir",
            mobile="09351234567",
            economic_code="411111111111",
            national_id="10380284790",
            registration_number="12345",
            postal_code="1193653471",
            address="تهران، خیابان ولیعصر، پلاک ۱",
        ),
    }
    ids = [
        app.register_customer(profile, now)
        for email, profile in people.items()
        if email not in known
    ]
    lines = [
        "demo: plans basic, business, pro"
        + (f"; customers {', '.join(map(str, ids))}" if ids else "")
    ]
    admin = ctx.tokens.create("admin", now, label="billing serve --demo")
    finance = ctx.tokens.create("finance", now, label="billing serve --demo")
    lines += [f"demo admin token:   {admin}", f"demo finance token: {finance}"]
    if ids:
        lines.append(
            f"demo customer token ({ids[0]}): {ctx.tokens.create('customer', now, subject=ids[0], label='demo')}"
        )
    return lines


def run_token_create(args: argparse.Namespace) -> int:
    from bootstrap import build_engine

    engine = build_engine(**database_url_for(args.db))
    subject = args.customer or args.representative
    if args.role == "customer" and args.customer is None:
        print("billing: a customer token needs --customer ID", file=sys.stderr)
        return EXIT_USAGE
    if args.role == "representative" and args.representative is None:
        print("billing: a representative token needs --representative ID", file=sys.stderr)
        return EXIT_USAGE
    if args.customer is not None:
        engine.app.get_customer(args.customer)
    from adapters.tokens import TokenStore

    token = TokenStore(engine.read_models).create(
        args.role, engine.clock.now(), subject=subject, label=args.label
    )
    engine.close()
    print(f"{args.role} token (shown once; keep it secret):")
    print(token)
    return EXIT_OK


def run_scheduler(args: argparse.Namespace) -> int:
    import signal

    from bootstrap import build_engine

    _logging()
    overrides: dict[str, Any] = database_url_for(args.db)
    if args.interval is not None:
        overrides["tick_interval"] = args.interval
    engine = build_engine(**overrides)
    if args.metrics_port is not None:
        engine.serve_metrics(args.metrics_host, args.metrics_port)
        print(
            f"scheduler metrics on http://{args.metrics_host}:{args.metrics_port}/metrics",
            file=sys.stderr,
        )
    if args.once:
        report = engine.tick()
        print(
            f"{len(report.executed)} step(s) executed and {report.delivered} delivery(ies) sent at {iso(report.at)}",
            file=sys.stderr,
        )
        engine.close()
        if report.failed:
            print(
                f"billing: {len(report.failed)} due subscription(s) could not be advanced "
                f"(see the log above): {', '.join(report.failed)}",
                file=sys.stderr,
            )
            return EXIT_REFUSED
        return EXIT_OK

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stopping.set())
    print(f"scheduler ticking every {engine.interval:g}s; stop with Ctrl-C", file=sys.stderr)
    engine.start()
    while not stopping.wait(0.5):
        pass
    engine.close()  # a clean stop: the tick under way finishes first
    print("scheduler stopped", file=sys.stderr)
    return EXIT_OK


# --- audit ---------------------------------------------------------------------------------------


def run_timeline(args: argparse.Namespace) -> int:
    _print_timeline(timeline(_application(args.db), args.aggregate_id), args.format)
    return EXIT_OK


def _print_timeline(entries: list[TimelineEntry], fmt: str) -> None:
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
                    json.dumps(e.data, ensure_ascii=False),
                ]
            )
        return
    for entry in entries:
        line = (
            f"{format_moment(entry.recorded_at)}  {iso(entry.recorded_at)}  "
            f"{entry.aggregate:<12} {entry.event:<22} {describe(entry)}"
        )
        if entry.late_by:
            line += f"  [due {iso(entry.due_at)}, recorded {entry.late_by} late]"
        out.write(line + "\n")


def run_as_of(args: argparse.Namespace) -> int:
    from service_layer.audit import describe_as_of

    state = describe_as_of(_application(args.db), args.aggregate_id, args.at)
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

    at = args.at or SystemClock().now()
    app = _application(args.db)
    read_models = _read_models(app, args.db)
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


def run_verify(args: argparse.Namespace) -> int:
    from adapters.chain import has_chain, verify_stored_chain

    app = _application(args.db)
    read_models = _read_models(app, args.db)
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
        position, drifts = read_models.verify(progress=_progress("rebuilding read models"))
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
    _print_unstorable(read_models)
    return EXIT_REFUSED if failed else EXIT_OK


def _print_unstorable(read_models) -> None:
    """Stored events whose text a read model could not hold as recorded: worth a look, not a
    failure (the events are as recorded, the rows equal them with U+FFFD in place)."""
    if read_models.unstorable:
        print(f"note: {len(read_models.unstorable)} stored event(s) hold text stored with U+FFFD:")
        for finding in read_models.unstorable:
            print(f"  {finding}")


def _progress(label: str):
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


# --- projections and reports ---------------------------------------------------------------------


def run_rebuild(args: argparse.Namespace) -> int:
    from projections.views import read_model

    for name in args.name:
        try:
            read_model(name)
        except KeyError as error:
            print(f"billing: {error.args[0]}", file=sys.stderr)
            return EXIT_USAGE
    app = _application(args.db)
    read_models = _read_models(app, args.db)
    last = read_models.rebuild(args.name or None, progress=_progress("rebuilding"))
    print(f"rebuilt {', '.join(args.name) or 'every read model'} from {last:,} event(s)")
    _print_unstorable(read_models)
    return EXIT_OK


def run_projection_status(args: argparse.Namespace) -> int:
    app = _application(args.db)
    read_models = _read_models(app, args.db)
    for name, position in read_models.positions().items():
        print(f"{name:<20} at event #{position}")
    return EXIT_OK


def run_outbox(args: argparse.Namespace) -> int:
    from bootstrap import build_engine

    engine = build_engine(**database_url_for(args.db))
    store = engine.dispatcher.store
    engine.read_models.catch_up()
    if args.outbox_command == "status":
        rows = [
            {"channel": c, "status": s, "deliveries": n}
            for (c, s), n in sorted(store.counts().items())
        ]
        _rows_out(rows, "text", ["channel", "status", "deliveries"])
    elif args.outbox_command == "failed":
        rows = store.failed_deliveries()
        _rows_out(
            rows,
            "text",
            ["delivery_id", "channel", "kind", "recipient", "status", "attempts", "last_error"],
        )
        if not rows:
            print("no failed deliveries")
    elif args.outbox_command == "retry":
        print(f"{store.requeue_failed(engine.clock.now())} failed delivery(ies) queued again")
    elif args.outbox_command == "reconcile-sites":
        if "platform" not in engine.dispatcher.senders:
            print("billing: the hosting platform is not configured (BILLING_PLATFORM_URL)")
            engine.close()
            return EXIT_CONFIG
        corrected = engine.reconcile_sites()
        print(f"{corrected} site(s) differed from the engine; their corrections are queued")
    else:
        report = engine.dispatcher.dispatch(limit=1_000)
        print(
            f"delivered {report.delivered}, retrying {report.retried}, failed {report.failed}, skipped {report.skipped}"
        )
    engine.close()
    return EXIT_OK


def _rows_out(rows: list[dict[str, Any]], fmt: str, columns: list[str]) -> None:
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


def run_aging(args: argparse.Namespace) -> int:
    from projections.reports import AGING_BUCKETS, aging

    app = _application(args.db)
    as_of = args.as_of or SystemClock().now()
    report = aging(_read_models(app, args.db), as_of)
    if args.detail:
        _rows_out(
            report.invoices,
            args.format,
            ["invoice_id", "subscription_id", "deadline", "bucket", "balance"],
        )
        return EXIT_OK
    rows = [{"bucket": b, "balance": report.totals[b]} for b in AGING_BUCKETS]
    rows.append({"bucket": "total", "balance": report.total})
    if args.format == "text":
        print(
            f"aging of open balances (rials) as recorded at {iso(as_of)} ({format_moment(as_of)})"
        )
    _rows_out(rows, args.format, ["bucket", "balance"])
    return EXIT_OK


def run_revenue(args: argparse.Namespace) -> int:
    from projections.reports import REVENUE_COLUMNS, revenue

    app = _application(args.db)
    rows = revenue(
        _read_models(app, args.db), first_month=args.first, last_month=args.last, as_of=args.as_of
    )
    if args.format == "text":
        print(
            "revenue by Jalali month (rials)"
            + (f", as recorded at {iso(args.as_of)}" if args.as_of else "")
        )
    _rows_out(rows, args.format, ["jalali_month", *REVENUE_COLUMNS])
    return EXIT_OK


def run_invoice_pdf(args: argparse.Namespace) -> int:
    from adapters.documents.pdf import InvoiceDocuments
    from adapters.settings import Settings

    app = _application(args.db)
    invoice = app.get_invoice(args.invoice_id)
    documents = InvoiceDocuments()
    if args.plain:
        seller = app.seller.party.name if app.seller else Settings().portal_name
        content = documents.plain_pdf(
            invoice, app.get_customer(invoice.customer_id).profile, seller
        )
        what = "proforma" if invoice.is_open else "invoice"
    else:
        if invoice.official is None:
            raise app.why_no_official(invoice.id)
        content = documents.official_pdf(invoice)
        what = f"official invoice {invoice.official.number_text}"
    with open(args.out, "wb") as out:
        out.write(content)
    print(f"{what} of invoice {invoice.id} written to {args.out} ({len(content):,} bytes)")
    return EXIT_OK


def run_invoice_official(args: argparse.Namespace) -> int:
    from adapters.clock import SystemClock

    app = _application(args.db)
    record = app.issue_official_invoice(args.invoice_id, SystemClock().now())
    print(
        f"official invoice {record.number_text} of invoice {args.invoice_id}: issued "
        f"{record.issued_at.isoformat()}, tax ID {record.tax_id}, terms {record.terms.value}"
    )
    return EXIT_OK


def _demo_seller():
    """A sample seller for `serve --demo`, so a demo company's payment shows an official invoice."""
    from domain.official import Party, Seller

    return Seller(
        Party(
            name="شرکت نمونه سامان ۳۶۰ (نمونه، برای نمایش)",
            economic_code="10380284790",
            national_id="10380284790",
            registration_number="556677",
            postal_code="1193653471",
            address="تهران، خیابان آزادی، پلاک ۱۰",
            phone="02166554433",
        ),
        memory_id="DEMO01",
    )


if __name__ == "__main__":
    sys.exit(main())
