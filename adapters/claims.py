"""Claiming a subscription for one tick, so that several schedulers share the work.

On PostgreSQL a scheduler takes a session advisory lock keyed by the subscription before
advancing it and skips any subscription another scheduler holds; a scheduler that dies loses
its session and with it its locks. The claim only saves work: correctness does not depend on
it (optimistic concurrency and deterministic ids already make a double step impossible).
SQLite has one writer at a time and needs no claims.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from adapters.persistence import Database


def lock_key(subscription_id: UUID | str) -> int:
    """A signed 64-bit advisory-lock key from a subscription id."""
    value = UUID(str(subscription_id)).int >> 64
    return value - (1 << 64) if value >= (1 << 63) else value


class NoClaims:
    @contextmanager
    def claim(self, subscription_id: UUID | str) -> Iterator[bool]:
        yield True

    def close(self) -> None:
        pass


class AdvisoryClaims:
    def __init__(self, database: Database) -> None:
        self.database = database
        self._connection: Any = None
        self._lock = threading.Lock()

    def _connect(self) -> Any:
        import psycopg

        env = self.database.env
        if self._connection is None or self._connection.closed:
            self._connection = psycopg.connect(
                host=env["POSTGRES_HOST"],
                port=int(env["POSTGRES_PORT"]),
                dbname=env["POSTGRES_DBNAME"],
                user=env["POSTGRES_USER"],
                password=env["POSTGRES_PASSWORD"] or None,
                autocommit=True,
                connect_timeout=10,
            )
        return self._connection

    @contextmanager
    def claim(self, subscription_id: UUID | str) -> Iterator[bool]:
        key = lock_key(subscription_id)
        with self._lock:
            connection = self._connect()
            got = connection.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]
        try:
            yield bool(got)
        finally:
            if got:
                with self._lock:
                    connection.execute("SELECT pg_advisory_unlock(%s)", (key,))

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()


def claims_for(database: Database) -> NoClaims | AdvisoryClaims:
    return AdvisoryClaims(database) if database.kind == "postgres" else NoClaims()
