"""A rebuild while the read models keep answering and followers in other processes fold on.

The rebuild folds the log into scratch tables and swaps them in under lock, folding there what
was recorded meanwhile (projections/rebuild.py): each read model's rows and tracking position
then agree with every event up to that position, whatever a follower did in the meantime.
"""

from __future__ import annotations

import threading

import pytest

from bootstrap import build_application, build_read_models
from tests.builders import DAY, T0, a_person, ordered
from tests.integration.test_read_models import a_busy_store, assert_read_models_equal_the_fold
from tests.stores import postgres_schema

STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def store(kind: str, tmp_path):
    if kind == "sqlite":
        from contextlib import nullcontext

        return nullcontext(f"sqlite:///{tmp_path}/online.sqlite")
    return postgres_schema()


def head(app) -> int:
    return app.recorder.max_notification_id() or 0


@pytest.mark.parametrize("kind", STORES)
def test_events_a_follower_folds_during_a_rebuild_are_neither_lost_nor_counted_twice(
    kind, tmp_path
):
    """The race of the old rebuild: it set the tracking positions to where its own fold ended,
    so a follower that had folded further, and then folded one more event before the
    rebuild's own catch-up, moved the position past events the new tables never saw."""
    with store(kind, tmp_path) as url:
        app = a_busy_store(url)
        follower = build_read_models(app, database_url=url)  # another process's read models
        follower.catch_up()
        rebuilder = build_read_models(app, database_url=url)
        moments = iter(T0 + (200 + i) * DAY for i in range(10))

        def follower_records_and_folds() -> None:
            app.register_customer(a_person(), next(moments))
            follower.catch_up()

        # After the fold, before the swap: new events, folded by the follower.
        raced = []

        def after_the_fold(done: int, total: int) -> None:
            if not raced:
                raced.append(done)
                ordered(app, at=next(moments))
                follower_records_and_folds()

        # After the swap, before the rebuild's own catch-up: the follower folds one more.
        catch_up = rebuilder.catch_up

        def follower_first() -> int:
            follower_records_and_folds()
            return catch_up()

        rebuilder.catch_up = follower_first
        rebuilder.rebuild(progress=after_the_fold)
        rebuilder.catch_up = catch_up
        assert raced and raced[0] < head(app) - 2

        assert rebuilder.position() == head(app)
        position, drifts = rebuilder.verify()
        assert (position, drifts) == (head(app), [])
        assert_read_models_equal_the_fold(app, rebuilder)
        app.close()


@pytest.mark.parametrize("kind", STORES)
def test_a_rebuild_while_a_follower_thread_folds_new_events_loses_nothing(kind, tmp_path):
    with store(kind, tmp_path) as url:
        app = a_busy_store(url)
        rebuilder = build_read_models(app, database_url=url)
        stop = threading.Event()
        errors: list[BaseException] = []

        # Its own application and read models, as another process would have.
        other = build_application(database_url=url)
        follower = build_read_models(other, database_url=url)

        def follow() -> None:
            day = 300
            try:
                while not stop.is_set():
                    other.register_customer(a_person(), T0 + day * DAY)
                    follower.catch_up()
                    day += 1
            except BaseException as error:  # reported by the test below
                errors.append(error)

        thread = threading.Thread(target=follow)
        thread.start()
        try:
            for _ in range(3):
                rebuilder.rebuild()
        finally:
            stop.set()
            thread.join(timeout=60)
        other.close()
        assert not errors, errors
        rebuilder.catch_up()
        position, drifts = rebuilder.verify()
        assert (position, drifts) == (head(app), [])
        assert_read_models_equal_the_fold(app, rebuilder)
        app.close()


def test_a_rebuild_writes_its_progress_where_every_process_can_read_it(tmp_path):
    url = f"sqlite:///{tmp_path}/progress.sqlite"
    app = a_busy_store(url)
    read_models = build_read_models(app, database_url=url)
    seen_while_running = []

    def looking(done: int, total: int) -> None:
        if not seen_while_running:
            seen_while_running.extend(build_read_models(app, database_url=url).rebuild_progress())

    read_models.rebuild(["invoices", "notices"], progress=looking)
    running = {r["read_model"]: r for r in seen_while_running}
    assert set(running) >= {"invoices", "notices"}
    assert running["invoices"]["finished"] is None
    assert running["invoices"]["target"] == head(app)
    assert running["invoices"]["position"] == head(app)  # folded, not yet swapped in

    done = {r["read_model"]: r for r in read_models.rebuild_progress()}
    assert set(done) == {"invoices", "notices"}
    for row in done.values():
        assert row["finished"] is not None and row["finished"] >= row["started"]
        assert row["position"] == row["target"] == head(app)
    app.close()


def test_the_metrics_show_a_rebuild_run_by_another_process(tmp_path):
    """``/metrics`` of a running engine reads the progress rows a rebuild writes, whichever
    process runs it (here a second ReadModels, as ``billing projections rebuild`` would)."""
    from adapters.clock import SimulatedClock
    from bootstrap import build_engine

    url = f"sqlite:///{tmp_path}/metrics.sqlite"
    engine = build_engine(database_url=url, clock=SimulatedClock(T0))
    ordered(engine.app, at=T0)
    build_read_models(engine.app, database_url=url).rebuild(["subscriptions"])
    metrics = engine.metrics_text()
    last = head(engine.app)
    assert f'billing_read_model_rebuild_position{{read_model="subscriptions"}} {last}' in metrics
    assert f'billing_read_model_rebuild_target{{read_model="subscriptions"}} {last}' in metrics
    assert 'billing_read_model_rebuild_running{read_model="subscriptions"} 0' in metrics
    engine.close()


def a_store_of_several_customers(url: str):
    """The busy store, and more: customers of a representative, each with a site, a side
    service's invoice, payments (some paying more than owed, so credit moves) and the notices
    of the days that pass, so every read model has rows of several customers."""
    from domain.representative import RepresentativeDetails
    from tests.builders import a_company

    app = a_busy_store(url)
    at = T0 + 120 * DAY
    rep = app.add_representative(RepresentativeDetails("Ali Rezaei"), at)
    for i in range(6):
        profile = a_person(f"Customer {i}") if i % 2 else a_company(f"Company {i}")
        customer = app.register_customer(profile, at, representative_id=rep)
        sub = app.start_subscription(customer, "basic", "monthly", at)
        line = {"description": "SEO", "unit_price": 300_000 * (i + 1), "quantity": 1}
        service = app.issue_service_invoice(customer, sub, [line], 5, at + DAY)
        if i % 3:
            app.record_payment(f"pay-{i}", 500_000 * (i + 1), at + 2 * DAY, invoice_id=service)
    app.advance(at + 40 * DAY)
    return app


def rows_of_every_read_model(read_models) -> dict[str, list[tuple]]:
    found = {}
    for m in read_models.rebuildable:
        rows = read_models.query(f"SELECT * FROM {{{m.table.name}}}")
        found[m.name] = sorted((tuple(sorted(r.items())) for r in rows), key=repr)
    return found


@pytest.mark.postgres
def test_a_rebuild_in_two_jobs_gives_the_rows_of_one_job_row_for_row():
    with postgres_schema() as url:
        app = a_store_of_several_customers(url)
        read_models = build_read_models(app, database_url=url)
        assert read_models.rebuild(jobs=1) == head(app)
        in_one = rows_of_every_read_model(read_models)
        assert read_models.rebuild(jobs=2) == head(app)
        in_two = rows_of_every_read_model(read_models)

        assert in_two == in_one
        customers = {r["customer_id"] for r in read_models.query("SELECT * FROM {rm_invoices}")}
        assert len(customers) >= 6
        for name in ("customer_ledger", "notices", "revenue_by_month", "representatives"):
            assert in_one[name], f"{name} has no rows: the history does not exercise it"
        assert read_models.verify() == (head(app), [])
        progress = {r["read_model"]: r for r in read_models.rebuild_progress()}
        assert set(progress) == {m.name for m in read_models.rebuildable}
        assert {(r["position"], r["target"]) for r in progress.values()} == {(head(app), head(app))}
        assert all(r["finished"] is not None for r in progress.values())
        app.close()


@pytest.mark.postgres
def test_a_rebuild_in_two_jobs_folds_what_a_follower_recorded_meanwhile():
    """Events recorded while the jobs fold are folded by the swap, from the store's states."""
    with postgres_schema() as url:
        app = a_store_of_several_customers(url)
        read_models = build_read_models(app, database_url=url)
        moments = iter(T0 + (200 + i) * DAY for i in range(10))
        raced = []

        def meanwhile(done: int, total: int) -> None:
            if not raced and done >= total:
                raced.append(done)
                sub = ordered(app, at=next(moments))
                app.record_payment("meanwhile", 2_000_000, next(moments), subscription_id=sub)

        assert read_models.rebuild(jobs=2, progress=meanwhile) == head(app)
        assert raced and raced[0] < head(app)
        assert read_models.verify() == (head(app), [])
        assert_read_models_equal_the_fold(app, read_models)
        app.close()


def test_a_rebuild_in_several_jobs_is_refused_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path}/jobs.sqlite"
    app = a_busy_store(url)
    read_models = build_read_models(app, database_url=url)
    with pytest.raises(ValueError, match="--jobs 2 needs PostgreSQL"):
        read_models.rebuild(jobs=2)
    assert read_models.rebuild_progress() == []  # refused before anything was written
    app.close()


@pytest.mark.postgres
def test_a_rebuild_whose_job_fails_leaves_the_live_read_models_as_they_were(monkeypatch):
    from projections import rebuild_jobs

    with postgres_schema() as url:
        app = a_store_of_several_customers(url)
        read_models = build_read_models(app, database_url=url)
        read_models.catch_up()
        before = rows_of_every_read_model(read_models)
        fold_share = rebuild_jobs.fold_share

        def job_1_fails(folding, notifications, mapper, job, jobs, report):
            if job == 1:
                raise RuntimeError("job 1 ran out of memory")
            fold_share(folding, notifications, mapper, job, jobs, report)

        monkeypatch.setattr(rebuild_jobs, "fold_share", job_1_fails)  # forked: the jobs see it
        with pytest.raises(RuntimeError, match="job 1 ran out of memory"):
            read_models.rebuild(jobs=2)
        assert rows_of_every_read_model(read_models) == before
        assert read_models.position() == head(app)
        assert read_models.verify() == (head(app), [])
        app.close()


@pytest.mark.postgres
def test_a_rebuild_whose_index_build_fails_leaves_the_live_read_models_as_they_were(monkeypatch):
    """The scratch tables are indexed by several threads at once: a build that fails in one of
    them fails the rebuild (with the database's own error), and nothing is swapped in."""
    from projections import rebuild

    with postgres_schema() as url:
        app = a_store_of_several_customers(url)
        read_models = build_read_models(app, database_url=url)
        read_models.catch_up()
        before = rows_of_every_read_model(read_models)
        index_scratch, built = rebuild._index_scratch, []

        def notices_fail(sql, model, scratch):
            if model.name == "notices":
                sql.execute(f"ALTER TABLE {scratch} ADD PRIMARY KEY (no_such_column)")
            index_scratch(sql, model, scratch)
            built.append(model.name)

        monkeypatch.setattr(rebuild, "_index_scratch", notices_fail)
        with pytest.raises(Exception, match="no_such_column"):
            read_models.rebuild(jobs=2)
        assert "notices" not in built
        assert rows_of_every_read_model(read_models) == before
        assert read_models.position() == head(app)
        assert read_models.verify() == (head(app), [])
        app.close()
