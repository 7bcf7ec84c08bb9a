"""Persistence by configuration only: one database URL chooses the event store.

- ``memory:``: eventsourcing's in-memory (POPO) recorders, for unit tests.
- ``sqlite:///var/billing.sqlite``: one SQLite file, the embedded default (no server).
- ``postgresql://user:password@host:5432/dbname?schema=name``: PostgreSQL through psycopg 3.

Tables are created when the application starts. On PostgreSQL two processes starting at once
could race on ``CREATE TABLE IF NOT EXISTS`` (it is not atomic against a concurrent create), so
the creation runs under a session advisory lock: the second process waits, then finds the
tables there. The lock is re-entrant within a thread (``tables_created_once`` inside another
one for the same database takes nothing more), so the composition root holds it around the
whole of a runtime's start (the event store, the read models and the runtime's own tables:
idempotency keys, the test clock, scans, return URLs, webhooks, the link key), and the parts
it builds take it again without waiting on themselves.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

T = TypeVar("T")

#: Key of the advisory lock that serialises table creation (any constant bigint).
CREATE_TABLES_LOCK = 0x62696C6C696E67  # "billing"


class ConfigurationError(Exception):
    """A setting is wrong; the message says which and how to fix it."""


@dataclass(frozen=True)
class Database:
    kind: str  # "memory" | "sqlite" | "postgres"
    env: dict[str, str]
    url: str

    @property
    def display(self) -> str:
        if self.kind == "postgres":
            parts = urlsplit(self.url)
            host = parts.hostname or ""
            return f"postgresql://{host}:{parts.port or 5432}{parts.path}"
        return self.url


def parse_database_url(
    url: str,
    *,
    lock_timeout: int = 5,
    pool_size: int = 5,
    connect_timeout: int = 3,
    pool_timeout: float = 5.0,
) -> Database:
    url = (url or "").strip()
    if url in ("memory:", "memory://", "memory"):
        return Database("memory", {"PERSISTENCE_MODULE": "eventsourcing.popo"}, url)
    if url.startswith("sqlite:"):
        path = url.removeprefix("sqlite:").removeprefix("//")
        if path.startswith("/") and not path.startswith("//"):
            path = path[1:]  # sqlite:///relative → "relative"
        elif path.startswith("//"):
            path = path[1:]  # sqlite:////absolute → "/absolute"
        if not path:
            raise ConfigurationError(
                "BILLING_DATABASE_URL names no SQLite file; write sqlite:///var/billing.sqlite."
            )
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return Database(
            "sqlite",
            {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "APPLICATION_RECORDER_TOPIC": "adapters.chain:ChainedSQLiteApplicationRecorder",
                "SQLITE_DBNAME": path,
                "SQLITE_LOCK_TIMEOUT": str(lock_timeout),
            },
            url,
        )
    if url.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(url)
        dbname = parts.path.lstrip("/")
        if not dbname:
            raise ConfigurationError(
                "BILLING_DATABASE_URL names no PostgreSQL database; write "
                "postgresql://user:password@host:5432/dbname."
            )
        query = parse_qs(parts.query)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "APPLICATION_RECORDER_TOPIC": "adapters.chain:ChainedPostgresApplicationRecorder",
            "POSTGRES_DBNAME": unquote(dbname),
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_LOCK_TIMEOUT": str(lock_timeout),
            "POSTGRES_POOL_SIZE": str(pool_size),
            # How long a request waits for a pooled connection before the store counts as
            # unavailable (eventsourcing's name for the pool's wait).
            "POSTGRES_CONNECT_TIMEOUT": str(max(1, round(pool_timeout))),
            # A pooled connection is checked before use, so one that died in an outage is
            # replaced instead of failing the first requests after PostgreSQL is back; only
            # one that has been idle a while (see ping_if_idle).
            "POSTGRES_PRE_PING": "y",
        }
        # libpq's own time to establish a connection (a host that does not answer) is read
        # from the process environment; an operator's own PGCONNECT_TIMEOUT wins.
        os.environ.setdefault("PGCONNECT_TIMEOUT", str(connect_timeout))
        if "schema" in query:
            env["POSTGRES_SCHEMA"] = query["schema"][0]
        return Database("postgres", env, url)
    raise ConfigurationError(
        f"BILLING_DATABASE_URL={url!r} is not understood. Use sqlite:///var/billing.sqlite "
        "(the default), memory:, or postgresql://user:password@host:5432/dbname."
    )


#: A pooled connection handed out less than this many seconds ago is handed out again without
#: a ping (docs/ARCHITECTURE.md, "The store's connections").
PING_AFTER_IDLE = 1.0


def ping_if_idle(connection: Any) -> None:
    """The pool's check before it hands a connection out: a ping (one round trip) only when the
    connection has not been handed out for :data:`PING_AFTER_IDLE` seconds.

    Pinging every checkout cost a round trip per aggregate load, a sixth of a lifecycle step.
    A connection in steady use does not need it: if the server went away since its last use,
    that use's failure already made the pool discard it (a broken connection is not taken
    back), and an outage lasts longer than a second, so every connection that survived it
    idle is pinged before its first use afterwards."""
    from psycopg_pool import ConnectionPool

    now = time.monotonic()
    last = getattr(connection, "_billing_handed_out", None)
    if last is None or now - last >= PING_AFTER_IDLE:
        ConnectionPool.check_connection(connection)
    connection._billing_handed_out = now


def check_idle_connections_only(datastore: Any) -> None:
    """Make a PostgreSQL datastore built with pre-ping ping only idle connections.

    eventsourcing passes psycopg_pool's own check (a ping at every checkout) when
    POSTGRES_PRE_PING is set and offers no other; the pool keeps the check it calls in
    ``_check``, which this replaces."""
    if getattr(datastore, "pre_ping", False):
        datastore.pool._check = ping_if_idle


#: How many prepared statements each SQLite connection keeps: Python's own default. eventsourcing
#: opens its connections with ``cached_statements=True``, which is a cache of one statement, so
#: a connection that alternates two statements (a request's token lookup, then its read)
#: prepared each of them again every time.
SQLITE_CACHED_STATEMENTS = 128


def cache_sqlite_statements(pool: Any) -> None:
    """Make an eventsourcing SQLite pool open connections that keep
    :data:`SQLITE_CACHED_STATEMENTS` prepared statements.

    Preparing a statement is most of what a short one costs: a GET's token lookup and its read
    prepared again on every request came to about a sixth of the GET's CPU
    (docs/BENCHMARKS.md, "Issue 22: the GET's own cost, fourth pass"). The connection is
    otherwise eventsourcing's own (``SQLiteConnectionPool._create_connection``, 9.5): autocommit
    mode (it issues its own BEGIN), WAL for a file, rows as ``sqlite3.Row``. Connections the pool
    opened before this call keep their cache of one; call it before the pool's first use."""
    import sqlite3

    from eventsourcing.persistence import InterfaceError
    from eventsourcing.sqlite import SQLITE3_DEFAULT_LOCK_TIMEOUT, SQLiteConnection

    def create_connection() -> SQLiteConnection:
        try:
            connection = sqlite3.connect(
                database=pool.db_name,
                uri=True,
                check_same_thread=False,
                isolation_level=None,
                cached_statements=SQLITE_CACHED_STATEMENTS,
                timeout=pool.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT,
            )
        except (sqlite3.Error, TypeError) as error:
            raise InterfaceError(error) from error
        if not pool.is_sqlite_memory_mode and not pool.is_journal_mode_wal:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode;")
            if cursor.fetchone()[0].lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL;")
                pool.journal_mode_was_changed_to_wal = True
            pool.is_journal_mode_wal = True
        connection.row_factory = sqlite3.Row
        return SQLiteConnection(sqlite_conn=connection, max_age=pool.max_age)

    pool._create_connection = create_connection


#: The databases whose table lock this thread holds: the session holding it, and how deeply
#: it is entered.
_held = threading.local()


@contextmanager
def tables_created_once(database: Database) -> Iterator[None]:
    """Hold PostgreSQL's advisory lock while the application creates its tables; re-entrant
    per thread (a second session of this process waiting on the first would never wake)."""
    if database.kind != "postgres":
        yield
        return
    env = database.env
    where = (env["POSTGRES_HOST"], env["POSTGRES_PORT"], env["POSTGRES_DBNAME"])
    holding: dict[tuple[str, str, str], list] = _held.__dict__.setdefault("holding", {})
    if where in holding:
        session, depth = holding[where]
        holding[where] = [session, depth + 1]
        try:
            _create_schema(session, env.get("POSTGRES_SCHEMA"))
            yield
        finally:
            holding[where][1] -= 1
        return
    with _advisory_lock(database) as session:
        holding[where] = [session, 1]
        try:
            _create_schema(session, env.get("POSTGRES_SCHEMA"))
            yield
        finally:
            del holding[where]


@contextmanager
def _advisory_lock(database: Database) -> Iterator[Any]:
    """A session of its own holding the table lock (released when it ends)."""
    import psycopg

    env = database.env
    try:
        connection = psycopg.connect(
            host=env["POSTGRES_HOST"],
            port=int(env["POSTGRES_PORT"]),
            dbname=env["POSTGRES_DBNAME"],
            user=env["POSTGRES_USER"],
            password=env["POSTGRES_PASSWORD"] or None,
            connect_timeout=10,
            autocommit=True,
        )
    except psycopg.OperationalError as error:
        raise ConfigurationError(
            f"Cannot connect to PostgreSQL at {database.display}: {str(error).strip()}. "
            "Is the server running, and does BILLING_DATABASE_URL name the right database?"
        ) from None
    with connection:
        connection.execute("SELECT pg_advisory_lock(%s)", (CREATE_TABLES_LOCK,))
        try:
            yield connection
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", (CREATE_TABLES_LOCK,))


def _create_schema(connection: Any, schema: str | None) -> None:
    import psycopg.sql

    if schema and _schema_missing(connection, schema):
        connection.execute(
            psycopg.sql.SQL("CREATE SCHEMA {}").format(psycopg.sql.Identifier(schema))
        )


def _schema_missing(connection, schema: str) -> bool:
    row = connection.execute(
        "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (schema,)
    ).fetchone()
    return row is None


def build_with_tables(database: Database, factory: Callable[[dict[str, str]], T]) -> T:
    with tables_created_once(database):
        return factory(dict(database.env))
