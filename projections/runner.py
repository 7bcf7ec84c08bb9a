"""Keeping the read models up to date, rebuilding them, and checking them against the events.

- ``catch_up()`` folds every event recorded since the read models' positions, now, in this
  thread (the CLI and the tests use it; so does the SQLite follower).
- ``start()`` keeps them up to date in the background with the same batched catch-up: woken
  on PostgreSQL by the recorder's NOTIFY, on SQLite, whose recorder cannot be subscribed to,
  by polling the notification log.
- ``rebuild(names)`` folds all events from zero in memory, writes the rows into scratch tables
  and swaps them in, then catches up what arrived meanwhile.
- ``verify()`` rebuilds every read model into scratch tables and compares them, row by row,
  with the live ones.

Rebuilding and verifying are in :mod:`projections.rebuild`.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from eventsourcing.persistence import Tracking

from projections.model import AggregateStates, ReadModel
from projections.rebuild import SECTION, Rebuilding, UnstorableEvent
from projections.store import (
    BATCH,
    PostgresReadModelRecorder,
    ReadModelProcessing,
    Sql,
    SQLiteReadModelRecorder,
    tracking_name,
    write_rows,
)
from projections.views import ALL_READ_MODELS, read_model

log = logging.getLogger(__name__)


class ReadModels(Rebuilding):
    """The read models of one billing application."""

    def __init__(
        self, app: Any, *, env: dict[str, str] | None = None, extra: Iterable[ReadModel] = ()
    ) -> None:
        self.app = app
        self.env = dict(env or {})
        self.application_name = app.name
        self.models: tuple[ReadModel, ...] = (*ALL_READ_MODELS, *extra)
        self.view = self._build_view()
        #: The in-memory event store: no other process can write to it, so nothing is left
        #: for a follower to fold (its read models are an in-memory SQLite database).
        self.in_memory = type(app.factory).__module__.endswith(".popo")
        self.view.states.loader = self._load
        # What a command just saved is handed to the fold instead of being loaded again.
        app.saved_listeners = (*getattr(app, "saved_listeners", ()), self.view.states.hint)
        for model in self.models:  # before anything is folded: what a model needs of the store
            bind = getattr(model, "bind", None)
            if bind is not None:
                bind(self)
        self._upgrade_kept_tables()
        self._decide_where_outboxes_start()
        self._seen = 0  # the last position this process folded itself
        #: Folds after a write that failed in this process (:meth:`fold_written`).
        self.fold_failures = 0
        self._catching_up = threading.RLock()
        #: Notified whenever a fold moved ``_seen`` and whenever a catch-up ends: what the
        #: writers waiting for their own events to be folded wait on (:meth:`catch_up`).
        self._progress = threading.Condition(threading.Lock())
        #: Events of the last rebuild or verify whose text was stored with U+FFFD.
        self.unstorable: list[UnstorableEvent] = []
        self._thread: threading.Thread | None = None
        self._news = threading.Event()
        self._stopping = threading.Event()
        self._listener: threading.Thread | None = None
        self._rebuild_stale_tables()

    # --- construction -------------------------------------------------------------------------

    @property
    def dialect(self) -> str:
        return self.view.dialect

    def _build_view(self) -> ReadModelProcessing:
        factory = self.app.factory
        module = type(factory).__module__
        view: ReadModelProcessing
        if module.endswith(".postgres"):
            view = PostgresReadModelRecorder(
                datastore=factory.datastore, tracking_table_name="read_models_tracking"
            )
        elif module.endswith(".sqlite"):
            view = SQLiteReadModelRecorder(datastore=factory.datastore)
            _keep_every_connection(factory.datastore.pool)
        else:
            # The in-memory event store keeps its read models in an in-memory SQLite database.
            from eventsourcing.sqlite import SQLiteDatastore

            from adapters.persistence import cache_sqlite_statements

            name = f"file:read-models-{uuid.uuid4().hex}?mode=memory&cache=shared"
            datastore = SQLiteDatastore(name)
            cache_sqlite_statements(datastore.pool)
            view = SQLiteReadModelRecorder(datastore=datastore)
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
                self._widen_checks(sql, model, table)
                for statement in model.table.create(table)[1:]:
                    sql.execute(statement)

    def _widen_checks(self, sql: Sql, model: ReadModel, table: str) -> None:
        """A kept table whose CHECK constraints this code widened (the outbox's channels, when
        ``webhook`` was added) gets the new ones in place, its rows kept: on PostgreSQL the
        constraint is replaced; SQLite cannot alter one, so the table is copied into a new one
        in the same transaction."""
        wanted = [f"CHECK ({check})" for check in model.table.checks]
        if self.dialect == "postgres":
            defined = sql.execute(
                "SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint "
                "WHERE conrelid = ?::regclass AND contype = 'c'",
                (table,),
            ).rows()
            for check in model.table.checks:
                column = check.split()[0]
                values = re.findall(r"'([^']*)'", check)
                if " IN (" not in check or not values:
                    continue
                for row in defined:
                    old = row["definition"]
                    if f"({column} " in old.replace("((", "(") and not all(
                        f"'{v}'" in old for v in values
                    ):
                        log.warning("%s: widening %s to %s", model.table.name, old, check)
                        sql.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{row["conname"]}"')
                        sql.execute(f"ALTER TABLE {table} ADD CHECK ({check})")
            return
        bare = table.rsplit(".", 1)[-1]
        stored = sql.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (bare,)
        ).scalar()
        if stored is None or all(check in stored for check in wanted):
            return
        log.warning("%s: recreating it with the constraints of this code", model.table.name)
        columns = ", ".join(model.table.column_names)
        old = f"{bare}_before_{uuid.uuid4().hex[:8]}"
        sql.execute(f"ALTER TABLE {table} RENAME TO {old}")
        sql.execute(model.table.create(table)[0])
        sql.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {old}")
        sql.execute(f"DROP TABLE {old}")

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
                followed = self.view._max_tracking_id(name, cursor) is not None
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
                    self.view._insert_tracking(cursor, Tracking(name, start))
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
            if len(batch) < SECTION:
                return  # the log's end as of that query: no need to ask again

    def position(self) -> int:
        return self.view.max_tracking_id(self.application_name) or 0

    def positions(self) -> dict[str, int]:
        return self.view.positions(self.application_name)

    def catch_up(self, through: int | None = None) -> int:
        """Fold what was recorded since the least position; returns how many events were read.
        One catch-up at a time in a process (the tick, the writers, the follower and the site
        reconciliation all call it). With ``through``, a caller that only needs the events up
        to that notification id returns as soon as they were folded, by whichever thread:
        while another thread folds, it waits for that fold (which folds to the log's end, its
        events with it) instead of queueing for the lock behind it. The lock is not fair: a
        follower that folds again as soon as it released it (news keeps coming under load)
        kept writers waiting for several of its folds, where one was all they needed."""
        if through is None:
            self._catching_up.acquire()
        elif not self._hold_unless_folded(through):
            return 0
        try:
            return self._catch_up()
        finally:
            self._catching_up.release()
            self._tell_progress()

    def _hold_unless_folded(self, through: int) -> bool:
        """Take the catch-up lock to fold through ``through`` (True), or, while another thread
        holds it, wait until its folds reach ``through`` (False: nothing left to do)."""
        with self._progress:
            while self._seen < through:
                if self._catching_up.acquire(blocking=False):
                    if self._seen < through:
                        return True
                    self._catching_up.release()  # folded between the check and the lock
                    break
                # Woken after each batch another thread committed and when it lets go of the
                # lock; the timeout is only a safety net.
                self._progress.wait(0.05)
        return False

    def _tell_progress(self) -> None:
        with self._progress:
            self._progress.notify_all()

    def fold_written(self, notification_id: int) -> None:
        """What a command calls after its save, before its caller is answered
        (``CommandRunner.written_listeners``): fold the log through the command's last
        notification id, so that every process reads the write in the read models at once and
        no read waits for a fold (docs/ARCHITECTURE.md, "Reads never wait"). A failure does
        not fail the write, which stands: it is logged and counted (``fold_failures``), the
        read models' lag shows it (``/readyz``, the back office's health page), and the next
        fold or the background follower (:meth:`start`) folds it."""
        try:
            self.catch_up(through=notification_id)
        except Exception:
            self.fold_failures += 1
            log.exception(
                "read models: folding the events written through #%d failed; the write stands, "
                "and the next fold or the follower tries again",
                notification_id,
            )

    def _catch_up(self) -> int:
        mapper = self.app.mapper
        read = 0
        while True:
            held = self.view.held_position()  # PostgreSQL: no round trip
            start = self.position() if held is None else held
            if start > self._seen:
                # Another process folded events this one never saw: what it holds may be stale.
                self.view.states.forget()
                self.view.forget_positions()
            lost = False
            batch: list[tuple[Any, int]] = []
            for notification in self._notifications(start):
                batch.append((mapper.to_domain_event(notification), notification.id))
                if len(batch) == BATCH:
                    lost = not self._fold(batch)
                    if lost:
                        break
                    read += len(batch)
                    batch = []
            if batch and not lost:
                lost = not self._fold(batch)
                read += 0 if lost else len(batch)
            self._seen = max(self._seen, start)
            if not lost:
                return read
            # Another follower folded part of this; go on from where the store now stands.

    def _fold(self, batch: list[tuple[Any, int]]) -> bool:
        """Fold one batch; False when another follower moved a position first."""
        if self.view.process_batch(self.application_name, batch) < 0:
            return False
        self._seen = batch[-1][1]
        self._tell_progress()
        return True

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
        """Keep the read models up to date in the background until :meth:`stop`: a thread
        that catches up in batches whenever something was recorded. On PostgreSQL a second
        thread LISTENs for the recorder's NOTIFY, so news is folded at once; on SQLite, whose
        recorder cannot be subscribed to, and whenever no notice came, the follower looks
        every ``poll_interval`` seconds."""
        self._stopping.clear()
        news = self._news = threading.Event()
        channel = getattr(self.app.recorder, "channel_name", None)
        if self.dialect == "postgres" and channel:
            self._listener = threading.Thread(
                target=self._listen, args=(channel, news), name="read-models-listen", daemon=True
            )
            self._listener.start()

        def follow() -> None:
            while not self._stopping.is_set():
                news.clear()  # before catching up: a notice that comes meanwhile is kept
                try:
                    if not self.catch_up():
                        news.wait(poll_interval)
                except Exception:  # keep following; the error is logged and retried
                    log.exception("read models: catching up failed; retrying")
                    self._stopping.wait(poll_interval * 4)

        self._thread = threading.Thread(target=follow, name="read-models", daemon=True)
        self._thread.start()

    def _listen(self, channel: str, news: threading.Event) -> None:
        """Set ``news`` on each NOTIFY of the event recorder until stopped (reconnecting
        after a failure; meanwhile the follower polls). The connection is its own, outside the
        store's pool: it is held for as long as the read models follow the log."""
        import psycopg
        from psycopg.sql import SQL, Identifier

        pool = self.app.recorder.datastore.pool
        while not self._stopping.is_set():
            try:
                with psycopg.connect(pool.conninfo, **pool.kwargs, autocommit=True) as connection:
                    connection.execute(SQL("LISTEN {0}").format(Identifier(channel)))
                    news.set()  # anything recorded before LISTEN took hold is looked for
                    while not self._stopping.is_set():
                        # At most 0.1 s, so that the loop sees stop() promptly.
                        for _ in connection.notifies(timeout=0.1, stop_after=1):
                            news.set()
            except Exception:
                log.warning("read models: listening for new events failed; polling meanwhile")
                self._stopping.wait(1.0)

    def wait(self, notification_id: int | None, timeout: float = 5.0) -> None:
        """Block until every read model has folded ``notification_id``."""
        self.view.wait(self.application_name, notification_id, timeout=timeout)

    def stop(self) -> None:
        self._stopping.set()
        self._news.set()  # a follower waiting for news stops now, not at its next poll
        for thread in (self._thread, self._listener):
            if thread is not None:
                thread.join(timeout=10)
        self._thread = self._listener = None

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


def _keep_every_connection(pool: Any) -> None:
    """Keep every SQLite connection the pool opens, up to its limit, instead of closing those
    above its five kept ones when they come back: under a dozen concurrent API requests the
    pool otherwise opened and closed a connection (and ran its PRAGMAs) for most requests.
    A SQLite connection is a file handle and a page cache, not a server process."""
    pool.pool_size = pool.pool_size + pool.max_overflow


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
