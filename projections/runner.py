"""Keeping the read models up to date, rebuilding them, and checking them against the events.

- ``catch_up()`` folds every event recorded since the read models' positions, now, in this
  thread (the CLI and the tests use it; so does the SQLite follower).
- ``start()`` keeps them up to date in the background: on PostgreSQL with eventsourcing's
  ``ProjectionRunner`` (it listens for new events; view rows and tracking are written in one
  transaction), on SQLite, whose recorder cannot be subscribed to, by polling the
  notification log with the same view recorder.
- ``rebuild(names)`` folds all events from zero in memory, writes the rows into scratch tables
  and swaps them in, then catches up what arrived meanwhile.
- ``verify()`` rebuilds every read model into scratch tables and compares them, row by row,
  with the live ones.
"""

from __future__ import annotations

import gc
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import Tracking

from projections.model import AggregateStates, ReadModel
from projections.store import (
    PostgresReadModelRecorder,
    ReadModelProcessing,
    Sql,
    SQLiteReadModelRecorder,
    holds_unstorable_escape,
    storable_values,
    tracking_name,
    write_rows,
)
from projections.views import ALL_READ_MODELS, read_model

log = logging.getLogger(__name__)

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


class ReadModels:
    """The read models of one billing application."""

    def __init__(
        self, app: Any, *, env: dict[str, str] | None = None, extra: Iterable[ReadModel] = ()
    ) -> None:
        self.app = app
        self.env = dict(env or {})
        self.application_name = app.name
        self.models: tuple[ReadModel, ...] = (*ALL_READ_MODELS, *extra)
        self.view = self._build_view()
        self.view.states.loader = self._load
        self._upgrade_kept_tables()
        self._decide_where_outboxes_start()
        self._seen = 0  # the last position this process folded itself
        self._catching_up = threading.RLock()
        #: Events of the last rebuild or verify whose text was stored with U+FFFD.
        self.unstorable: list[UnstorableEvent] = []
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._runner: Any = None
        self._rebuild_stale_tables()

    # --- construction -------------------------------------------------------------------------

    @property
    def dialect(self) -> str:
        return self.view.dialect

    def _build_view(self) -> ReadModelProcessing:
        factory = self.app.factory
        module = type(factory).__module__
        if module.endswith(".postgres"):
            view = PostgresReadModelRecorder(
                datastore=factory.datastore, tracking_table_name="read_models_tracking"
            )
        elif module.endswith(".sqlite"):
            view = SQLiteReadModelRecorder(datastore=factory.datastore)
        else:
            # The in-memory event store keeps its read models in an in-memory SQLite database.
            from eventsourcing.sqlite import SQLiteDatastore

            name = f"file:read-models-{uuid.uuid4().hex}?mode=memory&cache=shared"
            view = SQLiteReadModelRecorder(datastore=SQLiteDatastore(name))
        if isinstance(view, PostgresReadModelRecorder):
            view.add_table_statements(self.models)
        else:
            view.read_models = self.models
            view.create_table_statements = view.construct_create_table_statements()
        view.create_table()
        return view

    def _upgrade_kept_tables(self) -> None:
        """The tables that are never rebuilt (the outbox) get the columns this code added, in
        place: an older outbox's undelivered rows must still go out. A row from before
        ``sequence`` existed gets its event's version from its delivery id."""
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self.view.sql(cursor)
            for model in self.models:
                if model.rebuildable:
                    continue
                table = sql.table(model.table.name)
                sql.execute(f"SELECT * FROM {table} WHERE 1 = 0")
                raw = getattr(cursor, "sqlite_cursor", cursor)
                present = {d[0] for d in raw.description}
                added = [(c, kind) for c, kind in model.table.columns if c not in present]
                for column, kind in added:
                    log.warning("%s: adding column %s", model.table.name, column)
                    sql.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                if "sequence" in dict(added):
                    rows = sql.execute(f"SELECT delivery_id FROM {table}").rows()
                    sql.executemany(
                        f"UPDATE {table} SET sequence = ? WHERE delivery_id = ?",
                        [(_sequence_of(r["delivery_id"]), r["delivery_id"]) for r in rows],
                    )
                for statement in model.table.create(table)[1:]:
                    sql.execute(statement)

    def _decide_where_outboxes_start(self) -> None:
        """Once per store and outbox, where it starts following the log, kept in table
        ``outbox_start``: the start of the log on a new store (so an order taken before any
        scheduler ran is sent), its end on a store that already had history when the outbox was
        first opened (that history is not sent: the site reconciliation brings the hosting
        platform to the engine's state instead, site by site, not event by event)."""
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self.view.sql(cursor)
            table = sql.table("outbox_start")
            sql.execute(
                f"CREATE TABLE IF NOT EXISTS {table} "
                "(read_model TEXT PRIMARY KEY, position BIGINT NOT NULL)"
            )
            for model in self.models:
                if model.rebuildable:
                    continue
                name = tracking_name(self.application_name, model)
                followed = self.view._max_tracking_id(name, cursor) is not None  # noqa: SLF001
                end = 0 if followed else (self.app.recorder.max_notification_id() or 0)
                sql.execute(
                    f"INSERT INTO {table} (read_model, position) VALUES (?, ?) "
                    "ON CONFLICT (read_model) DO NOTHING",
                    (model.name, end),
                )
                start = sql.execute(
                    f"SELECT position FROM {table} WHERE read_model = ?", (model.name,)
                ).scalar()
                if start and not followed:
                    log.warning(
                        "%s: the store's first %d events were recorded before it existed; they "
                        "are not sent (the site reconciliation sets the hosting platform right)",
                        model.name,
                        start,
                    )
                    self.view._insert_tracking(cursor, Tracking(name, start))  # noqa: SLF001
        self.view.forget_positions()

    LAYOUTS = "read_model_layouts"

    def stale_tables(self) -> list[str]:
        """The rebuildable read models whose rows were written by another version of the code:
        their table's layout (columns, constraints) or their rows' content (``version``) is
        not what this code writes. Each read model's layout fingerprint is kept beside it."""
        stale = []
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self.view.sql(cursor)
            layouts = sql.table(self.LAYOUTS)
            sql.execute(
                f"CREATE TABLE IF NOT EXISTS {layouts} "
                "(read_model TEXT PRIMARY KEY, fingerprint TEXT NOT NULL)"
            )
            known = {
                r["read_model"]: r["fingerprint"]
                for r in sql.execute(f"SELECT read_model, fingerprint FROM {layouts}").rows()
            }
            for model in self.rebuildable:
                sql.execute(f"SELECT * FROM {sql.table(model.table.name)} WHERE 1 = 0")
                raw = getattr(cursor, "sqlite_cursor", cursor)  # eventsourcing's SQLite wrapper
                if [d[0] for d in raw.description] != list(model.table.column_names):
                    stale.append(model.name)
                    continue
                recorded = known.get(model.name)
                if recorded == layout_fingerprint(model):
                    continue
                position = self.view._max_tracking_id(
                    tracking_name(self.application_name, model), cursor
                )
                if recorded is None and not position:
                    # A new table, nothing folded into it yet: this code's layout from the start.
                    self._record_layout(sql, model)
                else:
                    stale.append(model.name)
        return stale

    def _record_layout(self, sql: Sql, model: ReadModel) -> None:
        layouts = sql.table(self.LAYOUTS)
        sql.execute(
            f"INSERT INTO {layouts} (read_model, fingerprint) VALUES (?, ?) "
            "ON CONFLICT (read_model) DO UPDATE SET fingerprint = excluded.fingerprint",
            (model.name, layout_fingerprint(model)),
        )

    def _rebuild_stale_tables(self) -> None:
        """Read models are derived data: rows written by another version are rebuilt from the
        events when the read models are opened (a read model's migration is a replay)."""
        stale = self.stale_tables()
        if stale:
            log.warning("read models %s were written by another version: rebuilding them", stale)
            self.rebuild(stale)

    def _load(self, aggregate_id: Any, version: int | None) -> Any:
        from eventsourcing.application import AggregateNotFoundError

        try:
            return self.app.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            return None

    # --- following the log --------------------------------------------------------------------

    def _notifications(self, after: int, stop: int | None = None) -> Iterator[Any]:
        recorder = self.app.recorder
        while True:
            batch = recorder.select_notifications(
                start=after, limit=SECTION, stop=stop, inclusive_of_start=False
            )
            if not batch:
                return
            yield from batch
            after = batch[-1].id

    def position(self) -> int:
        return self.view.max_tracking_id(self.application_name) or 0

    def positions(self) -> dict[str, int]:
        return self.view.positions(self.application_name)

    def catch_up(self) -> int:
        """Fold what was recorded since the least position; returns how many events were read.
        One catch-up at a time in a process (the tick, the API and the site reconciliation
        all call it)."""
        with self._catching_up:
            return self._catch_up()

    def _catch_up(self) -> int:
        mapper = self.app.mapper
        start = self.position()
        if start > self._seen:
            # Another process folded events this one never saw: what it holds may be stale.
            self.view.states.forget()
            self.view.forget_positions()
        read = 0
        for notification in self._notifications(start):
            self.view.process(
                mapper.to_domain_event(notification),
                Tracking(self.application_name, notification.id),
            )
            self._seen = notification.id
            read += 1
        self._seen = max(self._seen, start)
        return read

    def repair_due(self, subscription_id: Any) -> None:
        """Recompute a subscription's due-actions row from its latest stored state.

        The scheduler calls this when the index named a subscription that had nothing due (the
        row was computed from a state another process has since moved on from), so a stale row
        can never wedge the scheduler.
        """
        from uuid import UUID

        states = AggregateStates(loader=self._load)
        model = read_model("due_actions")
        key = UUID(str(subscription_id))
        with self.view.datastore.transaction(commit=True) as cursor:
            write_rows(self.view.sql(cursor), model, {key: model.row(key, states)})

    def start(self, poll_interval: float = 0.5) -> None:
        """Keep the read models up to date in the background until :meth:`stop`."""
        if self.dialect == "postgres":
            from eventsourcing.projection import Projection, ProjectionRunner

            from service_layer.application import BillingApplication

            loader = self._load

            class ReadModelsProjection(Projection[PostgresReadModelRecorder]):
                name = "read_models"

                def process_event(self, domain_event: Any, tracking: Tracking) -> None:
                    if self.view.states.loader is None:
                        self.view.states.loader = loader
                    self.view.process(domain_event, tracking)

            view_class = type(
                "ConfiguredReadModelRecorder",
                (PostgresReadModelRecorder,),
                {"read_models": self.models},
            )
            self._runner = ProjectionRunner(
                application_class=BillingApplication,
                projection_class=ReadModelsProjection,
                view_class=view_class,
                env={**self.env, "CREATE_TABLE": "n"},
            )
            self._runner.__enter__()
            return
        self._stopping.clear()

        def follow() -> None:
            while not self._stopping.is_set():
                try:
                    if not self.catch_up():
                        self._stopping.wait(poll_interval)
                except Exception:  # keep following; the error is logged and retried
                    log.exception("read models: catching up failed; retrying")
                    self._stopping.wait(poll_interval * 4)

        self._thread = threading.Thread(target=follow, name="read-models", daemon=True)
        self._thread.start()

    def wait(self, notification_id: int | None, timeout: float = 5.0) -> None:
        """Block until every read model has folded ``notification_id``."""
        self.view.wait(self.application_name, notification_id, timeout=timeout)

    def stop(self) -> None:
        if self._runner is not None:
            self._runner.__exit__(None, None, None)  # stops it and joins its threads
            self._runner = None
        if self._thread is not None:
            self._stopping.set()
            self._thread.join(timeout=10)
            self._thread = None

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
            rows = {key: m.row(key, states) for key in touched[m.name]}
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
            self.view._insert_tracking(cursor, Tracking(name, position))  # noqa: SLF001

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

    # --- reading ------------------------------------------------------------------------------

    def query(self, statement: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        """Run a read-only query; ``{rm_x}`` names are qualified for this database."""
        with self.view.datastore.transaction(commit=False) as cursor:
            sql = self.view.sql(cursor)
            names = {m.table.name: sql.table(m.table.name) for m in self.models}
            return sql.execute(statement.format(**names), tuple(params)).rows()

    def due_subscriptions(
        self, now: Any, limit: int, after: tuple[str, str] | None = None
    ) -> list[tuple[str, str]]:
        """(due_at, subscription id) of subscriptions due by ``now``, in due order, after a
        page's last pair: a tick reads what is due, not every subscription."""
        from projections.model import moment

        last_due, last_id = after or ("", "")
        rows = self.query(
            "SELECT due_at, subscription_id FROM {rm_due_actions} WHERE due_at <= ? "
            "AND (due_at > ? OR (due_at = ? AND subscription_id > ?)) "
            f"ORDER BY due_at, subscription_id LIMIT {int(limit)}",
            (moment(now), last_due, last_due, last_id),
        )
        return [(r["due_at"], r["subscription_id"]) for r in rows]


def _sequence_of(delivery_id: str) -> int:
    """``<aggregate id>/<version>/<channel>`` → the version × 4 (0 for anything else)."""
    from projections.outbox import SEQUENCE_STEP

    parts = delivery_id.split("/")
    return int(parts[1]) * SEQUENCE_STEP if len(parts) == 3 and parts[1].isdigit() else 0


def layout_fingerprint(model: ReadModel) -> str:
    """What this code writes for a read model: its table's statements and its rows' version."""
    import hashlib

    text = "\n".join([*model.table.create(), f"version {model.version}"])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


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
