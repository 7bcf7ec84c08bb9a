"""Aggregates kept between commands stay correct when another process writes them
(service_layer/aggregate_cache.py): two applications on one store, as two processes would be."""

from __future__ import annotations

import logging
from collections import Counter

import pytest

from bootstrap import build_application
from domain import lifecycle
from domain.invoice import Invoice
from domain.lifecycle import Step
from domain.subscription import Subscription, SubscriptionStatus
from tests.builders import DAY, T0, a_person, a_plan, random_ref
from tests.stores import postgres_schema


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def two_processes(request, tmp_path):
    """Two applications on one database, each with its own aggregate cache."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/shared.sqlite"
        apps = [build_application(database_url=url) for _ in range(2)]
        yield apps
        for app in apps:
            app.close()
        return
    with postgres_schema() as url:
        apps = [build_application(database_url=url) for _ in range(2)]
        yield apps
        for app in apps:
            app.close()


def _ordered(app):
    app.define_plan(a_plan(), T0)
    customer = app.register_customer(a_person(), T0)
    return app.start_subscription(customer, "basic", "monthly", T0)


def _notices(app, subscription_id) -> Counter:
    """How many times each notice (kind, number, planned moment) of a subscription and its
    invoices was stored."""
    sent: Counter = Counter()
    invoice_ids = app.get_subscription(subscription_id).invoice_ids
    for aggregate_id in [subscription_id, *invoice_ids]:
        for event in app.events.get(aggregate_id):
            if isinstance(event, Subscription.NoticeSent | Invoice.NoticeSent):
                sent[(aggregate_id, event.kind, event.number, event.due_at)] += 1
    return sent


def test_a_cached_aggregate_is_brought_up_to_date_with_another_process_s_writes(
    two_processes, caplog
):
    """A caches the subscription and its first invoice when it orders; B then records the
    payment. A's next command reads the payment (the events stored after its cached versions),
    without a write conflict: it only renews, with no reminder or suspension for the paid
    invoice (what it would do on the state it cached)."""
    a, b = two_processes
    subscription_id = _ordered(a)
    assert a.aggregate_cache.peek(subscription_id) is not None
    life = b.lifecycle_of(subscription_id)
    b.record_payment(
        random_ref(),
        lifecycle.amount_due(life.subscription, life.invoices),
        T0 + DAY,
        subscription_id=subscription_id,
    )
    hits = a.aggregate_cache.hits
    with caplog.at_level(logging.INFO, logger="service_layer.application"):
        done = a.advance_subscription(subscription_id, T0 + 40 * DAY)
    assert a.aggregate_cache.hits > hits  # the cached subscription and invoice were used
    assert "write conflict" not in caplog.text
    assert [executed.step.step for executed in done] == [Step.RENEW]
    assert a.status_of(subscription_id) is SubscriptionStatus.ACTIVE
    assert b.lifecycle_of(subscription_id).subscription.version == (
        a.aggregate_cache.peek(subscription_id).version
    )


def test_a_write_between_a_command_s_load_and_its_save_makes_it_run_again_from_fresh_state(
    two_processes, caplog
):
    """A loads the subscription from its cache to send a due reminder; before A saves, B sends
    the same reminder. A's save conflicts, A runs the command again on what B stored, finds
    nothing due, and the reminder is stored once."""
    a, b = two_processes
    subscription_id = _ordered(a)
    due = a.next_step_of(subscription_id)
    assert due is not None
    original = a._before_save
    raced = []

    def b_writes_first(uow):
        if not raced:
            raced.append(b.advance_subscription(subscription_id, due.due_at))
        original(uow)

    a._before_save = b_writes_first
    misses = a.aggregate_cache.misses
    with caplog.at_level(logging.INFO, logger="service_layer.application"):
        done_by_a = a.advance_subscription(subscription_id, due.due_at)
    assert "write conflict, retrying command" in caplog.text
    assert a.aggregate_cache.misses > misses  # the second run loaded afresh, not from the cache
    assert [executed.step for executed in raced[0]] == [due] and done_by_a == []
    notices = _notices(a, subscription_id)
    assert all(count == 1 for count in notices.values())
    assert [key[1:] for key in notices if key[1] == "payment_reminder"] == [
        ("payment_reminder", due.number, due.due_at)
    ]
    # What A keeps now is what the store holds: its next command starts from there.
    stored = b.lifecycle_of(subscription_id).subscription
    assert a.aggregate_cache.peek(subscription_id).version == stored.version


def test_a_refused_command_leaves_nothing_of_itself_in_the_cache(two_processes):
    """A command that fails after changing an aggregate in memory gives nothing back: the next
    command replays the stored state, not the failed command's."""
    a, _ = two_processes
    subscription_id = _ordered(a)
    kept = a.aggregate_cache.peek(subscription_id)
    assert kept is not None
    version = kept.version

    def cancel_then_fail(uow):
        uow.subscription(subscription_id).cancel("a test", T0 + DAY)
        raise RuntimeError("refused after the change")

    with pytest.raises(RuntimeError):
        a._run(cancel_then_fail)
    assert a.aggregate_cache.peek(subscription_id) is None
    assert a.status_of(subscription_id) is SubscriptionStatus.ACTIVE
    a.advance_subscription(subscription_id, T0 + DAY)
    assert a.get_subscription(subscription_id).version >= version
    assert a.get_subscription(subscription_id).status is SubscriptionStatus.ACTIVE


def test_an_aggregate_a_command_returns_stays_its_caller_s(two_processes):
    """The caller goes on reading an aggregate its command returned: it is not kept, so no
    later command can take it and change it under the caller; what the command only read is."""
    a, _ = two_processes
    subscription_id = _ordered(a)
    invoice_id = a.get_subscription(subscription_id).invoice_ids[0]

    def read_both(uow):
        uow.invoice(invoice_id)
        return uow.subscription(subscription_id)

    returned = a._run(read_both)
    assert returned.id == subscription_id
    assert a.aggregate_cache.peek(subscription_id) is None
    assert a.aggregate_cache.peek(invoice_id) is not None


def _counting_batched_reads(app) -> list[int]:
    """Count the store's batched reads of newer events (one per ``load`` that asks)."""
    calls: list[int] = []
    read = app.recorder.select_events_after

    def counted(versions):
        calls.append(len(versions))
        return read(versions)

    app.recorder.select_events_after = counted
    return calls


def _three_ordered(app):
    app.define_plan(a_plan(), T0)
    return [
        app.start_subscription(app.register_customer(a_person(), T0), "basic", "monthly", T0)
        for _ in range(3)
    ]


def test_advance_reads_a_batch_of_due_lifecycles_in_one_query_not_one_per_command(two_processes):
    """Three subscriptions ordered together are due together: ``advance`` reads their
    subscriptions, open invoices and customers from the store in one query, and their three
    commands take them from the cache as they are (docs/ARCHITECTURE.md, "Aggregates kept
    between commands")."""
    a, _ = two_processes
    subscriptions = _three_ordered(a)
    due = {a.next_step_of(s) for s in subscriptions}
    assert len({step.due_at for step in due}) == 1
    calls = _counting_batched_reads(a)
    done = a.advance(next(iter(due)).due_at)
    assert sorted(e.subscription_id for e in done) == sorted(subscriptions)
    assert calls == [9]  # 3 subscriptions, 3 open invoices, 3 customers: one query


def test_another_process_s_write_inside_a_batch_is_caught_and_the_batch_reads_afresh(
    two_processes, caplog
):
    """B sends the reminder A's batch is about to send, after A's batch read: A's save
    conflicts, A runs that command again on what the store holds (so the reminder is stored
    once), and from then on the batch trusts nothing it read: every later command of it asks
    the store again."""
    a, b = two_processes
    subscriptions = _three_ordered(a)
    due_at = a.next_step_of(subscriptions[0]).due_at
    original = a._before_save
    raced: list = []

    def b_writes_first(uow):
        if not raced:
            [saving] = [x for x in uow.aggregates.values() if isinstance(x, Subscription)]
            raced.append(b.advance_subscription(saving.id, due_at))
        original(uow)

    a._before_save = b_writes_first
    calls = _counting_batched_reads(a)
    with caplog.at_level(logging.INFO, logger="service_layer.application"):
        done = a.advance(due_at)
    assert "write conflict, retrying command" in caplog.text
    assert len(raced[0]) == 1 and len(done) == 2  # B sent one, A the two others
    # The batch read, the conflicted command's second run (what it finds cached no longer
    # counts), and each later command's own read of its 3 aggregates.
    assert calls[0] == 9 and calls[-2:] == [3, 3] and len(calls) > 3
    for subscription_id in subscriptions:
        notices = _notices(a, subscription_id)
        assert notices and all(count == 1 for count in notices.values())
