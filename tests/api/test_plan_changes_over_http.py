"""Plan changes over HTTP with the test clock (docs/LIFECYCLE.md, "Plan changes and
cancellation"; docs/INVOICES.md, "Proration invoices"): an upgrade on day 10 of a 30-day
Jalali period is in force at once and invoices 20/30 of the difference, and the hosting
platform is told the plan in force; a downgrade waits for the renewal; the renewal after an
upgrade bills the new plan for the whole period. On SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from adapters.fakes import FakePlatform
from app import create_app
from bootstrap import build_engine
from domain.jalali import JalaliDate
from tests.api.server import bearer, served
from tests.stores import postgres_schema

#: 1405/07/01 09:00 Tehran: Mehr has 30 days, so the first monthly period is 1405/07/01 to
#: 1405/07/30 (30 days), and the next one starts on 1405/08/01.
START = JalaliDate.parse("1405/07/01").start_in_tehran() + timedelta(hours=9)


class PlanChangesOverHttp:
    database_url: str

    def _shop(self, platform: FakePlatform):
        engine = build_engine(
            database_url=self.database_url,
            test_mode=True,
            test_clock_start=START,
            platform_url=platform.url,
            platform_secret=platform.secret,
        )
        api = create_app(engine)
        tokens = api.state.context.tokens
        return engine, api, bearer(tokens.create("admin", START))

    def _order(self, http, tokens, admin, plan_id: str) -> tuple[dict, dict]:
        for plan, price in (("basic", 1_000_000), ("business", 2_500_000)):
            http.post(
                "/plans",
                json={"id": plan, "name": plan.title(), "monthly_price": price},
                headers=admin,
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
        me = bearer(tokens.create("customer", START, subject=uuid.UUID(customer["id"])))
        order = http.post(
            "/subscriptions",
            json={"customer_id": customer["id"], "plan_id": plan_id, "period": "monthly"},
            headers=me | {"Idempotency-Key": f"order-{plan_id}"},
        )
        assert order.status_code == 201, order.text
        return order.json(), me

    def test_an_upgrade_on_day_10_of_30_invoices_20_30_of_the_difference_at_once(self):
        with FakePlatform() as platform:
            engine, api, admin = self._shop(platform)
            tokens = api.state.context.tokens
            with served(api) as http:
                sub, me = self._order(http, tokens, admin, "basic")
                first = http.get(f"/subscriptions/{sub['id']}/invoices", headers=me).json()
                http.post(
                    f"/invoices/{first['items'][0]['id']}/payments",
                    json={"reference": "BANK-1", "amount": 1_100_000},
                    headers=admin,
                )
                http.post("/admin/tick", headers=admin)
                assert platform.state.plans[sub["site"]] == "basic"  # the create carried it

                # Day 10 of the period (1405/07/10): 20 days are left after it.
                http.post("/admin/clock/advance", json={"days": 9}, headers=admin)
                changed = http.post(
                    f"/subscriptions/{sub['id']}/change-plan",
                    json={"plan_id": "business"},
                    headers=me | {"Idempotency-Key": "upgrade-1"},
                )
                assert changed.status_code == 200, changed.text
                now = changed.json()
                assert (now["plan_id"], now["pending_change"]) == ("business", None)
                assert now["current_period"]["end"] == "1405/07/30"  # the period is unchanged

                items = http.get(f"/subscriptions/{sub['id']}/invoices", headers=me).json()
                proration = items["items"][-1]
                assert proration["kind"] == "proration" and proration["status"] == "open"
                # (2,500,000 − 1,000,000) × 20 / 30 = 1,000,000, + 10 % VAT.
                assert (proration["total"], proration["vat"]) == (1_100_000, 100_000)
                (line,) = proration["lines"]
                assert (
                    "Upgrade from Basic (monthly) to Business (monthly): 20 of 30 days"
                    in (line["description"])
                )
                assert "۲۰ روز از ۳۰ روز" in line["description"]
                assert proration["period_no"] == 1

                http.post("/admin/tick", headers=admin)
                assert platform.state.plans[sub["site"]] == "business"
                assert platform.state.sites[sub["site"]] == "active"
                assert [r.action for r in platform.state.applied if r.site == sub["site"]] == [
                    "create",
                    "plan",
                ]

                # Paid; at the renewal (1405/08/01) the new plan is billed for the whole period.
                http.post(
                    f"/invoices/{proration['id']}/payments",
                    json={"reference": "BANK-2", "amount": 1_100_000},
                    headers=admin,
                )
                http.post("/admin/clock/advance", json={"days": 21}, headers=admin)
                renewal = http.get(f"/subscriptions/{sub['id']}/invoices", headers=me).json()
                renewal = renewal["items"][-1]
                assert (renewal["kind"], renewal["period_no"]) == ("renewal", 2)
                assert renewal["total"] == 2_750_000  # 2,500,000 + 10 % VAT
                http.post("/admin/tick", headers=admin)
                # The renewal kept the plan: the platform is not told again.
                assert [r.action for r in platform.state.applied if r.site == sub["site"]] == [
                    "create",
                    "plan",
                ]
            engine.close()

    def test_a_downgrade_waits_for_the_renewal_and_at_once_is_refused(self):
        with FakePlatform() as platform:
            engine, api, admin = self._shop(platform)
            tokens = api.state.context.tokens
            with served(api) as http:
                sub, me = self._order(http, tokens, admin, "business")
                http.post("/admin/clock/advance", json={"days": 9}, headers=admin)
                refused = http.post(
                    f"/subscriptions/{sub['id']}/change-plan",
                    json={"plan_id": "basic", "when": "now"},
                    headers=me,
                )
                assert refused.status_code == 409
                assert refused.headers["content-type"] == "application/problem+json"
                assert refused.json()["code"] == "immediate_plan_change_refused"
                assert refused.json()["reason"] == "not_an_upgrade"

                changed = http.post(
                    f"/subscriptions/{sub['id']}/change-plan",
                    json={"plan_id": "basic"},
                    headers=me,
                ).json()
                assert changed["plan_id"] == "business"
                assert changed["pending_change"] == {
                    "plan_id": "basic",
                    "period": "monthly",
                    "from_period_no": 2,
                }
                invoices = http.get(f"/subscriptions/{sub['id']}/invoices", headers=me).json()
                assert [i["kind"] for i in invoices["items"]] == ["first"]  # nothing invoiced

                http.post("/admin/clock/advance", json={"days": 21}, headers=admin)
                after = http.get(f"/subscriptions/{sub['id']}", headers=me).json()
                assert (after["plan_id"], after["pending_change"]) == ("basic", None)
                invoices = http.get(f"/subscriptions/{sub['id']}/invoices", headers=me).json()
                assert invoices["items"][-1]["total"] == 1_100_000  # basic from period 2
                http.post("/admin/tick", headers=admin)
                assert platform.state.plans[sub["site"]] == "basic"  # told at the renewal
            engine.close()


class TestPlanChangesOverHttpOnSQLite(PlanChangesOverHttp):
    @pytest.fixture(autouse=True)
    def _store(self, tmp_path):
        self.database_url = f"sqlite:///{tmp_path}/api.sqlite"


@pytest.mark.postgres
class TestPlanChangesOverHttpOnPostgreSQL(PlanChangesOverHttp):
    @pytest.fixture(autouse=True)
    def _store(self):
        with postgres_schema() as url:
            self.database_url = url
            yield
