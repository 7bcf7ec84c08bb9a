"""Several engine processes on one PostgreSQL database (docs/DEPLOY.md)."""

from __future__ import annotations

from signal import SIGTERM

import psycopg
import pytest

from tests.scale_out import ApiProcess, SchedulerProcess, fresh_database

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
