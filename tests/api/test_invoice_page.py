"""The invoice page every notice links to, over real HTTP: its signed link (forged and closed
links refused), pay online reusing the open attempt, the portal's return_url, and the receipt
upload as multipart/form-data on the API. On SQLite and on the real PostgreSQL."""

from __future__ import annotations

import base64
import re

import httpx
import pytest

from adapters.sandbox_gateway import SandboxGateway
from tests.api.server import served
from tests.api.shop import Shop
from tests.builders import a_pdf_slip, a_png_slip
from tests.stores import postgres_schema

RIALS = "۲٬۷۵۰٬۰۰۰"  # the shop's invoice: 2,500,000 + 10 % VAT


def notice_link(shop: Shop, http: httpx.Client) -> str:
    """The invoice page's address as the customer's panel inbox shows it (a real notice)."""
    shop.engine.tick()
    inbox = http.get(f"/customers/{shop.customer}/inbox", headers=shop.me).json()["items"]
    issued = next(item for item in inbox if item["kind"] == "invoice_issued")
    return re.search(r"https?://\S+/pay/\S+?t=[0-9a-f]{64}", issued["body"]).group(0)


def form_of(page: httpx.Response, form_id: str) -> tuple[str, dict[str, str]]:
    """A form's action and hidden fields, as a browser would send them."""
    form = re.search(rf'<form[^>]*action="([^"]+)"[^>]*id="{form_id}"(.*?)</form>', page.text, re.S)
    assert form, f"no form {form_id} on the page"
    hidden = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]+)"', form.group(2)))
    return form.group(1).replace("&amp;", "&"), hidden


def attempts(shop: Shop) -> list[dict]:
    read_models = shop.engine.read_models
    read_models.catch_up()
    return read_models.query(
        "SELECT authority, status FROM {rm_gateway_payments} WHERE invoice_id = ?",
        (str(shop.invoice),),
    )


class InvoicePageOverHttp:
    database_url: str

    @pytest.fixture
    def shop(self):
        with SandboxGateway() as gateway:
            shop = Shop(
                self.database_url,
                gateway,
                gateway_timeout=1.0,
                return_url_hosts="portal.example, 127.0.0.1",
            )
            yield shop
            shop.engine.close()

    def test_the_notice_links_to_the_signed_page_which_shows_the_invoice_in_persian(self, shop):
        with served(shop.api, shop.sock) as http:
            link = notice_link(shop, http)
            assert link.startswith(f"{shop.base}/pay/{shop.invoice}?t=")
            page = httpx.get(link)
            assert page.status_code == 200, page.text
            assert '<html lang="fa" dir="rtl">' in page.text
            assert f'<bdi dir="ltr">{RIALS}</bdi> ریال' in page.text  # total and balance
            assert "پرداخت‌نشده" in page.text and "۱۴۰۵" in page.text  # status, Jalali deadline
            policy = page.headers["content-security-policy"]
            assert (
                "script-src 'self'" in policy and f"form-action 'self' {shop.gateway.url}" in policy
            )
            assert page.headers["x-frame-options"] == "DENY"
            assert (
                "<script" not in page.text and "samesite=lax" in page.headers["set-cookie"].lower()
            )
            pdf = httpx.get(link.replace("?t=", "/invoice.pdf?t="))
            assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
            font = httpx.get(f"{shop.base}/fonts/Vazirmatn-Regular.ttf")
            assert font.status_code == 200 and font.headers["content-type"] == "font/ttf"

    def test_a_forged_or_foreign_link_gets_a_persian_404_never_the_invoice(self, shop):
        with served(shop.api, shop.sock) as http:
            good = shop.engine.links.token(shop.invoice)
            other = shop.engine.app.start_subscription(
                shop.customer, "business", "monthly", shop.engine.now()
            )
            other_invoice = shop.engine.app.get_subscription(other).invoice_ids[0]
            for path in (
                f"/pay/{shop.invoice}",  # no signature
                f"/pay/{shop.invoice}?t={'0' * 64}",
                f"/pay/{shop.invoice}?t={good[:-1]}",
                f"/pay/{other_invoice}?t={good}",  # another invoice's signature
                f"/pay/not-an-id?t={good}",
                f"/pay/{shop.invoice}/invoice.pdf?t={'0' * 64}",
            ):
                page = http.get(path)
                assert page.status_code == 404, path
                assert "صورتحساب پیدا نشد" in page.text and RIALS not in page.text, path
            refused = http.post(f"/pay/{shop.invoice}/online?t={'0' * 64}", data={"csrf": "x"})
            assert refused.status_code == 404 and attempts(shop) == []

    def test_a_settled_invoice_s_link_closes_after_the_grace(self, shop):
        with served(shop.api, shop.sock) as http:
            path = shop.engine.links.path(shop.invoice)
            paid = http.post(
                f"/invoices/{shop.invoice}/payments",
                json={"reference": "bank-1", "amount": 2_750_000},
                headers=shop.finance,
            )
            assert paid.status_code in (200, 201), paid.text
            after = http.get(path)
            assert after.status_code == 200 and "پرداخت‌شده" in after.text
            assert 'id="pay-online"' not in after.text  # nothing left to pay
            http.post("/admin/clock/advance", json={"days": 29}, headers=shop.admin)
            assert http.get(path).status_code == 200
            http.post("/admin/clock/advance", json={"days": 2}, headers=shop.admin)
            closed = http.get(path)
            assert closed.status_code == 410 and "دیگر باز نمی‌شود" in closed.text
            assert RIALS not in closed.text
            assert http.get(path.replace("?t=", "/invoice.pdf?t=")).status_code == 410

    def test_pay_online_twice_reuses_one_attempt_and_needs_the_page_s_form(self, shop):
        with httpx.Client(base_url=shop.base) as browser, served(shop.api, shop.sock) as http:
            page = browser.get(shop.engine.links.path(shop.invoice))
            action, hidden = form_of(page, "pay-online")
            first = browser.post(action, data=hidden)
            second = browser.post(action, data=hidden)
            assert first.status_code == second.status_code == 303
            assert first.headers["location"] == second.headers["location"]
            assert first.headers["location"].startswith(f"{shop.gateway.url}/pg/StartPay/A")
            assert len(attempts(shop)) == 1
            # The API's payment-link still opens an attempt of its own on each call.
            assert http.post(f"/invoices/{shop.invoice}/payment-link", headers=shop.me).is_success
            assert len(attempts(shop)) == 2
            # An attempt older than BILLING_GATEWAY_ATTEMPT_REUSE_MINUTES is not offered again.
            http.post("/admin/clock/advance", json={"days": 16 / 1440}, headers=shop.admin)
            third = browser.post(action, data=hidden)
            assert third.headers["location"] not in (first.headers["location"],)
            assert len(attempts(shop)) == 3
            # Without the cookie, or without the field, the form is refused: no attempt.
            stranger = httpx.post(f"{shop.base}{action}", data=hidden)
            assert stranger.status_code == 403 and "فرم پذیرفته نشد" in stranger.text
            assert browser.post(action, data={}).status_code == 403
            assert len(attempts(shop)) == 3

    def test_the_gateway_lands_on_the_page_with_the_result_and_the_allowed_return_link(self, shop):
        with served(shop.api, shop.sock) as http:
            for refused_url in (
                "https://evil.example/back",
                "javascript:alert(1)",
                "https://user:pw@portal.example/",
            ):
                refused = http.post(
                    f"/invoices/{shop.invoice}/payment-link",
                    json={"return_url": refused_url},
                    headers=shop.me,
                )
                assert refused.status_code == 422, refused_url
                assert refused.json()["code"] == "return_url_not_allowed"
                assert refused.json()["field"] == "return_url"
            assert attempts(shop) == []
            link = http.post(
                f"/invoices/{shop.invoice}/payment-link",
                json={"return_url": "https://portal.example/invoices?x=1&y=2"},
                headers=shop.me,
            )
            assert link.status_code == 200, link.text
            assert link.json()["page_url"] == shop.engine.links.url(shop.invoice)
            assert shop.gateway.settle(link.json()["authority"])
            landed = http.get(
                "/payments/callback",
                params={"Authority": link.json()["authority"], "Status": "OK"},
                headers={"Accept": "text/html"},
            )
            assert landed.status_code == 200
            assert "پرداخت شما ثبت شد" in landed.text and "پرداخت‌شده" in landed.text
            assert 'href="https://portal.example/invoices?x=1&amp;y=2"' in landed.text
            assert "بازگشت به پرتال" in landed.text
            # A link made without a return_url lands without one; JSON callers get JSON.
            json_answer = http.get(
                "/payments/callback",
                params={"Authority": link.json()["authority"], "Status": "OK"},
                headers={"Accept": "application/json"},
            )
            assert json_answer.json()["status"] == "paid"

    def test_a_cancelled_payment_lands_on_the_page_saying_so_without_a_return_link(self, shop):
        with served(shop.api, shop.sock) as http:
            link = http.post(f"/invoices/{shop.invoice}/payment-link", headers=shop.me).json()
            landed = http.get(
                "/payments/callback",
                params={"Authority": link["authority"], "Status": "NOK"},
                headers={"Accept": "text/html"},
            )
            assert "پرداخت انجام نشد" in landed.text and 'id="return"' not in landed.text
            assert 'id="pay-online"' in landed.text  # the customer may try again

    def test_a_receipt_scan_as_multipart_is_accepted_and_refused_like_base64(self, shop):
        with served(shop.api, shop.sock) as http:
            asked = http.post(
                f"/invoices/{shop.invoice}/offline-requests",
                json={"reason": "transfer only"},
                headers=shop.me,
            ).json()
            http.post(f"/offline-requests/{asked['id']}/approve", headers=shop.finance)
            fields = {"bank": "012", "amount": "1000000", "paid_on": "1405/02/18"}
            polyglot = a_png_slip()[:33] + b"<html><script>alert(1)</script></html>"
            as_json = http.post(
                f"/invoices/{shop.invoice}/receipts",
                json={
                    **fields,
                    "amount": 1_000_000,
                    "tracking_number": "111122223333",
                    "scan_base64": base64.b64encode(polyglot).decode(),
                },
                headers=shop.me,
            )
            as_form = http.post(
                f"/invoices/{shop.invoice}/receipts",
                data={**fields, "tracking_number": "111122223333"},
                files={"scan": ("slip.png", polyglot, "image/png")},
                headers=shop.me,
            )
            assert as_json.status_code == as_form.status_code == 422
            assert as_json.json()["code"] == as_form.json()["code"] == "invalid_input"
            assert as_json.json()["detail"] == as_form.json()["detail"]
            assert (as_json.json()["field"], as_form.json()["field"]) == ("scan_base64", "scan")
            slip = a_pdf_slip("multipart slip")
            accepted = http.post(
                f"/invoices/{shop.invoice}/receipts",
                data={**fields, "tracking_number": "111122223333"},
                files={"scan": ("slip.pdf", slip, "application/pdf")},
                headers=shop.me,
            )
            assert accepted.status_code == 201, accepted.text
            assert accepted.json()["detail"]["amount"] == 1_000_000
            scan = http.get(f"/receipts/{accepted.json()['id']}/scan", headers=shop.finance)
            assert scan.content == slip
            bad_amount = http.post(
                f"/invoices/{shop.invoice}/receipts",
                data={**fields, "amount": "many"},
                files={"tracking_number": (None, "99998888")},  # multipart without a file
                headers=shop.me,
            )
            assert bad_amount.status_code == 422, bad_amount.text
            assert bad_amount.json()["code"] == "invalid_request"
            too_big = http.post(
                f"/invoices/{shop.invoice}/receipts",
                data={**fields, "tracking_number": "55554444"},
                files={"scan": ("big.pdf", b"%PDF-" + b"0" * 5_000_001, "application/pdf")},
                headers=shop.me,
            )
            assert too_big.status_code == 422 and too_big.json()["field"] == "scan"


class TestInvoicePageOnSQLite(InvoicePageOverHttp):
    @pytest.fixture(autouse=True)
    def _db(self, tmp_path):
        self.database_url = f"sqlite:///{tmp_path}/page.sqlite"


@pytest.mark.postgres
class TestInvoicePageOnPostgreSQL(InvoicePageOverHttp):
    @pytest.fixture(autouse=True)
    def _db(self):
        with postgres_schema() as url:
            self.database_url = url
            yield
