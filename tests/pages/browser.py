"""A real browser for the page tests: Debian's Chromium driven by Playwright (`make test`
installs the browser when it is missing; Playwright's own browser download is not used).

Every request the page makes is watched: one that leaves loopback is blocked and recorded, so
a test can prove a page works with no internet. Screenshots go to ``BILLING_SCREENSHOTS_DIR``
(`make screenshots` sets it to docs/) or to the test's temporary folder.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Page, sync_playwright

FLAGS = [
    "--headless=new",
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def browser_page(offline: list[str]) -> Iterator[Page]:
    """A fresh page; every request to a host other than loopback is blocked and appended to
    ``offline``."""
    executable = shutil.which("chromium")
    if executable is None:
        raise RuntimeError("chromium is not installed: run `make test` (it installs it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="fa-IR")

            def only_loopback(route) -> None:
                if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
                    route.continue_()
                else:
                    offline.append(route.request.url)
                    route.abort()

            page.route("**/*", only_loopback)
            yield page
        finally:
            browser.close()


def screenshot_path(name: str, fallback: Path) -> Path:
    folder = Path(os.environ.get("BILLING_SCREENSHOTS_DIR") or fallback)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def page_width(page: Page) -> int:
    """The page's laid-out width, once it has loaded and its fonts are in: measured while the
    web font still loads, a table laid out in the fallback font can be wider for a moment."""
    page.wait_for_load_state("load")
    page.evaluate("document.fonts.ready.then(() => true)")
    return int(page.evaluate("document.documentElement.scrollWidth"))
