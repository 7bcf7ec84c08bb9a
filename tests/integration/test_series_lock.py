"""The official-number series lock (adapters/series_lock.py) on the real stores: a second
holder on the same store waits until the first lets go, another store's holder does not, a
holder stuck past the timeout makes the waiter fail as an unreachable store (nothing saved),
and a PostgreSQL session that was cut is replaced at the next hold."""

from __future__ import annotations

import threading

import psycopg
import pytest
from eventsourcing.persistence import OperationalError

from adapters import series_lock
from adapters.series_lock import FileLock, PostgresAdvisoryLock, SeriesLock, advisory_key
from bootstrap import build_application
from tests.stores import POSTGRES_URL, postgres_schema

#: How long a waiter is given to show it did not get in while the lock was held: any time
#: would do, since a correct lock never lets it in; this only bounds how long the test looks.
LOOK = 0.3


def take(lock: SeriesLock) -> None:
    with lock.held():
        pass


def second_holder(lock: SeriesLock) -> tuple[threading.Thread, threading.Event]:
    entered = threading.Event()

    def hold() -> None:
        with lock.held():
            entered.set()

    thread = threading.Thread(target=hold)
    thread.start()
    return thread, entered


def assert_excludes(first: SeriesLock, second: SeriesLock) -> None:
    with first.held():
        thread, entered = second_holder(second)
        assert not entered.wait(LOOK), "a second holder got in while the first held the lock"
    thread.join(10)
    assert entered.is_set(), "the second holder never got in after the first let go"


def assert_independent(first: SeriesLock, second: SeriesLock) -> None:
    with first.held():
        thread, entered = second_holder(second)
        thread.join(10)
        assert entered.is_set(), "a lock of another store waited for this one"


@pytest.mark.postgres
def test_two_engines_on_one_postgres_schema_take_turns_and_another_schema_does_not_wait():
    with postgres_schema() as url, postgres_schema() as other_url:
        one, two, other = (build_application(database_url=u) for u in (url, url, other_url))
        try:
            assert_excludes(one.series_lock, two.series_lock)
            assert_excludes(two.series_lock, one.series_lock)
            assert_independent(one.series_lock, other.series_lock)
        finally:
            for app in (one, two, other):
                app.close()


@pytest.mark.postgres
def test_a_postgres_holder_stuck_past_the_lock_timeout_fails_the_waiter_as_a_store_failure():
    def connect():
        return psycopg.connect(POSTGRES_URL, autocommit=True)

    key = advisory_key("test-series-timeout")
    holder = SeriesLock(PostgresAdvisoryLock(connect, key, lock_timeout_s=5))
    waiter = SeriesLock(PostgresAdvisoryLock(connect, key, lock_timeout_s=1))
    try:
        with holder.held(), pytest.raises(OperationalError, match="send the request again"):
            take(waiter)
        take(waiter)  # once released, the waiter's new session takes it
    finally:
        holder.close()
        waiter.close()


@pytest.mark.postgres
def test_a_cut_postgres_session_is_replaced_at_the_next_hold_and_its_lock_was_freed():
    def connect():
        return psycopg.connect(POSTGRES_URL, autocommit=True)

    key = advisory_key("test-series-cut")
    lock = PostgresAdvisoryLock(connect, key, lock_timeout_s=5)
    other = SeriesLock(PostgresAdvisoryLock(connect, key, lock_timeout_s=5))
    held = SeriesLock(lock)
    try:
        with held.held():
            pid = lock._connection.info.backend_pid
            with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            # The session died holding the lock: PostgreSQL freed it, so another holder gets in
            # (it would fail after its 5 s lock timeout otherwise).
            take(other)
        with held.held():  # a new session for this one
            assert lock._connection.info.backend_pid != pid
    finally:
        held.close()
        other.close()


def test_two_engines_on_one_sqlite_file_take_turns(tmp_path):
    url = f"sqlite:///{tmp_path}/billing.sqlite"
    one, two = build_application(database_url=url), build_application(database_url=url)
    try:
        assert isinstance(one.series_lock._across, FileLock)
        assert_excludes(one.series_lock, two.series_lock)
        other = build_application(database_url=f"sqlite:///{tmp_path}/other.sqlite")
        try:
            assert_independent(one.series_lock, other.series_lock)
        finally:
            other.close()
    finally:
        one.close()
        two.close()


def test_a_sqlite_holder_stuck_past_the_timeout_fails_the_waiter_saying_what_to_do(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(series_lock, "FILE_LOCK_TIMEOUT", 0.05)
    path = str(tmp_path / "billing.sqlite.series-lock")
    holder, waiter = SeriesLock(FileLock(path)), SeriesLock(FileLock(path))
    with holder.held(), pytest.raises(OperationalError, match="stuck billing process"):
        take(waiter)
    take(waiter)


def test_in_memory_threads_of_one_engine_take_turns():
    app = build_application(database_url="memory:")
    try:
        assert app.series_lock._across is None
        assert_excludes(app.series_lock, app.series_lock)
    finally:
        app.close()
