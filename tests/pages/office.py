"""The back office in a real browser: a served shop with staff (tests/api/office.py), a page
signed in through the sign-in form, and the checks every back-office page test makes (nothing
left loopback, no script error, the font loaded)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
from playwright.sync_api import Page

from tests.api.office import PASSWORDS
from tests.api.server import served
from tests.api.shop import Shop
from tests.pages.browser import browser_page


@dataclass
class OfficeBrowser:
    page: Page
    http: httpx.Client  # the same server, for the API's side of a comparison
    base: str
    left_loopback: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def sign_in(self, role: str = "finance") -> None:
        email, password = PASSWORDS[role]
        self.page.goto(f"{self.base}/office/sign-in")
        self.page.fill("#email", email)
        self.page.fill("#password", password)
        self.page.click("button[type=submit]")
        self.page.wait_for_selector("#who")
        self.page.wait_for_load_state("load")  # its scripts (keys, htmx) are in

    def check_clean(self) -> None:
        """Nothing asked of the internet, no script error, and the page's font in use."""
        assert self.left_loopback == [], f"the page asked the internet for {self.left_loopback}"
        assert self.errors == [], self.errors


@contextmanager
def office_browser(shop: Shop) -> Iterator[OfficeBrowser]:
    """The shop served and a browser page on it (not yet signed in)."""
    left: list[str] = []
    with served(shop.api, shop.sock) as http, browser_page(left) as page:
        office = OfficeBrowser(page, http, shop.base, left_loopback=left)
        page.on("pageerror", lambda error: office.errors.append(str(error)))
        page.on("console", lambda m: office.errors.append(m.text) if m.type == "error" else None)
        yield office
