"""One test class, run unchanged on a SQLite file and on the machine's real PostgreSQL.

The subclasses only say where the events go (as eventsourcing's own examples do for POPO,
SQLite and PostgreSQL).
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from bootstrap import build_application
from domain import lifecycle
from domain.errors import InvoiceNotPayable
from domain.subscription import SiteState, SubscriptionStatus
from service_layer.timeline import timeline
from tests.builders import (
    DAY,
    HOUR,
    T0,
    a_person,
    a_plan,
    in_memory_app,
    ordered,
    random_ref,
    run_clock,
)
from tests.stores import postgres_schema


def shape(app, subscription_id):
    """A timeline without generated ids: what happened, when, due when."""
    return [
        (e.aggregate, e.event, e.recorded_at, e.due_at, e.data.get("kind"), e.data.get("number"))
        for e in timeline(app, subscription_id)
    ]


class LifecycleOnAStore:
    """Everything here must hold on every store."""

    database_url: str

    def build(self):
        return build_application(database_url=self.database_url)

    def test_a_whole_life_is_recorded_and_survives_a_restart(self):
        app = self.build()
        sub_id = ordered(app)
        run_clock(app, T0, T0 + 35 * DAY, step=6 * HOUR)
        life = app.lifecycle_of(sub_id)
        due = lifecycle.amount_due(life.subscription, life.invoices)
        outcome = app.record_payment(random_ref(), due, T0 + 35 * DAY, subscription_id=sub_id)
        assert outcome.restored
        before = app.get_subscription(sub_id)
        app.close()

        restarted = self.build()  # a new process would do exactly this
        assert restarted.get_subscription(sub_id) == before
        assert restarted.status_of(sub_id) is SubscriptionStatus.ACTIVE
        run_clock(restarted, T0 + 35 * DAY, T0 + 110 * DAY, step=6 * HOUR)
        assert restarted.status_of(sub_id) is SubscriptionStatus.COLLECTED
        restarted.close()

    def test_the_same_history_gives_the_same_events_as_in_memory(self):
        app, memory = self.build(), in_memory_app()
        stored, reference = ordered(app), ordered(memory)
        for each in (app, memory):
            run_clock(each, T0, T0 + 34 * DAY, step=4 * HOUR)
        app.record_payment("same-ref", 500_000, T0 + 34 * DAY, subscription_id=stored)
        memory.record_payment("same-ref", 500_000, T0 + 34 * DAY, subscription_id=reference)
        for each in (app, memory):
            run_clock(each, T0 + 34 * DAY, T0 + 80 * DAY, step=4 * HOUR)
        assert shape(app, stored) == shape(memory, reference)
        app.close()

    def test_a_rejected_command_records_nothing(self):
        app = self.build()
        sub_id = ordered(app)
        run_clock(app, T0, T0 + 64 * DAY, step=DAY)
        invoice_id = app.get_subscription(sub_id).invoice_ids[0]
        before = app.recorder.max_notification_id()
        with pytest.raises(InvoiceNotPayable):
            app.record_payment(random_ref(), 1_100_000, T0 + 64 * DAY, invoice_id=invoice_id)
        assert app.recorder.max_notification_id() == before
        app.close()

    def test_two_schedulers_at_once_never_double_issue_anything(self):
        setup = self.build()
        setup.define_plan(a_plan(), T0)
        customer = setup.register_customer(a_person(), T0)
        subs = [
            setup.start_subscription(customer, "basic", "monthly", T0 + i * HOUR) for i in range(4)
        ]
        setup.close()
        workers = [self.build(), self.build()]
        errors: list[BaseException] = []

        def tick(app):
            try:
                for day in range(1, 75):
                    app.advance(T0 + day * DAY)
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=tick, args=(w,)) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        check = self.build()
        for sub_id in subs:
            entries = timeline(check, sub_id)
            keys = [
                (
                    e.aggregate_id,
                    e.event,
                    e.data.get("kind"),
                    e.data.get("number"),
                    e.data.get("suspension_no"),
                )
                for e in entries
                if e.event not in ("PaymentRecorded",)
            ]
            notices = [
                (
                    e.aggregate_id,
                    e.data["kind"],
                    e.data["number"],
                    str(e.data["facts"].get("suspension_no")),
                )
                for e in entries
                if e.event == "NoticeSent"
            ]
            assert len(notices) == len(set(notices)), "a notice went out twice"
            assert sum(1 for k in keys if k[1] == "SiteCollected") == 1
            assert sum(1 for k in keys if k[1] == "SiteSuspended") == 1
            periods = [e.data["period_no"] for e in entries if e.event == "InvoiceIssued"]
            assert len(periods) == len(set(periods)), "a renewal invoice was issued twice"
            assert check.get_subscription(sub_id).site_state is SiteState.COLLECTED
        for w in workers:
            w.close()
        check.close()

    def test_the_same_payment_from_two_processes_counts_once(self):
        setup = self.build()
        sub_id = ordered(setup)
        invoice_id = setup.get_subscription(sub_id).invoice_ids[0]
        setup.close()
        apps = [self.build() for _ in range(3)]
        barrier = threading.Barrier(len(apps))
        errors: list[BaseException] = []

        def pay(app):
            try:
                barrier.wait()
                app.record_payment("gw-123456", 400_000, T0 + DAY, invoice_id=invoice_id)
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=pay, args=(a,)) for a in apps]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        check = self.build()
        invoice = check.get_invoice(invoice_id)
        assert invoice.paid.rials == 400_000
        assert len(invoice.settlements) == 1
        for a in [*apps, check]:
            a.close()


class TestOnSQLite(LifecycleOnAStore):
    @pytest.fixture(autouse=True)
    def _store(self, tmp_path):
        self.database_url = f"sqlite:///{tmp_path}/billing.sqlite"


@pytest.mark.postgres
class TestOnPostgreSQL(LifecycleOnAStore):
    @pytest.fixture(autouse=True)
    def _store(self):
        with postgres_schema() as url:
            self.database_url = url
            yield

    def test_tables_are_created_once_when_processes_start_together(self):
        errors: list[BaseException] = []
        barrier = threading.Barrier(4)

        def start():
            try:
                barrier.wait()
                build_application(database_url=self.database_url).close()
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=start) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors

    def test_a_lock_timeout_is_set(self):
        app = self.build()
        assert app.factory.datastore.lock_timeout == 5
        app.close()


def test_sqlite_is_the_embedded_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BILLING_DATABASE_URL", raising=False)
    app = build_application()
    ordered(app)
    app.close()
    assert (tmp_path / "var" / "billing.sqlite").exists()


def test_time_based_moments_are_kept_exactly(tmp_path):
    app = build_application(database_url=f"sqlite:///{tmp_path}/b.sqlite")
    sub_id = ordered(app)
    app.advance(T0 + 40 * DAY)
    reminder = next(e for e in timeline(app, sub_id) if e.data.get("kind") == "payment_reminder")
    assert reminder.due_at == T0 + 27 * DAY
    assert reminder.recorded_at == T0 + 40 * DAY
    assert reminder.recorded_at - reminder.due_at == timedelta(days=13)
    app.close()
