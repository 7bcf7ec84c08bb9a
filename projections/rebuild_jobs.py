"""A rebuild's fold shared among processes (``rebuild --jobs N``, PostgreSQL only).

The aggregates are partitioned by customer: a customer, and every aggregate whose first
event names it (``customer_id``) or names an aggregate that does (``invoice_id``,
``subscription_id``: a gateway payment, a bank transfer), belong to job
``customer_id.int % N``. A read model's row reads the aggregates of one customer only, so each
job computes its rows from its own aggregates. Aggregates of no customer (representatives,
staff, the catalogue) are folded by every job, and their rows and entries written by job 0
alone. Counters (``ReadModel.counters``: the revenue per month) add up every customer's
events under one key, so each job sends its partial sums back to the parent, which adds them
and loads them (docs/AUDIT.md, "Rebuilding", "In several processes").

Each job is a forked process with connections of its own: it reads the whole log up to the
rebuild's target through a server-side cursor (in the database's binary format), decodes the
first event of every aggregate (to learn its customer) and every event of its own aggregates,
and loads its rows into the scratch tables the parent made. The parent then indexes them,
``N`` tables at a time (:func:`index_in_threads`), and swaps them in as a rebuild of one job
does (projections/rebuild.py).
"""

from __future__ import annotations

import multiprocessing
import os
import traceback
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

from domain.customer import Customer
from projections.model import ReadModel
from projections.store import Sql, storable_values

#: How often a job reports the position it reached, in events.
REPORT_EVERY = 1_000
#: Rows a job's server-side cursor fetches at a time.
FETCH = 5_000


def customer_of(event: Any, owners: dict[Any, UUID | None]) -> UUID | None:
    """The customer an aggregate belongs to, from its first event; None: no customer's."""
    if isinstance(event, Customer.Event):
        return event.originator_id
    customer = getattr(event, "customer_id", None)
    if isinstance(customer, UUID):
        return customer
    for reference in ("invoice_id", "subscription_id"):
        other = getattr(event, reference, None)
        if other is not None and owners.get(other) is not None:
            return owners[other]
    return None


def fold_share(
    folding: Any,
    notifications: Iterator[LoggedEvent],
    mapper: Any,
    job: int,
    jobs: int,
    report: Callable[[int], None],
) -> None:
    """Fold into ``folding`` the events of job ``job``'s aggregates (and of every aggregate of
    no customer, whose rows and entries job 0 alone keeps)."""
    states, route = folding.states, folding.route
    owners: dict[Any, UUID | None] = {}
    for notification in notifications:
        aggregate_id = notification.originator_id
        event = None
        if notification.originator_version == 1:
            event = mapper.to_domain_event(notification)
            owner = owners[aggregate_id] = customer_of(event, owners)
        else:
            owner = owners.get(aggregate_id)
        folding.last = notification.id
        if notification.id % REPORT_EVERY == 0:
            report(notification.id)
        if owner is not None and owner.int % jobs != job:
            continue
        if event is None:
            event = mapper.to_domain_event(notification)
        states.apply(event)
        if owner is None and job != 0:
            continue  # another job keeps the rows of what belongs to no customer
        route(notification, event)
    report(folding.last)


class LoggedEvent:
    """A row of the log as a job reads it: what a stored event and its notification hold,
    read in the database's binary format (no hex text for the state, no row dict) and kept
    in slots, not a frozen dataclass. The mapper and ``Folding.route`` read the same names."""

    __slots__ = ("id", "originator_id", "originator_version", "topic", "state")

    def __init__(
        self, id: int, originator_id: UUID, originator_version: int, topic: str, state: bytes
    ) -> None:
        self.id = id
        self.originator_id = originator_id
        self.originator_version = originator_version
        self.topic = topic
        self.state = state


def _log_rows(recorder: Any, stop: int) -> Iterator[LoggedEvent]:
    """The log up to ``stop``, through a connection of this process's own."""
    import psycopg

    with psycopg.connect(**_connection_kwargs(recorder.datastore)) as conn:
        table = f"{recorder.datastore.schema}.{recorder.events_table_name}"
        with conn.cursor(name="rebuild_share", binary=True) as cursor:
            cursor.execute(
                "SELECT notification_id, originator_id, originator_version, topic, state "
                f"FROM {table} WHERE notification_id <= %s ORDER BY notification_id",
                (stop,),
            )
            while rows := cursor.fetchmany(FETCH):
                for row in rows:
                    yield LoggedEvent(*row)


def _connection_kwargs(datastore: Any) -> dict[str, Any]:
    kwargs = dict(datastore.pool.kwargs)
    kwargs.pop("row_factory", None)
    return kwargs


def run_job(
    rebuilding: Any,
    models: list[ReadModel],
    stop: int,
    job: int,
    jobs: int,
    reached: Any,
    results: Any,
) -> None:
    """A job's process: fold its share, load its rows into the scratch tables, and send the
    parent its partial counters and what it found unstorable (or the error it met)."""
    from adapters.collector import no_cyclic_gc
    from projections.rebuild import Folding, _merged, _scratch

    try:
        folding = Folding(models)

        def report(position: int) -> None:
            reached[job] = position

        with no_cyclic_gc():
            fold_share(
                folding,
                _log_rows(rebuilding.app.recorder, stop),
                rebuilding.app.mapper,
                job,
                jobs,
                report,
            )
            folded = folding.take()
        counters: dict[str, list[Any]] = {}
        import psycopg
        from psycopg.rows import dict_row

        datastore = rebuilding.view.datastore
        with psycopg.connect(**_connection_kwargs(datastore)) as conn:
            conn.row_factory = dict_row
            for m in models:
                rows, entries = folded[m.name]
                if m.counters:
                    counters[m.name] = _merged(m, entries)
                    entries = []
                with conn.transaction(), conn.cursor() as cursor:
                    sql = Sql(cursor, "postgres", rebuilding.view.schema)
                    t = m.table
                    if m.group:
                        loaded = [t.values(r) for group in rows.values() for r in group or ()]
                    else:
                        loaded = [t.values(r) for r in rows.values() if r is not None]
                    loaded += [t.values(e.row) for e in entries]
                    if folding.unstorable:
                        loaded = [storable_values(values) for values in loaded]
                    sql.load(sql.table(_scratch(m)), t.column_names, loaded)
        results.send(("done", counters, folding.unstorable))
    except BaseException:
        results.send(("failed", traceback.format_exc(), []))
    finally:
        results.close()
        os._exit(0)  # never the parent's exit handlers: its pools' connections are its own


def fold_in_jobs(
    rebuilding: Any,
    models: list[ReadModel],
    stop: int,
    jobs: int,
    progress: Callable[[int], None],
) -> tuple[dict[str, list[Any]], list[Any]]:
    """Run ``jobs`` processes over the log up to ``stop``; returns the counters' entries
    summed over the jobs and what the jobs found unstorable. Raises if a job failed."""
    from projections.rebuild import _merged

    context = multiprocessing.get_context("fork")
    reached = context.Array("q", jobs, lock=False)
    pipes = []
    processes = []
    for job in range(jobs):
        receiving, sending = context.Pipe(duplex=False)
        process = context.Process(
            target=run_job,
            args=(rebuilding, models, stop, job, jobs, reached, sending),
            name=f"rebuild-job-{job}",
        )
        process.start()
        sending.close()
        pipes.append(receiving)
        processes.append(process)
    answers: list[Any] = [None] * jobs
    try:
        while any(answer is None for answer in answers):
            for job, pipe in enumerate(pipes):
                if answers[job] is None and pipe.poll(0.2):
                    try:
                        answers[job] = pipe.recv()
                    except EOFError:
                        answers[job] = ("failed", f"job {job} ended without an answer", [])
            progress(min(reached))
    finally:  # the parent interrupted or failed: its jobs end with it
        for process in processes:
            if process.is_alive() and any(answer is None for answer in answers):
                process.terminate()
            process.join()
    failed = [answer[1] for answer in answers if answer[0] != "done"]
    if failed:
        raise RuntimeError("a rebuild job failed:\n" + "\n".join(failed))
    counters: dict[str, list[Any]] = {}
    unstorable: list[Any] = []
    for _, partial, found in answers:
        unstorable += found
        for name, entries in partial.items():
            counters.setdefault(name, []).extend(entries)
    by_name = {m.name: m for m in models}
    return (
        {name: _merged(by_name[name], entries) for name, entries in counters.items()},
        sorted(unstorable, key=lambda u: u.notification_id),
    )


def index_in_threads(datastore: Any, schema: str, models: list[ReadModel], threads: int) -> None:
    """Build the loaded scratch tables' keys and indexes, ``threads`` tables at a time, each
    through a connection of its own (largest table first, so the longest build starts at
    once). PostgreSQL gives one large build its parallel maintenance workers, but the smaller
    tables' builds, one after another, left a core idle. Raises the first error met, once
    every thread has ended."""
    import threading

    import psycopg

    from projections.rebuild import _index_scratch, _scratch

    names = {m.name: Sql(None, "postgres", schema).table(_scratch(m)) for m in models}
    with psycopg.connect(**_connection_kwargs(datastore)) as conn:
        found = conn.execute(
            "SELECT name, pg_relation_size(name::regclass) FROM unnest(%s::text[]) AS name",
            (list(names.values()),),
        ).fetchall()
    sizes = dict(found)
    waiting = sorted(models, key=lambda m: sizes[names[m.name]], reverse=True)
    lock = threading.Lock()
    errors: list[BaseException] = []

    def build() -> None:
        try:
            with psycopg.connect(**_connection_kwargs(datastore)) as conn:
                while True:
                    with lock:
                        if errors or not waiting:
                            return
                        m = waiting.pop(0)
                    with conn.transaction(), conn.cursor() as cursor:
                        sql = Sql(cursor, "postgres", schema)
                        _index_scratch(sql, m, sql.table(_scratch(m)))
        except BaseException as error:  # reported by the caller, in its own thread
            with lock:
                errors.append(error)

    workers = [
        threading.Thread(target=build, name=f"rebuild-index-{i}")
        for i in range(max(1, min(threads, len(models))))
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]
