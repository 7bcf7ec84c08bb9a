"""The back office's pages: one Jinja2 environment, the filters that write Persian, and the
answer every page gives (docs/BACKOFFICE.md, "Writing a page").

On screen: Persian digits, Jalali dates and times (Tehran), rials with the Persian thousands
separator (٬), and amounts and identifiers isolated left to right (``<bdi dir="ltr">``) so a
number or an id never reorders inside Persian text. Every value is escaped; a filter that
returns markup escapes its input first.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from api import permissions
from api.backoffice.session import StaffSession
from domain.jalali import JalaliDate, format_moment, to_persian_digits

TEMPLATES = Path(__file__).resolve().parent / "templates"

#: The pages in the navigation bar: (name, Persian title, path, its keyboard shortcut).
NAV = (
    ("queue", "صف بررسی", "/office/queue", "g q"),
    ("search", "جستجو", "/office/search", "/"),
    ("reports", "گزارش‌ها", "/office/reports", "g r"),
    ("actions", "اقدامات کارکنان", "/office/actions", "g a"),
    ("health", "سلامت سامانه", "/office/health", "g h"),
)

ROLE_FA = {
    "finance": "مالی",
    "support": "پشتیبانی",
    "admin": "مدیر",
    "customer": "مشتری",
    "representative": "نماینده",
}


def fa(value: Any) -> str:
    """Any number or text with Persian digits."""
    return to_persian_digits(str(value))


def rials(value: Any) -> Markup:
    """An amount in rials: ``۲٬۷۵۰٬۰۰۰``, isolated left to right."""
    amount = value.rials if hasattr(value, "rials") else int(value)
    text = to_persian_digits(f"{amount:,}".replace(",", "٬"))
    return Markup('<bdi dir="ltr" class="num">{}</bdi>').format(text)


def ident(value: Any) -> Markup:
    """An identifier (a number, a code, an id) isolated left to right, in Persian digits."""
    return Markup('<bdi dir="ltr" class="id">{}</bdi>').format(to_persian_digits(str(value)))


def latin(value: Any) -> Markup:
    """Latin text (an e-mail, a UUID, a bank reference) isolated left to right, as it is."""
    return Markup('<bdi dir="ltr" class="id">{}</bdi>').format(str(value))


def _moment(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def when(value: Any) -> Markup:
    """A moment as Tehran's Jalali date and time in Persian digits, e.g. ``۱۴۰۵/۰۲/۱۴ ۰۹:۰۰``;
    ``—`` for none. The ISO moment is kept in a ``datetime`` attribute."""
    moment = _moment(value)
    if moment is None:
        return Markup("—")
    return Markup('<time datetime="{}"><bdi dir="ltr">{}</bdi></time>').format(
        moment.isoformat(), format_moment(moment, persian_digits=True)
    )


def day(value: Any) -> Markup:
    """A moment's Jalali date (Tehran) in Persian digits, or a Jalali date as it is."""
    if isinstance(value, JalaliDate):
        return Markup('<bdi dir="ltr">{}</bdi>').format(fa(value.isoformat()))
    moment = _moment(value)
    if moment is None:
        return Markup("—")
    return Markup('<time datetime="{}"><bdi dir="ltr">{}</bdi></time>').format(
        moment.isoformat(), format_moment(moment, persian_digits=True).split(" ")[0]
    )


environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters.update(
    fa=fa, rials=rials, ident=ident, latin=latin, when=when, day=day, role_fa=ROLE_FA.get
)


class Can:
    """What the signed-in person may do, by the API's own permissions (``api/permissions.py``):
    ``can.decide_receipts`` in a template shows a button only to whom the route would allow."""

    def __init__(self, session: StaffSession) -> None:
        self._principal = session.principal

    def __getattr__(self, name: str) -> bool:
        permission = getattr(permissions, name.upper())
        assert isinstance(permission, permissions.Permission), name
        return permission.allows(self._principal)


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def render(
    request: Request,
    session: StaffSession | None,
    template: str,
    *,
    title: str,
    nav: str = "",
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    """A whole page (``template`` extends ``base.html.j2``) or, for htmx, a fragment (a template
    that extends nothing): the same values either way."""
    html = environment.get_template(template).render(
        request=request,
        session=session,
        can=Can(session) if session is not None else None,
        csrf=session.csrf if session is not None else "",
        title=title,
        nav=nav,
        nav_items=NAV,
        **values,
    )
    response = HTMLResponse(html, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def escape_text(value: Any) -> Markup:
    return escape(value)
