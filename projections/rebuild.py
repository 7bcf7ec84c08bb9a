"""Rebuilding the read models from the events, and verifying the live ones against a rebuild.

:class:`Rebuilding` is the part of :class:`projections.runner.ReadModels` that folds every
event from zero in memory (``fold``), swaps rebuilt tables in (``rebuild``) and compares a
rebuild with the live tables row by row (``verify``). It uses the runner's view, models,
application and positions.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import Tracking

from projections.model import AggregateStates, ReadModel
from projections.store import (
    Sql,
    holds_unstorable_escape,
    storable_values,
    tracking_name,
)
from projections.views import read_model

log = logging.getLogger(__name__)

#: How often ``fold`` reports progress, in events.
SECTION = 1_000
Progress = Callable[[int, int], None]


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


class Rebuilding:
    """Folding, rebuilding and verifying: a part of ReadModels (see the module docstring)."""

    app: Any
    view: Any
    models: tuple[ReadModel, ...]
    application_name: str
    unstorable: list[UnstorableEvent]

    if TYPE_CHECKING:  # kept current by projections.runner.ReadModels, which this is part of

        def _notifications(self, after: int, stop: int | None = None) -> Iterator[Any]: ...
        def _record_layout(self, sql: Sql, model: ReadModel) -> None: ...
        def catch_up(self) -> int: ...
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
        models = list(models)
        states = AggregateStates()
        touched: dict[str, dict[Any, None]] = {m.name: {} for m in models}
        entries: dict[str, list[Any]] = {m.name: [] for m in models}
        mapper = self.app.mapper
        last = 0
        total = upto if upto is not None else (self.app.recorder.max_notification_id() or 0)
        routes: dict[type, list[ReadModel]] = {}
        unstorable: list[UnstorableEvent] = []
        gc_was_enabled = gc.isenabled()
        gc.disable()  # millions of small objects and no cycles: collection would only slow this down
        try:
            for notification in self._notifications(0, stop=upto):
                if holds_unstorable_escape(notification.state):
                    unstorable.append(
                        UnstorableEvent(
                            notification.id,
                            notification.originator_id,
                            notification.originator_version,
                            notification.topic,
                        )
                    )
                event = mapper.to_domain_event(notification)
                states.apply(event)
                kind = type(event)
                interested = routes.get(kind)
                if interested is None:
                    interested = routes[kind] = [m for m in models if m.wants(kind)]
                for m in interested:
                    for key in m.touched(event, states):
                        touched[m.name][key] = None
                    entries[m.name].extend(m.entries(event, states))
                last = notification.id
                if progress and last % SECTION == 0:
                    progress(last, total)
        finally:
            if gc_was_enabled:
                gc.enable()
        if progress:
            progress(last, total)
        self.unstorable = unstorable
        for finding in unstorable:
            log.error("read models: %s", finding)
        result: dict[str, Any] = {}
        for m in models:
            rows = {key: m.recompute(key, states) for key in touched[m.name]}
            result[m.name] = (rows, entries[m.name])
        return result, last

    def _write_scratch(
        self, sql: Sql, model: ReadModel, rows: Any, entries: Any, scratch: str
    ) -> None:
        sql.execute(f"DROP TABLE IF EXISTS {scratch}")
        sql.execute(model.table.create(scratch)[0])  # the table alone: indexes come after loading
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

    def rebuild(self, names: Iterable[str] | None = None, progress: Progress | None = None) -> int:
        """Drop and rebuild read models from the events; returns the events folded."""
        models = [read_model(n) for n in names] if names else self.rebuildable
        folded, last = self.fold(models, progress=progress)
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self.view.sql(cursor)
            for m in models:
                live = sql.table(m.table.name)
                scratch = sql.table(f"rebuild_{m.table.name}")
                rows, entries = folded[m.name]
                self._write_scratch(sql, m, rows, entries, scratch)
                sql.execute(f"DROP TABLE IF EXISTS {live}")
                sql.execute(f"ALTER TABLE {scratch} RENAME TO {m.table.name}")
                for statement in m.table.create(live)[1:]:  # indexes, built on the loaded rows
                    sql.execute(statement)
                self._reset_tracking(cursor, m, last)
                self._record_layout(sql, m)
        self.view.states.forget()
        self.view.forget_positions()
        self.catch_up()  # what was recorded while the rebuild ran
        return last

    def _reset_tracking(self, cursor: Any, model: ReadModel, position: int) -> None:
        name = tracking_name(self.application_name, model)
        table = self.view.sql(cursor).table(getattr(self.view, "tracking_table_name", "tracking"))
        self.view.sql(cursor).execute(f"DELETE FROM {table} WHERE application_name = ?", (name,))
        if position:
            self.view._insert_tracking(cursor, Tracking(name, position))

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
