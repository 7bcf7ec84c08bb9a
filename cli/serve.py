"""The long-running processes: ``serve`` (the HTTP API), ``scheduler``, ``sandbox-gateway``."""

from __future__ import annotations

import argparse
import contextlib
import errno
import sys
import threading
from typing import TYPE_CHECKING, Any

from cli.common import (
    EXIT_CONFIG,
    EXIT_OK,
    EXIT_REFUSED,
    configure_logging,
    database_url_for,
    store_command,
)
from domain.money import Money
from domain.plans import Plan
from service_layer.timeline import iso

if TYPE_CHECKING:
    from bootstrap import Runtime


def add_serve_parser(commands) -> None:
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
    serve.add_argument(
        "--workers",
        type=_positive,
        default=1,
        metavar="N",
        help="N API worker processes on the one port (default 1); the scheduler runs once, in "
        "the supervising process (docs/DEPLOY.md)",
    )
    serve.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve the in-process scheduler's Prometheus metrics on http://HOST:PORT/metrics",
    )
    serve.add_argument(
        "--metrics-host", default="127.0.0.1", help="where to serve them (default 127.0.0.1)"
    )
    store_command(serve, run_serve)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def add_sandbox_parser(commands) -> None:
    sandbox = commands.add_parser(
        "sandbox-gateway",
        help="a sandbox payment gateway speaking Zarinpal's v4 protocol, on loopback",
    )
    sandbox.add_argument("--port", type=int, default=8010)
    sandbox.add_argument("--merchant-id", default="00000000-0000-0000-0000-000000000000")
    sandbox.set_defaults(run=run_sandbox)


def add_scheduler_parser(commands) -> None:
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
    store_command(sched, run_scheduler)


# --- the scheduler -------------------------------------------------------------------------------


def run_scheduler(args: argparse.Namespace) -> int:
    import signal

    from adapters.collector import freeze_what_startup_made
    from bootstrap import build_runtime

    configure_logging()
    overrides: dict[str, Any] = database_url_for(args.db)
    if args.interval is not None:
        overrides["tick_interval"] = args.interval
    runtime = build_runtime(**overrides)
    if args.metrics_port is not None:
        runtime.serve_metrics(args.metrics_host, args.metrics_port)
        print(
            f"scheduler metrics on http://{args.metrics_host}:{args.metrics_port}/metrics",
            file=sys.stderr,
        )
    if args.once:
        report = runtime.tick()
        print(
            f"{len(report.executed)} step(s) executed and {report.delivered} delivery(ies) sent at {iso(report.at)}",
            file=sys.stderr,
        )
        runtime.close()
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
    print(f"scheduler ticking every {runtime.interval:g}s; stop with Ctrl-C", file=sys.stderr)
    freeze_what_startup_made()  # out of every later full collection's walk
    runtime.start()
    while not stopping.wait(0.5):
        pass
    runtime.close()  # a clean stop: the tick under way finishes first
    print("scheduler stopped", file=sys.stderr)
    return EXIT_OK


# --- the HTTP API --------------------------------------------------------------------------------


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app import create_app
    from bootstrap import build_runtime

    if args.workers > 1 and args.demo:
        print(
            "billing: --demo seeds and serves one process; leave out --workers (or seed once "
            "with `billing serve --demo`, stop it, then serve the same store with --workers).",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    if args.metrics_port is not None and args.no_scheduler:
        print(
            "billing: --metrics-port serves the in-process scheduler's metrics, and "
            "--no-scheduler runs none here (give it to `billing scheduler`).",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    configure_logging()
    overrides = database_url_for(args.db)
    runtime = build_runtime(**overrides)
    if args.workers > 1:
        return _serve_workers(args, runtime, overrides)
    api = create_app(runtime, start_scheduler=not args.no_scheduler, freeze_startup=True)
    base = f"http://{args.host}:{args.port}"
    lines = [
        f"billing API on {base} (OpenAPI at {base}/docs), store {runtime.app.describe()['persistence']}"
    ]
    if args.demo and runtime.app.seller is None:
        runtime.app.seller = _demo_seller()
        lines.append(
            "official invoices name a SAMPLE seller (demo only): set BILLING_SELLER_* and "
            "BILLING_TAX_MEMORY_ID for real ones"
        )

    if args.demo or runtime.settings.test_mode:
        # The demo and test mode pay through the sandbox gateway by default.
        sandbox = _sandbox_if_needed(runtime)
        if sandbox:
            lines.append(f"sandbox payment gateway on {sandbox} (payment links lead there)")
    if args.demo:
        lines += _seed_demo(runtime, base)
    else:
        lines.append("create a token with: .venv/bin/billing tokens create --role admin")

    print("\n".join(lines), file=sys.stderr)
    if args.metrics_port is not None:
        _serve_scheduler_metrics(runtime, args)
    uvicorn.run(api, host=args.host, port=args.port, log_level="warning")
    runtime.close()
    return EXIT_OK


def _serve_workers(args: argparse.Namespace, runtime: Runtime, overrides: dict[str, Any]) -> int:
    """``--workers N``: uvicorn's supervisor binds the port and starts N worker processes that
    share it, each with a runtime of its own (:func:`worker_app`), and restarts one that dies
    (SIGHUP replaces them one by one). This process runs the scheduler, so it ticks once
    however many workers serve; the workers run none."""
    import os

    import uvicorn

    # Spawned workers build their runtime from the environment: the store given with --db too.
    os.environ.update({f"BILLING_{k.upper()}": str(v) for k, v in overrides.items()})
    base = f"http://{args.host}:{args.port}"
    scheduler = "none (run `billing scheduler`)" if args.no_scheduler else "in this process"
    print(
        f"billing API on {base} (OpenAPI at {base}/docs) in {args.workers} worker processes, "
        f"store {runtime.app.describe()['persistence']}; scheduler {scheduler}",
        file=sys.stderr,
    )
    if runtime.settings.test_mode:
        sandbox = _sandbox_if_needed(runtime)
        if sandbox:
            print(
                f"sandbox payment gateway on {sandbox} (payment links lead there)", file=sys.stderr
            )
    if args.no_scheduler:
        runtime.close()  # it made the tables; its pool would only hold connections idle
    else:
        runtime.start()
        if args.metrics_port is not None:
            _serve_scheduler_metrics(runtime, args)
    try:
        uvicorn.run(
            "cli.serve:worker_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level="warning",
            # A new worker imports the engine and builds its runtime before it answers the
            # supervisor: with uvicorn's default 5 s a slow start on a loaded machine would
            # give a SIGHUP's rolling restart up (the old worker kept).
            timeout_worker_healthcheck=WORKER_START_TIMEOUT,
        )
    finally:
        if not args.no_scheduler:
            runtime.close()  # the tick under way finishes first
    return EXIT_OK


#: Seconds a new worker of ``serve --workers`` has to start serving before the supervisor
#: gives it up (and, once serving, to answer the supervisor's ping).
WORKER_START_TIMEOUT = 30


def worker_app():
    """One worker process of ``serve --workers``: its own runtime from the settings (pools,
    read models, caches), the API over it, and no scheduler (the supervisor runs it)."""
    from app import create_app
    from bootstrap import build_runtime

    configure_logging()
    return create_app(
        build_runtime(), start_scheduler=False, close_on_shutdown=True, freeze_startup=True
    )


def _serve_scheduler_metrics(runtime: Runtime, args: argparse.Namespace) -> None:
    runtime.serve_metrics(args.metrics_host, args.metrics_port)
    print(
        f"scheduler metrics on http://{args.metrics_host}:{args.metrics_port}/metrics",
        file=sys.stderr,
    )


def run_sandbox(args: argparse.Namespace) -> int:
    from bootstrap import build_sandbox_gateway

    try:
        gateway = build_sandbox_gateway(args.merchant_id, args.port)
    except OSError as error:  # the port is taken, or not ours to bind
        print(
            f"billing: the sandbox gateway cannot listen on 127.0.0.1:{args.port} ({error.strerror}); "
            "stop what uses that port or give another with --port.",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    print(
        f"sandbox gateway on {gateway.url} (merchant id {args.merchant_id}); stop with Ctrl-C",
        file=sys.stderr,
    )
    with contextlib.suppress(KeyboardInterrupt):
        gateway.httpd.serve_forever()
    return EXIT_OK


def _sandbox_if_needed(runtime: Runtime) -> str | None:
    """`serve --demo` and `serve` in test mode start the sandbox gateway in-process when the
    gateway is a loopback one and nothing answers there."""

    import socket
    from urllib.parse import urlsplit

    from bootstrap import build_sandbox_gateway

    settings = runtime.settings
    parts = urlsplit(settings.gateway_url)
    if parts.hostname not in ("127.0.0.1", "localhost"):
        return None
    with socket.socket() as probe:
        probe.settimeout(0.5)
        if probe.connect_ex((parts.hostname, parts.port or 80)) == 0:
            return None  # one is running already
    try:
        build_sandbox_gateway(settings.gateway_merchant_id, parts.port or 80).start()
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        return None  # another process started together with this one started it first
    return settings.gateway_url


#: A company's national id and a postal code that pass the profile checks, for the demo's sample
#: company and sample seller.
SAMPLE_NATIONAL_ID = "10380284790"
SAMPLE_POSTAL_CODE = "1193653471"


#: The demo's finance person signs in to the back office with these (``billing serve --demo``
#: only; a real deployment sets passwords with ``billing staff set-password``).
DEMO_FINANCE_EMAIL = "maryam@saman360.example"
DEMO_FINANCE_PASSWORD = "demo-finance-1405"


def _seed_demo(runtime: Runtime, base: str) -> list[str]:
    """A plan catalogue, one customer of each kind, and tokens to try the API with."""
    from domain.base import deterministic_id
    from domain.customer import BillingProfile, CustomerKind
    from domain.plans import LifecyclePolicy

    app, now = runtime.app, runtime.clock.now()
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
    runtime.read_models.catch_up()
    known = {
        row["email"]
        for row in runtime.read_models.query("SELECT email FROM {rm_customer_accounts}")
    }
    people = [
        BillingProfile(
            name="سارا احمدی",
            kind=CustomerKind.PERSON,
            email="sara@example.ir",
            mobile="09121234567",
            national_code="0012345679",
        ),
        BillingProfile(
            name="شرکت پارس",
            kind=CustomerKind.LEGAL,
            email="finance@pars.example.ir",
            mobile="09351234567",
            economic_code="411111111111",
            national_id=SAMPLE_NATIONAL_ID,
            registration_number="12345",
            postal_code=SAMPLE_POSTAL_CODE,
            address="تهران، خیابان ولیعصر، پلاک ۱",
        ),
    ]
    ids = [app.register_customer(profile, now) for profile in people if profile.email not in known]
    lines = [
        "demo: plans basic, business, pro"
        + (f"; customers {', '.join(map(str, ids))}" if ids else "")
    ]
    tokens = runtime.tokens
    admin = tokens.create("admin", now, label="billing serve --demo")
    # The finance token is a person's, so what it does is recorded in her name (the same id on
    # every start adds her once).
    maryam = app.add_staff(
        "مریم کریمی",
        "finance",
        now,
        email=DEMO_FINANCE_EMAIL,
        staff_id=deterministic_id("demo staff", "finance"),
    )
    app.set_staff_password(maryam, DEMO_FINANCE_PASSWORD, now)
    finance = tokens.issue_for_staff(maryam, now, label="billing serve --demo").token
    lines += [
        f"demo admin token:   {admin}",
        f"demo finance token (staff member مریم کریمی, {maryam}): {finance}",
        f"back office: {base}/office (sign in as {DEMO_FINANCE_EMAIL}, password "
        f"{DEMO_FINANCE_PASSWORD}; demo only)",
    ]
    if ids:
        lines.append(
            f"demo customer token ({ids[0]}): {tokens.create('customer', now, subject=ids[0], label='demo')}"
        )
    return lines


def _demo_seller():
    """A sample seller for `serve --demo`, so a demo company's payment shows an official invoice."""
    from domain.official import Party, Seller

    return Seller(
        Party(
            name="شرکت نمونه سامان ۳۶۰ (نمونه، برای نمایش)",
            economic_code=SAMPLE_NATIONAL_ID,
            national_id=SAMPLE_NATIONAL_ID,
            registration_number="556677",
            postal_code=SAMPLE_POSTAL_CODE,
            address="تهران، خیابان آزادی، پلاک ۱۰",
            phone="02166554433",
        ),
        memory_id="DEMO01",
    )
