"""Engine processes on one PostgreSQL, for the scale-out tests: a fresh database per test,
`billing serve` and `billing scheduler` processes started (and killed) as an operator would,
each logging to a file (a pipe nobody reads would fill up and block it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import psycopg.sql

from tests.api.server import reserve
from tests.stores import POSTGRES_URL, _connect, require_postgres

BILLING = str(Path(sys.executable).parent / "billing")


@contextmanager
def fresh_database() -> Iterator[str]:
    """The URL of a new, empty database on the test server, dropped afterwards (with whatever
    sessions a killed process left behind)."""
    require_postgres()
    name = f"billing_scale_{uuid.uuid4().hex[:10]}"
    with _connect("postgres") as conn:
        conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
    parts = urlsplit(POSTGRES_URL)
    try:
        yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))
    finally:
        with _connect("postgres") as conn:
            conn.execute(
                psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    psycopg.sql.Identifier(name)
                )
            )


def free_port() -> int:
    sock = reserve()
    port = sock.getsockname()[1]
    sock.close()
    return port


class EngineProcess:
    """One `billing …` process over ``url`` with ``BILLING_*`` settings, logging to ``log``."""

    def __init__(self, args: list[str], url: str, log: Path, **settings: str) -> None:
        self.args, self.log = args, log
        self.env = {
            **os.environ,
            "BILLING_DATABASE_URL": url,
            **{f"BILLING_{name.upper()}": value for name, value in settings.items()},
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> EngineProcess:
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [BILLING, *self.args], env=self.env, stdout=log, stderr=log
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean stop, no tick finished, nothing flushed."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL if it does not end in 60 s; its exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


class ApiProcess(EngineProcess):
    """`billing serve --no-scheduler` on a free loopback port (more options in ``extra``)."""

    def __init__(self, url: str, log: Path, *extra: str, **settings: str) -> None:
        self.port = free_port()
        super().__init__(
            ["serve", "--no-scheduler", "--port", str(self.port), *extra], url, log, **settings
        )
        self.base = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 120) -> None:
        """Until ``/readyz`` answers 200; fails with the log when the process ends first."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive():
                raise AssertionError(f"billing serve ended: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"billing serve not ready in {timeout:g} s: {self.log.read_text()}"
                )
            time.sleep(0.2)


class SchedulerProcess(EngineProcess):
    """`billing scheduler` with its metrics on a free loopback port."""

    def __init__(self, url: str, log: Path, **settings: str) -> None:
        self.metrics_port = free_port()
        super().__init__(
            ["scheduler", "--metrics-port", str(self.metrics_port)], url, log, **settings
        )

    def wait_ready(self, timeout: float = 120) -> None:
        """Until its metrics answer (it is built and ticking)."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive():
                raise AssertionError(f"billing scheduler ended: {self.log.read_text()}")
            try:
                url = f"http://127.0.0.1:{self.metrics_port}/metrics"
                if httpx.get(url, timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"billing scheduler not up in {timeout:g} s: {self.log.read_text()}"
                )
            time.sleep(0.2)
