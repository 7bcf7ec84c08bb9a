"""A busy tick saves its due subscriptions in groups, one transaction per group
(``SubscriptionCommands.advance_subscriptions``, docs/SCHEDULER.md "A page at a time"), with
exactly the outcome of advancing them one at a time; a group whose save conflicts, and any
subscription that did not simply decide, go alone."""

from __future__ import annotations

import gc
import threading
from collections import Counter

import pytest
from eventsourcing.persistence import IntegrityError

import scheduler
from adapters.clock import SimulatedClock
from bootstrap import build_engine
from service_layer.unit_of_work import UnitOfWork
from tests.builders import DAY, T0, a_person, a_plan
from tests.stores import postgres_schema

DUE = 12


def an_engine(url):
    clock = SimulatedClock(T0)
    engine = build_engine(database_url=url, clock=clock)
    app = engine.app
    app.define_plan(a_plan(), T0)
    subs = [
        app.start_subscription(
            app.register_customer(a_person(f"P {i}"), T0), "basic", "monthly", T0
        )
        for i in range(DUE)
    ]
    engine.tick()
    clock.advance(29 * DAY)  # every subscription's first reminders are due
    return engine, subs


def counted_inserts(app) -> list[int]:
    """How many events each insert transaction of the store wrote (wrapped around it)."""
    sizes: list[int] = []
    insert = app.recorder.insert_events

    def counting(stored_events, **kwargs):
        ids = insert(stored_events, **kwargs)
        sizes.append(len(stored_events))
        return ids

    app.recorder.insert_events = counting
    return sizes


def stored_topics(app) -> Counter:
    return Counter(n.topic for n in app.recorder.select_notifications(start=1, limit=100_000))


class GroupedTick:
    def url(self, tmp_path, name: str) -> str:
        raise NotImplementedError

    def test_a_busy_tick_saves_its_due_subscriptions_together_as_one_at_a_time_would(
        self, tmp_path, monkeypatch
    ):
        grouped, subs = an_engine(self.url(tmp_path, "grouped"))
        inserts = counted_inserts(grouped.app)
        report = grouped.tick()
        assert sorted(e.subscription_id for e in report.executed) == sorted(subs * 2)
        assert inserts == [sum(inserts)]  # every due subscription in one transaction

        monkeypatch.setattr(scheduler, "GROUP", 1)
        alone, _ = an_engine(self.url(tmp_path, "alone"))
        one_at_a_time = counted_inserts(alone.app)
        alone.tick()
        assert len(one_at_a_time) == DUE
        assert stored_topics(grouped.app) == stored_topics(alone.app)
        assert grouped.tick().executed == []  # nothing left due, nothing done twice
        grouped.close()
        alone.close()

    def test_a_group_s_lifecycles_are_read_once_and_decided_without_full_collections(
        self, tmp_path
    ):
        """The page's prefetch (two queries) and the group's read together (one) are all the
        reads of newer events a busy tick makes: no command of the group asks again
        (docs/ARCHITECTURE.md, "A batch read together"). The commands run with the cyclic
        collector paused (adapters/collector.py), which is on again once the tick is over."""
        engine, subs = an_engine(self.url(tmp_path, "reads"))
        app = engine.app
        reads: list[int] = []
        select = app.recorder.select_events_after
        app.recorder.select_events_after = lambda versions: (
            reads.append(len(versions)) or select(versions)
        )
        collector: list[bool] = []
        before_save = app._before_save
        app._before_save = lambda uow: collector.append(gc.isenabled()) or before_save(uow)
        assert gc.isenabled()
        report = engine.tick()
        assert len(report.executed) == 2 * DUE
        assert reads == [DUE, 2 * DUE, 3 * DUE]  # subscriptions; invoices and customers; group
        assert collector == [False] * DUE
        assert gc.isenabled()
        engine.close()

    def test_a_group_whose_save_conflicts_goes_one_at_a_time(self, tmp_path, monkeypatch):
        engine, subs = an_engine(self.url(tmp_path, "conflict"))
        save_together = UnitOfWork.save_together
        refused = []

        def conflicting(uows):
            if len(uows) > 1 and not refused:
                refused.append(len(uows))
                raise IntegrityError("another scheduler saved one of them first")
            return save_together(uows)

        monkeypatch.setattr(UnitOfWork, "save_together", staticmethod(conflicting))
        report = engine.tick()
        assert refused == [DUE]
        assert sorted(e.subscription_id for e in report.executed) == sorted(subs * 2)
        assert report.failed == []
        assert engine.tick().executed == []
        engine.close()

    def test_a_subscription_holding_a_lock_until_its_save_goes_alone(self, tmp_path, monkeypatch):
        """One that took the official-number lock (a renewal paid from credit) must not keep
        it while the rest of the group decides: it is saved alone, and the lock is free."""
        engine, subs = an_engine(self.url(tmp_path, "lock"))
        app = engine.app
        holder = subs[3]
        before_save = app._before_save
        held_by: list[object] = []

        def taking_the_lock(uow):
            before_save(uow)
            if holder in uow.aggregates:
                uow.hold(app.series_lock)
                held_by.append(uow)

        monkeypatch.setattr(app, "_before_save", taking_the_lock)
        report = engine.tick()
        assert sorted(e.subscription_id for e in report.executed) == sorted(subs * 2)
        assert len(held_by) == 2  # in the group (left out), then alone (saved)
        free = threading.Event()

        def take() -> None:
            with app.series_lock.held():
                free.set()

        thread = threading.Thread(target=take)
        thread.start()
        thread.join(10)
        assert free.is_set()
        engine.close()


class TestGroupedTickOnSQLite(GroupedTick):
    def url(self, tmp_path, name: str) -> str:
        return f"sqlite:///{tmp_path}/{name}.sqlite"


@pytest.mark.postgres
class TestGroupedTickOnPostgreSQL(GroupedTick):
    @pytest.fixture(autouse=True)
    def _schemas(self):
        self._open = []
        yield
        for context in self._open:
            context.__exit__(None, None, None)

    def url(self, tmp_path, name: str) -> str:
        context = postgres_schema()
        self._open.append(context)
        return context.__enter__()
