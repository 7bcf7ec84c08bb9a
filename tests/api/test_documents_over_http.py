"""Invoice documents through real HTTP: the official invoice of a paid company invoice, the
refusals that say why, and a profile completed after paying."""

from __future__ import annotations

import pytest

from app import create_app
from bootstrap import build_engine
from domain.customer import BillingProfile
from tests.api.server import bearer, served
from tests.builders import SELLER, T0, a_company, a_person, a_plan
from tests.documents.pdftext import pdf_text, squeeze


@pytest.fixture
def shop(tmp_path):
    engine = build_engine(
        database_url=f"sqlite:///{tmp_path}/docs.sqlite", test_mode=True, test_clock_start=T0
    )
    engine.app.seller = SELLER
    api = create_app(engine)
    ctx = api.state.context
    ctx.app.define_plan(a_plan(), T0)
    yield api, bearer(ctx.tokens.create("finance", T0))
    engine.close()


def order(api, profile):
    app = api.state.context.app
    customer = app.register_customer(profile, T0)
    sub = app.start_subscription(customer, "basic", "monthly", T0)
    me = bearer(api.state.context.tokens.create("customer", T0, subject=customer))
    return customer, app.get_subscription(sub).invoice_ids[0], me


def test_a_company_that_pays_downloads_its_official_invoice(shop):
    api, finance = shop
    _, invoice, me = order(api, a_company())
    with served(api) as http:
        proforma = http.get(f"/invoices/{invoice}/invoice.pdf", headers=me)
        assert proforma.status_code == 200
        assert proforma.headers["content-type"] == "application/pdf"
        assert "پیشفاکتور" in squeeze(pdf_text(proforma.content))
        early = http.get(f"/invoices/{invoice}/official.pdf", headers=me)
        assert early.status_code == 409
        assert early.json()["code"] == "official_invoice_refused"
        assert "fully paid" in early.json()["detail"]

        paid = http.post(
            f"/invoices/{invoice}/payments",
            json={"reference": "BANK-1", "amount": 1_100_000},
            headers=finance,
        )
        assert paid.status_code == 200, paid.text
        assert http.get(f"/invoices/{invoice}", headers=me).json()["official_number"] == (
            "1405-000001"
        )
        first = http.get(f"/invoices/{invoice}/official.pdf", headers=me)
        assert first.status_code == 200, first.text
        assert "۱۴۰۵-۰۰۰۰۰۱" in pdf_text(first.content)
        assert http.get(f"/invoices/{invoice}/official.pdf", headers=finance).content == (
            first.content
        )


def test_a_person_is_refused_the_official_invoice_with_the_reason(shop):
    api, finance = shop
    _, invoice, me = order(api, a_person())
    with served(api) as http:
        http.post(
            f"/invoices/{invoice}/payments",
            json={"reference": "BANK-2", "amount": 1_100_000},
            headers=finance,
        )
        answer = http.get(f"/invoices/{invoice}/official.pdf", headers=me)
        assert answer.status_code == 409
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["code"] == "official_invoice_refused"
        assert "only to legal entities" in answer.json()["detail"]
        issue = http.post(f"/invoices/{invoice}/official", headers=me)
        assert issue.status_code == 409 and issue.json()["reason"] == "not_a_legal_entity"


def test_a_company_completes_its_profile_after_paying_and_then_gets_its_invoice(shop):
    api, finance = shop
    incomplete = BillingProfile(**{**a_company().to_dict(), "economic_code": None})
    customer, invoice, me = order(api, incomplete)
    with served(api) as http:
        http.post(
            f"/invoices/{invoice}/payments",
            json={"reference": "BANK-3", "amount": 1_100_000},
            headers=finance,
        )
        refused = http.post(f"/invoices/{invoice}/official", headers=me)
        assert refused.status_code == 409
        assert refused.json()["missing"] == ["economic_code"]

        wrong = {**a_company().to_dict(), "national_id": "10380284791"}
        bad = http.put(f"/customers/{customer}/profile", json=wrong, headers=me)
        assert bad.status_code == 422
        assert bad.json()["code"] == "invalid_profile"
        assert bad.json()["field"] == "national_id"
        assert "check digit" in bad.json()["detail"]

        fixed = http.put(f"/customers/{customer}/profile", json=a_company().to_dict(), headers=me)
        assert fixed.status_code == 200, fixed.text
        issued = http.post(f"/invoices/{invoice}/official", headers=me)
        assert issued.status_code == 200, issued.text
        body = issued.json()
        assert body["number"] == "1405-000001" and len(body["tax_id"]) == 22
        again = http.post(f"/invoices/{invoice}/official", headers=me)
        assert again.json() == body  # asking again returns the same document
        pdf = http.get(body["pdf"], headers=me)
        assert pdf.status_code == 200 and body["tax_id"] in pdf_text(pdf.content)
