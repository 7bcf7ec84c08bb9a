"""How far a rebuild has come, kept in table ``read_model_rebuild`` for ``/metrics``.

One row per read model: when its last rebuild started, the position its fold has reached, the
position it is heading for (the head of the log when it started, moved on as it catches up)
and when it was swapped in (NULL while it runs). Any process of the store can read it, so the
API's ``/metrics`` shows a rebuild run from the command line on another host.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from projections.model import moment
from projections.store import Sql

TABLE = "read_model_rebuild"
#: Seconds between two writes of the progress rows while folding.
EVERY = 2.0


def create(sql: Sql) -> None:
    sql.execute(
        f"CREATE TABLE IF NOT EXISTS {sql.table(TABLE)} (read_model TEXT PRIMARY KEY, "
        "started TEXT NOT NULL, position BIGINT NOT NULL, target BIGINT NOT NULL, finished TEXT)"
    )


def rows(sql: Sql) -> list[dict[str, Any]]:
    create(sql)
    return sql.execute(
        f"SELECT read_model, started, position, target, finished FROM {sql.table(TABLE)} "
        "ORDER BY read_model"
    ).rows()


def _now() -> str:
    # Wall-clock time of an operator's command, shown to people; nothing is decided by it.
    return moment(datetime.now(UTC)) or ""


class RebuildProgress:
    """Writes the progress rows of the read models one rebuild folds (``datastore``: the
    read models' own; each write is its own short transaction)."""

    def __init__(self, datastore: Any, sql_of: Any, names: Iterable[str]) -> None:
        self.datastore = datastore
        self.sql_of = sql_of
        self.names = list(names)
        self.written_at = 0.0

    def started(self, target: int) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            create(self.sql_of(cursor))
        # A transaction whose first statement writes: on SQLite one that read first could not
        # wait for the writer (it is refused at once), so the table is made in its own.
        with self.datastore.transaction(commit=True) as cursor:
            sql = self.sql_of(cursor)
            table = sql.table(TABLE)
            for name in self.names:
                sql.execute(
                    f"INSERT INTO {table} (read_model, started, position, target, finished) "
                    "VALUES (?, ?, 0, ?, NULL) ON CONFLICT (read_model) DO UPDATE SET "
                    "started = excluded.started, position = 0, target = excluded.target, "
                    "finished = NULL",
                    (name, _now(), target),
                )
        self.written_at = time.monotonic()

    def reached(self, position: int, target: int, *, force: bool = False) -> None:
        """At most one write every ``EVERY`` seconds (unless ``force``)."""
        if not force and time.monotonic() - self.written_at < EVERY:
            return
        with self.datastore.transaction(commit=True) as cursor:
            self._set(self.sql_of(cursor), position, target, finished=None)
        self.written_at = time.monotonic()

    def take_writer(self, sql: Sql) -> None:
        """A first write in the caller's transaction: on SQLite it takes the one writer now,
        waiting for it if need be (a transaction that read first would be refused at once)."""
        marks = ", ".join("?" for _ in self.names)
        sql.execute(
            f"UPDATE {sql.table(TABLE)} SET position = position WHERE read_model IN ({marks})",
            self.names,
        )

    def finished(self, sql: Sql, position: int) -> None:
        """In the swap's own transaction: the rows are swapped in at ``position``."""
        self._set(sql, position, position, finished=_now())

    def _set(self, sql: Sql, position: int, target: int, finished: str | None) -> None:
        marks = ", ".join("?" for _ in self.names)
        sql.execute(
            f"UPDATE {sql.table(TABLE)} SET position = ?, target = ?, finished = ? "
            f"WHERE read_model IN ({marks})",
            (position, max(target, position), finished, *self.names),
        )
