"""Several engine processes on one PostgreSQL database (docs/DEPLOY.md)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from signal import SIGTERM

import httpx
import psycopg
import pytest

from tests.scale_out import BILLING, ApiProcess, SchedulerProcess, free_port, fresh_database

pytestmark = [pytest.mark.postgres, pytest.mark.slow]  # processes on PostgreSQL

#: Small pools: these tests share the server (max_connections 100) with the rest of the suite.
SMALL = {"postgres_pool_size": "2", "test_mode": "1", "tick_interval": "0.5"}


def test_processes_starting_together_on_a_new_database_all_come_up(tmp_path):
    """Four API processes and two schedulers started at once on an empty database:
    each creates the tables it needs under the store's table lock, in turn, and all serve."""
    with fresh_database() as url:
        apis = [ApiProcess(url, tmp_path / f"api{i}.log", **SMALL) for i in range(4)]
        schedulers = [SchedulerProcess(url, tmp_path / f"s{i}.log", **SMALL) for i in range(2)]
        processes = [*apis, *schedulers]
        try:
            for process in processes:
                process.start()
            for process in processes:
                process.wait_ready()
        finally:
            codes = [process.stop() for process in processes]
        # uvicorn ends on SIGTERM by raising it again once it has shut down cleanly
        assert codes == [-SIGTERM] * 4 + [0, 0], [p.log.read_text() for p in processes]


def test_the_table_lock_is_reentrant_within_a_thread_and_excludes_other_sessions():
    """A runtime's start holds the table lock around parts that take it again (the event store,
    the read models): within one thread that takes nothing more, where a second session of the
    same process would wait on the first for ever; another session still waits its turn."""
    from concurrent.futures import ThreadPoolExecutor
    from concurrent.futures import TimeoutError as Pending

    from adapters.persistence import CREATE_TABLES_LOCK, parse_database_url, tables_created_once

    with fresh_database() as url:
        database = parse_database_url(url)

        def nested() -> str:
            with tables_created_once(database), tables_created_once(database):
                return "entered twice"

        with ThreadPoolExecutor(1) as pool:
            assert pool.submit(nested).result(timeout=30) == "entered twice"

        with psycopg.connect(url, autocommit=True) as other:
            other.execute("SELECT pg_advisory_lock(%s)", (CREATE_TABLES_LOCK,))
            with ThreadPoolExecutor(1) as pool:
                waiting = pool.submit(nested)
                with pytest.raises(Pending):
                    waiting.result(timeout=2)  # the other session holds it
                other.execute("SELECT pg_advisory_unlock(%s)", (CREATE_TABLES_LOCK,))
                assert waiting.result(timeout=30) == "entered twice"


def worker_pids(supervisor: int) -> set[int]:
    """The uvicorn workers a `serve --workers` process started (its spawned children)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue  # it ended meanwhile
        if int(fields[1]) == supervisor and b"spawn_main" in cmdline:
            found.add(int(stat.parent.name))
    return found


def test_serve_with_workers_answers_from_each_worker_and_ticks_in_one_process(tmp_path):
    """`billing serve --workers 2`: two worker processes answer on the one port, each with its
    own readiness and metrics; the scheduler ticks in the supervisor only (its metrics on
    --metrics-port); a worker killed with SIGKILL is replaced and the port keeps answering."""
    with fresh_database() as url:
        metrics_port = free_port()
        serve = ApiProcess(url, tmp_path / "serve.log", **SMALL)
        serve.args = ["serve", "--port", str(serve.port), "--workers", "2",
                      "--metrics-port", str(metrics_port)]  # fmt: skip
        try:
            serve.start().wait_ready()
            deadline = time.monotonic() + 60
            while len(workers := worker_pids(serve.pid)) < 2:
                assert time.monotonic() < deadline, "two workers never ran"
                time.sleep(0.2)
            token = subprocess.run(
                [BILLING, "tokens", "create", "--role", "admin", "--db", url],
                capture_output=True, text=True, check=True, env=serve.env,
            ).stdout.split()[-1]  # fmt: skip
            admin = {"Authorization": f"Bearer {token}"}
            for _ in range(10):
                assert httpx.get(f"{serve.base}/readyz").json()["status"] == "ready"
                text = httpx.get(f"{serve.base}/metrics", headers=admin).text
                assert "billing_scheduler_ticks_total 0" in text  # no worker ticks
            ticks = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
            assert "billing_scheduler_ticks_total 0" not in ticks  # the supervisor does

            killed = min(workers)
            os.kill(killed, signal.SIGKILL)
            while (now := worker_pids(serve.pid)) == workers or len(now) < 2:
                assert time.monotonic() < deadline + 60, "the killed worker was not replaced"
                time.sleep(0.2)
            assert killed not in now
            serve.wait_ready()
        finally:
            code = serve.stop()
        assert code == 0, serve.log.read_text()
