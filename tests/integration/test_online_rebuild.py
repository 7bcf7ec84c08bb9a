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
