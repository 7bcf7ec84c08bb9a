"""Read models in the database, each with its tracking position, written exactly once.

The view recorders are eventsourcing tracking recorders (SQLite and PostgreSQL): for each
event they write every read model's rows and that read model's tracking row in one
transaction. Each read model tracks its own position (application name
``billing/<read model>``), so one can be rebuilt while the others go on; an event at or below
a read model's position is skipped for it, and the library's single-row tracking insert (which
only moves forward) refuses a second writer of the same position, so nothing is counted twice.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from eventsourcing.persistence import DataError, IntegrityError, Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder

from projections.model import Add, AggregateStates, Append, ReadModel
from projections.views import ALL_READ_MODELS

log = logging.getLogger(__name__)

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

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Sql:
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
            sql.execute(t.add(model.counters, table), values(t.values(e.row)))


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
        #: Each read model's position as this process last knew it (None: read it again).
        self._known: dict[str, int] | None = None

    def forget_positions(self) -> None:
        """Read the positions from the store again before the next event (after a rebuild)."""
        self._known = None

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

    def _position(self, cursor: Any, name: str) -> int:
        return self._max_tracking_id(name, cursor) or 0

    def max_tracking_id(self, application_name: str) -> int | None:
        """The position from which all read models are up to date: the least of theirs."""
        if application_name == self.table_migration_identifier or "/" in application_name:
            return super().max_tracking_id(application_name)  # type: ignore[misc]
        with self.datastore.transaction(commit=False) as cursor:
            positions = [
                self._max_tracking_id(tracking_name(application_name, m), cursor)
                for m in self.read_models
            ]
        known = [p for p in positions if p is not None]
        return None if len(known) < len(positions) else min(known)

    def positions(self, application_name: str) -> dict[str, int]:
        with self.datastore.transaction(commit=False) as cursor:
            return {
                m.name: self._position(cursor, tracking_name(application_name, m))
                for m in self.read_models
            }

    def process(self, domain_event: Any, tracking: Tracking) -> bool:
        """Apply one event to every read model not yet past it; False if none needed it.

        Positions are kept in memory between events (the store is asked again when another
        process turns out to have written first: its tracking insert then conflicts), and
        everything else that reads (aggregates a row needs that are not held) is done before
        the write transaction, which only writes: a connection asked for while holding the
        single writer of SQLite could wait for a thread queued for that writer."""
        application = tracking.application_name
        if self._known is None:
            self._known = self.positions(application)
        known = self._known
        behind = [m for m in self.read_models if tracking.notification_id > known[m.name]]
        if not behind:
            # Another runner folded this event; what we hold of its aggregate is now stale.
            self.states.discard(domain_event.originator_id)
            return False
        self.states.apply(domain_event)
        self.states.position = tracking.notification_id
        interested = self.models_for(type(domain_event))
        changes = [
            (
                model,
                {
                    key: model.recompute(key, self.states)
                    for key in model.touched(domain_event, self.states)
                },
                list(model.entries(domain_event, self.states)),
            )
            for model in behind
            if model in interested
        ]
        try:
            try:
                with self.datastore.transaction(commit=True) as cursor:
                    self._write(cursor, behind, changes, tracking)
            except UNSTORABLE_ERRORS as error:
                # A row holds text the database cannot store (see storable): store it with
                # U+FFFD in place of what it cannot hold, and say which event led here.
                log.error(
                    "read models: the rows after event #%d (%s v%d of %s) hold text this "
                    "database cannot store (%s); stored with U+FFFD in its place",
                    tracking.notification_id,
                    type(domain_event).__qualname__,
                    domain_event.originator_version,
                    domain_event.originator_id,
                    str(error).strip() or type(error).__name__,
                )
                with self.datastore.transaction(commit=True) as cursor:
                    self._write(cursor, behind, changes, tracking, sanitise=True)
        except IntegrityError:
            # Another runner may have written this position first: then there is nothing to do.
            self.states.discard(domain_event.originator_id)
            self._known = None  # what this process knew is behind the store
            positions = self.positions(application)
            if all(p >= tracking.notification_id for p in positions.values()):
                log.debug(
                    "event %s was already processed by another runner", tracking.notification_id
                )
                return False
            if any(positions[m.name] >= tracking.notification_id for m in behind):
                # Some read models were moved past it meanwhile (a rebuild swapped them in):
                # the event goes on for the others alone.
                return self.process(domain_event, tracking)
            raise
        for model in behind:
            known[model.name] = tracking.notification_id
        return True

    def _write(
        self,
        cursor: Any,
        behind: list[ReadModel],
        changes: list[tuple[ReadModel, dict[Any, Any], list[Any]]],
        tracking: Tracking,
        *,
        sanitise: bool = False,
    ) -> None:
        sql = self.sql(cursor)
        for model, rows, entries in changes:
            if rows:
                write_rows(sql, model, rows, sanitise=sanitise)
            if entries:
                write_entries(sql, model, entries, sanitise=sanitise)
        for model in behind:
            self._insert_tracking(  # type: ignore[attr-defined]
                cursor,
                Tracking(tracking_name(tracking.application_name, model), tracking.notification_id),
            )


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
