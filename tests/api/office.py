"""The back office as a test signs in to it: a served shop with staff who have passwords, and a
signed-in HTTP client that carries the session cookie and knows its CSRF token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from tests.api.server import served
from tests.api.shop import Shop
from tests.builders import T0

PASSWORDS = {
    "finance": ("maryam@office.example", "finance-password-1405"),
    "support": ("sina@office.example", "support-password-1405"),
    "admin": ("amir@office.example", "admin-password-14050"),
}
NAMES = {"finance": "مریم کریمی", "support": "سینا رضایی", "admin": "امیر مدیری"}

_CSRF = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')


def add_staff(shop: Shop) -> dict[str, object]:
    """A finance, a support and an admin member, each with an e-mail and a password: role → id."""
    app = shop.api.state.context.app
    ids: dict[str, object] = {}
    for role, (email, password) in PASSWORDS.items():
        ids[role] = app.add_staff(NAMES[role], role, T0, email=email)
        app.set_staff_password(ids[role], password, T0)
    return ids


@dataclass
class SignedIn:
    """An HTTP client signed in to the back office: ``post`` adds the CSRF token."""

    http: httpx.Client
    csrf: str

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, data: dict | None = None, **kwargs) -> httpx.Response:
        return self.http.post(path, data={"csrf": self.csrf, **(data or {})}, **kwargs)


def sign_in(http: httpx.Client, role: str = "finance") -> SignedIn:
    """Sign ``http`` in as the member of ``role`` (from :func:`add_staff`) through the form."""
    email, password = PASSWORDS[role]
    form = http.get("/office/sign-in")
    assert form.status_code == 200, form.text
    pre = re.search(r'name="pre" value="([^"]+)"', form.text)
    assert pre is not None
    answer = http.post(
        "/office/sign-in",
        data={"email": email, "password": password, "pre": pre.group(1), "next": "/office/queue"},
    )
    assert answer.status_code == 303, answer.text
    page = http.get("/office/queue")
    assert page.status_code == 200, page.text
    found = _CSRF.search(page.text)
    assert found is not None, "the page carries its CSRF token"
    return SignedIn(http, found.group(1))


@contextmanager
def office(shop: Shop, role: str = "finance") -> Iterator[SignedIn]:
    """The shop served, with a client signed in as ``role``."""
    with served(shop.api, shop.sock) as http:
        yield sign_in(http, role)
