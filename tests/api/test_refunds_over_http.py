"""Refunds and the cancelling official document, end to end through real HTTP: a refund of
credit, a gateway payment reversed through the sandbox, the refusals, and a company's paid
official invoice voided. Each leaves revenue, aging and the customer's ledger right. On SQLite
and on the real PostgreSQL."""

from __future__ import annotations

import re

import httpx
import pytest

from adapters.sandbox_gateway import SandboxGateway
from tests.api.server import served
from tests.api.shop import Shop
from tests.builders import SELLER
from tests.documents.pdftext import pdf_text, squeeze
from tests.stores import postgres_schema

TOTAL = 2_750_000  # the shop's invoice: 2,500,000 and 10 % VAT


def totals(http: httpx.Client, headers: dict) -> dict:
    """Revenue summed over every month, from the read model and from the ledgers "as of"."""
    now = http.get("/admin/clock", headers=headers)
    sums = []
    for params in ({}, {"as_of": now.json()["now"]} if now.status_code == 200 else {}):
        rows = http.get("/reports/revenue", params=params, headers=headers).json()["items"]
        columns = [c for c in rows[0] if c not in ("jalali_month", "hosting", "services")]
        sums.append({c: sum(r[c] for r in rows) for c in columns})
    assert sums[0] == sums[1]
    return sums[0]


def credit_ledger(shop: Shop) -> list[tuple[str, int, int]]:
    rows = shop.engine.read_models.query(
        "SELECT entry, amount, credit FROM {rm_customer_ledger} WHERE customer_id = ? "
        "ORDER BY version",
        (str(shop.customer),),
    )
    return [(r["entry"], r["amount"], r["credit"]) for r in rows]


class RefundsOverHttp:
    database_url: str

    @pytest.fixture
    def shop(self):
        with SandboxGateway() as gateway:
            shop = Shop(self.database_url, gateway, gateway_timeout=1.0)
            shop.engine.app.seller = SELLER  # the company gets official invoices
            yield shop
            shop.engine.close()

    def pay_at_the_gateway(self, shop: Shop, http: httpx.Client) -> str:
        """The customer pays the invoice online; returns the payment's reference."""
        link = http.post(f"/invoices/{shop.invoice}/payment-link", headers=shop.me)
        assert link.status_code == 200, link.text
        page = httpx.get(link.json()["url"])
        action = re.search(r'action="([^"]+/pay)"', page.text).group(1)
        redirect = httpx.post(shop.gateway.url + action)
        back = httpx.get(redirect.headers["location"], headers={"Accept": "application/json"})
        assert back.json()["status"] == "paid", back.text
        return f"gateway:{link.json()['authority']}"

    def test_a_refund_of_credit_leaves_revenue_aging_and_the_ledger_right(self, shop):
        with served(shop.api, shop.sock) as http:
            paid = http.post(
                f"/invoices/{shop.invoice}/payments",
                json={"reference": "BANK-1", "amount": TOTAL + 500_000},
                headers=shop.finance,
            )
            assert paid.status_code == 200 and paid.json()["credit"] == 500_000
            body = {"amount": 300_000, "reason": "Asked back.", "bank_reference": "PAYA-77"}
            # Only finance and admins record refunds.
            assert (
                http.post(
                    f"/customers/{shop.customer}/refunds", json=body, headers=shop.me
                ).status_code
                == 403
            )
            refund = http.post(
                f"/customers/{shop.customer}/refunds", json=body, headers=shop.finance
            )
            assert refund.status_code == 201, refund.text
            assert refund.json() | {"customer_id": None} == {
                "customer_id": None,
                "amount": 300_000,
                "via": "transfer",
                "bank_reference": "PAYA-77",
                "payment_reference": None,
                "credit": 200_000,
                "recorded": True,
            }
            again = http.post(
                f"/customers/{shop.customer}/refunds", json=body, headers=shop.finance
            )
            assert again.status_code == 201 and again.json()["recorded"] is False
            over = http.post(
                f"/customers/{shop.customer}/refunds",
                json={**body, "amount": 200_001, "bank_reference": "PAYA-78"},
                headers=shop.finance,
            )
            assert over.status_code == 409
            assert over.json()["code"] == "refund_refused"
            assert (over.json()["reason"], over.json()["refundable"]) == (
                "over_refundable",
                200_000,
            )

            customer = http.get(f"/customers/{shop.customer}", headers=shop.me).json()
            assert customer["credit"] == 200_000
            money = totals(http, shop.admin)
            assert (money["paid"], money["credited"], money["refunded"]) == (TOTAL, 0, 300_000)
            aging = http.get("/reports/aging", headers=shop.finance).json()
            assert aging["total"] == 0
            assert credit_ledger(shop) == [
                ("added", 500_000, 500_000),
                ("refunded", 300_000, 200_000),
            ]
            # The customer is told, once, by e-mail, SMS and in the panel.
            shop.engine.read_models.catch_up()
            told = shop.engine.read_models.query(
                "SELECT channel, recipient, body FROM {outbox} WHERE kind = 'refund_sent'"
            )
            assert sorted(r["channel"] for r in told) == ["email", "panel", "sms"]
            assert all("PAYA-77" in r["body"] for r in told)

    def test_a_gateway_payment_is_reversed_once_after_its_invoice_is_voided(self, shop):
        with served(shop.api, shop.sock) as http:
            reference = self.pay_at_the_gateway(shop, http)
            body = {"payment_reference": reference, "reason": "Paid by mistake.", "via": "gateway"}
            early = http.post(f"/invoices/{shop.invoice}/refunds", json=body, headers=shop.finance)
            # The money paid the invoice: it is refundable once the invoice is voided.
            assert early.status_code == 409 and early.json()["reason"] == "over_refundable"
            assert shop.gateway.reversals == 0
            voided = http.post(
                f"/invoices/{shop.invoice}/void",
                json={"reason": "Ordered by mistake."},
                headers=shop.finance,
            )
            assert voided.status_code == 200, voided.text

            refund = http.post(f"/invoices/{shop.invoice}/refunds", json=body, headers=shop.finance)
            assert refund.status_code == 201, refund.text
            assert (refund.json()["amount"], refund.json()["credit"]) == (TOTAL, 0)
            assert refund.json()["bank_reference"] == "reverse:" + reference.removeprefix(
                "gateway:"
            )
            assert shop.gateway.payments[reference.removeprefix("gateway:")].status == "reversed"
            again = http.post(f"/invoices/{shop.invoice}/refunds", json=body, headers=shop.finance)
            assert again.status_code == 201 and again.json()["recorded"] is False
            assert shop.gateway.reversals == 1

            money = totals(http, shop.admin)
            assert (money["paid"], money["voided"], money["credited"], money["refunded"]) == (
                TOTAL,
                0,
                TOTAL,
                TOTAL,
            )
            assert http.get("/reports/aging", headers=shop.finance).json()["total"] == 0
            assert credit_ledger(shop) == [("added", TOTAL, TOTAL), ("refunded", TOTAL, 0)]
            assert http.get(f"/customers/{shop.customer}", headers=shop.me).json()["credit"] == 0

    def test_after_the_gateways_window_a_payment_is_refunded_by_transfer(self, shop):
        with served(shop.api, shop.sock) as http:
            reference = self.pay_at_the_gateway(shop, http)
            http.post(
                f"/invoices/{shop.invoice}/void",
                json={"reason": "Cancelled."},
                headers=shop.finance,
            )
            http.post("/admin/clock/advance", json={"days": 0.03}, headers=shop.admin)  # 43 min
            late = http.post(
                f"/invoices/{shop.invoice}/refunds",
                json={"payment_reference": reference, "reason": "Cancelled.", "via": "gateway"},
                headers=shop.finance,
            )
            assert late.status_code == 409 and late.json()["reason"] == "reverse_window_closed"
            assert shop.gateway.reversals == 0
            by_transfer = http.post(
                f"/invoices/{shop.invoice}/refunds",
                json={
                    "payment_reference": reference,
                    "amount": 1_000_000,
                    "reason": "Cancelled.",
                    "via": "transfer",
                    "bank_reference": "SATNA-9",
                },
                headers=shop.finance,
            )
            assert by_transfer.status_code == 201, by_transfer.text
            assert by_transfer.json()["credit"] == TOTAL - 1_000_000

    def test_the_gateway_refusing_a_reversal_records_nothing(self, shop):
        with served(shop.api, shop.sock) as http:
            reference = self.pay_at_the_gateway(shop, http)
            http.post(
                f"/invoices/{shop.invoice}/void",
                json={"reason": "Cancelled."},
                headers=shop.finance,
            )
            shop.gateway.faults = {"reverse": -63}
            refused = http.post(
                f"/invoices/{shop.invoice}/refunds",
                json={"payment_reference": reference, "reason": "Cancelled.", "via": "gateway"},
                headers=shop.finance,
            )
            assert refused.status_code == 409 and refused.json()["reason"] == "gateway_refused"
            assert (
                http.get(f"/customers/{shop.customer}", headers=shop.me).json()["credit"] == TOTAL
            )

    def test_voiding_a_companys_paid_official_invoice_issues_the_cancelling_document(self, shop):
        with served(shop.api, shop.sock) as http:
            http.post(
                f"/invoices/{shop.invoice}/payments",
                json={"reference": "BANK-1", "amount": TOTAL},
                headers=shop.finance,
            )
            invoice = http.get(f"/invoices/{shop.invoice}", headers=shop.me).json()
            assert invoice["official_number"] == "1405-000001"
            original_tax_id = shop.engine.app.get_invoice(shop.invoice).official.tax_id

            voided = http.post(
                f"/invoices/{shop.invoice}/void",
                json={"reason": "Wrong company."},
                headers=shop.finance,
            )
            assert voided.status_code == 200, voided.text
            invoice = http.get(f"/invoices/{shop.invoice}", headers=shop.me).json()
            [correction] = invoice["official_corrections"]
            assert correction["subject"] == "cancelling"
            assert correction["number"] == "1405-000002"
            assert correction["original_number"] == "1405-000001"
            assert correction["original_tax_id"] == original_tax_id
            assert correction["tax_id"] != original_tax_id and correction["amount"] == TOTAL

            pdf = http.get(correction["pdf"], headers=shop.me)
            assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
            text = pdf_text(pdf.content)
            assert "ابطالی" in text
            assert "۱۴۰۵-۰۰۰۰۰۲" in text and "۱۴۰۵-۰۰۰۰۰۱" in text
            assert original_tax_id in squeeze(text) and correction["tax_id"] in squeeze(text)
            missing = http.get(
                f"/invoices/{shop.invoice}/official/corrections/1405-000009.pdf", headers=shop.me
            )
            assert missing.status_code == 409
            # The money that paid it is the customer's credit; nothing is owed.
            assert (
                http.get(f"/customers/{shop.customer}", headers=shop.me).json()["credit"] == TOTAL
            )
            assert http.get("/reports/aging", headers=shop.finance).json()["total"] == 0


class TestRefundsOnSQLite(RefundsOverHttp):
    @pytest.fixture(autouse=True)
    def _store(self, tmp_path):
        self.database_url = f"sqlite:///{tmp_path}/refunds.sqlite"


@pytest.mark.postgres
class TestRefundsOnPostgreSQL(RefundsOverHttp):
    @pytest.fixture(autouse=True)
    def _store(self):
        with postgres_schema() as url:
            self.database_url = url
            yield
