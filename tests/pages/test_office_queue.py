"""The back office's sign-in and queue in a real browser (Debian's Chromium): finance signs in,
confirms a suspended company's bank receipt with the keyboard (the site is restored and the
timeline names her), rejects another customer's offline request with a reason; a customer's
token opens no page and a POST without the CSRF token is refused. Nothing leaves loopback."""

from __future__ import annotations

import base64

from adapters.sandbox_gateway import SandboxGateway
from tests.api.office import NAMES, add_staff
from tests.api.shop import Shop
from tests.builders import T0, a_company, a_png_slip
from tests.pages.browser import page_width, screenshot_path
from tests.pages.office import office_browser


def a_waiting_receipt(shop: Shop, http) -> str:
    asked = http.post(
        f"/invoices/{shop.invoice}/offline-requests",
        json={"reason": "We pay by transfer"},
        headers=shop.me,
    )
    http.post(f"/offline-requests/{asked.json()['id']}/approve", headers=shop.finance)
    registered = http.post(
        f"/invoices/{shop.invoice}/receipts",
        json={
            "bank": "012",
            "tracking_number": "9988 7766 5544",
            "amount": 2_750_000,
            "paid_on": "1405/02/18",
            "scan_base64": base64.b64encode(a_png_slip(320, 160)).decode(),
        },
        headers=shop.me,
    )
    assert registered.status_code == 201, registered.text
    return registered.json()["id"]


def test_finance_works_the_queue_with_the_keyboard(tmp_path):
    with SandboxGateway() as gateway:
        shop = Shop(f"sqlite:///{tmp_path}/office.sqlite", gateway)
        add_staff(shop)
        app = shop.api.state.context.app
        other = app.register_customer(a_company("شرکت کاوه"), T0)
        other_sub = app.start_subscription(other, "business", "monthly", T0)
        other_invoice = app.get_subscription(other_sub).invoice_ids[0]
        with office_browser(shop) as office:
            page, http = office.page, office.http
            shop.suspend(http)
            receipt_id = a_waiting_receipt(shop, http)
            # A minute later (the queue's order between equal moments falls to random ids).
            http.post("/admin/clock/advance", json={"days": 1 / 1440}, headers=shop.admin)
            request_id = app.request_offline_payment(
                other_invoice, "حواله از حساب شرکت", shop.api.state.context.now()
            )

            page.goto(f"{shop.base}/office/queue")
            page.wait_for_selector("#email")
            page.screenshot(path=str(screenshot_path("office-sign-in.png", tmp_path)))
            office.sign_in("finance")
            assert page.url.endswith("/office/queue")
            assert page.locator("html").get_attribute("dir") == "rtl"
            assert page.inner_text("#who").startswith(NAMES["finance"])
            rows = page.locator("#queue tbody tr")
            assert rows.count() == 2
            # Oldest first: the receipt was registered before the other company's request.
            assert rows.nth(0).get_attribute("data-item") == receipt_id
            assert rows.nth(1).get_attribute("data-item") == str(request_id)
            page.evaluate("document.fonts.ready")
            assert page.evaluate("document.fonts.check('16px Vazirmatn')")

            # j selects the first row and shows its detail: the scan beside the open balance.
            page.keyboard.press("j")
            page.wait_for_selector("#detail #balance")
            assert rows.nth(0).get_attribute("aria-selected") == "true"
            assert "۲٬۷۵۰٬۰۰۰" in page.inner_text("#detail #balance")
            # (Polled from here: the page's CSP refuses the eval a string wait_for_function needs.)
            for _ in range(200):
                if page.evaluate("document.querySelector('#detail img.scan').complete"):
                    break
                page.wait_for_timeout(25)
            assert page.evaluate("document.querySelector('#detail img.scan').naturalWidth") == 320
            page.screenshot(path=str(screenshot_path("office-queue.png", tmp_path)), full_page=True)

            # a confirms it: the payment is recorded, the site restored, the row gone.
            page.keyboard.press("a")
            page.wait_for_selector("#detail #message")
            assert "رسید تأیید و پرداخت ثبت شد" in page.inner_text("#detail #message")
            assert "دوباره روشن شد" in page.inner_text("#detail #message")
            page.wait_for_selector(f'tr[data-item="{receipt_id}"]', state="detached")
            assert shop.status(http) == "active"
            timeline = http.get(
                f"/audit/{shop.subscription}/timeline", headers=shop.finance
            ).json()["items"]
            paid = [e for e in timeline if e["event"] == "SiteRestored"]
            assert paid, timeline
            invoice_events = http.get(
                f"/audit/{shop.invoice}/timeline", headers=shop.finance
            ).json()["items"]
            (payment,) = [e for e in invoice_events if e["event"] == "PaymentRecorded"]
            assert payment["actor"]["name"] == NAMES["finance"]

            # r on the request opens the reason form, the focus in its text box.
            page.keyboard.press("j")
            page.wait_for_selector('#detail h2:has-text("شرکت کاوه")')
            page.keyboard.press("r")
            page.wait_for_selector("#reject-form textarea:focus")
            page.fill("#reason", "حواله‌ای به حساب ما نرسید")
            page.click("#reject-form button[type=submit]")
            page.wait_for_selector("#detail #message")
            assert "رد شد" in page.inner_text("#detail #message")
            decided = http.get(
                f"/offline-payments?invoice_id={other_invoice}", headers=shop.finance
            ).json()["items"]
            assert decided[0]["status"] == "rejected"
            assert decided[0]["detail"]["decision"] == "حواله‌ای به حساب ما نرسید"
            page.wait_for_selector(f'tr[data-item="{request_id}"]', state="detached")

            # 390 pixels wide: the table stacks, nothing overflows the screen sideways.
            page.set_viewport_size({"width": 390, "height": 800})
            page.goto(f"{shop.base}/office/queue")
            assert page_width(page) <= 390
            page.screenshot(path=str(screenshot_path("office-queue-390.png", tmp_path)))

            # A POST without the CSRF token, with the session cookie: refused, nothing done.
            forged = page.request.post(f"{shop.base}/office/sign-out")
            assert forged.status == 403
            page.goto(f"{shop.base}/office/queue")
            assert page.locator("#who").count() == 1  # still signed in
            office.check_clean()
        shop.engine.close()


def test_a_customers_token_opens_no_page(tmp_path):
    with SandboxGateway() as gateway:
        shop = Shop(f"sqlite:///{tmp_path}/office.sqlite", gateway)
        add_staff(shop)
        with office_browser(shop) as office:
            token = shop.me["Authorization"].removeprefix("Bearer ")
            office.page.context.add_cookies(
                [{"name": "billing_office", "value": token, "url": f"{shop.base}/office"}]
            )
            for path in ("/office/queue", "/office"):
                answer = office.page.goto(f"{shop.base}{path}")
                assert answer is not None and answer.status == 403
                assert "دسترسی ندارید" in office.page.inner_text("h1")
                assert office.page.locator("#who").count() == 0
            assert office.left_loopback == []  # (the 403s themselves are console errors)
        shop.engine.close()
