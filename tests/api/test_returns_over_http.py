"""Returns from sale and credit notes, end to end through real HTTP (docs/INVOICES.md,
"Returns from sale" and "Credit notes"): a company's paid official invoice partly returned
(the return-from-sale document in the same gapless series, its PDF), the refusals, the
returned money refunded and the rest voided (the cancelling document for what is left); a
person's invoice returned and voided (credit notes and their PDF). Revenue, aging, the
customer's ledger and the notices stay right. On SQLite and on the real PostgreSQL."""

from __future__ import annotations

import pytest

from adapters.sandbox_gateway import SandboxGateway
from tests.api.server import bearer, served
from tests.api.shop import Shop
from tests.api.test_refunds_over_http import TOTAL, credit_ledger, totals
from tests.builders import SELLER, T0, a_person
from tests.documents.pdftext import pdf_text, squeeze
from tests.stores import postgres_schema

VAT = 250_000  # the shop's invoice: 2,500,000 and 10 % VAT
RETURNED = 1_100_000
RETURNED_VAT = RETURNED * VAT // TOTAL  # 100,000


class ReturnsOverHttp:
    database_url: str

    @pytest.fixture
    def shop(self):
        with SandboxGateway() as gateway:
            shop = Shop(self.database_url, gateway, gateway_timeout=1.0)
            shop.engine.app.seller = SELLER  # the company gets official invoices
            yield shop
            shop.engine.close()

    def pay(self, http, shop: Shop, invoice, reference: str = "BANK-1") -> None:
        paid = http.post(
            f"/invoices/{invoice}/payments",
            json={"reference": reference, "amount": TOTAL},
            headers=shop.finance,
        )
        assert paid.status_code == 200, paid.text

    def test_a_return_of_an_official_invoice_issues_the_return_from_sale_document(self, shop):
        with served(shop.api, shop.sock) as http:
            url = f"/invoices/{shop.invoice}/returns"
            body = {"amount": RETURNED, "reason": "SEO not delivered."}
            # An open invoice has nothing paid to return: it is voided instead.
            open_ = http.post(url, json=body, headers=shop.finance)
            assert open_.status_code == 409, open_.text
            assert (open_.json()["code"], open_.json()["reason"]) == ("return_refused", "not_paid")
            self.pay(http, shop, shop.invoice)
            original = shop.engine.app.get_invoice(shop.invoice).official
            assert original.number_text == "1405-000001"
            # Only finance and admins record returns.
            assert http.post(url, json=body, headers=shop.me).status_code == 403

            done = http.post(url, json=body, headers=shop.finance)
            assert done.status_code == 201, done.text
            assert done.json() | {"invoice_id": None} == {
                "invoice_id": None,
                "number": 1,
                "amount": RETURNED,
                "vat": RETURNED_VAT,
                "returnable": TOTAL - RETURNED,
                "credit": RETURNED,
                "document": "1405-000002",
                "credit_note": None,
                "pdf": f"/invoices/{shop.invoice}/official/corrections/1405-000002.pdf",
            }
            over = http.post(
                url,
                json={"amount": TOTAL - RETURNED + 1, "reason": "Too much."},
                headers=shop.finance,
            )
            assert over.status_code == 409
            assert (over.json()["reason"], over.json()["returnable"]) == (
                "over_returnable",
                TOTAL - RETURNED,
            )

            invoice = http.get(f"/invoices/{shop.invoice}", headers=shop.me).json()
            assert (invoice["status"], invoice["balance"], invoice["returned"]) == (
                "paid",
                0,
                RETURNED,
            )
            [document] = invoice["official_corrections"]
            assert document["subject"] == "return"
            assert (document["original_number"], document["original_tax_id"]) == (
                "1405-000001",
                original.tax_id,
            )
            assert document["tax_id"] != original.tax_id and document["amount"] == RETURNED
            assert invoice["credit_notes"] == []  # an official invoice has no credit notes

            pdf = http.get(done.json()["pdf"], headers=shop.me)
            assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
            text = pdf_text(pdf.content)
            assert "برگشت از فروش" in text
            assert "۱۴۰۵-۰۰۰۰۰۲" in text and "۱۴۰۵-۰۰۰۰۰۱" in text
            assert "۱٬۱۰۰٬۰۰۰" in text and "۱۰۰٬۰۰۰" in text  # the amount and its VAT share
            assert original.tax_id in squeeze(text) and document["tax_id"] in squeeze(text)

            # The returned money is credit: refundable at once.
            refund = http.post(
                f"/customers/{shop.customer}/refunds",
                json={"amount": 600_000, "reason": "Returned.", "bank_reference": "PAYA-1"},
                headers=shop.finance,
            )
            assert refund.status_code == 201, refund.text
            assert refund.json()["credit"] == RETURNED - 600_000
            # A void of what is left cancels the rest, with the next number of the series.
            voided = http.post(
                f"/invoices/{shop.invoice}/void", json={"reason": "Closed."}, headers=shop.finance
            )
            assert voided.status_code == 200, voided.text
            invoice = http.get(f"/invoices/{shop.invoice}", headers=shop.me).json()
            assert [
                (c["subject"], c["number"], c["amount"]) for c in invoice["official_corrections"]
            ] == [
                ("return", "1405-000002", RETURNED),
                ("cancelling", "1405-000003", TOTAL - RETURNED),
            ]
            after_void = http.post(url, json={"amount": 1, "reason": "Late."}, headers=shop.finance)
            assert after_void.status_code == 409 and after_void.json()["reason"] == "invoice_void"

            # Money in = applied + credit + refunded; revenue counts the return as credited.
            credit = http.get(f"/customers/{shop.customer}", headers=shop.me).json()["credit"]
            assert credit == TOTAL - 600_000
            money = totals(http, shop.admin)
            assert (money["paid"], money["credited"], money["refunded"]) == (
                TOTAL,
                TOTAL,
                600_000,
            )
            assert http.get("/reports/aging", headers=shop.finance).json()["total"] == 0
            assert credit_ledger(shop) == [
                ("added", RETURNED, RETURNED),
                ("refunded", 600_000, RETURNED - 600_000),
                ("added", TOTAL - RETURNED, TOTAL - 600_000),
            ]
            # The customer is told of the return, once per channel, with its document.
            shop.engine.read_models.catch_up()
            told = shop.engine.read_models.query(
                "SELECT channel, body FROM {outbox} WHERE kind = 'sale_returned'"
            )
            assert sorted(r["channel"] for r in told) == ["email", "panel", "sms"]

    def test_a_persons_invoice_gets_credit_notes_for_a_return_and_a_void(self, shop):
        app = shop.engine.app
        person = app.register_customer(a_person(), T0)
        subscription = app.start_subscription(person, "business", "monthly", T0)
        invoice_id = app.get_subscription(subscription).invoice_ids[0]
        tokens = shop.api.state.context.tokens
        me = bearer(tokens.create("customer", T0, subject=person))
        with served(shop.api, shop.sock) as http:
            self.pay(http, shop, invoice_id, "BANK-P1")
            assert app.get_invoice(invoice_id).official is None  # a person: no official invoice
            done = http.post(
                f"/invoices/{invoice_id}/returns",
                json={"amount": RETURNED, "reason": "Design not delivered."},
                headers=shop.finance,
            )
            assert done.status_code == 201, done.text
            assert (done.json()["document"], done.json()["credit_note"]) == (None, 1)
            assert done.json()["pdf"] == f"/invoices/{invoice_id}/credit-notes/1.pdf"
            voided = http.post(
                f"/invoices/{invoice_id}/void", json={"reason": "Closed."}, headers=shop.finance
            )
            assert voided.status_code == 200, voided.text
            invoice = http.get(f"/invoices/{invoice_id}", headers=me).json()
            assert invoice["official_corrections"] == []
            assert [
                (n["number"], n["cause"], n["amount"], n["vat"]) for n in invoice["credit_notes"]
            ] == [
                (1, "return", RETURNED, RETURNED_VAT),
                (2, "void", TOTAL - RETURNED, (TOTAL - RETURNED) * VAT // TOTAL),
            ]
            for number, words in ((1, "برگشت از فروش"), (2, "ابطال صورتحساب")):
                pdf = http.get(f"/invoices/{invoice_id}/credit-notes/{number}.pdf", headers=me)
                assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
                text = pdf_text(pdf.content)
                assert "یادداشت بستانکاری" in text and words in text
                assert str(invoice_id) in squeeze(text)
            assert "۱٬۱۰۰٬۰۰۰" in pdf_text(
                http.get(f"/invoices/{invoice_id}/credit-notes/1.pdf", headers=me).content
            )
            # Another customer does not see it; a note that does not exist is 404.
            assert (
                http.get(f"/invoices/{invoice_id}/credit-notes/1.pdf", headers=shop.me).status_code
                == 404
            )
            missing = http.get(f"/invoices/{invoice_id}/credit-notes/3.pdf", headers=me)
            assert missing.status_code == 404
            assert missing.json()["code"] == "credit_note_not_found"
            assert http.get(f"/customers/{person}", headers=me).json()["credit"] == TOTAL


class TestReturnsOnSQLite(ReturnsOverHttp):
    @pytest.fixture(autouse=True)
    def _store(self, tmp_path):
        self.database_url = f"sqlite:///{tmp_path}/returns.sqlite"


@pytest.mark.postgres
class TestReturnsOnPostgreSQL(ReturnsOverHttp):
    @pytest.fixture(autouse=True)
    def _store(self):
        with postgres_schema() as url:
            self.database_url = url
            yield
