"""The subscription page in a real browser (Debian's Chromium): finance opens a suspended
subscription, looks at it *as of* a moment before the suspension (typed in Persian digits) and
sees the earlier state; places a hold through the Jalali date picker and the confirmation step;
and the picker's calendar arithmetic agrees with domain/jalali.py. Screenshots at 1280 and 390
pixels wide (docs/BACKOFFICE.md, "Subscription")."""

from __future__ import annotations

from datetime import date, timedelta

from adapters.sandbox_gateway import SandboxGateway
from domain.jalali import JalaliDate, month_length, to_persian_digits
from service_layer.timeline import timeline
from tests.api.office import PASSWORDS, add_staff
from tests.api.shop import Shop
from tests.builders import T0
from tests.pages.browser import page_width, screenshot_path
from tests.pages.office import OfficeBrowser, office_browser


def sign_in_to(office: OfficeBrowser, path: str, role: str = "finance") -> None:
    """Through the sign-in form, straight to ``path``."""
    email, password = PASSWORDS[role]
    office.page.goto(f"{office.base}/office/sign-in?next={path}")
    office.page.fill("#email", email)
    office.page.fill("#password", password)
    office.page.click("button[type=submit]")
    office.page.wait_for_selector("#who")
    office.page.wait_for_load_state("load")  # its scripts (keys, htmx) are in


def focused_id(office: OfficeBrowser) -> str:
    return office.page.evaluate("document.activeElement && document.activeElement.id")


def test_as_of_before_the_suspension_and_a_hold_through_the_picker_and_its_confirmation(tmp_path):
    with SandboxGateway() as gateway:
        shop = Shop(f"sqlite:///{tmp_path}/office.sqlite", gateway, office_signin_delay=0)
        add_staff(shop)
        with office_browser(shop) as office:
            page = office.page
            shop.suspend(office.http)  # the test clock: 34 days on, the site is suspended
            path = f"/office/subscriptions/{shop.subscription}"
            sign_in_to(office, path)
            assert page.text_content("#status") == "معلق"

            # As of 1405/01/20 09:00 (five days after the order), typed in Persian digits.
            page.fill("#at", "۱۴۰۵/۰۱/۲۰ ۰۹:۰۰")
            page.click("#as-of-show")
            page.wait_for_selector("#as-of-result")
            assert page.text_content("#as-of-status") == "فعال"
            assert page.text_content("#as-of-site") == "در دسترس"
            assert page.text_content("#status") == "معلق"  # now is still now
            assert focused_id(office) == "as-of-moment"
            assert "at=" in page.url  # the moment is in the address: a link to it works
            page.screenshot(
                path=screenshot_path("office-subscription.png", tmp_path), full_page=True
            )
            # Back and forward again: the whole page each time, never a fragment alone.
            page.go_back()
            page.wait_for_selector("#as-of-result", state="detached")
            assert page.locator("#who").count() == 1 and page.locator("#main").count() == 1
            page.go_forward()
            page.wait_for_selector("#as-of-result")
            assert page.locator("#who").count() == 1 and page.locator("#main").count() == 1

            # A hold until the 5th of next month, chosen in the picker.
            today = JalaliDate.of(T0 + timedelta(days=34))
            page.click("#hold-form .jalali-open")
            page.click("#hold-form .jalali-next")
            month = today.add_months(1)
            assert page.text_content("#hold-form .jalali-title") == (
                f"{month.month_name} {to_persian_digits(str(month.year))}"
            )
            # The keyboard moves among the days: the 1st, then a week on, then two days back.
            page.focus('#hold-form .jalali-day[data-day="1"]')
            page.keyboard.press("ArrowDown")
            page.keyboard.press("ArrowRight")
            page.keyboard.press("ArrowRight")
            assert page.evaluate("document.activeElement.dataset.day") == "6"
            page.keyboard.press("ArrowRight")
            page.keyboard.press("Enter")
            chosen = JalaliDate(month.year, month.month, 5)
            assert page.input_value("#hold-until") == f"{chosen.persian()} ۰۰:۰۰"
            assert focused_id(office) == "hold-until"
            page.fill("#hold-reason", "پرونده در دادگاه است")
            page.click("#hold-form button[type=submit]")

            # The confirmation step names what will happen; nothing is done yet.
            page.wait_for_selector("#confirm-h")
            assert focused_id(office) == "confirm-h"
            assert chosen.persian() in page.text_content(".confirm")
            assert "پرونده در دادگاه است" in page.text_content(".confirm")
            assert shop.api.state.context.app.get_subscription(shop.subscription).hold is None
            page.screenshot(path=screenshot_path("office-subscription-confirm.png", tmp_path))
            page.click("#confirm")

            page.wait_for_selector("#done")
            assert focused_id(office) == "done"
            assert chosen.persian() in page.text_content("#hold")
            hold = shop.api.state.context.app.get_subscription(shop.subscription).hold
            assert hold is not None and hold.until == chosen.start_in_tehran()
            assert "مریم کریمی" in page.text_content("#timeline")
            placed = [
                e
                for e in timeline(shop.api.state.context.app, shop.subscription)
                if e.event == "EnforcementHoldPlaced"
            ]
            assert [e.actor.name for e in placed] == ["مریم کریمی"]

            page.set_viewport_size({"width": 390, "height": 844})
            page.goto(f"{office.base}{path}")
            width = page_width(page)
            assert width <= 390, f"the page is {width}px wide at 390"
            page.screenshot(
                path=screenshot_path("office-subscription-390.png", tmp_path), full_page=True
            )
            office.check_clean()
        shop.engine.close()


#: Gregorian days around Nowruz and the ends of Esfand, over leap and common years, and days
#: far from today: the picker's conversion must equal domain/jalali.py's on each.
DAYS = [
    date(y, m, d)
    for y in (1990, 2017, 2020, 2021, 2024, 2025, 2026, 2029, 2030, 2050, 2100)
    for m, d in ((3, 19), (3, 20), (3, 21), (3, 22), (9, 22), (9, 23), (12, 31), (1, 1))
]


def test_the_pickers_calendar_agrees_with_domain_jalali(tmp_path):
    with SandboxGateway() as gateway:
        shop = Shop(f"sqlite:///{tmp_path}/office.sqlite", gateway, office_signin_delay=0)
        add_staff(shop)
        with office_browser(shop) as office:
            sign_in_to(office, f"/office/subscriptions/{shop.subscription}")
            pairs = [[d.year, d.month, d.day] for d in DAYS]
            js = office.page.evaluate(
                "days => days.map(d => window.jalali.toJalali(d[0], d[1], d[2]))", pairs
            )
            python = [[j.year, j.month, j.day] for j in map(JalaliDate.from_gregorian, DAYS)]
            assert js == python
            back = office.page.evaluate(
                "days => days.map(j => window.jalali.toGregorian(j[0], j[1], j[2]))", python
            )
            assert back == pairs
            lengths = office.page.evaluate(
                "years => years.map(y => window.jalali.monthLength(y, 12))",
                list(range(1390, 1420)),
            )
            assert lengths == [month_length(y, 12) for y in range(1390, 1420)]
            office.check_clean()
        shop.engine.close()
