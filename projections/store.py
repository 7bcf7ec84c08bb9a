"""Read models in the database, each with its tracking position, written exactly once.

The view recorders are eventsourcing tracking recorders (SQLite and PostgreSQL): for each
batch of events (``process_batch``, up to ``BATCH`` of them) they write every read model's rows
and its tracking row in one transaction. Each read model tracks its own position (application
name ``billing/<read model>``), so one can be rebuilt while the others go on; an event at or
below a read model's position is skipped for it. A position moves only by compare-and-set from
the one this process read, so of two followers folding the same batch one commits and the
other writes nothing and reads the positions again: nothing is counted twice
(docs/ARCHITECTURE.md, "Read models: folded in batches, exactly once").
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from eventsourcing.persistence import DataError, Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder

from projections.model import Add, AggregateStates, Append, ReadModel
from projections.views import ALL_READ_MODELS

log = logging.getLogger(__name__)

#: Events folded per transaction by a catch-up: one transaction and one tracking write per
#: read model for the batch instead of per event (docs/BENCHMARKS.md, "Issue 22: batched
#: catch-up").
BATCH = 500

# --- text a database cannot hold --------------------------------------------------------------
#
# The input policy (domain/text.py) keeps control characters out of new events, but an event
# stored before it existed, by another version, or by hand may hold text a read model's table
# cannot: PostgreSQL refuses NUL in text, and no UTF-8 store can encode half a surrogate pair.
# Such a value is stored with U+FFFD in place of what it cannot hold, the fact is logged with
# the event and counted, and the read side goes on: one odd event is one visible problem, never
# an outage. The check costs nothing on the usual path: a live fold retries an event's
# transaction this way only after the database refused it; a rebuild turns it on only when a
# stored event's bytes carry such an escape (JSON writes both as \u escapes).

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_ESCAPED_UNSTORABLE = re.compile(rb"\\u0000|\\u[dD][89a-fA-F]")


class UnstorableText:
    """How many values were stored with U+FFFD in this process (the metrics show it)."""

    count = 0
    _lock = threading.Lock()

    @classmethod
    def add(cls, n: int) -> None:
        with cls._lock:
            cls.count += n


def storable(value: Any) -> Any:
    """``value`` as a read model can store it: text without NUL or lone surrogates."""
    if type(value) is str and _UNSTORABLE.search(value):
        UnstorableText.add(1)
        return _UNSTORABLE.sub("\ufffd", value)
    return value


def storable_values(values: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(storable(v) for v in values)


def holds_unstorable_escape(stored_state: bytes) -> bool:
    """Whether a stored event's JSON carries a NUL or a lone surrogate (as a \\u escape)."""
    return b"\\u" in stored_state and _ESCAPED_UNSTORABLE.search(stored_state) is not None


#: What a database raises for a value it cannot hold.
UNSTORABLE_ERRORS = (DataError, UnicodeEncodeError)


class Sql:
    """A cursor that speaks the portable SQL of :class:`Table` on either database."""

    def __init__(self, cursor: Any, dialect: str, schema: str = "") -> None:
        self.cursor = cursor
        self.dialect = dialect
        self.schema = schema

    def table(self, name: str) -> str:
        """A table's name as this database wants it (schema-qualified on PostgreSQL if set)."""
        return f"{self.schema}.{name}" if self.schema else name

    def _statement(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.dialect == "postgres" else statement

    def execute(self, statement: str, params: Sequence[Any] = (), *, prepared: bool = False) -> Sql:
        """``prepared``: on PostgreSQL, prepare the statement from its first use (for one sent
        in a pipeline after a statement that may fail: psycopg's own preparation at a fifth
        use is not checked there, and one aborted with the pipeline breaks the statement on
        that connection for good; adapters/chain.py has the story)."""
        if prepared and self.dialect == "postgres":
            self.cursor.execute(self._statement(statement), tuple(params), prepare=True)
        else:
            self.cursor.execute(self._statement(statement), tuple(params))
        return self

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if rows:
            self.cursor.executemany(self._statement(statement), rows)

    def load(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Insert many rows into a table that holds none of their keys (a rebuild's scratch
        table): COPY on PostgreSQL, several times cheaper there than an INSERT per row."""
        if self.dialect != "postgres":
            marks = ", ".join("?" for _ in columns)
            self.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
            return
        with self.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def rows(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.cursor.fetchall()]

    def scalar(self) -> Any:
        row = self.cursor.fetchone()
        if row is None:
            return None
        return next(iter(dict(row).values()))


def tracking_name(application_name: str, model: ReadModel) -> str:
    return f"{application_name}/{model.name}"


def write_rows(
    sql: Sql,
    model: ReadModel,
    rows: dict[Any, Any],
    table: str | None = None,
    *,
    sanitise: bool = False,
) -> None:
    """Upsert (or delete, for None) the rows of a state read model, or replace each key's
    group of rows (a list) of a grouped one; ``sanitise``: make every text storable first
    (see :func:`storable`)."""
    t = model.table
    table = table or sql.table(t.name)
    if model.group:
        # A grouped model: each key's rows are replaced as a whole.
        inserts = [t.values(row) for group in rows.values() for row in group or ()]
        if sanitise:
            inserts = [storable_values(values) for values in inserts]
        sql.executemany(f"DELETE FROM {table} WHERE {model.group} = ?", [(str(k),) for k in rows])
        sql.executemany(t.insert(table), inserts)
        return
    upserts = [t.values(row) for row in rows.values() if row is not None]
    if sanitise:
        upserts = [storable_values(values) for values in upserts]
    deletes = [k if isinstance(k, tuple) else (str(k),) for k, row in rows.items() if row is None]
    sql.executemany(t.upsert(table), upserts)
    sql.executemany(t.delete(table), deletes)


def write_entries(
    sql: Sql,
    model: ReadModel,
    entries: Iterable[Any],
    table: str | None = None,
    *,
    sanitise: bool = False,
) -> None:
    t = model.table
    table = table or sql.table(t.name)
    values = storable_values if sanitise else tuple
    appends = [values(t.values(e.row)) for e in entries if isinstance(e, Append)]
    sql.executemany(t.insert(table), appends)
    for e in entries:
        if isinstance(e, Add):
            sql.execute(t.add(model.counters, table), values(t.values(e.row)), prepared=True)


class ReadModelProcessing:
    """What both view recorders do with one event (mixed into each database's recorder)."""

    read_models: tuple[ReadModel, ...] = ALL_READ_MODELS
    dialect: ClassVar[str]
    states: AggregateStates
    datastore: Any

    if TYPE_CHECKING:  # provided by the eventsourcing tracking recorder this is mixed into
        table_migration_identifier: str

        def _max_tracking_id(self, application_name: str, cursor: Any) -> int | None: ...

    def _init_processing(self) -> None:
        self.states = AggregateStates(maxsize=20_000)
        self._routes: dict[tuple[type, int], list[ReadModel]] = {}
        #: Each read model's position as this process last knew it (None: read them again;
        #: a None position: that read model was never tracked yet).
        self._tracked_positions: dict[str, int | None] | None = None

    def forget_positions(self) -> None:
        """Read the positions from the store again before the next event (after a rebuild)."""
        self._tracked_positions = None

    def models_for(self, event_type: type) -> list[ReadModel]:
        """The read models that events of this type can change (worked out once per type)."""
        key = (event_type, id(self.read_models))
        models = self._routes.get(key)
        if models is None:
            models = self._routes[key] = [m for m in self.read_models if m.wants(event_type)]
        return models

    @property
    def schema(self) -> str:
        return getattr(self.datastore, "schema", "") or ""

    def sql(self, cursor: Any) -> Sql:
        return Sql(cursor, self.dialect, self.schema)

    def table_statements(self) -> list[str]:
        statements: list[str] = []
        for model in self.read_models:
            statements += model.table.create(self.sql(None).table(model.table.name))
        return statements

    @property
    def _tracking_table(self) -> str:
        return self.sql(None).table(getattr(self, "tracking_table_name", "tracking"))

    def _read_positions(self, cursor: Any, application_name: str) -> dict[str, int | None]:
        """Every read model's tracking position in one statement (None: never tracked)."""
        names = {tracking_name(application_name, m): m.name for m in self.read_models}
        marks = ", ".join("?" for _ in names)
        rows = (
            self.sql(cursor)
            .execute(
                f"SELECT application_name, notification_id FROM {self._tracking_table} "
                f"WHERE application_name IN ({marks})",
                list(names),
            )
            .rows()
        )
        found: dict[str, int | None] = dict.fromkeys(names.values())
        for row in rows:
            found[names[row["application_name"]]] = row["notification_id"]
        return found

    def max_tracking_id(self, application_name: str) -> int | None:
        """The position from which all read models are up to date: the least of theirs."""
        if application_name == self.table_migration_identifier or "/" in application_name:
            return super().max_tracking_id(application_name)  # type: ignore[misc]
        positions = list(self._positions_now(application_name).values())
        known = [p for p in positions if p is not None]
        return None if len(known) < len(positions) else min(known)

    def positions(self, application_name: str) -> dict[str, int]:
        found = self._positions_now(application_name)
        return {name: position or 0 for name, position in found.items()}

    def _tracked(self, application_name: str) -> dict[str, int | None]:
        """The positions as this process last knew them, read again when forgotten."""
        if self._tracked_positions is None:
            self._tracked_positions = self._positions_now(application_name)
        return self._tracked_positions

    def held_position(self) -> int | None:
        """On PostgreSQL, the least position as this process last knew it, without asking the
        store (None: forgotten, or SQLite; read it). Positions never move back (a rebuild sets
        them to the head it folded), so one another process moved on since is only behind:
        the fold's own read of the positions, under its lock, finds that they moved and
        computes nothing, and the positions are read again (:meth:`process_batch`). SQLite's
        folds have no such read: there the store's position is read first, as before."""
        held = self._tracked_positions
        if self.dialect != "postgres" or held is None:
            return None
        known = [p for p in held.values() if p is not None]
        return min(known) if len(known) == len(held) else 0

    def _positions_now(self, application_name: str) -> dict[str, int | None]:
        """The positions in the store: on PostgreSQL one statement on an autocommit
        connection (one round trip, where a transaction around it took three: every fold
        reads them, and so does a follower woken by each write)."""
        if self.dialect == "postgres":
            with self.datastore.get_connection() as connection, connection.cursor() as cursor:
                return self._read_positions(cursor, application_name)
        with self.datastore.transaction(commit=False) as cursor:
            return self._read_positions(cursor, application_name)

    def _move_tracking(self, cursor: Any, name: str, old: int | None, new: int) -> None:
        """Move a read model's position from ``old`` to ``new``, or raise LostRace when
        another follower moved it first (compare-and-set: the library's upsert would accept
        a stale batch whose last position is larger than the one written meanwhile)."""
        sql = self.sql(cursor)
        if old is None:
            sql.execute(
                f"INSERT INTO {self._tracking_table} (application_name, notification_id) "
                "VALUES (?, ?) ON CONFLICT (application_name) DO NOTHING",
                (name, new),
            )
        else:
            sql.execute(
                f"UPDATE {self._tracking_table} SET notification_id = ? "
                "WHERE application_name = ? AND notification_id = ?",
                (new, name, old),
            )
        raw = getattr(sql.cursor, "sqlite_cursor", sql.cursor)  # eventsourcing's SQLite wrapper
        if raw.rowcount != 1:
            raise LostRace(name)

    def process(self, domain_event: Any, tracking: Tracking) -> bool:
        """Apply one event to every read model not yet past it (a batch of one); False if
        none needed it or another follower folded it first."""
        return (
            self.process_batch(
                tracking.application_name, [(domain_event, tracking.notification_id)]
            )
            == 1
        )

    def process_batch(self, application_name: str, batch: Sequence[tuple[Any, int]]) -> int:
        """Fold a batch of (event, notification id), in log order, in one transaction:
        returns how many of its events some read model needed, or -1 when another follower
        moved a position first (nothing was written; states and positions are forgotten, so
        the caller reads the positions again and goes on from there).

        Each read model's rows touched by the batch are recomputed once, from the states at
        its end; its entries (appends, counters) are computed at their event, all written, in
        order. Tracking rows move first, by compare-and-set and in the same order in every
        follower (see :meth:`_move_tracking`), then the rows; exactly once holds with several
        followers in several processes. The positions this process holds move only once the
        transaction committed. On SQLite everything that reads (aggregates a row needs that
        are not held) is done before the write transaction, which only writes: a connection
        asked for while holding the single writer of SQLite could wait for a thread queued
        for it. PostgreSQL: :meth:`_process_batch_postgres`."""
        try:
            if self.dialect == "postgres":
                done = self._process_batch_postgres(application_name, batch)
            else:
                done = self._process_batch(application_name, batch, self._write_in_transaction)
        except LostRace as lost:
            # Another follower moved a position first: nothing of this batch was written, and
            # what this process holds is behind the store. (Any other IntegrityError is a
            # read model's constraint refusing a row: a fault, raised as is.)
            log.debug(
                "read models: batch #%d-#%d lost to another follower (%s)",
                batch[0][1],
                batch[-1][1],
                lost,
            )
            done = None
        if done is None:
            self.states.forget()
            self.forget_positions()
            return -1
        needed, moved = done
        self._tracked(application_name).update(moved)
        return needed

    def _process_batch_postgres(
        self, application_name: str, batch: Sequence[tuple[Any, int]]
    ) -> tuple[int, dict[str, int]] | None:
        """The batch in one transaction sent as a pipeline, in three round trips whatever the
        number of read models and rows (a fold is what every write waits for before it
        answers: docs/BENCHMARKS.md, "Issue 22: payments on PostgreSQL in the open loop"):

        1. ``BEGIN``, a transaction advisory lock keyed by the tracking table and the
           application, and the positions. One follower at a time folds: followers in several
           processes (schedulers, API workers) wait for each other instead of all computing the
           same batch and all but one throwing it away. Positions that moved since this
           process read them: nothing is computed (None), the caller goes on from the store's;
        2. the batch folded in memory, then the tracking rows moved by compare-and-set (one
           statement) and the rows written; the moved positions are counted before anything
           is committed (the compare-and-set stays the guard of exactly once);
        3. ``COMMIT``.

        Returns (events needed, new positions), or None when the positions had moved."""
        key = f"{self._tracking_table}/{application_name}"
        with (
            self.datastore.get_connection() as connection,
            connection.pipeline(),
            connection.transaction(),
        ):
            cursor = connection.cursor()
            cursor.execute("SELECT pg_advisory_xact_lock(22, hashtext(%s))", (key,))
            fresh = self._read_positions(cursor, application_name)
            if self._tracked_positions is None:
                self._tracked_positions = fresh
            elif fresh != self._tracked_positions:
                return None
            done = self._process_batch(
                application_name,
                batch,
                functools.partial(self._write_pipelined, connection),
            )
        return done  # committed: the pipeline's end synced the COMMIT, or raised

    def _process_batch(
        self,
        application_name: str,
        batch: Sequence[tuple[Any, int]],
        write: Callable[..., None],
    ) -> tuple[int, dict[str, int]]:
        tracked = self._tracked(application_name)
        touched: dict[str, dict[Any, None]] = {}
        entries: dict[str, list[Any]] = {}
        moved: dict[str, int] = {}
        for model in self.read_models:
            model.begin_batch()
        try:
            needed = self._fold_batch(batch, tracked, touched, entries, moved)
        finally:
            for model in self.read_models:
                model.end_batch()
        if not moved:
            return 0, moved
        changes = [
            (
                model,
                {key: model.recompute(key, self.states) for key in touched.get(model.name, ())},
                entries.get(model.name, []),
            )
            for model in self.read_models
            if model.name in moved
        ]
        write(application_name, batch, tracked, moved, changes)
        return needed, moved

    def _write_in_transaction(
        self,
        application_name: str,
        batch: Sequence[tuple[Any, int]],
        tracked: dict[str, int | None],
        moved: dict[str, int],
        changes: list[tuple[ReadModel, dict[Any, Any], list[Any]]],
    ) -> None:
        """The batch's write in a transaction of its own (SQLite)."""
        try:
            with self.datastore.transaction(commit=True) as cursor:
                self._write_batch(cursor, application_name, tracked, moved, changes)
        except UNSTORABLE_ERRORS as error:
            _unstorable(batch, error)
            with self.datastore.transaction(commit=True) as cursor:
                self._write_batch(cursor, application_name, tracked, moved, changes, sanitise=True)

    def _write_pipelined(
        self,
        connection: Any,
        application_name: str,
        batch: Sequence[tuple[Any, int]],
        tracked: dict[str, int | None],
        moved: dict[str, int],
        changes: list[tuple[ReadModel, dict[Any, Any], list[Any]]],
    ) -> None:
        """The batch's write in the pipelined transaction of :meth:`_process_batch_postgres`:
        the tracking rows first (those tracked: one compare-and-set UPDATE; those never
        tracked: one INSERT … ON CONFLICT DO NOTHING), then the rows, in a savepoint, so that
        text the database cannot hold (refused by psycopg as the statement is queued) is
        written again storable; then one round trip checks that every position moved."""
        import psycopg

        table = self._tracking_table
        moves = [
            (tracking_name(application_name, m), tracked[m.name], moved[m.name])
            for m in self.read_models
            if m.name in moved
        ]
        updates = [(name, old, new) for name, old, new in moves if old is not None]
        inserts = [(name, new) for name, old, new in moves if old is None]
        checks = []
        if updates:
            cursor = connection.cursor()
            cursor.execute(
                f"UPDATE {table} AS t SET notification_id = m.new "
                "FROM unnest(%s::text[], %s::bigint[], %s::bigint[]) AS m(name, old, new) "
                "WHERE t.application_name = m.name AND t.notification_id = m.old "
                "RETURNING t.application_name",
                [list(column) for column in zip(*updates, strict=True)],
            )
            checks.append((cursor, [name for name, _, _ in updates]))
        if inserts:
            cursor = connection.cursor()
            cursor.execute(
                f"INSERT INTO {table} (application_name, notification_id) "
                "SELECT * FROM unnest(%s::text[], %s::bigint[]) "
                "ON CONFLICT (application_name) DO NOTHING RETURNING application_name",
                [list(column) for column in zip(*inserts, strict=True)],
            )
            checks.append((cursor, [name for name, _ in inserts]))
        sql = self.sql(connection.cursor())
        try:
            with connection.transaction():  # a savepoint
                _write_changes(sql, changes)
        except (psycopg.DataError, UnicodeEncodeError) as error:
            _unstorable(batch, error)
            _write_changes(sql, changes, sanitise=True)
        for cursor, names in checks:
            if len(cursor.fetchall()) != len(names):
                raise LostRace(", ".join(names))

    def _fold_batch(
        self,
        batch: Sequence[tuple[Any, int]],
        tracked: dict[str, int | None],
        touched: dict[str, dict[Any, None]],
        entries: dict[str, list[Any]],
        moved: dict[str, int],
    ) -> int:
        """Advance the states by the batch's events, collecting each read model's touched
        keys, its entries and its new position; returns how many events some model needed."""
        needed = 0
        for domain_event, notification_id in batch:
            behind = [m for m in self.read_models if notification_id > (tracked[m.name] or 0)]
            if not behind:
                # Another follower folded this event; what we hold of its aggregate is stale.
                self.states.discard(domain_event.originator_id)
                continue
            needed += 1
            self.states.apply(domain_event)
            self.states.position = notification_id
            interested = self.models_for(type(domain_event))
            for model in behind:
                moved[model.name] = notification_id
                if model not in interested:
                    continue
                keys = touched.setdefault(model.name, {})
                for key in model.touched(domain_event, self.states):
                    keys[key] = None
                added = list(model.entries(domain_event, self.states))
                if added:
                    entries.setdefault(model.name, []).extend(added)
        return needed

    def _write_batch(
        self,
        cursor: Any,
        application_name: str,
        tracked: dict[str, int | None],
        moved: dict[str, int],
        changes: list[tuple[ReadModel, dict[Any, Any], list[Any]]],
        *,
        sanitise: bool = False,
    ) -> None:
        # Tracking first, in the read models' order: every follower locks the same rows in
        # the same order before any data row, so two followers cannot deadlock.
        for model in self.read_models:
            if model.name in moved:
                self._move_tracking(
                    cursor,
                    tracking_name(application_name, model),
                    tracked[model.name],
                    moved[model.name],
                )
        _write_changes(self.sql(cursor), changes, sanitise=sanitise)


def _write_changes(
    sql: Sql,
    changes: list[tuple[ReadModel, dict[Any, Any], list[Any]]],
    *,
    sanitise: bool = False,
) -> None:
    for model, rows, added in changes:
        if rows:
            write_rows(sql, model, rows, sanitise=sanitise)
        if added:
            write_entries(sql, model, added, sanitise=sanitise)


def _unstorable(batch: Sequence[tuple[Any, int]], error: BaseException) -> None:
    """A row holds text the database cannot store (see storable): it is stored with U+FFFD in
    place of what it cannot hold; say which events led here."""
    log.error(
        "read models: the rows after events #%d to #%d (the last %s v%d of %s) "
        "hold text this database cannot store (%s); stored with U+FFFD in its place",
        batch[0][1],
        batch[-1][1],
        type(batch[-1][0]).__qualname__,
        batch[-1][0].originator_version,
        batch[-1][0].originator_id,
        str(error).strip() or type(error).__name__,
    )


class LostRace(Exception):
    """Another follower moved a read model's tracking position first."""


class SQLiteReadModelRecorder(ReadModelProcessing, SQLiteTrackingRecorder):
    dialect = "sqlite"

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self._init_processing()

    def construct_create_table_statements(self) -> list[str]:
        return super().construct_create_table_statements() + self.table_statements()


class PostgresReadModelRecorder(ReadModelProcessing, PostgresTrackingRecorder):
    dialect = "postgres"

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self._init_processing()
        self._base_statements = list(self.sql_create_statements)
        self.add_table_statements(self.read_models)

    def add_table_statements(self, models: Sequence[ReadModel]) -> None:
        """Create the tables of these read models with the tracking table."""
        from psycopg.sql import SQL

        self.read_models = tuple(models)
        self.sql_create_statements = list(self._base_statements)
        for statement in self.table_statements():
            self.sql_create_statements.append(SQL(statement))  # type: ignore[arg-type]
