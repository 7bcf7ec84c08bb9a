"""The scheduler, triggered by its own job, on SQLite and the real PostgreSQL: the lifecycle
runs by itself, a late tick catches up in the right order, and notices and site changes
really leave (to a local SMTP server, a fake SMS provider and a fake hosting platform)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from adapters.clock import SimulatedClock
from adapters.fakes import FakePlatform, FakeSmsProvider, SmtpSink
from bootstrap import build_engine
from domain import lifecycle
from domain.subscription import SubscriptionStatus
from service_layer.timeline import timeline
from tests.builders import DAY, HOUR, T0, a_person, a_plan, random_ref
from tests.stores import postgres_schema


def wait_for_ticks(engine, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while engine.metrics.ticks < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"the scheduler did not tick (ticks={engine.metrics.ticks})")
        time.sleep(0.005)


def wait_for_deliveries(engine, timeout: float = 30.0) -> None:
    """Delivery runs in jobs of its own, apart from the ticks: wait until nothing is due."""
    deadline = time.monotonic() + timeout
    store = engine.dispatcher.store
    while True:
        due = store.read_models.query(
            "SELECT COUNT(*) AS n FROM {outbox} WHERE status = 'pending' AND attempts = 0"
        )[0]["n"]
        if not due:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{due} deliveries were not sent")
        time.sleep(0.01)


def drive(engine, clock, until, step: timedelta) -> None:
    """Move the clock in steps and let the scheduler's own job tick after each."""
    while clock.now() < until:
        ticks = engine.metrics.ticks
        clock.advance(min(step, until - clock.now()))
        wait_for_ticks(engine, ticks + 2)  # a whole tick after the move


class SchedulerOnAStore:
    database_url: str

    @pytest.fixture
    def outside(self):
        with SmtpSink() as smtp, FakeSmsProvider() as sms, FakePlatform() as platform:
            yield smtp, sms, platform

    def engine(self, clock, outside=None, **settings):
        if outside:
            smtp, sms, platform = outside
            settings |= {
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp.port,
                "sms_base_url": sms.url,
                "sms_api_key": sms.api_key,
                "platform_url": platform.url,
                "platform_secret": platform.secret,
            }
        return build_engine(
            database_url=self.database_url,
            clock=clock,
            tick_interval=0.01,
            delivery_interval=0.01,
            **settings,
        )

    @pytest.mark.slow
    def test_the_job_runs_a_whole_lifecycle_and_restores_on_payment(self, outside):
        clock = SimulatedClock(T0)
        engine = self.engine(clock, outside)
        app = engine.app
        app.define_plan(a_plan(), T0)
        customer = app.register_customer(a_person(), T0)
        unpaid = app.start_subscription(customer, "basic", "monthly", T0)
        restored = app.start_subscription(customer, "basic", "monthly", T0)
        engine.start()
        try:
            drive(engine, clock, T0 + 35 * DAY, step=12 * HOUR)
            life = app.lifecycle_of(restored)
            assert life.subscription.status is SubscriptionStatus.SUSPENDED
            app.record_payment(
                random_ref(),
                lifecycle.amount_due(life.subscription, life.invoices),
                clock.now(),
                subscription_id=restored,
            )
            drive(engine, clock, T0 + 70 * DAY, step=12 * HOUR)
            engine.read_models.catch_up()
            wait_for_deliveries(engine)
        finally:
            engine.stop()
        names = [e.event for e in timeline(app, unpaid)]
        for expected in (
            "SubscriptionRenewed",
            "GraceStarted",
            "SiteSuspended",
            "SiteCollected",
            "InvoiceVoided",
        ):
            assert expected in names
        kinds = [e.data["kind"] for e in timeline(app, unpaid) if e.event == "NoticeSent"]
        assert kinds.count("payment_reminder") >= 2 and kinds.count("collection_warning") == 3
        assert app.status_of(unpaid) is SubscriptionStatus.COLLECTED
        assert "SiteRestored" in [e.event for e in timeline(app, restored)]
        # Triggered by the job, each step at most one tick step after it was due.
        timed = [e for e in timeline(app, unpaid) if e.due_at is not None]
        assert timed
        assert all(timedelta(0) <= e.recorded_at - e.due_at <= 12 * HOUR for e in timed)
        # The hosting platform was told, in order, exactly once each.
        smtp, sms, platform = outside
        site = app.get_subscription(unpaid).site
        actions = [r.action for r in platform.state.applied if r.site == site]
        assert actions == ["create", "suspend", "remove"]
        assert platform.state.rejected == []
        engine.close()

    def test_a_late_tick_sends_the_missed_notices_first_and_postpones_the_action(self):
        clock = SimulatedClock(T0)
        engine = self.engine(clock)
        app = engine.app
        app.define_plan(a_plan(), T0)
        sub = app.start_subscription(app.register_customer(a_person(), T0), "basic", "monthly", T0)
        engine.tick()
        clock.advance(23 * DAY)
        engine.tick()  # on time: nothing due yet
        clock.advance(10 * DAY + 12 * HOUR)  # a 10-day outage, past deadline and grace
        back = clock.now()
        report = engine.tick()
        steps = [e.step.step for e in report.executed if e.subscription_id == sub]
        assert steps[:3] == [
            lifecycle.Step.REMIND,
            lifecycle.Step.REMIND,
            lifecycle.Step.START_GRACE,
        ]
        assert lifecycle.Step.SUSPEND not in steps
        reminder = next(e for e in timeline(app, sub) if e.data.get("kind") == "payment_reminder")
        assert (reminder.due_at, reminder.recorded_at) == (T0 + 27 * DAY, back)
        clock.advance(23 * HOUR)
        assert not [e for e in engine.tick().executed if e.step.step is lifecycle.Step.SUSPEND]
        clock.advance(HOUR)
        assert [e.step.step for e in engine.tick().executed] == [lifecycle.Step.SUSPEND]
        engine.close()

    def test_a_tick_reads_only_what_is_due(self):
        clock = SimulatedClock(T0)
        engine = self.engine(clock)
        app = engine.app
        app.define_plan(a_plan(), T0)
        customer = app.register_customer(a_person(), T0)
        for _ in range(5):
            app.start_subscription(customer, "basic", "monthly", T0)
        engine.tick()
        calls = []
        original, grouped = app.advance_subscription, app.advance_subscriptions
        app.advance_subscription = lambda sub_id, now: calls.append(sub_id) or original(sub_id, now)
        app.advance_subscriptions = lambda ids, now: calls.extend(ids) or grouped(ids, now)
        clock.advance(DAY)
        engine.tick()
        assert calls == []  # nothing due: no subscription was even loaded
        clock.advance(26 * DAY)
        engine.tick()
        assert len(calls) == 5
        engine.close()

    def test_notices_really_go_out_by_email_sms_and_to_the_panel(self, outside):
        smtp, sms, platform = outside
        clock = SimulatedClock(T0)
        engine = self.engine(clock, outside)
        app = engine.app
        app.define_plan(a_plan(), T0)
        customer = app.register_customer(a_person(), T0)
        sub = app.start_subscription(customer, "basic", "monthly", T0)
        engine.tick()
        clock.advance(27 * DAY)
        engine.tick()
        reminder = next(m for m in smtp.messages if "یادآوری ۱" in m["Subject"])
        assert reminder["To"] == "sara@example.ir"
        text = reminder.get_body(("plain",)).get_content()
        html = reminder.get_body(("html",)).get_content()
        assert "۱٬۱۰۰٬۰۰۰ ریال" in text  # the amount due, Persian digits
        assert "۱۴ اردیبهشت ۱۴۰۵" in text  # the deadline, Jalali
        assert "۱۷ اردیبهشت ۱۴۰۵" in text  # when the site is suspended if unpaid
        assert f"/pay/{app.get_subscription(sub).invoice_ids[0]}" in text  # the payment link
        assert 'dir="rtl"' in html
        assert any("یادآوری ۱" in m.message and m.receptor == "09121234567" for m in sms.sent)
        inbox = engine.dispatcher.store.inbox(str(customer))
        assert [m["kind"] for m in inbox][:2] == ["payment_reminder", "invoice_issued"]
        created = [r for r in platform.state.applied if r.action == "create"]
        assert created and created[0].site == app.get_subscription(sub).site
        engine.close()

    @pytest.mark.slow
    def test_a_delivery_failure_never_blocks_the_lifecycle_and_is_retried(self, outside):
        smtp, sms, platform = outside
        sms.failing = True
        platform.down = True
        clock = SimulatedClock(T0)
        engine = self.engine(clock, outside)
        app = engine.app
        app.define_plan(a_plan(), T0)
        sub = app.start_subscription(app.register_customer(a_person(), T0), "basic", "monthly", T0)
        for _ in range(34):
            clock.advance(DAY)
            engine.tick()
        assert app.status_of(sub) is SubscriptionStatus.SUSPENDED  # the lifecycle went on
        store = engine.dispatcher.store
        failing = store.failed_deliveries()
        assert {"sms", "platform"} <= {row["channel"] for row in failing}
        assert store.counts().get(("email", "delivered"), 0) >= 4  # e-mail was not held up
        assert engine.metrics.delivery_failures > 0
        sms.failing = False
        platform.down = False
        clock.advance(5 * HOUR)  # past the backoff
        engine.tick()
        assert [r.action for r in platform.state.applied] == ["create", "suspend"]
        assert store.counts().get(("sms", "pending"), 0) == 0
        engine.close()


class TestSchedulerOnSQLite(SchedulerOnAStore):
    @pytest.fixture(autouse=True)
    def _store(self, tmp_path):
        self.database_url = f"sqlite:///{tmp_path}/s.sqlite"


@pytest.mark.postgres
class TestSchedulerOnPostgreSQL(SchedulerOnAStore):
    @pytest.fixture(autouse=True)
    def _store(self):
        with postgres_schema() as url:
            self.database_url = url
            yield


def test_a_subscription_that_cannot_be_advanced_does_not_stop_the_others(tmp_path):
    """A poison pill (here an event whose bytes no longer decode) is logged, counted and tried
    again next tick; every other due subscription is advanced in the same tick."""
    import sqlite3

    db = tmp_path / "poison.sqlite"
    clock = SimulatedClock(T0)
    engine = build_engine(database_url=f"sqlite:///{db}", clock=clock)
    app = engine.app
    app.define_plan(a_plan(), T0)
    subs = [
        app.start_subscription(app.register_customer(a_person(), T0), "basic", "monthly", T0)
        for _ in range(3)
    ]
    engine.tick()
    broken = min(subs, key=str)  # due together, in id order: the broken one comes first
    engine.close()
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE stored_events SET state = X'7B' || state "
            "WHERE originator_id = ? AND originator_version = 1",
            (broken.hex,),
        )
    # A new process meets the undecodable event (a running one keeps the aggregates it saved,
    # and stored events never change under it: service_layer/aggregate_cache.py).
    engine = build_engine(database_url=f"sqlite:///{db}", clock=clock)
    clock.advance(29 * DAY)  # every subscription's reminders are due
    report = engine.tick()
    assert report.failed == [str(broken)]
    assert {e.subscription_id for e in report.executed} == set(subs) - {broken}
    assert engine.metrics.step_errors == 1
    again = engine.tick()  # still due: tried again, and still alone
    assert again.failed == [str(broken)] and again.executed == []
    assert engine.metrics.step_errors == 2 and engine.metrics.tick_errors == 0
    engine.close()


def test_a_failing_store_still_fails_the_whole_tick(tmp_path, monkeypatch):
    """An error of the store itself (here injected: the database is unavailable) is not one
    subscription's problem: the tick stops and is counted as failed, as before."""
    from eventsourcing.persistence import OperationalError

    clock = SimulatedClock(T0)
    engine = build_engine(database_url=f"sqlite:///{tmp_path / 'down.sqlite'}", clock=clock)
    app = engine.app
    app.define_plan(a_plan(), T0)
    for _ in range(2):
        app.start_subscription(app.register_customer(a_person(), T0), "basic", "monthly", T0)
    engine.tick()
    clock.advance(29 * DAY)
    calls = []

    def unavailable(subscription_ids, now):
        calls.append(subscription_ids)
        raise OperationalError("database is unavailable")

    monkeypatch.setattr(app, "advance_subscriptions", unavailable)  # a due page's group
    monkeypatch.setattr(app, "advance_subscription", unavailable)  # one alone
    with pytest.raises(OperationalError):
        engine.tick()
    assert len(calls) == 1 and engine.metrics.tick_errors == 1
    assert engine.metrics.step_errors == 0
    engine.close()
