"""Claiming a subscription for one tick, so that several schedulers share the work.

On PostgreSQL a scheduler takes a session advisory lock keyed by each subscription of a due
page before advancing them (all of a page in one statement) and skips any subscription another
scheduler holds; a scheduler that dies loses its session and with it its locks. The claim only saves work: correctness does not depend on
it (optimistic concurrency and deterministic ids already make a double step impossible).
SQLite has one writer at a time and needs no claims.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
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
    def claim_all(self, subscription_ids: Sequence[str]) -> Iterator[set[str]]:
        yield set(subscription_ids)

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
    def claim_all(self, subscription_ids: Sequence[str]) -> Iterator[set[str]]:
        """Claim a page of subscriptions at once: one statement tries every lock, one releases
        those taken (two round trips a page instead of two a subscription). Yields the ids
        this scheduler holds; the others are another scheduler's for now."""
        keys = [lock_key(i) for i in subscription_ids]
        with self._lock:
            connection = self._connect()
            rows = connection.execute(
                "SELECT k, pg_try_advisory_lock(k) FROM unnest(%s::bigint[]) AS k", (keys,)
            ).fetchall()
        held = [key for key, got in rows if got]
        taken = set(held)
        try:
            yield {i for i, key in zip(subscription_ids, keys, strict=True) if key in taken}
        finally:
            if held:
                with self._lock:
                    connection.execute(
                        "SELECT pg_advisory_unlock(k) FROM unnest(%s::bigint[]) AS k", (held,)
                    )

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()


def claims_for(database: Database) -> NoClaims | AdvisoryClaims:
    return AdvisoryClaims(database) if database.kind == "postgres" else NoClaims()
