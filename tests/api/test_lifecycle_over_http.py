"""A subscription walked from order to suspension, restored by a payment, then collected, all
through real HTTP with the test clock, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest

from app import create_app
from bootstrap import build_engine
from tests.api.server import bearer, served
from tests.builders import T0
from tests.stores import postgres_schema


def test_an_altered_stored_event_is_a_clear_problem_not_a_retry(tmp_path):
    import sqlite3

    from tests.builders import a_person, a_plan

    db = tmp_path / "altered.sqlite"
    engine = build_engine(database_url=f"sqlite:///{db}", test_mode=True, test_clock_start=T0)
    api = create_app(engine)
    app = api.state.context.app
    app.define_plan(a_plan("basic"), T0)
    subscription = app.start_subscription(
        app.register_customer(a_person(), T0), "basic", "monthly", T0
    )
    finance = bearer(api.state.context.tokens.create("finance", T0))
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE stored_events SET state = X'7B' || state "
            "WHERE originator_id = ? AND originator_version = 1",
            (subscription.hex,),
        )
    with served(api) as http:
        # What reads the events meets the altered one. (GET /subscriptions/{id} reads the read
        # models, which folded the event when it was written, before it was altered.)
        answer = http.get(f"/audit/{subscription}/timeline", headers=finance)
        assert answer.status_code == 500, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["code"] == "stored_event_unreadable"
        assert "billing audit verify" in answer.json()["detail"]
    engine.close()


class LifecycleOverHttp:
    database_url: str

    def test_order_suspend_pay_restore_then_collect(self):
        engine = build_engine(database_url=self.database_url, test_mode=True, test_clock_start=T0)
        api = create_app(engine)
        tokens = api.state.context.tokens
        admin = bearer(tokens.create("admin", T0))
        finance = bearer(tokens.create("finance", T0))
        with served(api) as http:
            assert http.get("/healthz").json()["test_mode"] is True
            assert (
                http.post(
                    "/plans",
                    json={"id": "business", "name": "Business", "monthly_price": 2_500_000},
                    headers=admin,
                ).status_code
                == 201
            )
            customer = http.post(
                "/customers",
                json={
                    "name": "سارا احمدی",
                    "kind": "person",
                    "email": "sara@example.ir",
                    "mobile": "09121234567",
                },
                headers=admin,
            ).json()
            me = bearer(tokens.create("customer", T0, subject=uuid.UUID(customer["id"])))
            order = http.post(
                "/subscriptions",
                json={"customer_id": customer["id"], "plan_id": "business", "period": "monthly"},
                headers=me | {"Idempotency-Key": "order-1"},
            )
            assert order.status_code == 201, order.text
            sub = order.json()
            assert (sub["status"], sub["site_state"]) == ("active", "up")
            invoices = http.get(f"/subscriptions/{sub['id']}/invoices", headers=me).json()["items"]
            assert (
                invoices[0]["due_at"] == "2026-05-04T05:30:00Z"
                and invoices[0]["total"] == 2_750_000
            )

            moved = http.post("/admin/clock/advance", json={"days": 34}, headers=admin).json()
            assert moved["now"] == "2026-05-08T05:30:00Z" and moved["executed"] > 0
            sub = http.get(f"/subscriptions/{sub['id']}", headers=me).json()
            assert (sub["status"], sub["site_state"]) == ("suspended", "suspended")
            assert sub["next_step"]["action"] in (
                "send_payment_reminder",
                "send_collection_warning",
                "start_grace",
            )

            paid = http.post(
                f"/invoices/{invoices[0]['id']}/payments",
                json={"reference": "BANK-0001", "amount": 2_750_000},
                headers=finance | {"Idempotency-Key": "pay-1"},
            )
            assert paid.status_code == 200 and paid.json()["restored"] is True
            again = http.post(
                f"/invoices/{invoices[0]['id']}/payments",
                json={"reference": "BANK-0001", "amount": 2_750_000},
                headers=finance | {"Idempotency-Key": "pay-1"},
            )
            assert again.json() == paid.json() and again.headers["Idempotent-Replayed"] == "true"
            assert http.get(f"/subscriptions/{sub['id']}", headers=me).json()["status"] == "active"

            http.post("/admin/clock/advance", json={"days": 70}, headers=admin)
            http.post("/admin/tick", headers=admin)
            final = http.get(f"/subscriptions/{sub['id']}", headers=me).json()
            assert final["status"] == "collected" and final["next_step"] is None
            timeline = http.get(f"/audit/{sub['id']}/timeline", headers=finance).json()["items"]
            names = [e["event"] for e in timeline]
            assert (
                names.index("SiteSuspended")
                < names.index("SiteRestored")
                < names.index("SiteCollected")
            )
            inbox = http.get(f"/customers/{customer['id']}/inbox", headers=me).json()["items"]
            assert {m["kind"] for m in inbox} >= {"invoice_issued"}
            voided = http.get(f"/subscriptions/{sub['id']}/invoices", headers=me).json()["items"][
                -1
            ]
            assert voided["status"] == "void"
            refused = http.post(
                f"/invoices/{voided['id']}/payments",
                json={"reference": "LATE", "amount": 100},
                headers=finance,
            )
            assert (
                refused.status_code == 409
                and refused.headers["content-type"] == "application/problem+json"
            )
            assert refused.json()["code"] == "invoice_not_payable"
        engine.close()


class TestOverHttpOnSQLite(LifecycleOverHttp):
    @pytest.fixture(autouse=True)
    def _store(self, tmp_path):
        self.database_url = f"sqlite:///{tmp_path}/api.sqlite"


@pytest.mark.postgres
class TestOverHttpOnPostgreSQL(LifecycleOverHttp):
    @pytest.fixture(autouse=True)
    def _store(self):
        with postgres_schema() as url:
            self.database_url = url
            yield
