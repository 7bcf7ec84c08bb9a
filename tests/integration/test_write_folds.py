"""A write folds its own events before it returns; a batch of writes folds once
(docs/ARCHITECTURE.md, "Reads never wait"). On SQLite and on the real PostgreSQL."""

from __future__ import annotations

import pytest

from bootstrap import build_engine
from tests.builders import DAY, T0, a_company, a_plan
from tests.stores import postgres_schema


class WriteFolds:
    database_url: str

    @pytest.fixture
    def engine(self):
        engine = build_engine(database_url=self.database_url, test_mode=True, test_clock_start=T0)
        yield engine
        engine.close()

    @staticmethod
    def head(engine) -> int:
        return engine.app.recorder.max_notification_id() or 0

    @staticmethod
    def counting_folds(engine) -> list[int]:
        """The last notification id of each batch the read models fold from now on."""
        view = engine.read_models.view
        folded: list[int] = []
        process_batch = view.process_batch

        def counted(application_name, batch):
            folded.append(batch[-1][1])
            return process_batch(application_name, batch)

        view.process_batch = counted
        return folded

    def test_every_command_returns_with_its_events_folded(self, engine):
        app = engine.app
        app.define_plan(a_plan("basic", 1_000_000), T0)
        assert engine.read_models.position() == self.head(engine)
        customer = app.register_customer(a_company(), T0)
        sub_id = app.start_subscription(customer, "basic", "monthly", T0)
        assert engine.read_models.position() == self.head(engine)
        rows = engine.read_models.query(
            "SELECT status FROM {rm_subscriptions} WHERE subscription_id = ?", (str(sub_id),)
        )
        assert rows == [{"status": "active"}]
        folded = self.counting_folds(engine)
        invoice = app.get_subscription(sub_id).invoice_ids[0]
        app.record_payment("BANK-1", 100_000, T0 + DAY, invoice_id=invoice)
        assert folded == [self.head(engine)]  # one batch, through the payment's last event
        paid = engine.read_models.query(
            "SELECT paid FROM {rm_invoices} WHERE invoice_id = ?", (str(invoice),)
        )
        assert paid == [{"paid": 100_000}]

    def test_a_batch_of_writes_folds_once_when_it_ends(self, engine):
        app = engine.app
        app.define_plan(a_plan("basic", 1_000_000), T0)
        folded = self.counting_folds(engine)
        with app.folds_deferred():
            customers = [app.register_customer(a_company(f"Co {n}"), T0) for n in range(3)]
            assert folded == []
            assert engine.read_models.position() < self.head(engine)
        assert folded == [self.head(engine)]
        for customer in customers:
            app.start_subscription(customer, "basic", "monthly", T0)
        folded.clear()
        app.advance(T0 + 40 * DAY, on_time=True)  # many steps, each its own save
        assert folded == [self.head(engine)]
        assert engine.read_models.position() == self.head(engine)

    def test_the_tick_folds_after_its_pages_not_after_each_subscription(self, engine):
        app = engine.app
        app.define_plan(a_plan("basic", 1_000_000), T0)
        for n in range(3):
            customer = app.register_customer(a_company(f"Co {n}"), T0)
            app.start_subscription(customer, "basic", "monthly", T0)
        engine.clock.advance_to(T0 + 40 * DAY)
        folded = self.counting_folds(engine)
        report = engine.tick(deliver=False)
        assert len(report.executed) >= 3
        assert folded == [self.head(engine)]  # the tick's own catch-up, once
        assert engine.read_models.position() == self.head(engine)


class TestWriteFoldsOnSQLite(WriteFolds):
    @pytest.fixture(autouse=True)
    def _store(self, tmp_path):
        self.database_url = f"sqlite:///{tmp_path}/folds.sqlite"


@pytest.mark.postgres
class TestWriteFoldsOnPostgreSQL(WriteFolds):
    @pytest.fixture(autouse=True)
    def _store(self):
        with postgres_schema() as url:
            self.database_url = url
            yield
