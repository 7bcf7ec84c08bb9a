"""One writer at a time chooses and saves the next number of a gapless series: the official
invoices' numbers (docs/INVOICES.md, "Numbering"), across the threads of a process, the
processes of a machine and the machines sharing one store.

Without it two payers racing for the next number both try to create the same claim; the
store refuses one, which runs again and takes the next number. That is correct, but under six
simultaneous payers one of them could lose the race a dozen times running and give up. With
the lock, the writer that holds it reads the series as the last holder committed it, so its
claim never conflicts: the number a payment gets no longer depends on timing.

The lock is held from the moment a command is about to choose a number until its save has
committed or failed (``UnitOfWork.hold`` and ``CommandRunner._run_tracked``), never while a
write conflict's backoff sleeps. It is taken after the command loaded what it decides on; a
change made meanwhile by another writer makes the save conflict as always, and the command
runs again.

Per store:

- PostgreSQL: a session advisory lock, held on one connection of its own per process (not a
  pooled one: a holder waiting for a pooled connection for its save while the waiters hold
  the rest would wait for ever). The key is derived from the schema, so two engines in one
  database do not wait on each other. If the process dies, PostgreSQL ends its session and
  the lock with it. Waiting is bounded by the store's lock timeout; past it the command fails
  as if the store were unreachable (the API answers 503; nothing was saved).
- SQLite (a file): an exclusive ``flock`` on a file beside the database, ``<database>.series-lock``,
  released by the kernel if the process dies.
- In memory (tests, one process): the thread lock alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from eventsourcing.persistence import OperationalError

#: The advisory-lock namespace of the official-number series (a fixed tag, hashed with the
#: schema into PostgreSQL's one 64-bit key).
SERIES = "billing.official-number-series"

#: How long a SQLite writer waits for another process's hold before it gives up (seconds): a
#: hold lasts one save, so this is only reached when a process is stuck holding it.
FILE_LOCK_TIMEOUT = 10.0


def advisory_key(schema: str) -> int:
    """The signed 64-bit key PostgreSQL's advisory lock takes, stable across processes."""
    digest = hashlib.sha256(f"{SERIES}:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class SeriesLock:
    """A lock over one numbering series: a thread lock, and when the store is shared between
    processes, the store's own lock as well (``across``: a context manager factory)."""

    def __init__(self, across: Callable[[], contextlib.AbstractContextManager[Any]] | None = None):
        self._thread_lock = threading.Lock()
        self._across = across

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        with self._thread_lock:
            if self._across is None:
                yield
                return
            with self._across():
                yield

    def close(self) -> None:
        """Release what the lock holds open (the PostgreSQL session)."""
        closer = getattr(self._across, "close", None)
        if closer is not None:
            closer()


class PostgresAdvisoryLock:
    """A session-level advisory lock on a connection this object keeps open (reopened after a
    failure). Only ever used under :class:`SeriesLock`'s thread lock, so one thread at a time."""

    def __init__(self, connect: Callable[[], Any], key: int, lock_timeout_s: int) -> None:
        self._connect = connect
        self._key = key
        self._lock_timeout_ms = max(0, lock_timeout_s) * 1000
        self._connection: Any = None

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        import psycopg

        try:
            connection = self._session()
            connection.execute("SELECT pg_advisory_lock(%s)", (self._key,))
        except psycopg.Error as error:
            self.close()
            raise OperationalError(
                f"The official-number series lock could not be taken: {str(error).strip()}. "
                "Nothing was saved; send the request again."
            ) from error
        try:
            yield
        finally:
            try:
                connection.execute("SELECT pg_advisory_unlock(%s)", (self._key,))
            except psycopg.Error:
                self.close()  # the session is gone, and its lock with it

    def _session(self) -> Any:
        if self._connection is None or self._connection.closed:
            connection = self._connect()
            connection.execute(f"SET lock_timeout = {int(self._lock_timeout_ms)}")
            self._connection = connection
        return self._connection

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()


class FileLock:
    """An exclusive ``flock`` on ``path``, waited for up to :data:`FILE_LOCK_TIMEOUT`."""

    def __init__(self, path: str) -> None:
        self._path = path

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        import fcntl

        with open(self._path, "a+b") as handle:
            deadline = time.monotonic() + FILE_LOCK_TIMEOUT
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise OperationalError(
                            f"Another process has held {self._path} for "
                            f"{FILE_LOCK_TIMEOUT:g} s while issuing an official number. Nothing "
                            "was saved; send the request again, and if it persists look for a "
                            "stuck billing process."
                        ) from None
                    time.sleep(0.002)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def series_lock_for(recorder: Any) -> SeriesLock:
    """The series lock that fits the store ``recorder`` writes to."""
    datastore = getattr(recorder, "datastore", None)
    pool: Any = getattr(datastore, "pool", None)
    if datastore is not None and hasattr(datastore, "schema") and hasattr(pool, "kwargs"):
        import psycopg

        params = {k: v for k, v in pool.kwargs.items() if k != "row_factory"}
        return SeriesLock(
            PostgresAdvisoryLock(
                lambda: psycopg.connect(**params, autocommit=True),
                advisory_key(datastore.schema),
                int(datastore.lock_timeout or 0),
            )
        )
    db_name = getattr(pool, "db_name", None)
    if db_name and not getattr(pool, "is_sqlite_memory_mode", True):
        return SeriesLock(FileLock(f"{db_name}.series-lock"))
    return SeriesLock()
