"""A hash chain over the stored events, kept beside them and extended as they are recorded.

Each link is SHA-256 of the previous link and of the event as stored (its position, aggregate
id, version, topic and bytes). The link is written in the same transaction as the event, by
recorder subclasses that the persistence settings select, so no event is ever stored without
its link. ``verify_chain`` walks events and links together: an altered event no longer matches
its link, a deleted event leaves a link without an event (or a gap in its aggregate's
versions), and a deleted link leaves an event without one. Every finding names the aggregate
and version.

Tables are written while the recorder holds its insert lock (PostgreSQL locks the events table
for every insert; SQLite has one writer), so links are appended in notification order.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

GENESIS = bytes(32)
CHAIN_TABLE = "event_chain"


def link_of(previous: bytes, notification_id: int, event: StoredEvent) -> bytes:
    originator = (
        event.originator_id.hex
        if isinstance(event.originator_id, UUID)
        else str(event.originator_id)
    )
    digest = hashlib.sha256(previous)
    digest.update(
        f"|{notification_id}|{originator}|{event.originator_version}|{event.topic}|".encode()
    )
    digest.update(bytes(event.state))
    return digest.digest()


def _links(previous: bytes, ids: Sequence[int], events: Sequence[StoredEvent]) -> list[tuple]:
    rows = []
    for notification_id, event in zip(ids, events, strict=True):
        previous = link_of(previous, notification_id, event)
        originator = (
            event.originator_id.hex
            if isinstance(event.originator_id, UUID)
            else str(event.originator_id)
        )
        rows.append((notification_id, originator, event.originator_version, previous.hex()))
    return rows


class ChainedSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from adapters.persistence import cache_sqlite_statements

        # Built before the store's first connection: every one keeps its prepared statements.
        cache_sqlite_statements(self.datastore.pool)

    def construct_create_table_statements(self) -> list[str]:
        statements = super().construct_create_table_statements()
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {CHAIN_TABLE} ("
            "notification_id INTEGER PRIMARY KEY, "
            "originator_id TEXT NOT NULL, "
            "originator_version INTEGER NOT NULL, "
            "link TEXT NOT NULL)"
        )
        return statements

    def select_events_after(self, versions: Mapping[UUID, int]) -> list[StoredEvent]:
        """The events of several aggregates newer than the version given for each, in one
        statement (service_layer/aggregate_cache.py)."""
        if not versions:
            return []
        where = " OR ".join(["(originator_id=? AND originator_version>?)"] * len(versions))
        params: list[Any] = []
        for aggregate_id, version in versions.items():
            params += [
                aggregate_id.hex if isinstance(aggregate_id, UUID) else aggregate_id,
                version,
            ]
        statement = (
            f"SELECT * FROM {self.events_table_name} WHERE {where} "
            "ORDER BY originator_id, originator_version"
        )
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            return [
                StoredEvent(
                    originator_id=self.convert_originator_id(row["originator_id"]),
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=row["state"],
                )
                for row in c.fetchall()
            ]

    def _insert_events(self, c, stored_events: Sequence[StoredEvent], **kwargs: Any):
        ids = super()._insert_events(c, stored_events, **kwargs)
        if stored_events and ids:
            c.execute(f"SELECT link FROM {CHAIN_TABLE} ORDER BY notification_id DESC LIMIT 1")
            row = c.fetchone()
            previous = bytes.fromhex(row[0]) if row else GENESIS
            c.executemany(
                f"INSERT INTO {CHAIN_TABLE} VALUES (?, ?, ?, ?)",
                _links(previous, ids, stored_events),
            )
        return ids


class ChainedPostgresApplicationRecorder(PostgresApplicationRecorder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from psycopg.sql import SQL, Identifier

        from adapters.persistence import check_idle_connections_only

        check_idle_connections_only(self.datastore)

        table = Identifier(self.datastore.schema or "public", CHAIN_TABLE)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                "notification_id bigint PRIMARY KEY, "
                "originator_id text NOT NULL, "
                "originator_version bigint NOT NULL, "
                "link text NOT NULL)"
            ).format(table)
        )
        self._select_last_link = SQL(
            "SELECT link FROM {} ORDER BY notification_id DESC LIMIT 1"
        ).format(table)
        self._insert_link = SQL("INSERT INTO {} VALUES (%s, %s, %s, %s)").format(table)
        #: The cursor of the running save's read of the last link (saves run in many threads).
        self._last_link = threading.local()
        id_type = SQL("uuid[]" if self.datastore.originator_id_type == "uuid" else "text[]")
        # The events as four arrays, not one array of the library's composite type: psycopg
        # dumps these in C, a composite value in Python (a fifteenth of a renewal day's CPU).
        self._insert_event_rows = SQL(
            "INSERT INTO {}.{} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%s::{}, %s::bigint[], %s::text[], %s::bytea[]) "
            "RETURNING notification_id"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name), id_type)
        self._notify = SQL("NOTIFY {}").format(Identifier(self.channel_name))
        self._select_events_after = SQL(
            "SELECT e.originator_id, e.originator_version, e.topic, e.state "
            "FROM {}.{} e JOIN unnest(%s::{}, %s::bigint[]) AS w(id, version) "
            "ON e.originator_id = w.id AND e.originator_version > w.version "
            "ORDER BY e.originator_id, e.originator_version"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name), id_type)

    def select_events_after(self, versions: Mapping[UUID, int]) -> list[StoredEvent]:
        """The events of several aggregates newer than the version given for each, in one
        query (a lifecycle's subscription and open invoices: service_layer/aggregate_cache.py)."""
        if not versions:
            return []
        ids = list(versions)
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._select_events_after, (ids, [versions[i] for i in ids]), prepare=True)
            return [
                StoredEvent(
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
                for row in curs.fetchall()
            ]

    def _insert_stored_events(
        self, curs, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(
            self._insert_event_rows,
            (
                [e.originator_id for e in stored_events],
                [e.originator_version for e in stored_events],
                [e.topic for e in stored_events],
                [e.state for e in stored_events],
            ),
            prepare=True,
        )
        # The chain's last link, read in the same pipeline as the insert, after the lock:
        # every save before this one has committed, links included, so it is the last. It
        # was a round trip of its own made with the events table locked, which every other
        # save waits for (docs/BENCHMARKS.md, "Issue 22: payments on PostgreSQL in the open
        # loop").
        # Prepared from its first use, or never (NOTIFY): psycopg prepares a statement left to
        # it at its fifth use, and if that use is aborted in the pipeline (the insert before it
        # conflicted), it takes the statement as prepared all the same, and every later save on
        # the connection fails with "prepared statement … does not exist". A first preparation
        # asked for is checked against its result and forgotten if it failed
        # (tests/integration/test_chain_links.py).
        last_link = curs.connection.cursor()
        last_link.execute(self._select_last_link, prepare=True)
        self._last_link.cursor = last_link

    def _notify_channel(self, curs: Any) -> None:
        curs.execute(self._notify, prepare=False)  # composed once, not at every insert

    def _fetch_ids_after_insert_events(
        self, curs, stored_events: Sequence[StoredEvent], **kwargs: Any
    ):
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        if stored_events and ids:
            # The events table is locked for this insert, so no link can be appended meanwhile.
            last_link, self._last_link.cursor = self._last_link.cursor, None
            row = last_link.fetchone()
            last_link.close()
            previous = bytes.fromhex(row["link"]) if row else GENESIS
            curs.executemany(self._insert_link, _links(previous, ids, stored_events))
        return ids


@dataclass(frozen=True)
class Finding:
    notification_id: int
    aggregate_id: str
    version: int
    problem: str

    def __str__(self) -> str:
        try:
            aggregate = str(UUID(self.aggregate_id))
        except ValueError:
            aggregate = self.aggregate_id
        return f"aggregate {aggregate} version {self.version} (event #{self.notification_id}): {self.problem}"


@dataclass(frozen=True)
class ChainLink:
    notification_id: int
    originator_id: str
    originator_version: int
    link: bytes


def verify_chain(events: Iterable[Any], links: Iterable[ChainLink]) -> tuple[int, list[Finding]]:
    """Walk stored events (notifications, in order) and chain links together.

    Returns how many events were checked and what was wrong, if anything.
    """
    findings: list[Finding] = []
    previous = GENESIS
    last_version: dict[str, int] = {}
    checked = 0
    event_iter: Iterator[Any] = iter(events)
    link_iter: Iterator[ChainLink] = iter(links)
    event = next(event_iter, None)
    link = next(link_iter, None)

    def check_version(originator: str, version: int, notification_id: int) -> None:
        expected = last_version.get(originator, 0) + 1
        if version > expected:
            for missing in range(expected, version):
                findings.append(
                    Finding(
                        notification_id,
                        originator,
                        missing,
                        "this version is missing: the event was removed",
                    )
                )
        last_version[originator] = max(version, last_version.get(originator, 0))

    while event is not None or link is not None:
        if event is not None and (link is None or event.id < link.notification_id):
            originator = _hex(event.originator_id)
            check_version(originator, event.originator_version, event.id)
            findings.append(
                Finding(
                    event.id,
                    originator,
                    event.originator_version,
                    "has no chain link: it was not recorded by the engine, or its link was deleted",
                )
            )
            checked += 1
            event = next(event_iter, None)
        elif link is None:  # pragma: no cover - the loop runs while one of them is left
            break
        elif event is None or link.notification_id < event.id:
            findings.append(
                Finding(
                    link.notification_id,
                    link.originator_id,
                    link.originator_version,
                    "was removed: the chain has its link but the event is gone",
                )
            )
            previous = link.link
            link = next(link_iter, None)
        else:
            originator = _hex(event.originator_id)
            check_version(originator, event.originator_version, event.id)
            if link_of(previous, event.id, event) != link.link:
                findings.append(
                    Finding(
                        event.id,
                        originator,
                        event.originator_version,
                        "was altered, or an event before it was removed: its bytes do not match the chain",
                    )
                )
            previous = link.link
            checked += 1
            event = next(event_iter, None)
            link = next(link_iter, None)
    return checked, findings


def _hex(originator_id: Any) -> str:
    return (
        originator_id.hex
        if isinstance(originator_id, UUID)
        else str(originator_id).replace("-", "")
    )


def stored_links(app: Any, page: int = 5_000) -> Iterator[ChainLink]:
    """The chain's links in order, read page by page from the application's database."""
    datastore = app.factory.datastore
    postgres = type(app.factory).__module__.endswith(".postgres")
    table = f"{datastore.schema}.{CHAIN_TABLE}" if postgres else CHAIN_TABLE
    placeholder = "%s" if postgres else "?"
    after = 0
    while True:
        with datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT notification_id, originator_id, originator_version, link FROM {table} "
                f"WHERE notification_id > {placeholder} ORDER BY notification_id LIMIT {int(page)}",
                (after,),
            )
            rows = [dict(r) for r in cursor.fetchall()]
        if not rows:
            return
        for row in rows:
            yield ChainLink(
                row["notification_id"],
                str(row["originator_id"]),
                row["originator_version"],
                bytes.fromhex(row["link"]),
            )
        after = rows[-1]["notification_id"]


def stored_events(app: Any, page: int = 5_000) -> Iterator[Any]:
    after = 0
    while True:
        batch = app.recorder.select_notifications(start=after, limit=page, inclusive_of_start=False)
        if not batch:
            return
        yield from batch
        after = batch[-1].id


def has_chain(app: Any) -> bool:
    return isinstance(
        app.recorder, ChainedSQLiteApplicationRecorder | ChainedPostgresApplicationRecorder
    )


def verify_stored_chain(app: Any) -> tuple[int, list[Finding]]:
    """Check every stored event of ``app`` against the hash chain beside it."""
    return verify_chain(stored_events(app), stored_links(app))
