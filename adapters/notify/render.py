"""Render a notice in Persian: an e-mail (subject, plain text and right-to-left HTML), an SMS,
and the panel inbox message, from the facts its NoticeSent event recorded.

Dates are Jalali in Tehran time with Persian digits, amounts are rials with Persian digits and
separators; identifiers (invoice ids, site names, links) stay left-to-right inside bidi
isolation so they read correctly in right-to-left text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from domain.jalali import JalaliDate, format_moment, to_persian_digits

if TYPE_CHECKING:
    from adapters.links import InvoiceLinks

TEMPLATES = Path(__file__).parent / "templates"


def persian_rials(value: int | None) -> str:
    if value is None:
        return "؟"
    return to_persian_digits(f"{int(value):,}".replace(",", "٬")) + " ریال"


def persian_moment(value: str | datetime | None) -> str:
    if not value:
        return "؟"
    moment = (
        value
        if isinstance(value, datetime)
        else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    )
    day = JalaliDate.of(moment)
    time = format_moment(moment, persian_digits=True).split(" ")[1]
    return f"{day.long_persian()} ساعت {time}"


def persian_number(value: Any) -> str:
    return to_persian_digits(str(value))


def ltr(value: Any) -> str:
    """Left-to-right isolation for a Latin identifier inside Persian text (U+2066 … U+2069)."""
    return f"\u2066{value}\u2069"


@dataclass(frozen=True)
class RenderedNotice:
    subject: str
    text: str
    html: str
    sms: str


class NoticeRenderer:
    """``links`` signs the invoice page's address every notice carries (adapters/links.py);
    without it, ``payment_link`` is a plain template ({invoice_id}, {subscription_id})."""

    def __init__(
        self,
        *,
        portal_name: str,
        support_email: str,
        payment_link: str = "",
        links: InvoiceLinks | None = None,
    ) -> None:
        self.portal_name = portal_name
        self.payment_link = payment_link
        self.links = links
        self.support_email = support_email
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            # The templates ship with the code: compiled once, never checked on disk again
            # (a notice is rendered for every one the scheduler sends).
            auto_reload=False,
        )
        self.env.filters.update(
            rials=persian_rials, jalali=persian_moment, fa=persian_number, ltr=ltr
        )

    def link_for(self, *, invoice_id: str | None, subscription_id: str) -> str:
        """The invoice page of ``invoice_id``, signed; with no invoice, the engine's address."""
        if self.links is not None:
            return self.links.url(invoice_id) if invoice_id else self.links.public_url
        return self.payment_link.format(
            invoice_id=invoice_id or "", subscription_id=subscription_id
        )

    def render(self, kind: str, context: dict[str, Any]) -> RenderedNotice:
        values = {"portal": self.portal_name, "support_email": self.support_email, **context}
        template = self.env.get_template(f"{kind}.j2")
        parts = {
            name: "".join(block(template.new_context(values))).strip()
            for name, block in template.blocks.items()
        }
        text = parts["body"]
        html = self.env.get_template("email.html").render(
            subject=parts["subject"],
            paragraphs=[p for p in text.split("\n\n") if p.strip()],
            **values,
        )
        return RenderedNotice(parts["subject"], text, html, parts["sms"])
