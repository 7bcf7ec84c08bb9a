"""How a read model is written: tables, the rows an event changes, and the aggregate states
those rows are computed from.

A read model answers one question. It declares its table and says, for each event, what
changes:

- ``touched(event, states)``: the keys whose row must be recomputed from the aggregates'
  states (``row(key, states)``; ``None`` deletes the row). While following the log this
  happens at once; a rebuild recomputes each touched row once, at the end.
- ``entries(event, states)``: rows appended for this event (one per money movement, one per
  notice), or counters added to.

``AggregateStates`` holds each aggregate as it stands after the events processed so far,
advanced with the aggregates' own event-applying code, so a read model row is a plain
function of the same state the commands decide on: it cannot fold the events differently.
"""

from __future__ import annotations

import copy
import json
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cached_property
from operator import itemgetter
from typing import Any, ClassVar, TypeVar, overload
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.jalali import TEHRAN, JalaliDate

# --- values as stored ---------------------------------------------------------------------------


def moment(value: datetime | None) -> str | None:
    """Moments are stored as fixed-width ISO 8601 UTC text, so they sort and compare as text:
    ``2026-11-25T08:30:00.000000Z``."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # isoformat is several times cheaper than strftime, and a rebuild formats millions of these.
    return value.isoformat(timespec="microseconds")[:26] + "Z"


def parse_moment(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def uuid_text(value: UUID | None) -> str | None:
    return None if value is None else str(value)


_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=str)


def as_json(value: Any) -> str:
    """Canonical JSON text (sorted keys, Persian kept as is) for a read model's column."""
    return _JSON.encode(value)


# --- tables -------------------------------------------------------------------------------------


A = TypeVar("A", bound=Aggregate)


@dataclass(frozen=True)
class Table:
    """A table in portable SQL (SQLite and PostgreSQL): TEXT, BIGINT, INTEGER columns."""

    name: str
    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...]
    checks: tuple[str, ...] = ()
    indexes: tuple[tuple[str, ...], ...] = ()
    uniques: tuple[tuple[str, ...], ...] = ()

    @cached_property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    @cached_property
    def _values(self) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
        # One C call per row instead of a generator: a rebuild writes hundreds of thousands.
        return _getter(self.column_names)

    @cached_property
    def _key(self) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
        return _getter(self.key)

    def create(self, name: str | None = None) -> list[str]:
        """CREATE statements; ``name`` may be schema-qualified or a scratch table's name."""
        table = name or self.name
        parts = [f"{column} {kind}" for column, kind in self.columns]
        parts.append(f"PRIMARY KEY ({', '.join(self.key)})")
        parts += [f"UNIQUE ({', '.join(u)})" for u in self.uniques]
        parts += [f"CHECK ({check})" for check in self.checks]
        statements = [f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(parts)})"]
        bare = table.rsplit(".", 1)[-1]
        for columns in self.indexes:
            index = f"{bare}_{'_'.join(columns)}_idx"
            statements.append(
                f"CREATE INDEX IF NOT EXISTS {index} ON {table} ({', '.join(columns)})"
            )
        return statements

    def create_unkeyed(self, name: str) -> str:
        """The table without its primary key and unique constraints, for a rebuild's scratch
        table on PostgreSQL: rows are loaded first and the keys added after
        (:meth:`add_keys`), one sorted index build each instead of an index insert per row."""
        parts = [f"{column} {kind}" for column, kind in self.columns]
        parts += [f"CHECK ({check})" for check in self.checks]
        return f"CREATE TABLE IF NOT EXISTS {name} ({', '.join(parts)})"

    def add_keys(self, name: str) -> list[str]:
        """The primary key and unique constraints :meth:`create_unkeyed` left out."""
        return [f"ALTER TABLE {name} ADD PRIMARY KEY ({', '.join(self.key)})"] + [
            f"ALTER TABLE {name} ADD UNIQUE ({', '.join(u)})" for u in self.uniques
        ]

    def upsert(self, name: str | None = None) -> str:
        table = name or self.name
        columns = self.column_names
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in self.key)
        placeholders = ", ".join("?" for _ in columns)
        return (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) "
            f"ON CONFLICT ({', '.join(self.key)}) DO UPDATE SET {updates}"
        )

    def insert(self, name: str | None = None) -> str:
        table = name or self.name
        columns = self.column_names
        return (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
        )

    def delete(self, name: str | None = None) -> str:
        table = name or self.name
        return f"DELETE FROM {table} WHERE {' AND '.join(f'{k} = ?' for k in self.key)}"

    def add(self, increments: Sequence[str], name: str | None = None) -> str:
        """Insert a counter row, or add to the existing one."""
        table = name or self.name
        columns = self.column_names
        sets = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in increments)
        return (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)}) "
            f"ON CONFLICT ({', '.join(self.key)}) DO UPDATE SET {sets}"
        )

    def values(self, row: dict[str, Any]) -> tuple[Any, ...]:
        return self._values(row)

    def key_of(self, row: dict[str, Any]) -> tuple[Any, ...]:
        return self._key(row)


def _getter(names: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """``row -> tuple(row[n] for n in names)``, always a tuple (itemgetter of one name is not)."""
    if len(names) == 1:
        (name,) = names
        return lambda row: (row[name],)
    return itemgetter(*names)


# --- what an event changes ------------------------------------------------------------------------


@dataclass(frozen=True)
class Append:
    """A row that exists because of this one event (its key includes the event's position)."""

    row: dict[str, Any]


@dataclass(frozen=True)
class Add:
    """Amounts added to a counter row (created at zero if missing)."""

    row: dict[str, Any]


Entry = Append | Add


class ReadModel:
    """One question, one table. Subclasses set ``name`` and ``table`` and override what they use."""

    name: ClassVar[str]
    table: ClassVar[Table]
    #: Counter columns for ``Add`` entries.
    counters: ClassVar[tuple[str, ...]] = ()
    #: False for what must never be rebuilt from zero (the outbox: it would send everything again).
    rebuildable: ClassVar[bool] = True
    #: Raised when the rows' content changes with the table unchanged, so that tables written
    #: by the previous version are rebuilt when opened (``ReadModels.stale_tables``).
    version: ClassVar[int] = 1
    #: A grouped read model keeps several rows per key (a customer's search keys): the key is
    #: the value of this column in each of its rows, :meth:`rows` answers instead of
    #: :meth:`row`, and every write replaces the key's whole group (delete, then insert).
    group: ClassVar[str | None] = None

    def wants(self, event_type: type) -> bool:
        """Whether events of this type can change this read model (asked once per type)."""
        return True

    def touched(self, event: Any, states: AggregateStates) -> Iterable[Any]:
        """Keys whose row this event may change (recomputed with :meth:`row`)."""
        return ()

    def row(self, key: Any, states: AggregateStates) -> dict[str, Any] | None:
        """The row for ``key`` from the current states; None: there is no row."""
        raise NotImplementedError

    def rows(self, key: Any, states: AggregateStates) -> list[dict[str, Any]]:
        """A grouped read model's rows for ``key`` from the current states (none: no rows)."""
        raise NotImplementedError

    def recompute(self, key: Any, states: AggregateStates) -> Any:
        """What a touched key holds now: its row (or None), or a grouped model's list of rows."""
        return self.rows(key, states) if self.group else self.row(key, states)

    def entries(self, event: Any, states: AggregateStates) -> Iterable[Entry]:
        """Rows appended (or counters added to) because of this event."""
        return ()

    def begin_batch(self) -> None:
        """A batch of events is about to be folded (before its write transaction): read
        once what :meth:`entries` would otherwise ask the database for each event."""

    def end_batch(self) -> None:
        """The batch's rows are computed: forget what :meth:`begin_batch` read."""


# --- aggregate states as of the processed position ---------------------------------------------


Loader = Callable[[UUID, int | None], Aggregate | None]


@dataclass
class AggregateStates:
    """Aggregates as they stand after the events processed so far.

    ``loader(id, version)`` fetches an aggregate from the event store when it is not held (a
    read model that starts part-way through the log, or a bounded cache that let it go). A
    rebuild from zero needs no loader: every aggregate is created by an event it processes.
    """

    loader: Loader | None = None
    maxsize: int | None = None
    #: The notification id of the event being folded (set by the view recorder), so an entry
    #: can keep the log's order (the outbox's webhook rows); 0 when not known.
    position: int = 0
    _held: OrderedDict[UUID, Aggregate] = field(default_factory=OrderedDict)
    #: States a command just saved or loaded (:meth:`hint`), each with its version then,
    #: taken instead of loading that aggregate again; bounded, oldest dropped first.
    _hints: OrderedDict[UUID, tuple[Aggregate, int]] = field(default_factory=OrderedDict)
    HINTS: ClassVar[int] = 5_000
    _hints_lock: threading.Lock = field(default_factory=threading.Lock)

    def apply(self, event: Any) -> Aggregate | None:
        """Advance the event's aggregate by it (idempotent: an event already applied is skipped)."""
        aggregate_id = event.originator_id
        version = event.originator_version
        hinted = self._hints.get(aggregate_id)
        if hinted is not None and hinted[1] < version:
            self._drop_hint(aggregate_id)  # older than what is folded now: never useful again
        held = self._held.get(aggregate_id)
        if held is not None and held.version > version and self.loader is not None:
            # A get() loaded this aggregate ahead of the events folded so far (its latest
            # stored version): fold this event with the aggregate as it stood then.
            aggregate = self.loader(aggregate_id, version)
        elif held is not None and held.version >= version:
            aggregate = held
        elif held is not None and held.version == version - 1:
            aggregate = event.mutate(held)
        elif version == 1:
            aggregate = event.mutate(None)
        elif self.loader is not None:
            aggregate = self._hinted(aggregate_id, version) or self.loader(aggregate_id, version)
        else:
            raise LookupError(
                f"Event {type(event).__qualname__} v{version} of {aggregate_id} arrived without "
                "the events before it; a read model built from zero must see every event."
            )
        if aggregate is not None:
            self._hold(aggregate_id, aggregate)
        return aggregate

    @overload
    def get(self, aggregate_id: UUID) -> Aggregate | None: ...

    @overload
    def get(self, aggregate_id: UUID, kind: type[A]) -> A | None: ...

    def get(self, aggregate_id: UUID, kind: type[Aggregate] | None = None) -> Aggregate | None:
        """The aggregate as it stands, or None when the store has none by that id; with
        ``kind``, one of that class (another class under that id is a TypeError)."""
        held = self._held.get(aggregate_id)
        if held is None and self.loader is not None:
            held = self._hinted(aggregate_id) or self.loader(aggregate_id, None)
            if held is not None:
                self._hold(aggregate_id, held)
        elif held is not None and self.maxsize:
            self._held.move_to_end(aggregate_id)
        if held is not None and kind is not None and not isinstance(held, kind):
            raise TypeError(f"{aggregate_id} is a {type(held).__name__}, not a {kind.__name__}")
        return held

    def require(self, aggregate_id: UUID, kind: type[A]) -> A:
        """The aggregate of ``kind`` an event being folded belongs to: it exists."""
        held = self.get(aggregate_id, kind)
        if held is None:
            raise LookupError(f"no {kind.__name__} {aggregate_id} among the events folded")
        return held

    def _hold(self, aggregate_id: UUID, aggregate: Aggregate) -> None:
        self._held[aggregate_id] = aggregate
        if self.maxsize:
            self._held.move_to_end(aggregate_id)
            while len(self._held) > self.maxsize:
                self._held.popitem(last=False)

    def discard(self, aggregate_id: UUID) -> None:
        self._held.pop(aggregate_id, None)
        self._drop_hint(aggregate_id)

    def forget(self) -> None:
        self._held.clear()
        with self._hints_lock:
            self._hints.clear()

    def _drop_hint(self, aggregate_id: UUID) -> None:
        with self._hints_lock:
            self._hints.pop(aggregate_id, None)

    def hint(
        self, aggregates: Iterable[Aggregate], first_saved: Mapping[UUID, int] | None = None
    ) -> None:
        """Aggregates as a command just saved (or loaded) them, in the thread that ran it: the
        fold takes one instead of loading it, when it needs that aggregate at exactly that
        version (:meth:`apply`) or at its latest (:meth:`get`, as good as a load then).

        Each is copied here, in the command's thread, before anything else can touch it: the
        command's aggregates go back to the aggregate cache after the save
        (service_layer/aggregate_cache.py) and the next command, maybe in another thread, takes
        and changes them while the fold runs.

        ``first_saved``: the version of the first event the save stored for each aggregate it
        changed. One the save created (first event 1) is not copied: the fold builds it from
        its own events. Nor is one the save moved by more than one event: :meth:`apply` needs
        it at the first of them, which this state is not, and loads it. Copying was a quarter
        of a busy tick's CPU (docs/BENCHMARKS.md); the copies are made with pickle, several
        times cheaper than ``copy.deepcopy`` for the same object graph."""
        first_saved = first_saved or {}
        copies = []
        for aggregate in aggregates:
            first = first_saved.get(aggregate.id)
            if first is not None and (first == 1 or aggregate.version > first):
                continue
            copies.append((aggregate.id, _copied(aggregate)))
        with self._hints_lock:  # commands hint from their threads, the fold takes in its own
            for aggregate_id, aggregate in copies:
                self._hints[aggregate_id] = (aggregate, aggregate.version)
                self._hints.move_to_end(aggregate_id)
            while len(self._hints) > self.HINTS:
                self._hints.popitem(last=False)

    def _hinted(self, aggregate_id: UUID, version: int | None = None) -> Aggregate | None:
        """The hinted state of this aggregate (at ``version``, if given), or None. It is the
        fold's own copy from then on (taken out of the hints)."""
        with self._hints_lock:
            found = self._hints.get(aggregate_id)
            if found is None or (version is not None and found[1] != version):
                return None
            del self._hints[aggregate_id]
        return found[0]


def _copied(aggregate: Aggregate) -> Aggregate:
    """A deep copy of ``aggregate`` that shares nothing with it."""
    try:
        copied: Aggregate = pickle.loads(pickle.dumps(aggregate, pickle.HIGHEST_PROTOCOL))
    except (pickle.PicklingError, TypeError, AttributeError):
        copied = copy.deepcopy(aggregate)  # something pickle cannot take: the general way
    return copied


_MONTH_OF_DAY: dict[date, str] = {}


def jalali_month(moment_: Any) -> str:
    """``1405/02``: the Jalali month of a moment in Tehran.

    Worked out once per Tehran day (a rebuild asks for it for every money movement; Tehran's
    offset is fixed, domain/jalali.py)."""
    day = moment_.astimezone(TEHRAN).date()
    month = _MONTH_OF_DAY.get(day)
    if month is None:
        if len(_MONTH_OF_DAY) > 100_000:
            _MONTH_OF_DAY.clear()
        month = _MONTH_OF_DAY[day] = JalaliDate.of(moment_).isoformat()[:7]
    return month


def one_of(column: str, values: Iterable[str]) -> str:
    """A CHECK that ``column`` holds one of ``values``."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"
