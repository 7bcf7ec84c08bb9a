"""The back office's search and customer pages in a real browser (Debian's Chromium): finance
signs in, searches with Arabic-keyboard letters and Persian digits as they type (htmx), moves
through the results with the keyboard, opens the customer and sees its invoices and receipts;
the same at 390 pixels wide. Nothing leaves loopback; screenshots of both pages."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, expect

from adapters.sandbox_gateway import SandboxGateway
from domain.customer import BillingProfile
from tests.api.office import PASSWORDS, add_staff
from tests.api.shop import Shop
from tests.builders import DAY, T0, a_png_slip
from tests.pages.browser import page_width, screenshot_path
from tests.pages.office import OfficeBrowser, office_browser


@pytest.fixture
def shop(tmp_path):
    with SandboxGateway() as gateway:
        shop = Shop(f"sqlite:///{tmp_path}/office.sqlite", gateway)
        add_staff(shop)
        app = shop.api.state.context.app
        for name, code, mobile in (
            ("علی کریمی‌نژاد", "0013542419", "09123456789"),
            ("علیرضا کریمی", "0499370899", "09127654321"),
            ("زهرا احمدی", "0067749828", "09351112233"),
        ):
            customer = app.register_customer(
                BillingProfile(
                    name=name,
                    kind="person",
                    email="c@example.ir",
                    mobile=mobile,
                    national_code=code,
                ),
                T0,
            )
            app.start_subscription(customer, "business", "monthly", T0)
        # The company asks to pay offline, is approved, pays part by transfer and registers a
        # receipt with its scan; an earlier receipt was rejected.
        request = app.request_offline_payment(shop.invoice, "پرداخت از حساب شرکت", T0)
        app.decide_offline_payment(shop.invoice, request, T0, approve=True)
        scan = shop.engine.scans.put(a_png_slip(), field="scan")
        rejected = app.register_receipt(
            shop.invoice,
            bank="017",
            tracking_number="5544-3322",
            amount=2_750_000,
            paid_on="1405/01/20",
            now=T0 + DAY,
            scan_hash=scan,
        )
        app.decide_receipt(
            shop.invoice, rejected, T0 + DAY, confirm=False, reason="مبلغ خوانا نیست"
        )
        app.register_receipt(
            shop.invoice,
            bank="012",
            tracking_number="9988-7766",
            amount=2_750_000,
            paid_on="1405/01/22",
            now=T0 + 2 * DAY,
            scan_hash=scan,
        )
        shop.engine.tick()
        yield shop
        shop.engine.close()


def sign_in(office: OfficeBrowser, role: str = "finance") -> None:
    email, password = PASSWORDS[role]
    office.page.goto(f"{office.base}/office/sign-in?next=/office/search")
    office.page.fill("#email", email)
    office.page.fill("#password", password)
    office.page.click("button[type=submit]")
    office.page.wait_for_selector("#who")
    office.page.wait_for_load_state("load")  # its scripts (keys, htmx) are in


def found(office: OfficeBrowser) -> Locator:
    return office.page.locator("#results tr[data-row] td:first-child a")


def results(office: OfficeBrowser) -> list[str]:
    return found(office).all_inner_texts()


def test_finance_searches_as_they_type_with_arabic_letters_and_persian_digits(shop, tmp_path):
    with office_browser(shop) as office:
        page = office.page
        sign_in(office)
        assert page.url.endswith("/office/search")
        assert page.locator("html").get_attribute("dir") == "rtl"

        # "/" focuses the search field; typing Arabic-keyboard letters searches as you type.
        page.keyboard.press("/")
        assert page.evaluate("document.activeElement.id") == "q"
        page.keyboard.type("كريمي")  # Arabic kaf and yeh
        expect(found(office)).to_have_count(2)
        assert sorted(results(office)) == ["علی کریمی‌نژاد", "علیرضا کریمی"]
        assert page.evaluate("document.activeElement.id") == "q"  # typing goes on
        assert "q=" in page.url  # the search is in the address, to share or go back to

        page.fill("#q", "")
        page.keyboard.type("علي كريمي")
        # A whole-word match ranks first: علی before علیرضا.
        expect(found(office)).to_have_text(["علی کریمی‌نژاد", "علیرضا کریمی"])

        # A national code in Persian digits.
        page.fill("#q", "۰۰۶۷۷۴۹۸۲۸")
        expect(found(office)).to_have_text(["زهرا احمدی"])
        page.evaluate("document.fonts.ready")
        assert page.evaluate("document.fonts.check('16px Vazirmatn')")

        page.fill("#q", "كريمي")
        expect(found(office)).to_have_count(2)
        page.screenshot(path=str(screenshot_path("office-search.png", tmp_path)), full_page=True)

        # Enter moves the focus to the results; j selects the first, o opens it.
        page.keyboard.press("Enter")
        expect(page.locator("#results h2")).to_be_focused()
        page.keyboard.press("j")
        assert page.locator('#results tr[aria-selected="true"]').count() == 1
        first = page.locator('#results tr[aria-selected="true"] a').inner_text()
        page.keyboard.press("o")
        page.wait_for_selector("#customer-name")
        assert first in page.inner_text("#customer-name")
        assert "پرداخت‌نشده" in page.inner_text("#invoices")
        assert "۱۴۰۵/" in page.inner_text("#invoices")  # the Jalali deadline
        assert "ارسال صورتحساب" in page.inner_text("#notices")

        # The company: its receipts with their scans, the rejected one with its reason.
        page.goto(f"{office.base}/office/search")
        page.keyboard.press("/")
        page.keyboard.type("۹۹۸۸-۷۷۶۶")  # a receipt's tracking number, Persian digits
        expect(found(office)).to_have_text(["Pars Co"])
        found(office).first.click()
        page.wait_for_selector("#customer-name")
        receipts = page.inner_text("#receipts")
        assert "۹۹۸۸۷۷۶۶" in receipts and "در حال بررسی" in receipts
        assert "مبلغ خوانا نیست" in receipts and "ردشده" in receipts
        scan = page.locator("#receipts a.scan").first.get_attribute("href")
        assert scan is not None
        assert office.http.get(scan).status_code in (303, 401)  # the session's, not anyone's
        page.screenshot(path=str(screenshot_path("office-customer.png", tmp_path)), full_page=True)
        office.check_clean()


def test_the_company_page_and_the_search_at_390_pixels(shop, tmp_path):
    with office_browser(shop) as office:
        page = office.page
        page.set_viewport_size({"width": 390, "height": 844})
        sign_in(office)
        page.goto(f"{office.base}/office/search?q=" + "Pars")
        assert results(office) == ["Pars Co"]
        width = page_width(page)
        assert width <= 390, f"the search page is {width} pixels wide"
        page.screenshot(
            path=str(screenshot_path("office-search-390.png", tmp_path)), full_page=True
        )
        page.click("#results tr[data-row] a")
        page.wait_for_selector("#customer-name")
        assert "۴۱۱۱۱۱۱۱۱۱۱۱" in page.inner_text("#profile")  # economic code, Persian digits
        width = page_width(page)
        assert width <= 390, f"the customer page is {width} pixels wide"
        page.screenshot(
            path=str(screenshot_path("office-customer-390.png", tmp_path)), full_page=True
        )
        office.check_clean()
