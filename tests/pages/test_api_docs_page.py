"""The API's documentation page works with no internet: Swagger UI is served by the engine.

Before, /docs loaded Swagger UI from a CDN: offline (as on this machine) the page stayed blank.
"""

from __future__ import annotations

from app import create_app
from bootstrap import build_engine
from tests.api.server import served
from tests.pages.browser import browser_page, screenshot_path


def test_the_docs_page_renders_every_route_offline(tmp_path):
    engine = build_engine(database_url=f"sqlite:///{tmp_path}/docs.sqlite")
    api = create_app(engine)
    left_loopback: list[str] = []
    errors: list[str] = []
    with served(api) as http, browser_page(left_loopback) as page:
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{http.base_url}/docs")
        page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
        assert "Billing lifecycle engine" in page.inner_text(".swagger-ui .info .title")
        page.wait_for_selector(".opblock-tag-section", timeout=20_000)
        assert page.locator(".opblock").count() >= 40  # every route is listed
        assert page.locator("button.authorize").count() == 1  # the bearer scheme is declared
        page.screenshot(path=str(screenshot_path("api-docs.png", tmp_path)))
    engine.close()
    assert left_loopback == [], f"the page asked the internet for {left_loopback}"
    assert errors == [], errors
