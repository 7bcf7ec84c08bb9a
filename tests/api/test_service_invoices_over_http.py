"""A side-service invoice over real HTTP with the test clock (docs/INVOICES.md and
docs/LIFECYCLE.md, "Side-service invoices"): a representative bills their customer, the
invoice is left unpaid, gets its reminders and its overdue notice, shows in aging, and the site
stays up; finance then takes the money through the ordinary payment route. On SQLite and
PostgreSQL."""

from __future__ import annotations

import pytest

from app import create_app
from bootstrap import build_engine
from domain.representative import RepresentativeDetails
from tests.api.server import bearer, served
from tests.builders import T0, a_company, a_plan
from tests.stores import postgres_schema

LINES = [
    {"description": "ثبت دامنهٔ ‌.ir", "unit_price": 1_500_000, "quantity": 1},
    {"description": "SEO, monthly", "unit_price": 2_000_000, "quantity": 3},
]
#: 7,500,000 net and 10 % VAT (1405/01/15 is under the 1403/01/01 rate).
TOTAL, VAT = 8_250_000, 750_000


class ServiceInvoicesOverHttp:
    database_url: str

    def test_unpaid_it_is_reminded_and_aged_while_the_site_stays_up(self):
        engine = build_engine(database_url=self.database_url, test_mode=True, test_clock_start=T0)
        api = create_app(engine)
        ctx = api.state.context
        app = ctx.app
        app.define_plan(a_plan("basic"), T0)
        rep, other_rep = (
            app.add_representative(RepresentativeDetails(name), T0) for name in ("Reza", "Omid")
        )
        customer = app.register_customer(a_company(), T0, representative_id=rep)
        # Yearly: no renewal falls inside the months this test walks through.
        subscription = app.start_subscription(customer, "basic", "yearly", T0)
        hosting = app.get_subscription(subscription).invoice_ids[0]
        tokens = ctx.tokens
        admin = bearer(tokens.create("admin", T0))
        finance = bearer(tokens.create("finance", T0))
        mine = bearer(tokens.create("representative", T0, subject=rep))
        not_mine = bearer(tokens.create("representative", T0, subject=other_rep))
        me = bearer(tokens.create("customer", T0, subject=customer))
        path = f"/customers/{customer}/invoices"
        body = {"lines": LINES, "due_days": 10}

        with served(api) as http:
            paid = http.post(
                f"/invoices/{hosting}/payments",
                json={"reference": "HOSTING-1", "amount": app.get_invoice(hosting).total.rials},
                headers=finance,
            )
            assert paid.status_code == 200, paid.text

            # Who may bill: the customer's own representative and finance; another
            # representative is told there is no such customer; the customer may not.
            assert http.post(path, json=body, headers=not_mine).status_code == 404
            assert http.post(path, json=body, headers=me).status_code == 403
            bad = http.post(
                path,
                json={
                    "lines": [{"description": "x", "unit_price": 1, "quantity": 0}],
                    "due_days": 10,
                },
                headers=mine,
            )
            assert bad.status_code == 422
            assert bad.headers["content-type"] == "application/problem+json"

            http.post("/admin/clock/advance", json={"days": 1}, headers=admin)
            issued = http.post(path, json=body, headers=mine | {"Idempotency-Key": "seo-1"})
            assert issued.status_code == 201, issued.text
            invoice = issued.json()
            again = http.post(path, json=body, headers=mine | {"Idempotency-Key": "seo-1"})
            assert again.json()["id"] == invoice["id"]
            assert (invoice["kind"], invoice["total"], invoice["vat"]) == ("service", TOTAL, VAT)
            assert invoice["subscription_id"] == str(subscription)  # the one running
            assert invoice["due_at"] == "2026-04-15T05:30:00Z"
            listed = http.get(path, headers=me).json()["items"]
            assert [(i["kind"], i["status"]) for i in listed] == [
                ("first", "paid"),
                ("service", "open"),
            ]
            assert http.get(f"{path}?kind=service", headers=finance).json()["items"] == [invoice]
            assert http.get(f"/invoices/{invoice['id']}", headers=me).json() == invoice
            actions = http.get(
                "/audit/actions", params={"actor": f"representative:{rep}"}, headers=finance
            ).json()["items"]
            assert "InvoiceIssued" in {a["event"] for a in actions}

            # 75 days later, unpaid: two reminders and the overdue notice, nothing else.
            http.post("/admin/clock/advance", json={"days": 75}, headers=admin)
            http.post("/admin/tick", headers=admin)  # delivers the notices to the panel inbox
            inbox = http.get(f"/customers/{customer}/inbox", headers=me).json()["items"]
            told = sorted(m["kind"] for m in inbox if m["kind"].startswith("service_"))
            assert told == ["service_overdue", "service_reminder", "service_reminder"]
            # Every one of its notices says the site is not affected; none announces a date.
            said = [m for m in inbox if m["subject"] and "خدمات جانبی" in m["subject"]]
            assert {m["kind"] for m in said} == {
                "invoice_issued",
                "service_reminder",
                "service_overdue",
            }
            assert all("تعلیق نمی" in m["body"] for m in said)  # "… is not suspended"
            sub = http.get(f"/subscriptions/{subscription}", headers=me).json()
            assert (sub["status"], sub["site_state"]) == ("active", "up")
            aging = http.get("/reports/aging", headers=finance).json()
            assert [(i["invoice_id"], i["balance"], i["bucket"]) for i in aging["invoices"]] == [
                (invoice["id"], TOTAL, "61-90")  # 65 days past its deadline
            ]

            revenue = http.get("/reports/revenue", headers=finance).json()["items"]
            services = sum(item["services"]["invoiced"] for item in revenue)
            hosting_total = sum(item["hosting"]["invoiced"] for item in revenue)
            assert (services, hosting_total) == (TOTAL, app.get_invoice(hosting).total.rials)
            by_rep = http.get(
                "/reports/revenue", params={"group_by": "representative"}, headers=finance
            ).json()["items"]
            assert {item["representative_id"] for item in by_rep} == {str(rep)}

            # The same payment route as any invoice; aging no longer lists it.
            settled = http.post(
                f"/invoices/{invoice['id']}/payments",
                json={"reference": "SEO-1", "amount": TOTAL},
                headers=finance,
            )
            assert settled.status_code == 200, settled.text
            assert http.get(f"/invoices/{invoice['id']}", headers=me).json()["status"] == "paid"
            assert http.get("/reports/aging", headers=finance).json()["invoices"] == []
        engine.close()

    def test_the_customer_pays_it_online_through_the_gateway_with_the_site_never_touched(self):
        """The payment link, the sandbox gateway's page and the callback, as for any invoice:
        verified once, the side-service invoice paid, nothing recorded on the site."""
        import re

        import httpx

        from adapters.sandbox_gateway import SandboxGateway
        from tests.api.shop import Shop

        with SandboxGateway() as gateway:
            shop = Shop(self.database_url, gateway, gateway_timeout=5.0)
            finance = shop.finance
            with served(shop.api, shop.sock) as http:
                issued = http.post(
                    f"/customers/{shop.customer}/invoices",
                    json={**body_of(), "due_days": 5},
                    headers=finance,
                )
                assert issued.status_code == 201, issued.text
                invoice = issued.json()["id"]
                link = http.post(f"/invoices/{invoice}/payment-link", headers=shop.me)
                assert link.status_code == 200, link.text
                assert link.json()["amount"] == TOTAL
                page = httpx.get(link.json()["url"])
                action = re.search(r'action="([^"]+/pay)"', page.text).group(1)
                redirect = httpx.post(shop.gateway.url + action)
                back = httpx.get(
                    redirect.headers["location"], headers={"Accept": "application/json"}
                )
                assert back.status_code == 200, back.text
                assert (back.json()["status"], back.json()["amount"]) == ("paid", TOTAL)
                assert back.json()["invoice_id"] == invoice
                assert http.get(f"/invoices/{invoice}", headers=shop.me).json()["status"] == "paid"
                # The hosting invoice is untouched, and the site up.
                assert http.get(f"/invoices/{shop.invoice}", headers=shop.me).json()["paid"] == 0
                assert shop.status(http) == "active"
            shop.engine.close()


def body_of() -> dict:
    return {"lines": LINES}


class TestOnSQLite(ServiceInvoicesOverHttp):
    @pytest.fixture(autouse=True)
    def _store(self, tmp_path):
        self.database_url = f"sqlite:///{tmp_path}/service.sqlite"


@pytest.mark.postgres
class TestOnPostgreSQL(ServiceInvoicesOverHttp):
    @pytest.fixture(autouse=True)
    def _store(self):
        with postgres_schema() as url:
            self.database_url = url
            yield
