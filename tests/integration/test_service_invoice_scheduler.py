"""The scheduler finds a side-service invoice's notices through the due-actions read model,
in a process that did not issue it, and a late tick sends the missed ones at its moment
(docs/SCHEDULER.md, docs/LIFECYCLE.md "Side-service invoices"); on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from adapters.clock import SimulatedClock
from bootstrap import build_engine
from domain.base import NoticeKind
from domain.service_invoices import ServiceStep
from tests.builders import DAY, T0, a_person, a_plan
from tests.stores import postgres_schema


class ServiceInvoiceTicks:
    database_url: str

    def test_another_process_ticks_its_notices_out_and_the_site_stays_up(self):
        clock = SimulatedClock(T0)
        issuer = build_engine(database_url=self.database_url, clock=clock)
        app = issuer.app
        app.define_plan(a_plan(), T0)
        customer = app.register_customer(a_person(), T0)
        sub = app.start_subscription(customer, "basic", "yearly", T0)
        line = {"description": "SEO", "unit_price": 1_000_000, "quantity": 1}
        invoice = app.issue_service_invoice(customer, sub, [line], 5, T0)
        issuer.close()

        clock.advance(3 * DAY)  # past the first reminder (deadline − 3 d), before the second
        scheduler = build_engine(database_url=self.database_url, clock=clock)
        first = scheduler.tick(deliver=False)
        assert [(e.subscription_id, e.step.number) for e in first.executed] == [(invoice, 1)]
        clock.advance(10 * DAY)  # an outage past the second reminder and the deadline
        late = scheduler.tick(deliver=False)
        sent = [e for e in late.executed if isinstance(e.step, ServiceStep)]
        assert [(e.step.kind, e.step.number) for e in sent] == [
            (NoticeKind.SERVICE_REMINDER, 2),
            (NoticeKind.SERVICE_OVERDUE, 0),
        ]
        assert all(e.recorded_at == clock.now() for e in sent)
        assert scheduler.tick(deliver=False).executed == []  # nothing more, ever
        inv = scheduler.app.get_invoice(invoice)
        assert len(inv.notices_of(NoticeKind.SERVICE_REMINDER, NoticeKind.SERVICE_OVERDUE)) == 3
        assert scheduler.app.get_subscription(sub).site_state.value == "up"
        scheduler.close()


class TestOnSQLite(ServiceInvoiceTicks):
    @pytest.fixture(autouse=True)
    def _store(self, tmp_path):
        self.database_url = f"sqlite:///{tmp_path}/ticks.sqlite"


@pytest.mark.postgres
class TestOnPostgreSQL(ServiceInvoiceTicks):
    @pytest.fixture(autouse=True)
    def _store(self):
        with postgres_schema() as url:
            self.database_url = url
            yield
