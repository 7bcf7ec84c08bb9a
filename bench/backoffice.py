"""Each back-office page's server time, at the demo's data and at 10,000 customers, against
``/healthz`` in the same run.

What is measured
    For each scale a SQLite file is seeded in-process through the engine
    (``bootstrap.build_engine``): the demo's plans, customers and finance member
    (``billing serve --demo``), each demo customer with a site, plus, at the larger scale,
    ``--customers`` (10,000) generated customers (people with Persian names from a small list,
    so a first name such as «علی» matches about one customer in eight, valid national codes and
    mobiles; one in 20 an organisation), each with a monthly site and its first invoice; every
    organisation asks to pay offline, and every other one's request is approved and has a bank
    receipt under review (the queue's rows). The read models are caught up
    before serving.

    The engine is then served as production serves it, in a separate process (``uvicorn`` on
    127.0.0.1, one worker, ``create_app(build_engine(database_url=URL),
    start_scheduler=False)``), wrapped in an ASGI timer that adds ``X-Server-Time``: the
    seconds from the request reaching the app to the response starting (the page rendered,
    before the body is written). This process signs in through the form as the demo's finance
    member and asks each page ``--requests`` times (after ``--warmup`` untimed requests), one
    at a time on one keep-alive connection, interleaving ``/healthz`` between pages so both
    see the same machine. Reported per page: the median and p95 server time, the median round
    trip, and ``ratio``: the page's median server time over ``/healthz``'s.

    A page this branch does not serve (404) is listed as absent, not timed: the pages are
    written by several people, and the script measures what the engine serves when it runs.

Usage
    .venv/bin/python bench/backoffice.py [--customers 10000] [--requests 40] [--warmup 5]
        [--quick]           # 2,000 customers, 15 requests
        [--keep DIR]        # keep the seeded stores there and reuse them next time
    .venv/bin/python bench/backoffice.py --serve URL --port P   # the server process (internal)

The store is a temporary directory, removed at the end; the server process is always stopped.
Progress goes to stderr, a table to stdout, and the last line of stdout is one JSON object.
There are no timing assertions: this script measures, it does not judge.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FIRST = ["علی", "محمد", "زهرا", "فاطمه", "رضا", "مریم", "حسین", "سارا"]
LAST = ["کریمی", "احمدی", "رضایی", "محمدی", "حسینی", "موسوی", "جعفری", "کاظمی", "رحیمی", "صادقی"]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the server process --------------------------------------------------------------------------


def serve(url: str, port: int) -> int:
    import uvicorn

    from app import create_app
    from bootstrap import build_engine

    app = create_app(build_engine(database_url=url), start_scheduler=False)

    async def timed(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        start = time.perf_counter()

        async def send_timed(message: dict) -> None:
            if message["type"] == "http.response.start":
                spent = f"{time.perf_counter() - start:.6f}".encode()
                message = {**message, "headers": [*message["headers"], (b"x-server-time", spent)]}
            await send(message)

        await app(scope, receive, send_timed)

    uvicorn.run(timed, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    return 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, url: str) -> None:
        self.url = url
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", self.url, "--port", str(self.port)],
            cwd=ROOT,
        )
        import httpx

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("the server did not start")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# --- seeding ---------------------------------------------------------------------------------------


def national_code(n: int) -> str:
    from domain.identifiers import _national_code_check_digit

    first_nine = f"{100_000_000 + n:09d}"
    return first_nine + str(_national_code_check_digit(first_nine))


def seed(url: str, customers: int, rng: random.Random) -> dict[str, Any]:
    """The demo's data and ``customers`` more; what the pages are asked about."""
    from bootstrap import build_engine
    from cli.serve import SAMPLE_NATIONAL_ID, SAMPLE_POSTAL_CODE, _seed_demo
    from domain.customer import BillingProfile, CustomerKind

    runtime = build_engine(database_url=url)
    app, now = runtime.app, runtime.clock.now()
    _seed_demo(runtime, "http://127.0.0.1")
    runtime.read_models.catch_up()
    demo = [
        r["customer_id"]
        for r in runtime.read_models.query(
            "SELECT customer_id FROM {rm_customer_accounts} ORDER BY name"
        )
    ]
    from uuid import UUID

    subscriptions = [app.start_subscription(UUID(c), "business", "monthly", now) for c in demo]
    company = next(
        r["customer_id"]
        for r in runtime.read_models.query("SELECT customer_id, kind FROM {rm_customer_accounts}")
        if r["kind"] == "legal"
    )
    invoice = app.get_subscription(subscriptions[-1]).invoice_ids[0]
    started = time.perf_counter()
    for n in range(customers):
        if n % 20 == 0:  # an organisation, which may pay offline
            profile = BillingProfile(
                name=f"شرکت {rng.choice(LAST)} {n}",
                kind=CustomerKind.LEGAL,
                email=f"c{n}@example.ir",
                mobile=f"0935{n:07d}",
                economic_code="411111111111",
                national_id=SAMPLE_NATIONAL_ID,
                postal_code=SAMPLE_POSTAL_CODE,
                address="تهران",
            )
        else:
            profile = BillingProfile(
                name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                kind=CustomerKind.PERSON,
                email=f"c{n}@example.ir",
                mobile=f"0912{n:07d}",
                national_code=national_code(n),
            )
        customer = app.register_customer(profile, now)
        sub = app.start_subscription(customer, "business", "monthly", now)
        if n % 20 == 0:
            bill = app.get_subscription(sub).invoice_ids[0]
            request = app.request_offline_payment(bill, "پرداخت از حساب شرکت", now)
            if n % 40 == 0:
                app.decide_offline_payment(bill, request, now, approve=True, reason="")
                app.register_receipt(
                    bill,
                    bank="012",
                    tracking_number=f"{700000 + n}",
                    amount=app.get_invoice(bill).total,
                    paid_on="1405/02/01",
                    now=now,
                )
        if n and n % 1000 == 0:
            rate = n / (time.perf_counter() - started)
            log(f"  seeded {n} customers ({rate:.0f}/s)")
    log("  catching the read models up")
    runtime.read_models.catch_up()
    rows = runtime.read_models.query("SELECT COUNT(*) AS n FROM {rm_search_keys}")
    keys = rows[0]["n"]
    runtime.close()
    return {
        "customer": company,
        "subscription": str(subscriptions[-1]),
        "invoice": str(invoice),
        "national_code": "0012345679",
        "search_keys": keys,
    }


# --- measuring ---------------------------------------------------------------------------------


def pages(seeded: dict[str, Any]) -> list[tuple[str, str]]:
    fa = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
    return [
        ("queue", "/office/queue"),
        ("search: a first name («علی»)", "/office/search?q=" + quote("علی")),
        ("search: two words, Arabic ي/ك", "/office/search?q=" + quote("علي كريمي")),
        (
            "search: national code, Persian digits",
            "/office/search?q=" + quote(seeded["national_code"].translate(fa)),
        ),
        ("search: invoice id", "/office/search?q=" + seeded["invoice"][:8]),
        ("customer", f"/office/customers/{seeded['customer']}"),
        ("subscription", f"/office/subscriptions/{seeded['subscription']}"),
        ("reports", "/office/reports"),
        ("staff actions", "/office/actions"),
        ("health", "/office/health"),
    ]


def sign_in(http: Any) -> None:
    from cli.serve import DEMO_FINANCE_EMAIL, DEMO_FINANCE_PASSWORD

    form = http.get("/office/sign-in")
    pre = re.search(r'name="pre" value="([^"]+)"', form.text)
    assert pre is not None, "the sign-in form"
    answer = http.post(
        "/office/sign-in",
        data={
            "email": DEMO_FINANCE_EMAIL,
            "password": DEMO_FINANCE_PASSWORD,
            "pre": pre.group(1),
            "next": "/office/search",
        },
    )
    assert answer.status_code == 303, answer.text


def timed(http: Any, path: str) -> tuple[int, float, float]:
    started = time.perf_counter()
    answer = http.get(path)
    trip = time.perf_counter() - started
    return answer.status_code, float(answer.headers.get("x-server-time", "nan")), trip


def figures(server: list[float], trips: list[float]) -> dict[str, float]:
    ordered = sorted(server)
    return {
        "median_ms": statistics.median(server) * 1000,
        "p95_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000,
        "round_trip_median_ms": statistics.median(trips) * 1000,
    }


def measure(base: str, seeded: dict[str, Any], requests: int, warmup: int) -> dict[str, Any]:
    import httpx

    results: dict[str, Any] = {}
    health: tuple[list[float], list[float]] = ([], [])
    with httpx.Client(base_url=base, timeout=60, follow_redirects=False) as http:
        sign_in(http)
        for name, path in pages(seeded):
            status, _, _ = timed(http, path)
            if status == 404:
                results[name] = {"path": path, "status": "absent (404 on this branch)"}
                log(f"  {name}: absent")
                continue
            if status != 200:
                results[name] = {"path": path, "status": f"HTTP {status}"}
                log(f"  {name}: HTTP {status}")
                continue
            for _ in range(warmup):
                timed(http, path)
                timed(http, "/healthz")
            server: list[float] = []
            trips: list[float] = []
            for _ in range(requests):
                _, spent, trip = timed(http, path)
                server.append(spent)
                trips.append(trip)
                _, spent, trip = timed(http, "/healthz")
                health[0].append(spent)
                health[1].append(trip)
            results[name] = {"path": path, "status": "200", **figures(server, trips)}
            log(f"  {name}: median {results[name]['median_ms']:.1f} ms")
    baseline = figures(*health)
    for row in results.values():
        if "median_ms" in row:
            row["ratio"] = row["median_ms"] / baseline["median_ms"]
    return {"healthz": baseline, "pages": results}


def print_table(scale: str, run: dict[str, Any]) -> None:
    h = run["healthz"]
    print(f"\n{scale}: /healthz median {h['median_ms']:.2f} ms (p95 {h['p95_ms']:.2f} ms)")
    print(f"{'page':40} {'median ms':>10} {'p95 ms':>9} {'trip ms':>9} {'ratio':>8}")
    for name, row in run["pages"].items():
        if "median_ms" not in row:
            print(f"{name:40} {row['status']}")
            continue
        print(
            f"{name:40} {row['median_ms']:10.1f} {row['p95_ms']:9.1f} "
            f"{row['round_trip_median_ms']:9.1f} {row['ratio']:8.0f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep the seeded stores in this folder, and reuse the ones already there",
    )
    parser.add_argument("--serve")
    parser.add_argument("--port", type=int)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args.serve, args.port)
    if args.quick:
        args.customers, args.requests = 2_000, 15
    rng = random.Random(1405)
    report: dict[str, Any] = {"customers": args.customers, "requests": args.requests}
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for scale, customers in (("demo", 0), (f"{args.customers} customers", args.customers)):
            url = f"sqlite:///{folder}/{customers}.sqlite"
            kept = folder / f"{customers}.json"
            if kept.exists():
                seeded = json.loads(kept.read_text())
                log(f"{scale}: the store kept in {folder}; serving")
            else:
                log(f"{scale}: seeding")
                started = time.perf_counter()
                seeded = seed(url, customers, rng)
                kept.write_text(json.dumps(seeded))
                log(f"{scale}: seeded in {time.perf_counter() - started:.0f} s; serving")
            with Server(url) as server:
                run = measure(server.base, seeded, args.requests, args.warmup)
            run["search_keys"] = seeded["search_keys"]
            report[scale] = run
            print_table(scale, run)
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
