"""Idempotency keys, kept in the database: a retried request gets the first answer.

A mutating request with an ``Idempotency-Key`` header claims the key for its caller (the
token) by inserting a row; when it is answered, the answer is stored with a hash of the
request. A retry with the same key and the same body gets the stored answer and nothing is
done again; with another body it is refused. A key whose first request is still running is
refused with "in progress" (retry shortly); a claim whose request died without an answer is
released after a few minutes, and since every command is itself idempotent (new aggregates
take ids derived from the key), running it again is safe.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

STALE_CLAIM = timedelta(minutes=5)


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: bytes
    content_type: str


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a key: ours to run, an answer to replay, or a conflict."""

    ours: bool = False
    answer: StoredAnswer | None = None
    conflict: str | None = None  # "reused" (another request) or "in_progress"


def request_hash(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


class IdempotencyStore:
    TABLE = "idempotency_keys"

    def __init__(self, read_models: Any) -> None:
        self.view = read_models.view
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self.view.sql(cursor)
            sql.execute(
                f"CREATE TABLE IF NOT EXISTS {sql.table(self.TABLE)} ("
                "scope TEXT NOT NULL, key TEXT NOT NULL, request_hash TEXT NOT NULL, "
                "status INTEGER, content_type TEXT, body TEXT, claimed_at TEXT NOT NULL, answered_at TEXT, "
                "PRIMARY KEY (scope, key))"
            )

    @contextlib.contextmanager
    def _one_statement(self) -> Iterator[Any]:
        """A cursor for one statement that is a transaction by itself: on PostgreSQL an
        autocommit connection, one round trip where a BEGIN and a COMMIT around it made three
        (a keyed payment claims its key and stores its answer: docs/BENCHMARKS.md, "Issue 22:
        payments on PostgreSQL in the open loop"); on SQLite a transaction, as before."""
        datastore = self.view.datastore
        if self.view.dialect == "postgres":
            with datastore.get_connection() as conn, conn.cursor() as cursor:  # autocommit
                yield cursor
            return
        with datastore.transaction(commit=True) as cursor:
            yield cursor

    def claim(self, scope: str, key: str, digest: str, now: datetime) -> Claim:
        # A new key (nearly every request): the insert alone, one statement. A key seen
        # before: what it holds is read, and a stale claim taken over, in a transaction.
        with self._one_statement() as cursor:
            sql = self.view.sql(cursor)
            inserted = sql.execute(
                f"INSERT INTO {sql.table(self.TABLE)} (scope, key, request_hash, claimed_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (scope, key) DO NOTHING RETURNING key",
                (scope, key, digest, now.isoformat()),
            ).rows()
        if inserted:
            return Claim(ours=True)
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self.view.sql(cursor)
            table = sql.table(self.TABLE)
            rows = sql.execute(
                f"SELECT request_hash, status, content_type, body, claimed_at FROM {table} WHERE scope = ? AND key = ?",
                (scope, key),
            ).rows()
            if not rows:  # its first request failed and was released since: retry shortly
                return Claim(conflict="in_progress")
            row = rows[0]
            if row["request_hash"] != digest:
                return Claim(conflict="reused")
            if row["status"] is not None:
                return Claim(
                    answer=StoredAnswer(
                        int(row["status"]), row["body"].encode(), row["content_type"]
                    )
                )
            if now - datetime.fromisoformat(row["claimed_at"]) > STALE_CLAIM:
                sql.execute(
                    f"UPDATE {table} SET claimed_at = ? WHERE scope = ? AND key = ?",
                    (now.isoformat(), scope, key),
                )
                return Claim(ours=True)
            return Claim(conflict="in_progress")

    def answer(self, scope: str, key: str, answer: StoredAnswer, now: datetime) -> None:
        with self._one_statement() as cursor:
            sql = self.view.sql(cursor)
            sql.execute(
                f"UPDATE {sql.table(self.TABLE)} SET status = ?, content_type = ?, body = ?, answered_at = ? "
                "WHERE scope = ? AND key = ?",
                (
                    answer.status,
                    answer.content_type,
                    answer.body.decode(),
                    now.isoformat(),
                    scope,
                    key,
                ),
            )

    def release(self, scope: str, key: str) -> None:
        """Forget a claim whose request failed unexpectedly, so the retry runs it."""
        with self._one_statement() as cursor:
            sql = self.view.sql(cursor)
            sql.execute(
                f"DELETE FROM {sql.table(self.TABLE)} WHERE scope = ? AND key = ? AND status IS NULL",
                (scope, key),
            )
