"""Several followers folding the same log in batches: each event counts once.

The rule (docs/ARCHITECTURE.md, "Read models"): a batch's rows and every read model's tracking
row are written in one transaction, and a position moves only by compare-and-set from the one
the follower read; of two followers folding the same batch one commits, the other writes
nothing, reads the positions again and goes on after them.
"""

from __future__ import annotations

import threading

import pytest

from bootstrap import build_application, build_read_models
from projections import runner
from tests.builders import DAY, T0, in_memory_app, ordered
from tests.histories import History
from tests.stores import postgres_schema


def a_history(app) -> None:
    History(app).run(
        [
            ("order", "basic", "monthly"),
            ("order", "lean", "quarterly"),
            ("order", "basic", "yearly"),
            ("advance", 24 * 20),
        ]
    )


def more_history(app, round_: int) -> None:
    History(app).run([("order", "basic", "monthly"), ("advance", 24 * (10 + round_))])


def counting(read_models, folded: list[int], lost: list[int]) -> None:
    """Count the events each committed batch needed, and the batches lost to a race."""
    original = read_models.view.process_batch

    def process_batch(application_name, batch):
        needed = original(application_name, batch)
        if needed < 0:
            lost.append(batch[-1][1])
        else:
            folded.append(needed)
        return needed

    read_models.view.process_batch = process_batch


@pytest.mark.postgres
def test_two_followers_racing_over_the_same_batches_fold_every_event_once(monkeypatch):
    monkeypatch.setattr(runner, "BATCH", 5)  # many small batches: many chances to collide
    with postgres_schema() as url:
        app = build_application(database_url=url)
        # Opened on the empty store, so the outbox follows the log from its start.
        build_read_models(app, database_url=url)
        followers = [build_read_models(app, database_url=url) for _ in range(2)]
        folded: list[int] = []
        lost: list[int] = []
        for follower in followers:
            counting(follower, folded, lost)
        a_history(app)
        errors: list[BaseException] = []

        def follow(read_models, gate: threading.Barrier) -> None:
            try:
                gate.wait()
                read_models.catch_up()
            except BaseException as error:  # reported by the test thread
                errors.append(error)

        for round_ in range(4):
            gate = threading.Barrier(2)
            threads = [threading.Thread(target=follow, args=(f, gate)) for f in followers]
            for t in threads:
                t.start()
            if round_ < 3:
                more_history(app, round_)  # recorded while both fold
            for t in threads:
                t.join(timeout=120)
            assert errors == []
        for follower in followers:
            follower.catch_up()
        last = app.recorder.max_notification_id()
        assert all(f.position() == last for f in followers)
        # Every event was needed by exactly one committed batch, whichever follower's.
        assert sum(folded) == last, (sum(folded), last, len(lost))
        print(f"{len(folded)} batches committed, {len(lost)} lost to the other follower")

        # Every rebuildable read model equals its rebuild from the events.
        _, drifts = followers[0].verify()
        assert drifts == []

        # The outbox (never rebuilt) equals what one follower alone writes from the start.
        reference = build_read_models(app, database_url=url)
        outbox = [m for m in reference.models if m.name == "outbox"][0]
        raced = reference.query("SELECT * FROM {outbox} ORDER BY delivery_id")
        with reference.view.datastore.transaction(commit=True) as cursor:
            reference.view.sql(cursor).execute(
                f"DELETE FROM {reference.view.sql(cursor).table(outbox.table.name)}"
            )
            reference._reset_tracking(cursor, outbox, 0)
        reference.view.forget_positions()
        reference.view.states.forget()
        reference.catch_up()
        alone = reference.query("SELECT * FROM {outbox} ORDER BY delivery_id")
        assert raced  # notices and platform requests were due
        assert [r["delivery_id"] for r in raced] == [r["delivery_id"] for r in alone]
        columns = ("channel", "kind", "recipient", "subject", "body", "payload", "sequence")
        assert [[r[c] for c in columns] for r in raced] == [[r[c] for c in columns] for r in alone]
        app.close()


def test_the_states_a_command_saved_are_folded_without_loading_them_again(tmp_path):
    """The rule (issue 22, "the states a command just saved handed to the read models"): a
    fold that meets the events of a save takes the aggregates as saved; only what it was not
    handed is loaded. The rows are the same as a fold that loads everything."""
    url = f"sqlite:///{tmp_path}/hinted.sqlite"
    app = build_application(database_url=url)
    read_models = build_read_models(app, database_url=url)
    loaded: list[tuple[object, object]] = []
    load = read_models.view.states.loader

    def counting_load(aggregate_id, version):
        loaded.append((aggregate_id, version))
        return load(aggregate_id, version)

    read_models.view.states.loader = counting_load
    subscription = ordered(app)
    read_models.catch_up()
    read_models.view.states.forget()  # as a scheduler that has never seen it
    app.advance(T0 + 27 * DAY)  # the first reminder: one save of the subscription (and more)
    read_models.catch_up()
    assert subscription not in [aggregate_id for aggregate_id, _ in loaded]
    _, drifts = read_models.verify()
    assert drifts == []


def test_a_hint_is_taken_once_at_its_own_version_and_a_later_change_does_not_reach_it():
    from projections.model import AggregateStates

    app = in_memory_app()
    subscription = ordered(app)
    app.advance(T0 + 27 * DAY)
    saved = app.repository.get(subscription)
    loads: list[int | None] = []

    def load(aggregate_id, version):
        loads.append(version)
        return app.repository.get(aggregate_id, version=version)

    states = AggregateStates(loader=load)
    states.hint([saved])
    assert states._hinted(subscription, saved.version - 1) is None  # not that version
    taken = states._hinted(subscription, saved.version)
    assert taken is not None and taken is not saved and taken.version == saved.version
    assert states._hinted(subscription) is None  # taken once
    version = saved.version
    states.hint([saved])
    # The next command takes the same object (from the aggregate cache) and changes it: the
    # hint is the state as saved, copied when it was given.
    object.__setattr__(saved, "_version", version + 1)
    kept = states._hinted(subscription, version)
    assert kept is not None and kept is not saved and kept.version == version
    assert loads == []


def test_a_save_hints_what_the_fold_would_load_and_not_what_it_builds_from_the_events():
    """Created by the save (its first event is 1): the fold builds it from the events. Moved
    by more than one event: the fold needs it at the first of them and loads it. Moved by one,
    or only read: hinted, a copy that shares nothing with the saved object."""
    from projections.model import AggregateStates

    app = in_memory_app()
    subscription = app.repository.get(ordered(app))
    app.advance(T0 + 27 * DAY)  # the first invoice's reminder
    invoice = app.repository.get(subscription.invoice_ids[0])
    customer = app.repository.get(subscription.customer_id)
    assert invoice.version == 3
    states = AggregateStates(loader=lambda *_: None)

    states.hint([subscription, invoice, customer], {subscription.id: 1, invoice.id: 2})
    assert states._hinted(subscription.id) is None  # created by the save
    assert states._hinted(invoice.id) is None  # moved by two events, 2 and 3
    taken = states._hinted(customer.id)  # only read
    assert taken is not None and taken is not customer and vars(taken) == vars(customer)

    states.hint([invoice], {invoice.id: 3})
    moved_by_one = states._hinted(invoice.id, 3)
    assert moved_by_one is not None and moved_by_one is not invoice
    assert vars(moved_by_one) == vars(invoice)
