"""The back office's reports, staff actions and health pages in a real browser (Debian's
Chromium): the revenue chart is drawn from the data table under it, a bucket drills down
to its invoices in place, the CSV exported from the page equals the API's report, staff
actions filter by person; screenshots of the three pages (docs/BACKOFFICE.md)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from projections.reports import REVENUE_COLUMNS
from tests.api.office import PASSWORDS
from tests.api.reports_history import World, api_aging, api_revenue
from tests.api.server import served
from tests.pages.browser import browser_page, page_width, screenshot_path
from tests.pages.office import OfficeBrowser


@pytest.fixture
def office(tmp_path):
    world = World(tmp_path)
    left: list[str] = []
    with served(world.shop.api, world.shop.sock) as http, browser_page(left) as page:
        world.history(http)
        browser = OfficeBrowser(page, http, world.shop.base, left_loopback=left)
        page.on("pageerror", lambda error: browser.errors.append(str(error)))
        page.on("console", lambda m: browser.errors.append(m.text) if m.type == "error" else None)
        browser.world = world  # type: ignore[attr-defined]
        yield browser
    world.close()


def sign_in_at(office: OfficeBrowser, path: str, role: str = "finance") -> None:
    """Sign in through the form and land on ``path``."""
    email, password = PASSWORDS[role]
    office.page.goto(f"{office.base}/office/sign-in?next={path}")
    office.page.fill("#email", email)
    office.page.fill("#password", password)
    office.page.click("button[type=submit]")
    office.page.wait_for_selector("#who")
    office.page.wait_for_load_state("load")  # its scripts (keys, htmx) are in


def downloaded_csv(office: OfficeBrowser, selector: str, tmp_path: Path) -> list[list[str]]:
    with office.page.expect_download() as info:
        office.page.click(selector)
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    content = target.read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(content[3:].decode("utf-8"))))


def test_reports_chart_drill_down_and_exports_equal_to_the_api(office, tmp_path):
    world: World = office.world  # type: ignore[attr-defined]
    page = office.page
    sign_in_at(office, "/office/reports")
    assert page.locator("html").get_attribute("dir") == "rtl"

    # The chart: drawn on its canvas by Chart.js, one series per column of the table under it.
    page.wait_for_selector("#revenue-chart[data-drawn]")
    assert page.get_attribute("#revenue-chart", "data-drawn") == str(len(REVENUE_COLUMNS))
    assert page.evaluate("Chart.getChart('revenue-chart').data.datasets.length") == len(
        REVENUE_COLUMNS
    )
    revenue = api_revenue(world, office.http)
    assert page.locator("#revenue tbody tr").count() == len(revenue)
    charted = page.evaluate("Chart.getChart('revenue-chart').data.datasets[0].data")
    assert charted == [row["invoiced"] for row in revenue]
    page.evaluate("document.fonts.ready")
    assert page.evaluate("document.fonts.check('16px Vazirmatn')")
    page.screenshot(path=str(screenshot_path("office-reports.png", tmp_path)), full_page=True)

    # A bucket opens its invoices in place (htmx), the focus on their heading.
    aging = api_aging(world, office.http)
    overdue = [i for i in aging["invoices"] if i["bucket"] == "1-30"]
    page.click('#aging tr[data-bucket="1-30"] a')
    page.wait_for_selector("#drill-invoices")
    assert page.locator("#drill-invoices tbody tr").count() == len(overdue)
    assert page.evaluate("document.activeElement.id") == "drill-title"
    assert page.url.endswith("/office/reports?bucket=1-30")
    first = page.locator("#drill-invoices tbody tr").first
    assert first.locator("a").first.get_attribute("href") == (
        f"/office/customers/{overdue[0]['customer_id']}"
    )

    # The CSV exported from the page equals the API's report.
    columns = list(REVENUE_COLUMNS)
    rows = downloaded_csv(office, "#revenue-csv", tmp_path)
    assert [[r[0], *map(int, r[1:])] for r in rows[1:]] == [
        [row["jalali_month"], *(row[c] for c in columns)] for row in revenue
    ]
    aged = downloaded_csv(office, "#aging-csv", tmp_path)
    assert [(r[0], int(r[7])) for r in aged[1:]] == [
        (i["invoice_id"], i["balance"]) for i in aging["invoices"]
    ]

    # At 390 pixels wide the tables stack, and nothing is wider than the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{office.base}/office/reports")
    page.wait_for_selector("#revenue-chart[data-drawn]")
    assert page_width(page) <= 390
    page.screenshot(path=str(screenshot_path("office-reports-390.png", tmp_path)), full_page=True)
    office.check_clean()


def test_staff_actions_by_person_and_the_health_page(office, tmp_path):
    world: World = office.world  # type: ignore[attr-defined]
    page = office.page
    sign_in_at(office, "/office/actions")
    assert page.locator("#actions tbody tr").count() == 50
    finance = f"staff:{world.staff['finance']}"
    page.select_option("#person", finance)
    with page.expect_response(lambda r: "/office/actions?" in r.url and "person=" in r.url):
        page.click("form.filters button[type=submit]")
    page.wait_for_url("**person=staff*")
    actors = page.eval_on_selector_all(
        "#actions tbody tr", "rows => rows.map(r => r.dataset.actor)"
    )
    assert actors and set(actors) == {finance}
    assert f"person=staff%3A{world.staff['finance']}" in page.url
    assert page.evaluate("document.activeElement.id") == "rows-title"
    page.screenshot(path=str(screenshot_path("office-actions.png", tmp_path)), full_page=True)

    page.goto(f"{office.base}/office/health")
    assert "<time" in page.inner_html("#last-tick")
    assert page.locator('#channels tr[data-channel="webhook"]').count() == 1
    assert page.locator("#failures tbody tr").count() >= 1
    page.screenshot(path=str(screenshot_path("office-health.png", tmp_path)), full_page=True)

    # Both pages at 390 pixels wide: nothing wider than the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/office/health", f"/office/actions?person={finance}"):
        page.goto(f"{office.base}{path}")
        assert page_width(page) <= 390, path
    office.check_clean()
