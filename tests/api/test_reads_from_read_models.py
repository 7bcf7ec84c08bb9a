"""The API's GETs answer from the read models (projections/reads.py): the same bodies the
aggregates give, one statement each, and the caller's own write (or another process's) seen
at once, because a write folds its own events before it answers and a read never waits
(docs/ARCHITECTURE.md, "Reads never wait"). On SQLite and on the real PostgreSQL."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from api.schemas import CustomerOut, InvoiceOut, SubscriptionOut
from app import create_app
from bootstrap import build_engine
from domain.customer import Customer
from domain.invoice import Invoice
from domain.representative import RepresentativeDetails
from domain.subscription import Subscription
from projections.visibility import OPERATOR, Operator
from tests.api.server import bearer
from tests.builders import SELLER, T0, a_company, a_person, a_plan
from tests.stores import postgres_schema

DAY = timedelta(days=1)


def a_busy_store(engine) -> dict:
    """Subscriptions in several states: a company's paid official invoice partly returned, a
    person's voided invoice (a credit note), a plan change waiting for the renewal, a side
    service invoice, a suspended site and a representative's customer."""
    app = engine.app
    app.seller = SELLER
    app.define_plan(a_plan("basic", 1_000_000), T0)
    app.define_plan(a_plan("pro", 3_000_000), T0)
    rep = app.add_representative(RepresentativeDetails("Reza Karimi"), T0)
    company = app.register_customer(a_company(), T0, representative_id=rep)
    person = app.register_customer(a_person(), T0)
    late = app.register_customer(a_person("Late Payer"), T0)
    paid_sub = app.start_subscription(company, "basic", "monthly", T0)
    voided_sub = app.start_subscription(person, "pro", "monthly", T0)
    app.start_subscription(late, "basic", "monthly", T0)
    paid_invoice = app.get_subscription(paid_sub).invoice_ids[0]
    total = app.get_invoice(paid_invoice).total.rials
    app.record_payment("BANK-1", total, T0 + DAY, invoice_id=paid_invoice)
    app.return_sale(paid_invoice, 100_000, "SEO not delivered.", T0 + 2 * DAY)
    app.change_plan(paid_sub, "pro", T0 + 2 * DAY, when="renewal")
    app.issue_service_invoice(
        company,
        paid_sub,
        [{"description": "ثبت دامنه", "unit_price": 500_000, "quantity": 2}],
        10,
        T0 + 2 * DAY,
    )
    voided = app.get_subscription(voided_sub).invoice_ids[0]
    app.record_payment("BANK-2", 700_000, T0 + DAY, invoice_id=voided)
    app.void_invoice(voided, "Ordered twice.", T0 + 3 * DAY)
    app.advance(T0 + 40 * DAY, on_time=True)  # renewals, reminders, grace, a suspension
    return {"representative": rep, "customers": [company, person, late]}


def aggregates_of(app, kind):
    ids = {n.originator_id for n in app.recorder.select_notifications(start=1, limit=10_000)}
    return [i for i in ids if isinstance(app.repository.get(i), kind)]


class ReadsFromReadModels:
    database_url: str

    @pytest.fixture
    def engine(self):
        engine = build_engine(database_url=self.database_url, test_mode=True, test_clock_start=T0)
        yield engine
        engine.close()

    def test_every_answer_is_what_the_aggregates_give(self, engine):
        a_busy_store(engine)
        app, reads = engine.app, create_app(engine).state.context.reads
        for sub_id in aggregates_of(app, Subscription):
            before = SubscriptionOut.of_lifecycle(app.lifecycle_of(sub_id))
            assert SubscriptionOut.of_row(reads.subscription(OPERATOR, sub_id)) == before
            invoices = app.get_subscription(sub_id).invoice_ids
            rows = reads.subscription_invoices(OPERATOR, sub_id, start=0, limit=50)
            assert [InvoiceOut.of_row(r) for r in rows] == [
                InvoiceOut.of(app.get_invoice(i)) for i in invoices
            ]
        shown = []
        for invoice_id in aggregates_of(app, Invoice):
            answer = InvoiceOut.of_row(reads.invoice(OPERATOR, invoice_id))
            assert answer == InvoiceOut.of(app.get_invoice(invoice_id))
            shown.append(answer)
        assert any(a.official_number and a.official_corrections for a in shown)
        assert any(a.credit_notes for a in shown)
        assert any(a.kind == "service" for a in shown)
        for customer_id in aggregates_of(app, Customer):
            owed = sum(
                app.get_invoice(i).balance.rials
                for i in aggregates_of(app, Invoice)
                if app.get_invoice(i).customer_id == customer_id
            )
            before = CustomerOut.of(app.get_customer(customer_id), owed)
            assert CustomerOut.of_row(reads.customer(OPERATOR, customer_id)) == before

    def test_visibility_is_part_of_the_statement(self, engine):
        made = a_busy_store(engine)
        app, reads = engine.app, create_app(engine).state.context.reads
        company, person, _ = made["customers"]
        rep = Operator(role="representative", subject=made["representative"])
        me = Operator(role="customer", subject=person)
        theirs = app.get_customer(company)
        assert reads.customer(rep, company)["customer_id"] == str(company)
        assert [r["customer_id"] for r in reads.customers(rep, after="", limit=10)] == [
            str(company)
        ]
        subs = reads.subscriptions(me, after="", limit=10)
        assert {r["customer_id"] for r in subs} == {str(person)}
        with pytest.raises(Exception) as refused:
            reads.customer(me, company)
        assert type(refused.value).__name__ == "CustomerNotFound"
        company_sub = reads.subscriptions(rep, after="", limit=10)[0]["subscription_id"]
        with pytest.raises(Exception) as hidden:
            reads.subscription(me, company_sub)
        assert type(hidden.value).__name__ == "SubscriptionNotFound"
        assert theirs.representative_id == made["representative"]

    def test_a_read_sees_the_callers_own_write_at_once(self, engine):
        app = engine.app
        app.define_plan(a_plan("basic", 1_000_000), T0)
        app.define_plan(a_plan("pro", 3_000_000), T0)
        customer = app.register_customer(a_company(), T0)
        sub_id = app.start_subscription(customer, "basic", "monthly", T0)
        invoice = app.get_subscription(sub_id).invoice_ids[0]
        api = create_app(engine)
        finance = bearer(api.state.context.tokens.create("finance", T0))
        with TestClient(api) as http:
            assert http.get(f"/invoices/{invoice}", headers=finance).json()["paid"] == 0
            paid = http.post(
                f"/invoices/{invoice}/payments",
                json={"reference": "BANK-7", "amount": 400_000},
                headers=finance,
            )
            assert paid.status_code == 200, paid.text
            assert http.get(f"/invoices/{invoice}", headers=finance).json()["paid"] == 400_000
            changed = http.post(
                f"/subscriptions/{sub_id}/change-plan",
                json={"plan_id": "pro", "when": "renewal"},
                headers=finance,
            )
            assert changed.status_code == 200, changed.text
            shown = http.get(f"/subscriptions/{sub_id}", headers=finance).json()
            assert shown["pending_change"] == {
                "plan_id": "pro",
                "period": "monthly",
                "from_period_no": 2,
            }
            customer_now = http.get(f"/customers/{customer}", headers=finance).json()
            assert customer_now["open_balance"] == app.get_invoice(invoice).balance.rials

    def test_a_read_sees_another_processes_write(self, engine):
        """Another process (its own runtime on the same store) records a payment; this API's
        next read sees it: that process folded its write before the command returned."""
        app = engine.app
        app.define_plan(a_plan("basic", 1_000_000), T0)
        customer = app.register_customer(a_company(), T0)
        sub_id = app.start_subscription(customer, "basic", "monthly", T0)
        invoice = app.get_subscription(sub_id).invoice_ids[0]
        reads = create_app(engine).state.context.reads
        assert reads.invoice(OPERATOR, invoice)["paid"] == 0
        other = build_engine(database_url=self.database_url, test_mode=True, test_clock_start=T0)
        try:
            other.app.record_payment("BANK-9", 250_000, T0 + DAY, invoice_id=invoice)
        finally:
            other.close()
        assert reads.invoice(OPERATOR, invoice)["paid"] == 250_000

    def test_a_get_right_after_a_post_in_another_api_process_sees_it(self, engine):
        """Two API processes on one database (each its own runtime, as two workers of
        ``billing serve --workers 2``): a payment posted to one is in the other's very next
        GET, with no follower in either (their lifespans are not run)."""
        app = engine.app
        app.define_plan(a_plan("basic", 1_000_000), T0)
        customer = app.register_customer(a_company(), T0)
        sub_id = app.start_subscription(customer, "basic", "monthly", T0)
        invoice = app.get_subscription(sub_id).invoice_ids[0]
        first = create_app(engine)
        finance = bearer(first.state.context.tokens.create("finance", T0))
        admin = bearer(first.state.context.tokens.create("admin", T0))
        other = build_engine(database_url=self.database_url, test_mode=True, test_clock_start=T0)
        try:
            second = create_app(other)
            one, two = TestClient(first), TestClient(second)
            assert two.get(f"/invoices/{invoice}", headers=finance).json()["paid"] == 0
            for n, amount in enumerate((100_000, 250_000), start=1):
                paid = one.post(
                    f"/invoices/{invoice}/payments",
                    json={"reference": f"BANK-X{n}", "amount": amount},
                    headers=finance,
                )
                assert paid.status_code == 200, paid.text
                seen = two.get(f"/invoices/{invoice}", headers=finance).json()
                assert seen["paid"] == (100_000 if n == 1 else 350_000)
                shown = two.get(f"/customers/{customer}", headers=finance).json()
                assert shown["open_balance"] == app.get_invoice(invoice).balance.rials
            before = one.get(f"/subscriptions/{sub_id}", headers=finance).json()
            changed = two.post(
                f"/subscriptions/{sub_id}/cancel", json={"reason": "moving"}, headers=admin
            )
            assert changed.status_code == 200, changed.text
            after = one.get(f"/subscriptions/{sub_id}", headers=finance).json()
            assert after != before
            assert after == changed.json()
        finally:
            other.close()

    def test_the_plans_are_the_stores_at_every_read(self, engine):
        """``GET /plans`` keeps the catalogue it last read and asks the store only whether it
        changed since: a plan another process defined is in the next answer."""
        engine.app.define_plan(a_plan("basic", 1_000_000), T0)
        api = create_app(engine)
        http = TestClient(api)
        me = bearer(api.state.context.tokens.create("finance", T0))

        def listed() -> list[str]:
            return [p["id"] for p in http.get("/plans", headers=me).json()["items"]]

        assert listed() == ["basic"]
        assert listed() == ["basic"]
        other = build_engine(database_url=self.database_url, test_mode=True, test_clock_start=T0)
        try:
            other.app.define_plan(a_plan("pro", 3_000_000), T0 + DAY)
            assert listed() == ["basic", "pro"]
            other.app.define_plan(a_plan("max", 5_000_000), T0 + 2 * DAY)
            assert listed() == ["basic", "max", "pro"]
        finally:
            other.close()

    def test_a_payment_on_an_invoice_not_yet_folded_is_recorded(self, engine):
        """The scheduler folds its own writes after its pages, so for a moment an invoice it
        has just issued is in the store but not in the read models: a payment on it is
        recorded (the store is asked before refusing), and an unknown invoice is still 404."""
        app = engine.app
        app.define_plan(a_plan("basic", 1_000_000), T0)
        customer = app.register_customer(a_company(), T0)
        api = create_app(engine)
        finance = bearer(api.state.context.tokens.create("finance", T0))
        with app.folds_deferred(fold=False):  # as the tick writes, before its closing fold
            sub_id = app.start_subscription(customer, "basic", "monthly", T0)
        invoice = app.get_subscription(sub_id).invoice_ids[0]
        http = TestClient(api)  # no lifespan: no follower to fold it meanwhile
        assert http.get(f"/invoices/{invoice}", headers=finance).status_code == 404
        paid = http.post(
            f"/invoices/{invoice}/payments",
            json={"reference": "BANK-N1", "amount": 100_000},
            headers=finance,
        )
        assert paid.status_code == 200, paid.text
        assert app.get_invoice(invoice).paid.rials == 100_000
        assert http.get(f"/invoices/{invoice}", headers=finance).json()["paid"] == 100_000
        unknown = http.post(
            f"/invoices/{customer}/payments",
            json={"reference": "BANK-N2", "amount": 100_000},
            headers=finance,
        )
        assert unknown.status_code == 404, unknown.text
        assert unknown.json()["code"] == "invoice_not_found"

    def test_a_fold_that_fails_does_not_fail_the_write(self, engine, caplog):
        """The write stands and is answered; the failure is logged and counted, the read
        models' lag shows it (``/readyz``), and the next write's fold folds both."""
        app = engine.app
        app.define_plan(a_plan("basic", 1_000_000), T0)
        customer = app.register_customer(a_company(), T0)
        sub_id = app.start_subscription(customer, "basic", "monthly", T0)
        invoice = app.get_subscription(sub_id).invoice_ids[0]
        api = create_app(engine)
        read_models = api.state.context.read_models
        finance = bearer(api.state.context.tokens.create("finance", T0))
        http = TestClient(api)
        view = read_models.view

        def broken(*args, **kwargs):
            raise RuntimeError("the read models' database refused the batch")

        view.process_batch = broken
        try:
            paid = http.post(
                f"/invoices/{invoice}/payments",
                json={"reference": "BANK-F1", "amount": 100_000},
                headers=finance,
            )
        finally:
            del view.process_batch
        assert paid.status_code == 200, paid.text
        assert app.get_invoice(invoice).paid.rials == 100_000  # the write stands
        assert read_models.fold_failures == 1
        assert "the write stands" in caplog.text
        ready = http.get("/readyz")
        assert ready.json()["read_model_lag"] > 0
        assert http.get(f"/invoices/{invoice}", headers=finance).json()["paid"] == 0
        again = http.post(
            f"/invoices/{invoice}/payments",
            json={"reference": "BANK-F2", "amount": 50_000},
            headers=finance,
        )
        assert again.status_code == 200, again.text
        assert http.get(f"/invoices/{invoice}", headers=finance).json()["paid"] == 150_000
        assert http.get("/readyz").json()["read_model_lag"] == 0


class TestReadsOnSQLite(ReadsFromReadModels):
    @pytest.fixture(autouse=True)
    def _store(self, tmp_path):
        self.database_url = f"sqlite:///{tmp_path}/reads.sqlite"

    @contextmanager
    def traced(self, engine):
        """Every statement SQLite runs on the store's connections meanwhile."""
        datastore = engine.read_models.view.datastore
        statements: list[str] = []
        original = datastore.get_connection

        @contextmanager
        def tracing(*args, **kwargs):
            with original(*args, **kwargs) as conn:
                conn._sqlite_conn.set_trace_callback(statements.append)
                try:
                    yield conn
                finally:
                    conn._sqlite_conn.set_trace_callback(None)

        datastore.get_connection = tracing
        try:
            yield statements
        finally:
            del datastore.get_connection

    def test_a_fresh_get_is_one_statement(self, engine):
        app = engine.app
        app.define_plan(a_plan("basic", 1_000_000), T0)
        customer = app.register_customer(a_company(), T0)
        sub_id = app.start_subscription(customer, "basic", "monthly", T0)
        invoice = app.get_subscription(sub_id).invoice_ids[0]
        api = create_app(engine)
        reads = api.state.context.reads
        reads.subscription(OPERATOR, sub_id)  # caught up with what was recorded
        for read in (
            lambda: reads.subscription(OPERATOR, sub_id),
            lambda: reads.invoice(OPERATOR, invoice),
            lambda: reads.customer(OPERATOR, customer),
            lambda: reads.subscription_invoices(OPERATOR, sub_id, start=0, limit=10),
            lambda: reads.customers(OPERATOR, after="", limit=10),
        ):
            with self.traced(engine) as statements:
                read()
            assert len(statements) == 1, statements
            assert "stored_events" not in statements[0]  # no log head: the read never waits
        # Something new was recorded: its command folded it before returning, so the read
        # is still its one statement.
        app.record_payment("BANK-3", 100_000, T0 + DAY, invoice_id=invoice)
        with self.traced(engine) as statements:
            assert reads.invoice(OPERATOR, invoice)["paid"] == 100_000
        assert len(statements) == 1, statements

    def test_a_get_over_http_reads_the_read_models_once(self, engine):
        """Over HTTP: besides the token's lookup, ``GET /subscriptions/{id}`` runs one
        statement and loads no aggregate."""
        app = engine.app
        app.define_plan(a_plan("basic", 1_000_000), T0)
        customer = app.register_customer(a_company(), T0)
        sub_id = app.start_subscription(customer, "basic", "monthly", T0)
        api = create_app(engine)
        me = bearer(api.state.context.tokens.create("customer", T0, subject=customer))
        with TestClient(api) as http:
            engine.read_models.stop()  # the background follower's polls would be traced too
            assert http.get(f"/subscriptions/{sub_id}", headers=me).status_code == 200
            with self.traced(engine) as statements:
                answer = http.get(f"/subscriptions/{sub_id}", headers=me)
            assert answer.status_code == 200
        reads = [s for s in statements if "rm_" in s or "stored_events" in s]
        assert len(reads) == 1, statements


@pytest.mark.postgres
class TestReadsOnPostgreSQL(ReadsFromReadModels):
    @pytest.fixture(autouse=True)
    def _store(self):
        with postgres_schema() as url:
            self.database_url = url
            yield
