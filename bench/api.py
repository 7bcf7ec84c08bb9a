"""Latency and throughput of the HTTP API under a bounded load, against a bare FastAPI endpoint.

What is measured
    For each store (a SQLite file, a PostgreSQL schema) the store is seeded in-process through
    the engine (``bootstrap.build_engine``): one plan, 200 customers with one monthly
    subscription each (so 200 open first invoices), an API token for finance and for 10 of the
    customers. The API is then served as production serves it, in a separate process:
    ``uvicorn`` on 127.0.0.1, one worker, ``create_app(build_engine(database_url=URL),
    start_scheduler=False, freeze_startup=True)`` (as ``billing serve``). This process, the load generator, runs a fixed number of
    concurrent clients (``--concurrency``, 16), each on its own keep-alive connection and each
    sending its next request as soon as the last one is answered, for ``--seconds`` (30;
    ``--quick``: 5) after an untimed warm-up (2 s; ``--quick``: 1 s). The mix is fixed by
    weight, drawn from a seeded random generator:

    * 80 % reads: ``GET /subscriptions/{id}`` (25 %), ``GET /subscriptions/{id}/invoices``
      (20 %), ``GET /invoices/{id}`` (20 %), ``GET /plans`` (15 %); half of them with a
      customer's token on that customer's own subscription, half with the finance token on any;
    * 20 % payments: ``POST /invoices/{id}/payments`` with the finance token, a unique
      reference and 1,000 rials (an invoice is 1,100,000, so every invoice stays open); one
      payment in four carries a fresh ``Idempotency-Key``.

    Each request's latency (request written to last body byte read) is taken with
    ``time.perf_counter()``. Reported: requests per second, p50 and p99 latency, the same per
    route, every non-2xx answer (there should be none; a sample is printed), and the CPU time
    the server process (from /proc) and this process used in the timed window.

    On the same server two more loads follow. **GETs alone**: the mix's four GETs in their
    weights, the same clients: its server CPU per request is what one GET costs
    (``server_cpu_ms_per_get``, against the bare route's CPU per request, measured in the same
    run: ``get_cpu_ratio_to_bare``). **The open loop**: the whole mix sent on a fixed schedule
    (``--rate``, 200 requests/s), whether or not earlier requests were answered, each on a free
    keep-alive connection or a new one; a request's latency runs from the moment it was due to
    be sent, so a server that falls behind shows it (no coordinated omission). Reported: p50,
    p99, p99.9 and the most, and how many connections it needed.

The baseline, and why it is fair
    A bare FastAPI app with one synchronous endpoint returning a constant (``GET /bare`` ->
    ``{"ok": true}``) is served the same way (separate process, same uvicorn, flags, host and
    worker count, and a ``def`` endpoint like every billing route, so the same thread-pool hop)
    and loaded by the same client with the same concurrency, warm-up and duration. It is what
    this machine, framework and client do when a request costs nothing: the ceiling for the
    API. It runs twice, before and after the stores, and its figures pool both runs, so a drift
    of the machine during the run weighs on both sides alike (each run's rps is kept).
    ``ratio_rps_to_bare`` (API rps / bare rps) is the share of that ceiling the API reaches, and
    ``ratio_p50_to_bare`` how many times the bare median the API's median is. The difference is
    the API's own work: the token lookup, the middleware, loading aggregates from the event
    store, recording payments, validating and serialising.

The client
    The load generator shares the machine with the server, so its own cost matters. The
    default client (``--client raw``) is a minimal HTTP/1.1 keep-alive client over asyncio
    streams, costing about 0.05 ms of CPU per request. ``--client httpx`` uses one
    ``httpx.AsyncClient`` with a pool of ``--concurrency`` connections instead; it costs about
    1.8 ms per request, so on a small machine it, not the server, caps the bare endpoint (about
    500 requests/s on two CPUs against about 3,000 with the raw client), which flattens the
    ratios. The CPU times in the output show how busy each side was.

Usage
    .venv/bin/python bench/api.py [--quick] [--seconds 30] [--concurrency 16] [--rate 200] [--client raw]
        [--stores sqlite,postgres] [--postgres-url postgresql://postgres@127.0.0.1:5432/billing_bench]
    .venv/bin/python bench/api.py --serve URL|bare --port P     # the server process (internal)

SQLite uses a temporary directory, removed at the end. PostgreSQL uses a fresh schema
``bench_<random>`` in the database of ``--postgres-url`` (created if missing), dropped at the
end; if the server is unreachable that store is skipped, or, if ``--stores`` names it, the
script exits with status 1. Server processes are always stopped. Progress goes to stderr, a
table to stdout, and the last line of stdout is one JSON object. There are no timing
assertions: this script measures, it does not judge.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/, for stores
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project

from stores import (
    Store,
    add_store_arguments,
    check_store_arguments,
    code_version,
    machine,
    open_stores,
    progress,
)

DEFAULT_SECONDS = 30.0
QUICK_SECONDS = 5.0
DEFAULT_CONCURRENCY = 16
DEFAULT_RATE = 200.0
CUSTOMERS = 200
CUSTOMER_TOKENS = 10
PAYMENT_RIALS = 1_000
MONTHLY_PRICE = 1_000_000

#: The mix, by weight (percent): (route label, weight).
MIX = (
    ("GET /subscriptions/{id}", 25),
    ("GET /subscriptions/{id}/invoices", 20),
    ("GET /invoices/{id}", 20),
    ("GET /plans", 15),
    ("POST /invoices/{id}/payments", 20),
)
IDEMPOTENT_SHARE = 0.25  # of payments: with a fresh Idempotency-Key
BARE_ROUTE = "GET /bare"


# --- the server process ----------------------------------------------------------------------


def bare_app():
    from fastapi import FastAPI

    api = FastAPI(title="bare")

    @api.get("/bare")
    def bare() -> dict:  # a plain def, like every billing route: same thread-pool hop
        return {"ok": True}

    return api


def serve(target: str, port: int) -> int:
    """Run one uvicorn worker on 127.0.0.1:port, for the billing API on ``target`` or bare."""
    import uvicorn

    if target == "bare":
        api = bare_app()
    else:
        from app import create_app
        from bootstrap import build_engine

        # As ``billing serve`` builds it (cli/serve.py).
        api = create_app(
            build_engine(database_url=target), start_scheduler=False, freeze_startup=True
        )
    uvicorn.run(api, host="127.0.0.1", port=port, log_level="warning")
    return 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc; 0.0 where unavailable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


class Server:
    """``bench/api.py --serve TARGET --port P`` as a child process; stopped on exit."""

    def __init__(self, target: str, ready_path: str) -> None:
        self.target, self.ready_path = target, ready_path
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        import httpx

        command = [sys.executable, str(Path(__file__).resolve()), "--serve", self.target]
        self.process = subprocess.Popen([*command, "--port", str(self.port)])
        deadline = time.monotonic() + 60
        try:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the server exited with status {self.process.returncode}")
                try:
                    if httpx.get(self.base_url + self.ready_path, timeout=2).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not answer within 60 s")
                time.sleep(0.1)
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.process.pid) if self.process else 0.0


# --- the seed (in this process, not timed) ---------------------------------------------------


@dataclass
class Seed:
    finance: str
    subscriptions: list[str]
    invoices: list[str]
    #: (customer token, that customer's subscription, its first invoice)
    customers: list[tuple[str, str, str]]
    seconds: float


def seed(url: str) -> Seed:
    from adapters.tokens import TokenStore
    from bootstrap import build_engine
    from domain.customer import BillingProfile
    from domain.money import Money
    from domain.plans import Plan

    started = time.perf_counter()
    engine = build_engine(database_url=url)
    try:
        app = engine.app
        now = datetime.now(UTC)
        app.define_plan(Plan(id="bench", name="Bench", monthly_price=Money(MONTHLY_PRICE)), now)
        subscriptions, invoices, owners = [], [], []
        for i in range(CUSTOMERS):
            profile = BillingProfile(
                name=f"Bench Customer {i}",
                kind="person",
                email=f"customer{i}@example.ir",
                mobile=f"0912{i:07d}",
            )
            customer_id = app.register_customer(profile, now)
            sub_id = app.start_subscription(customer_id, "bench", "monthly", now)
            subscriptions.append(str(sub_id))
            invoices.append(str(app.get_subscription(sub_id).invoice_ids[0]))
            owners.append(customer_id)
        engine.read_models.catch_up()  # as a running engine would have them
        tokens = TokenStore(engine.read_models)
        finance = tokens.create("finance", now, label="bench")
        customers = [
            (
                tokens.create("customer", now, subject=owners[i], label="bench"),
                subscriptions[i],
                invoices[i],
            )
            for i in range(CUSTOMER_TOKENS)
        ]
    finally:
        engine.close()
    return Seed(finance, subscriptions, invoices, customers, time.perf_counter() - started)


# --- the load generator ----------------------------------------------------------------------


@dataclass
class Request:
    label: str
    method: str
    path: str
    headers: dict[str, str]
    json: Any = None


@dataclass
class Sample:
    label: str
    seconds: float
    status: int


class BillingMix:
    """Requests drawn from ``MIX`` with a seeded random generator; unique payment references."""

    def __init__(self, data: Seed, run: str, rng: random.Random) -> None:
        self.data, self.run, self.rng = data, run, rng
        self.labels = [label for label, _ in MIX]
        self.weights = [weight for _, weight in MIX]
        self.counter = itertools.count(1)

    def _reader(self) -> tuple[dict[str, str], str, str]:
        """(headers, subscription, invoice): a customer on their own, or finance on any."""
        if self.rng.random() < 0.5:
            token, sub, invoice = self.rng.choice(self.data.customers)
        else:
            token = self.data.finance
            i = self.rng.randrange(len(self.data.subscriptions))
            sub, invoice = self.data.subscriptions[i], self.data.invoices[i]
        return {"Authorization": f"Bearer {token}"}, sub, invoice

    def next(self) -> Request:
        label = self.rng.choices(self.labels, self.weights)[0]
        headers, sub, invoice = self._reader()
        if label == "GET /subscriptions/{id}":
            return Request(label, "GET", f"/subscriptions/{sub}", headers)
        if label == "GET /subscriptions/{id}/invoices":
            return Request(label, "GET", f"/subscriptions/{sub}/invoices", headers)
        if label == "GET /invoices/{id}":
            return Request(label, "GET", f"/invoices/{invoice}", headers)
        if label == "GET /plans":
            return Request(label, "GET", "/plans", headers)
        n = next(self.counter)
        headers = {"Authorization": f"Bearer {self.data.finance}"}
        invoice = self.rng.choice(self.data.invoices)
        if self.rng.random() < IDEMPOTENT_SHARE:
            headers["Idempotency-Key"] = f"bench-{self.run}-{n}"
            label += " +key"
        body = {"reference": f"BENCH-{self.run}-{n}", "amount": PAYMENT_RIALS}
        return Request(label, "POST", f"/invoices/{invoice}/payments", headers, body)


class ReadMix(BillingMix):
    """The mix's GETs alone, in their weights: what one GET costs the server."""

    def next(self) -> Request:
        while True:
            request = super().next()
            if request.method == "GET":
                return request


class BareMix:
    def next(self) -> Request:
        return Request(BARE_ROUTE, "GET", "/bare", {})


@dataclass
class Load:
    samples: list[Sample]
    seconds: float
    server_cpu: float
    client_cpu: float
    error_samples: list[str] = field(default_factory=list)
    #: Connections the open loop opened (0 for a closed loop's fixed clients).
    connections: int = 0


class RawConnection:
    """A minimal HTTP/1.1 keep-alive client on one asyncio connection: it writes the request
    and reads the status, headers and body (Content-Length or chunked), nothing more. Its cost
    per request is a small fraction of httpx's, so the load generator does not limit what it
    measures (see the module docstring)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def request(self, request: Request) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        body = json.dumps(request.json).encode() if request.json is not None else b""
        lines = [f"{request.method} {request.path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in request.headers.items()]
        if request.json is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunks.append(await self.reader.readexactly(size + 2))
                if size == 0:
                    break
            content = b"".join(chunk[:-2] for chunk in chunks)
        elif "content-length" in headers:
            content = await self.reader.readexactly(int(headers["content-length"]))
        else:
            content = await self.reader.read()
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, content


async def _load(
    server: Server, mix: Any, client_kind: str, concurrency: int, warmup: float, seconds: float
) -> Load:
    import httpx

    samples: list[Sample] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    shared = httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=60)
    raw = [RawConnection("127.0.0.1", server.port) for _ in range(concurrency)]

    async def send(i: int, request: Request) -> tuple[int, bytes]:
        if client_kind == "raw":
            return await asyncio.wait_for(raw[i].request(request), 60)
        response = await shared.request(
            request.method, request.path, headers=request.headers, json=request.json
        )
        return response.status_code, response.content

    async def worker(i: int, until: float, record: bool) -> None:
        while time.perf_counter() < until:
            request = mix.next()
            started = time.perf_counter()
            try:
                status, body = await send(i, request)
            except (httpx.HTTPError, OSError, ValueError, asyncio.IncompleteReadError) as error:
                await raw[i].close()  # a timeout (an OSError) included: start a new connection
                status, body = 0, f"{type(error).__name__}: {error!r}".encode()
            elapsed = time.perf_counter() - started
            if record:
                samples.append(Sample(request.label, elapsed, status))
            if not 200 <= status < 300 and len(errors) < 5:
                text = body[:300].decode(errors="replace")
                errors.append(f"{status} {request.method} {request.path}: {text}")

    try:
        if warmup > 0:
            until = time.perf_counter() + warmup
            await asyncio.gather(*(worker(i, until, False) for i in range(concurrency)))
        server_cpu, client_cpu = server.cpu_seconds(), time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(worker(i, started + seconds, True) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
        server_cpu, client_cpu = server.cpu_seconds() - server_cpu, time.process_time() - client_cpu
    finally:
        await shared.aclose()
        for connection in raw:
            await connection.close()
    return Load(samples, elapsed, server_cpu, client_cpu, errors)


#: How long the open loop reuses an idle keep-alive connection: under uvicorn's 5 s timeout.
KEEP_ALIVE_REUSE = 3.0


async def _open_loop(server: Server, mix: Any, rate: float, warmup: float, seconds: float) -> Load:
    """Requests sent on a fixed schedule, ``rate`` a second, whether or not the earlier ones
    were answered: request i is due at start + i / rate, and its latency is taken from that
    moment, so time a request waits for a free connection or a slow server counts (no
    coordinated omission). Connections are taken from a pool and opened when none is free."""
    samples: list[Sample] = []
    errors: list[str] = []
    idle: list[tuple[RawConnection, float]] = []  # with the moment each was last answered
    opened: set[RawConnection] = set()
    tasks: set[asyncio.Task] = set()

    def free_connection() -> RawConnection:
        # uvicorn closes a keep-alive connection idle for 5 s: one idle that long may be closed
        # under the request written to it (a failure of the client's, not of the server's).
        while idle:
            connection, since = idle.pop()
            if time.perf_counter() - since < KEEP_ALIVE_REUSE:
                return connection
            if connection.writer is not None:
                connection.writer.close()  # the end of the run awaits every opened one's close
        return RawConnection("127.0.0.1", server.port)

    async def one(request: Request, due: float, record: bool) -> None:
        connection = free_connection()
        opened.add(connection)
        try:
            status, body = await asyncio.wait_for(connection.request(request), 60)
        except (OSError, ValueError, asyncio.IncompleteReadError) as error:
            await connection.close()
            status, body = 0, f"{type(error).__name__}: {error!r}".encode()
        idle.append((connection, time.perf_counter()))
        if record:
            samples.append(Sample(request.label, time.perf_counter() - due, status))
        if not 200 <= status < 300 and len(errors) < 5:
            errors.append(f"{status} {request.method} {request.path}: {body[:300]!r}")

    async def schedule(span: float, record: bool) -> float:
        start = time.perf_counter()
        for i in itertools.count():
            due = start + i / rate
            if due >= start + span:
                break
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(mix.next(), due, record))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*list(tasks))
        return time.perf_counter() - start

    try:
        if warmup > 0:
            await schedule(warmup, False)
        server_cpu, client_cpu = server.cpu_seconds(), time.process_time()
        elapsed = await schedule(seconds, True)
        server_cpu, client_cpu = server.cpu_seconds() - server_cpu, time.process_time() - client_cpu
    finally:
        for connection in opened:
            await connection.close()
    load = Load(samples, elapsed, server_cpu, client_cpu, errors)
    load.connections = len(opened)
    return load


def run_open_loop(server: Server, mix: Any, args: argparse.Namespace) -> Load:
    return asyncio.run(_open_loop(server, mix, args.rate, args.warmup, args.seconds))


def run_load(server: Server, mix: Any, args: argparse.Namespace) -> Load:
    return asyncio.run(_load(server, mix, args.client, args.concurrency, args.warmup, args.seconds))


# --- figures ---------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def latency_figures(samples: list[Sample], seconds: float) -> dict:
    times = [s.seconds for s in samples] or [float("nan")]
    return {
        "requests": len(samples),
        "rps": round(len(samples) / seconds, 1),
        "p50_ms": round(percentile(times, 0.50) * 1000, 2),
        "p99_ms": round(percentile(times, 0.99) * 1000, 2),
    }


def open_loop_figures(load: Load) -> dict:
    """The open loop's latencies from each request's scheduled moment."""
    times = [s.seconds for s in load.samples] or [float("nan")]
    out = figures(load)
    out["p99_9_ms"] = round(percentile(times, 0.999) * 1000, 2)
    out["max_ms"] = round(max(times) * 1000, 2)
    out["connections"] = load.connections
    return out


def figures(load: Load) -> dict:
    out = latency_figures(load.samples, load.seconds)
    statuses: dict[str, int] = {}
    for s in load.samples:
        statuses[str(s.status)] = statuses.get(str(s.status), 0) + 1
    out |= {
        "errors": sum(1 for s in load.samples if not 200 <= s.status < 300),
        "statuses": statuses,
        "seconds": round(load.seconds, 2),
        "server_cpu_seconds": round(load.server_cpu, 2),
        "client_cpu_seconds": round(load.client_cpu, 2),
        "server_cpu_ms_per_request": round(load.server_cpu * 1000 / max(len(load.samples), 1), 3),
    }
    routes: dict[str, list[Sample]] = {}
    for s in load.samples:
        routes.setdefault(s.label, []).append(s)
    if len(routes) > 1:
        out["reads"] = sum(1 for s in load.samples if s.label.startswith("GET"))
        out["payments"] = sum(1 for s in load.samples if s.label.startswith("POST"))
        out["routes"] = {
            label: latency_figures(group, load.seconds) for label, group in sorted(routes.items())
        }
    return out


# --- one store, end to end -------------------------------------------------------------------


def bench_store(store: Store, args: argparse.Namespace, run: str) -> dict:
    try:
        progress(f"{store.name}: seeding {CUSTOMERS} customers and subscriptions")
        data = seed(store.url)
        progress(f"{store.name}: seeded in {data.seconds:.1f}s; starting the API server")
        with Server(store.url, "/healthz") as server:
            progress(
                f"{store.name}: {args.concurrency} clients for {args.warmup:g}s warm-up + "
                f"{args.seconds:g}s against {server.base_url}"
            )
            load = run_load(server, BillingMix(data, f"{store.name}-{run}", random.Random(1)), args)
            progress(f"{store.name}: GETs alone, {args.concurrency} clients")
            gets = run_load(server, ReadMix(data, f"{store.name}-{run}-r", random.Random(2)), args)
            progress(f"{store.name}: open loop at {args.rate:g} requests/s, the whole mix")
            open_loop = run_open_loop(
                server, BillingMix(data, f"{store.name}-{run}-o", random.Random(3)), args
            )
        result = figures(load) | {"version": store.version, "seed_seconds": round(data.seconds, 1)}
        result["gets"] = figures(gets)
        result["server_cpu_ms_per_get"] = result["gets"]["server_cpu_ms_per_request"]
        result["open_loop"] = open_loop_figures(open_loop)
        ol = result["open_loop"]
        progress(
            f"{store.name}: {result['server_cpu_ms_per_get']} ms server CPU per GET; open loop "
            f"{ol['requests']} requests, p50 {ol['p50_ms']} p99 {ol['p99_ms']} "
            f"p99.9 {ol['p99_9_ms']} ms, {ol['errors']} errors"
        )
        for line in open_loop.error_samples:
            progress(f"{store.name}: open loop non-2xx sample: {line}")
        progress(
            f"{store.name}: {result['requests']} requests, {result['rps']:.0f}/s, "
            f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, {result['errors']} errors"
        )
        for line in load.error_samples:
            progress(f"{store.name}: non-2xx sample: {line}")
        return result
    finally:
        store.cleanup()


def bench_bare(args: argparse.Namespace, which: str) -> Load:
    progress(f"bare ({which}): starting the constant endpoint's server")
    with Server("bare", "/bare") as server:
        progress(
            f"bare ({which}): {args.concurrency} clients for {args.warmup:g}s warm-up + "
            f"{args.seconds:g}s"
        )
        load = run_load(server, BareMix(), args)
    result = figures(load)
    progress(
        f"bare ({which}): {result['requests']} requests, {result['rps']:.0f}/s, "
        f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, {result['errors']} errors"
    )
    for line in load.error_samples:
        progress(f"bare: non-2xx sample: {line}")
    return load


def bracketed(before: Load, after: Load) -> dict:
    """The bare figures over both runs (before and after the stores), as one load of twice the
    duration, with each run's rps kept to show how much the machine drifted."""
    both = Load(
        before.samples + after.samples,
        before.seconds + after.seconds,
        before.server_cpu + after.server_cpu,
        before.client_cpu + after.client_cpu,
        before.error_samples + after.error_samples,
    )
    return figures(both) | {
        "runs_rps": [figures(before)["rps"], figures(after)["rps"]],
    }


# --- the command -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_SECONDS:g} s per load")
    parser.add_argument(
        "--seconds",
        type=float,
        default=None,
        help=f"timed seconds per load (default {DEFAULT_SECONDS:g})",
    )
    parser.add_argument(
        "--warmup", type=float, default=None, help="untimed seconds first (default 2, quick 1)"
    )
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument(
        "--rate",
        type=float,
        default=DEFAULT_RATE,
        help=f"the open loop's requests a second (default {DEFAULT_RATE:g})",
    )
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="raw: a minimal HTTP/1.1 keep-alive client (default); httpx: httpx.AsyncClient",
    )
    add_store_arguments(parser)
    parser.add_argument("--serve", metavar="URL|bare", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        if not args.port:
            parser.error("--serve needs --port")
        return args
    args.seconds = args.seconds or (QUICK_SECONDS if args.quick else DEFAULT_SECONDS)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 2.0)
    if args.seconds <= 0 or args.concurrency < 1:
        parser.error("--seconds must be positive and --concurrency at least 1")
    check_store_arguments(parser, args)
    return args


def print_table(args: argparse.Namespace, bare: dict, results: dict[str, dict]) -> None:
    print(
        f"HTTP API benchmark: {args.concurrency} {args.client} clients, {args.seconds:g} s each, "
        f"80 % reads / 20 % payments, one uvicorn worker on loopback"
    )
    header = (
        f"{'server':<18} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} "
        f"{'srv cpu ms/req':>15} {'rps/bare':>9} {'p50/bare':>9}"
    )
    print(header)
    print("-" * len(header))
    rows = [("bare FastAPI", bare)] + [(f"{n} {r['version']}", r) for n, r in results.items()]
    for label, r in rows:
        ratios = (
            f"{r['ratio_rps_to_bare']:>9.3f} {r['ratio_p50_to_bare']:>9.1f}"
            if "ratio_rps_to_bare" in r
            else f"{'':>9} {'':>9}"
        )
        print(
            f"{label:<18} {r['requests']:>9} {r['rps']:>8.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
            f"{r['errors']:>7} {r['server_cpu_ms_per_request']:>15.2f} {ratios}"
        )
    print(
        f"\nServer CPU per GET (GETs alone, {args.concurrency} clients) against the bare route's "
        f"{bare['server_cpu_ms_per_request']:.2f} ms; open loop at {args.rate:g} requests/s "
        "(latency from each request's scheduled moment)"
    )
    header = (
        f"{'server':<18} {'cpu ms/GET':>11} {'GET/bare':>9} {'sent':>7} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'p99.9 ms':>9} {'max ms':>8} {'errors':>7} {'conns':>6}"
    )
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        ol = r["open_loop"]
        print(
            f"{name + ' ' + r['version']:<18} {r['server_cpu_ms_per_get']:>11.2f} "
            f"{r['get_cpu_ratio_to_bare']:>9.2f} {ol['requests']:>7} {ol['p50_ms']:>8.2f} "
            f"{ol['p99_ms']:>8.2f} {ol['p99_9_ms']:>9.2f} {ol['max_ms']:>8.2f} "
            f"{ol['errors']:>7} {ol['connections']:>6}"
        )
    for name, r in results.items():
        print(f"\n{name}: per route")
        for label, route in r["routes"].items():
            print(
                f"  {label:<36} {route['requests']:>7} {route['rps']:>8.0f}/s "
                f"p50 {route['p50_ms']:>7.2f} ms  p99 {route['p99_ms']:>7.2f} ms"
            )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve:
        return serve(args.serve, args.port)
    import fastapi
    import httpx
    import uvicorn

    stores = open_stores(args, prefix="billing-api-bench-", parts=("api",))
    code, started, run = code_version(), time.perf_counter(), uuid4().hex[:8]
    results: dict[str, dict] = {}
    try:
        bare_before = bench_bare(args, "before")
        while stores:
            store = stores.pop(0)
            results[store.name] = bench_store(store, args, run)
        bare = bracketed(bare_before, bench_bare(args, "after"))
    finally:
        for store in stores:  # not reached because of an error: still removed
            store.cleanup()
    for result in results.values():
        result["ratio_rps_to_bare"] = round(result["rps"] / bare["rps"], 4)
        result["ratio_p50_to_bare"] = round(result["p50_ms"] / bare["p50_ms"], 2)
        result["get_cpu_ratio_to_bare"] = round(
            result["server_cpu_ms_per_get"] / bare["server_cpu_ms_per_request"], 2
        )
    progress(f"done in {time.perf_counter() - started:.0f}s")
    print_table(args, bare, results)
    summary = {
        "machine": machine(),
        "date": date.today().isoformat(),
        "code": code,
        "seconds": args.seconds,
        "warmup_seconds": args.warmup,
        "concurrency": args.concurrency,
        "open_loop_rate": args.rate,
        "client": args.client,
        "mix": {label: weight for label, weight in MIX}
        | {"idempotency_key_share_of_payments": IDEMPOTENT_SHARE},
        "versions": {
            "fastapi": fastapi.__version__,
            "uvicorn": uvicorn.__version__,
            "httpx": httpx.__version__,
        },
        "bare": bare,
    }
    summary |= results
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
