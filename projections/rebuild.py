"""Rebuilding the read models from the events, and verifying the live ones against a rebuild.

:class:`Rebuilding` is the part of :class:`projections.runner.ReadModels` that folds every
event from zero in memory (``fold``), swaps rebuilt tables in (``rebuild``) and compares a
rebuild with the live tables row by row (``verify``). It uses the runner's view, models,
application and positions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import Notification, Tracking

from adapters.collector import no_cyclic_gc
from projections.model import AggregateStates, ReadModel
from projections.rebuild_jobs import fold_in_jobs, index_in_threads
from projections.rebuild_progress import RebuildProgress
from projections.rebuild_progress import rows as progress_rows
from projections.store import (
    Sql,
    holds_unstorable_escape,
    storable_values,
    tracking_name,
    write_entries,
    write_rows,
)
from projections.views import read_model

log = logging.getLogger(__name__)

#: How often ``fold`` reports progress, in events.
SECTION = 1_000
Progress = Callable[[int, int], None]


def _scratch(model: ReadModel) -> str:
    return f"rebuild_{model.table.name}"


def _index_names(model: ReadModel) -> list[str]:
    """The names ``Table.create`` gives a table's indexes (after its bare name)."""
    return [f"{model.table.name}_{'_'.join(columns)}_idx" for columns in model.table.indexes]


#: Memory for one index build of a rebuild on PostgreSQL (``maintenance_work_mem`` for its
#: transaction only): the default 64 MB sorts the larger read models' keys on disk.
INDEX_BUILD_MEMORY = "256MB"


def _create_scratch(sql: Sql, model: ReadModel, scratch: str) -> str:
    """A scratch table: on PostgreSQL without its keys, added once it is loaded."""
    if sql.dialect == "postgres":
        return model.table.create_unkeyed(scratch)
    return model.table.create(scratch)[0]


def _index_scratch(sql: Sql, model: ReadModel, scratch: str) -> None:
    """The loaded scratch table's keys and indexes (PostgreSQL), each built in one sort."""
    sql.execute(f"SET LOCAL maintenance_work_mem = '{INDEX_BUILD_MEMORY}'")
    for statement in model.table.add_keys(scratch) + model.table.create(scratch)[1:]:
        sql.execute(statement)


def _is_lock_timeout(error: BaseException) -> bool:
    """A lock not granted in time, or a deadlock the database broke (PostgreSQL's 55P03,
    40P01; SQLite's busy writer)."""
    if getattr(error, "sqlstate", None) in ("55P03", "40P01"):
        return True
    return "database is locked" in str(error)


@dataclass(frozen=True)
class Drift:
    read_model: str
    key: tuple
    problem: str

    def __str__(self) -> str:
        return f"{self.read_model} {'/'.join(map(str, self.key))}: {self.problem}"


@dataclass(frozen=True)
class UnstorableEvent:
    """A stored event holding text a read model's table cannot (NUL, half a surrogate pair):
    its rows were stored with U+FFFD in place of it."""

    notification_id: int
    aggregate_id: Any
    version: int
    topic: str

    def __str__(self) -> str:
        event = self.topic.rpartition(":")[2] or self.topic
        return (
            f"event #{self.notification_id} ({event} v{self.version} of {self.aggregate_id}) "
            "holds text the read models cannot store as recorded (a NUL or half a surrogate "
            "pair); its rows show U+FFFD in its place"
        )


class Folding:
    """A fold of the log in memory, from zero, that can be taken further: the aggregates'
    states, each model's touched keys and entries, and the position reached (``last``)."""

    def __init__(self, models: Iterable[ReadModel]) -> None:
        self.models = list(models)
        self.states = AggregateStates()
        self.touched: dict[str, dict[Any, None]] = {m.name: {} for m in self.models}
        self.entries: dict[str, list[Any]] = {m.name: [] for m in self.models}
        self.routes: dict[type, list[tuple[Any, dict[Any, None], Any, list[Any]]]] = {}
        self.unstorable: list[UnstorableEvent] = []
        self.last = 0
        #: The head of the log when the rebuild began (set by it).
        self.started_at = 0

    def add(
        self,
        notifications: Iterable[Any],
        mapper: Any,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Fold these notifications (the ones after ``last``, in order)."""
        states, route = self.states, self.route
        for notification in notifications:
            event = mapper.to_domain_event(notification)
            states.apply(event)
            route(notification, event)
            self.last = notification.id
            if progress and self.last % SECTION == 0:
                progress(self.last)

    def route(self, notification: Any, event: Any) -> None:
        """Hand an event, already applied to ``states``, to the models that want its kind:
        the keys it touched and the entries it adds (one job's share: rebuild_jobs.py)."""
        if holds_unstorable_escape(notification.state):
            self.note_unstorable(notification)
        kind = type(event)
        plan = self.routes.get(kind)
        if plan is None:
            plan = self.routes[kind] = self._plan(kind)
        states = self.states
        for touched_by, keys, entries_of, found in plan:
            if touched_by is not None:
                for key in touched_by(event, states):
                    keys[key] = None
            if entries_of is not None:
                found.extend(entries_of(event, states))

    def _plan(self, kind: type) -> list[tuple[Any, dict[Any, None], Any, list[Any]]]:
        """For events of ``kind``: each interested model's ``touched`` and ``entries`` (None
        where the model keeps the default, which gives nothing) and where their results go.
        Planned once per kind and after each :meth:`take` (which starts new collections); a
        rebuild routes millions of events, and the models that want a kind and the methods
        they override do not change between them."""
        plan = []
        for m in self.models:
            if not m.wants(kind):
                continue
            model = type(m)
            touched_by = None if model.touched is ReadModel.touched else m.touched
            entries_of = None if model.entries is ReadModel.entries else m.entries
            plan.append((touched_by, self.touched[m.name], entries_of, self.entries[m.name]))
        return plan

    def note_unstorable(self, notification: Any) -> None:
        self.unstorable.append(
            UnstorableEvent(
                notification.id,
                notification.originator_id,
                notification.originator_version,
                notification.topic,
            )
        )

    def take(self) -> dict[str, tuple[dict[Any, Any], list[Any]]]:
        """Each model's rows (of every key touched since the last take) and entries, and
        start collecting afresh: a later take holds only what was folded after this one."""
        result = {
            m.name: (
                {key: m.recompute(key, self.states) for key in self.touched[m.name]},
                self.entries[m.name],
            )
            for m in self.models
        }
        self.touched = {m.name: {} for m in self.models}
        self.entries = {m.name: [] for m in self.models}
        self.routes = {}  # planned again, into the new collections
        return result


@dataclass(frozen=True)
class Swap:
    """The last swap: seconds from asking for the locks to the end of the swap (the commit
    aside), and events folded under them."""

    seconds: float
    events_under_lock: int
    events_after_start: int

    def __str__(self) -> str:
        return (
            f"swapped in after {self.seconds:.3f} s under lock, {self.events_under_lock} "
            f"event(s) folded there ({self.events_after_start} recorded since the rebuild began)"
        )


#: How often the swap tries to take its locks, and how long it waits for them each time.
SWAP_ATTEMPTS = 8
SWAP_LOCK_TIMEOUT_MS = 2_000


class Rebuilding:
    """Folding, rebuilding and verifying: a part of ReadModels (see the module docstring)."""

    app: Any
    view: Any
    models: tuple[ReadModel, ...]
    application_name: str
    unstorable: list[UnstorableEvent]
    #: What the last rebuild's swap took (None before one).
    last_swap: Swap | None = None

    if TYPE_CHECKING:  # kept current by projections.runner.ReadModels, which this is part of

        def _notifications(self, after: int, stop: int | None = None) -> Iterator[Any]: ...
        def _record_layout(self, sql: Sql, model: ReadModel) -> None: ...
        def catch_up(self) -> int: ...
        def _load(self, aggregate_id: Any, version: int | None) -> Any: ...
        def position(self) -> int: ...

    # --- rebuilding ---------------------------------------------------------------------------

    def fold(
        self,
        models: Iterable[ReadModel],
        *,
        upto: int | None = None,
        progress: Progress | None = None,
    ) -> tuple[dict[str, Any], int]:
        """Fold every event (up to ``upto``) into rows in memory, from zero; no store reads."""
        folding = Folding(models)
        total = upto if upto is not None else (self.app.recorder.max_notification_id() or 0)
        with no_cyclic_gc():
            folding.add(
                self._notifications(0, stop=upto),
                self.app.mapper,
                (lambda done: progress(done, total)) if progress is not None else None,
            )
            self._report_unstorable(folding)
            if progress:
                progress(folding.last, total)
            return folding.take(), folding.last

    def _report_unstorable(self, folding: Folding) -> None:
        self.unstorable = folding.unstorable
        for finding in folding.unstorable:
            log.error("read models: %s", finding)

    def _write_scratch(
        self, sql: Sql, model: ReadModel, rows: Any, entries: Any, scratch: str
    ) -> None:
        sql.execute(f"DROP TABLE IF EXISTS {scratch}")
        sql.execute(_create_scratch(sql, model, scratch))  # indexes come after loading
        # Every key is new to the scratch table (one row per touched key, appends keyed by
        # their event, counters merged per key), so the rows are loaded, not upserted.
        t = model.table
        if model.group:
            loaded = [t.values(row) for group in rows.values() for row in group or ()]
        else:
            loaded = [t.values(row) for row in rows.values() if row is not None]
        loaded += [t.values(e.row) for e in _merged(model, entries)]
        if self.unstorable:  # only then can a row hold text the table cannot store
            loaded = [storable_values(values) for values in loaded]
        sql.load(scratch, t.column_names, loaded)

    def rebuild(
        self,
        names: Iterable[str] | None = None,
        progress: Progress | None = None,
        *,
        jobs: int = 1,
    ) -> int:
        """Rebuild read models from the events while the live ones go on answering; returns
        the position they were swapped in at.

        The events are folded from zero in memory into scratch tables (``rebuild_rm_*``),
        indexed there; then a short step under lock (:meth:`_swap`) folds what was recorded
        meanwhile, replaces the live tables with the scratch ones and sets the tracking
        positions, so each read model's rows and position agree with every event up to it,
        whatever live followers in other processes folded in the meantime.

        ``jobs`` above 1 shares the fold among that many processes, by customer
        (projections/rebuild_jobs.py): PostgreSQL only (SQLite has one writer, and its
        database is a file of this process's), refused elsewhere with ``ValueError``."""
        if jobs < 1:
            raise ValueError(f"--jobs must be 1 or more, not {jobs}")
        if jobs > 1 and self.view.dialect != "postgres":
            raise ValueError(f"--jobs {jobs} needs PostgreSQL: on SQLite a rebuild runs as one job")
        models = [read_model(n) for n in names] if names else self.rebuildable
        tracker = RebuildProgress(self.view.datastore, self.view.sql, [m.name for m in models])
        target = self.app.recorder.max_notification_id() or 0
        tracker.started(target)

        def reached(done: int) -> None:
            if progress:
                progress(done, target)
            tracker.reached(done, target)

        with no_cyclic_gc():
            if jobs > 1:
                folding = self._fold_in_jobs(models, target, jobs, reached)
            else:
                folding = self._fold_in_one(models, target, reached, tracker)
            tracker.reached(folding.last, target, force=True)
            if progress:
                progress(folding.last, target)
            last = self._swap(models, folding, tracker)
        if progress:
            progress(last, last)
        self._report_unstorable(folding)
        self.view.states.forget()
        self.view.forget_positions()
        self.catch_up()  # the outbox, and what was recorded after the swap
        return last

    def _fold_in_one(
        self,
        models: list[ReadModel],
        target: int,
        reached: Callable[[int], None],
        tracker: RebuildProgress,
    ) -> Folding:
        """Fold the log in this process and load the scratch tables, indexed."""
        folding = Folding(models)
        folding.started_at = target
        folding.add(self._notifications(0), self.app.mapper, reached)
        self.unstorable = folding.unstorable  # the scratch rows are made storable if any
        folded = folding.take()
        for m in models:  # a transaction each, so a follower never waits long on SQLite
            with self.view.datastore.transaction(commit=True) as cursor:
                sql = self.view.sql(cursor)
                tracker.take_writer(sql)
                rows, entries = folded[m.name]
                scratch = sql.table(_scratch(m))
                self._write_scratch(sql, m, rows, entries, scratch)
                if self.view.dialect == "postgres":  # indexed now, outside the swap's locks
                    _index_scratch(sql, m, scratch)
        return folding

    def _fold_in_jobs(
        self, models: list[ReadModel], target: int, jobs: int, reached: Callable[[int], None]
    ) -> Folding:
        """Fold the log up to ``target`` in ``jobs`` processes, by customer, into scratch
        tables made here; add up their counters here, and index the tables. The folding
        returned holds no states: the swap loads an aggregate from the store when an event
        recorded meanwhile needs it, as a live follower does."""
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self.view.sql(cursor)
            for m in models:
                scratch = sql.table(_scratch(m))
                sql.execute(f"DROP TABLE IF EXISTS {scratch}")
                sql.execute(_create_scratch(sql, m, scratch))
        counters, unstorable = fold_in_jobs(self, models, target, jobs, reached)
        folding = Folding(models)
        folding.states = AggregateStates(loader=self._load)
        folding.started_at = folding.last = target
        folding.unstorable = unstorable
        self.unstorable = unstorable
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self.view.sql(cursor)
            for m in models:
                scratch = sql.table(_scratch(m))
                if m.name in counters:
                    t = m.table
                    loaded = [t.values(e.row) for e in counters[m.name]]
                    if unstorable:
                        loaded = [storable_values(values) for values in loaded]
                    sql.load(scratch, t.column_names, loaded)
        index_in_threads(self.view.datastore, self.view.schema, models, jobs)
        return folding

    def _swap(self, models: list[ReadModel], folding: Folding, tracker: RebuildProgress) -> int:
        """Swap the scratch tables in under lock, after folding what was recorded meanwhile;
        a lock not granted in time is given up and tried again (the followers go on)."""
        for attempt in range(1, SWAP_ATTEMPTS + 1):
            # Fold what was recorded while the scratch tables were written, unlocked, so the
            # locked step has little left to do.
            folding.add(self._notifications(folding.last), self.app.mapper)
            try:
                with self.view.datastore.transaction(commit=True) as cursor:
                    return self._swap_locked(cursor, models, folding, tracker)
            except Exception as error:
                if not _is_lock_timeout(error) or attempt == SWAP_ATTEMPTS:
                    raise
                log.warning("rebuild: the live tables are busy (%s); trying again", error)
                time.sleep(0.1 * attempt)
        raise AssertionError("unreachable")

    def _swap_locked(
        self, cursor: Any, models: list[ReadModel], folding: Folding, tracker: RebuildProgress
    ) -> int:
        sql = self.view.sql(cursor)
        locking = time.perf_counter()
        before = folding.last
        tracking = sql.table(getattr(self.view, "tracking_table_name", "tracking"))
        if self.view.dialect == "postgres":
            # The order the followers write in (tracking first, then their read models:
            # projections/store.py, process_batch), so a follower and the swap never wait for
            # each other in a cycle: a follower that moved its positions finishes its batch
            # before the swap gets the tracking table.
            sql.execute(f"SET LOCAL lock_timeout = {SWAP_LOCK_TIMEOUT_MS}")
            sql.execute(f"LOCK TABLE {tracking} IN EXCLUSIVE MODE")
            live = ", ".join(sql.table(m.table.name) for m in models)
            sql.execute(f"LOCK TABLE {live} IN ACCESS EXCLUSIVE MODE")
        else:
            # SQLite has one writer: taking it keeps every follower out until the commit.
            tracker.take_writer(sql)
        # No follower can write now: fold every event recorded up to the head as seen here.
        folding.add(self._locked_notifications(cursor, folding.last), self.app.mapper)
        last = folding.last
        for m, (rows, entries) in zip(models, folding.take().values(), strict=True):
            scratch = sql.table(_scratch(m))
            if rows:
                write_rows(sql, m, rows, scratch, sanitise=bool(folding.unstorable))
            if entries:
                write_entries(sql, m, entries, scratch, sanitise=bool(folding.unstorable))
            live_table = sql.table(m.table.name)
            sql.execute(f"DROP TABLE IF EXISTS {live_table}")
            sql.execute(f"ALTER TABLE {scratch} RENAME TO {m.table.name}")
            if self.view.dialect == "postgres":
                for index in _index_names(m):  # built on the scratch table, named after it
                    sql.execute(f"ALTER INDEX {sql.table('rebuild_' + index)} RENAME TO {index}")
            else:
                for statement in m.table.create(live_table)[1:]:
                    sql.execute(statement)
            self._reset_tracking(cursor, m, last)
            self._record_layout(sql, m)
        tracker.finished(sql, last)
        self.last_swap = Swap(
            time.perf_counter() - locking, last - before, folding.last - folding.started_at
        )
        log.info("rebuild: %s", self.last_swap)
        return last

    def _locked_notifications(self, cursor: Any, after: int) -> Iterator[Any]:
        """The notifications after ``after`` up to the head, read while the swap holds its
        locks. SQLite's writer is this very connection, so they are read through its cursor
        (another connection of the pool could wait for it); PostgreSQL and the in-memory
        store are read as usual."""
        recorder = self.app.recorder
        if self.view.dialect == "postgres" or getattr(recorder, "datastore", None) is not (
            self.view.datastore
        ):
            head = recorder.max_notification_id() or 0
            yield from self._notifications(after, stop=head)
            return
        cursor.execute(
            f"SELECT rowid, * FROM {recorder.events_table_name} WHERE rowid > ? ORDER BY rowid",
            (after,),
        )
        for row in cursor.fetchall():
            yield Notification(
                id=row["rowid"],
                originator_id=recorder.convert_originator_id(row["originator_id"]),
                originator_version=row["originator_version"],
                topic=row["topic"],
                state=row["state"],
            )

    def _reset_tracking(self, cursor: Any, model: ReadModel, position: int) -> None:
        name = tracking_name(self.application_name, model)
        table = self.view.sql(cursor).table(getattr(self.view, "tracking_table_name", "tracking"))
        self.view.sql(cursor).execute(f"DELETE FROM {table} WHERE application_name = ?", (name,))
        if position:
            self.view._insert_tracking(cursor, Tracking(name, position))

    def rebuild_progress(self) -> list[dict[str, Any]]:
        """Each read model's last rebuild: started, position, target, finished (None: running)."""
        with self.view.datastore.transaction(commit=True) as cursor:
            return progress_rows(self.view.sql(cursor))

    # --- verifying ----------------------------------------------------------------------------

    def verify(self, progress: Progress | None = None) -> tuple[int, list[Drift]]:
        """Rebuild every read model into scratch tables and compare with the live ones.

        Returns the position compared at and every difference found (none: no drift).
        """
        self.catch_up()
        upto = self.position()
        models = self.rebuildable
        folded, _ = self.fold(models, upto=upto, progress=progress)
        drifts: list[Drift] = []
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self.view.sql(cursor)
            for m in models:
                scratch = sql.table(f"scratch_{m.table.name}")
                rows, entries = folded[m.name]
                self._write_scratch(sql, m, rows, entries, scratch)
                rebuilt = _by_key(m, sql.execute(f"SELECT * FROM {scratch}").rows())
                live = _by_key(m, sql.execute(f"SELECT * FROM {sql.table(m.table.name)}").rows())
                drifts += _compare(m, live, rebuilt)
                sql.execute(f"DROP TABLE {scratch}")
        return upto, drifts

    @property
    def rebuildable(self) -> list[ReadModel]:
        return [m for m in self.models if m.rebuildable]


def _merged(model: ReadModel, entries: list[Any]) -> list[Any]:
    """Counter entries summed per key, so a rebuild writes one row per key."""
    if not model.counters:
        return entries
    from projections.model import Add

    sums: dict[tuple, dict[str, Any]] = {}
    for entry in entries:
        key = model.table.key_of(entry.row)
        if key not in sums:
            sums[key] = dict(entry.row)
        else:
            for column in model.counters:
                sums[key][column] += entry.row[column]
    return [Add(row) for row in sums.values()]


def _by_key(model: ReadModel, rows: list[dict[str, Any]]) -> dict[tuple, dict[str, Any]]:
    return {model.table.key_of(row): row for row in rows}


def _compare(model: ReadModel, live: dict, rebuilt: dict) -> list[Drift]:
    drifts = []
    for key in sorted(set(live) | set(rebuilt), key=str):
        if key not in live:
            drifts.append(Drift(model.name, key, "missing from the live read model"))
        elif key not in rebuilt:
            drifts.append(Drift(model.name, key, "in the live read model but not in the events"))
        else:
            for column, value in rebuilt[key].items():
                if live[key].get(column) != value:
                    drifts.append(
                        Drift(
                            model.name,
                            key,
                            f"{column} is {live[key].get(column)!r}, the events say {value!r}",
                        )
                    )
    return drifts
