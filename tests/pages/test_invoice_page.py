"""The hosted invoice page in a real browser (Debian's Chromium): opened from a real notice,
paid through the sandbox gateway, back on the page with the result and on to the portal; and an
organisation asking to pay offline and uploading its bank receipt through the page's forms.
Nothing on the page needs JavaScript, and nothing leaves loopback (the font is the engine's)."""

from __future__ import annotations

import re

from adapters.sandbox_gateway import SandboxGateway
from tests.api.server import served
from tests.api.shop import Shop
from tests.builders import a_png_slip
from tests.pages.browser import browser_page, screenshot_path

PORTAL = "http://127.0.0.1:9/portal/invoices"  # the portal's page, answered by the browser


def test_from_a_notice_to_the_gateway_back_to_the_page_and_on_to_the_portal(tmp_path):
    left_loopback: list[str] = []
    errors: list[str] = []
    with SandboxGateway() as gateway:
        shop = Shop(f"sqlite:///{tmp_path}/page.sqlite", gateway, return_url_hosts="127.0.0.1")
        with served(shop.api, shop.sock) as http, browser_page(left_loopback) as page:
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.route(
                f"{PORTAL}*",
                lambda route: route.fulfill(
                    content_type="text/html; charset=utf-8",
                    body='<html lang="fa"><body><h1>پرتال مشتری</h1></body></html>',
                ),
            )
            # The link, as the customer's panel inbox shows the invoice_issued notice.
            shop.engine.tick()
            inbox = http.get(f"/customers/{shop.customer}/inbox", headers=shop.me).json()
            notice = next(m for m in inbox["items"] if m["kind"] == "invoice_issued")
            link = re.search(r"http://\S+/pay/\S+?t=[0-9a-f]{64}", notice["body"]).group(0)

            page.goto(link)
            assert page.locator("html").get_attribute("dir") == "rtl"
            assert page.inner_text("#status") == "پرداخت‌نشده"
            assert "۲٬۷۵۰٬۰۰۰" in page.inner_text("#balance")
            assert "۱۴۰۵" in page.inner_text("#deadline")  # a Jalali date, Persian digits
            assert page.locator("#balance bdi[dir=ltr]").count() == 1
            page.evaluate("document.fonts.ready")
            assert page.evaluate("document.fonts.check('16px Vazirmatn')")
            page.screenshot(path=str(screenshot_path("invoice-page.png", tmp_path)), full_page=True)

            # Pay online from the page, then cancel at the gateway: back on the page.
            page.click("#pay-online button")
            page.wait_for_url(f"{gateway.url}/pg/StartPay/*")
            page.click("text=انصراف")
            page.wait_for_selector("#result")
            assert "پرداخت انجام نشد" in page.inner_text("#result")
            assert page.locator("#return").count() == 0

            # The portal makes a link that returns to it; the customer pays at the gateway.
            made = http.post(
                f"/invoices/{shop.invoice}/payment-link",
                json={"return_url": PORTAL},
                headers=shop.me,
            )
            assert made.status_code == 200, made.text
            page.goto(made.json()["url"])
            page.click("text=پرداخت")
            page.wait_for_selector("#result")
            assert "پرداخت شما ثبت شد" in page.inner_text("#result")
            assert page.inner_text("#status") == "پرداخت‌شده"
            assert page.inner_text("#return") == "بازگشت به پرتال"
            page.click("#return")
            page.wait_for_url(f"{PORTAL}*")
            assert page.inner_text("h1") == "پرتال مشتری"
        shop.engine.close()
    assert left_loopback == [], f"the page asked the internet for {left_loopback}"
    assert errors == [], errors


def test_an_organisation_asks_to_pay_offline_and_uploads_its_receipt(tmp_path):
    left_loopback: list[str] = []
    slip = tmp_path / "slip.png"
    slip.write_bytes(a_png_slip(300, 200))
    with SandboxGateway() as gateway:
        shop = Shop(f"sqlite:///{tmp_path}/offline.sqlite", gateway)
        with served(shop.api, shop.sock) as http, browser_page(left_loopback) as page:
            page.goto(shop.base + shop.engine.links.path(shop.invoice))
            assert page.locator("#receipt").count() == 0  # not before an approval
            page.fill("#reason", "خزانه‌داری ما فقط با واریز بانکی پرداخت می‌کند.")
            page.click("#offline-request button")
            page.wait_for_selector("#done")
            assert "درخواست پرداخت آفلاین ثبت شد" in page.inner_text("#done")
            assert "در انتظار بررسی واحد مالی" in page.inner_text("main")

            # Finance approves over the API.
            waiting = http.get(
                "/offline-payments",
                params={"invoice_id": str(shop.invoice), "kind": "request"},
                headers=shop.finance,
            ).json()["items"]
            assert [item["status"] for item in waiting] == ["pending"]
            approved = http.post(
                f"/offline-requests/{waiting[0]['id']}/approve", headers=shop.finance
            )
            assert approved.status_code == 200, approved.text

            page.reload()
            page.select_option("#bank", "012")
            page.fill("#tracking_number", "۹۹۸۸ ۷۷۶۶ ۵۵۴۴")
            page.fill("#amount", "2750000")
            page.fill("#paid_on", "۱۴۰۵/۰۲/۱۸")
            page.set_input_files("#scan", str(slip))
            page.click("#receipt button")
            page.wait_for_selector("#done")
            assert "رسید بانکی ثبت شد" in page.inner_text("#done")
            assert "بانک ملت" in page.inner_text("main")

            receipts = http.get(
                "/offline-payments",
                params={"invoice_id": str(shop.invoice), "kind": "receipt"},
                headers=shop.finance,
            ).json()["items"]
            assert len(receipts) == 1
            detail = receipts[0]["detail"]
            assert (detail["bank"], detail["tracking_number"]) == ("012", "998877665544")
            assert detail["amount"] == 2_750_000 and detail["paid_on"] == "1405/02/18"
            scan = http.get(f"/receipts/{receipts[0]['id']}/scan", headers=shop.finance)
            assert scan.content == slip.read_bytes()
        shop.engine.close()
    assert left_loopback == []
