"""Invoice PDFs: jinja2 HTML, right to left, rendered by WeasyPrint with the Vazirmatn font.

Four documents:

* the **official invoice** (صورتحساب فروش کالا و خدمات) of a paid invoice, printed only from
  what the events recorded: the lines of ``InvoiceIssued`` and the number, parties, terms,
  references and tax ID of ``OfficialInvoiceIssued``;
* the **correcting official document** (cancelling, ابطالی, when an officially invoiced invoice
  is voided; return from sale, برگشت از فروش, for each return) printed from
  ``OfficialCorrectionIssued`` and the original's events;
* the **credit note** (یادداشت بستانکاری) of an invoice with no official document, for what a
  void or a return credited back, printed from ``CreditNoteIssued`` and the invoice's events;
* the **plain invoice** any customer may download: a proforma (پیش‌فاکتور) while unpaid, the
  invoice marked paid or void afterwards.

The same document renders to the same bytes every time, on any machine with the pinned font:
no creation date is written, the PDF identifier is a hash of the content, and the font subsets
carry a fixed timestamp (fontTools reads ``SOURCE_DATE_EPOCH``, which is set here for the
process). A4, black on white, no colour needed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import jinja2

from adapters.documents.fonts import FONT_DIR, ensure_fonts
from domain.customer import BillingProfile
from domain.invoice import Invoice, InvoiceLine, InvoiceStatus
from domain.jalali import JalaliDate, to_persian_digits
from domain.money import Money, Rate
from domain.official import CorrectionSubject, CreditNote, OfficialCorrection, PaymentTerms
from domain.persian_words import rials_in_words

#: The fixed timestamp of the embedded font subsets (2024-01-01T00:00:00Z).
FIXED_EPOCH = "1704067200"

TEMPLATES = Path(__file__).resolve().parent / "templates"

_UNITS = {"month": "ماه", "upgrade": "مورد", "item": "عدد"}
_TERMS = {PaymentTerms.CASH: "نقدی", PaymentTerms.CREDIT: "غیرنقدی (نسیه)"}


def fa(value: Any) -> str:
    """Persian digits."""
    return to_persian_digits(str(value))


def ltr(value: Any) -> str:
    """Left to right inside bidi isolation (LRI … PDI): identifiers and numbers keep their
    order whatever surrounds them. (WeasyPrint 70 ignores CSS ``unicode-bidi: isolate``; Pango
    honours the Unicode isolates.)"""
    return f"\u2066{value}\u2069"


def rials(amount: Money | int) -> str:
    """An amount with Persian digits and the Persian thousands separator: ۱٬۱۰۰٬۰۰۰."""
    value = amount.rials if isinstance(amount, Money) else int(amount)
    return fa(f"{value:,}".replace(",", "٬"))


def percent(rate: Rate) -> str:
    bp = rate.basis_points
    text = f"{bp // 100}" if bp % 100 == 0 else f"{bp / 100:.2f}".rstrip("0")
    return fa(text.replace(".", "٫")) + "٪"


@dataclass(frozen=True)
class Row:
    no: int
    line: InvoiceLine

    @property
    def unit(self) -> str:
        return _UNITS.get(self.line.unit, self.line.unit)

    @property
    def persian(self) -> str | None:
        """A proration line's own words, in Persian (its description is "English | Persian",
        domain/proration.py); None for a period's line, which the template words itself."""
        if self.line.unit != "upgrade":
            return None
        return self.line.description.rpartition(" | ")[2]


class InvoiceDocuments:
    """Renders invoices to PDF bytes (and to the HTML behind them, for inspection)."""

    def __init__(self, font_dir: Path = FONT_DIR) -> None:
        self.font_dir = font_dir
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(fa=fa, ltr=ltr, rials=rials, percent=percent)

    # --- the two documents --------------------------------------------------------------------

    def official_html(self, invoice: Invoice) -> str:
        official = invoice.official
        if official is None:
            raise ValueError(f"Invoice {invoice.id} has no official invoice.")
        return self._html(
            "official_invoice.html.j2",
            invoice,
            official=official,
            seller=official.seller,
            buyer=official.buyer,
            date=JalaliDate.of(official.issued_at),
            terms=_TERMS[official.terms],
        )

    def correction_html(self, invoice: Invoice, correction: OfficialCorrection) -> str:
        """A correcting official document (cancelling when the invoice was voided): the
        original's parties and items, its own subject, number, date and tax ID, and the
        original's number and tax ID it references."""
        official = invoice.official
        if official is None:
            raise ValueError(f"Invoice {invoice.id} has no official invoice.")
        return self._html(
            "official_correction.html.j2",
            invoice,
            official=official,
            correction=correction,
            subject=correction.subject.persian,
            returned=correction.subject is CorrectionSubject.RETURN,
            vat_share=invoice.vat_share(Money(correction.amount)),
            seller=official.seller,
            buyer=official.buyer,
            date=JalaliDate.of(correction.issued_at),
            terms=_TERMS[official.terms],
        )

    def correction_pdf(self, invoice: Invoice, correction: OfficialCorrection) -> bytes:
        return self.pdf(self.correction_html(invoice, correction))

    def plain_html(self, invoice: Invoice, buyer: BillingProfile, seller_name: str) -> str:
        status = invoice.status
        return self._html(
            "plain_invoice.html.j2",
            invoice,
            buyer_name=buyer.name,
            seller_name=seller_name,
            date=JalaliDate.of(invoice.issued_at),
            deadline=JalaliDate.of(invoice.deadline),
            proforma=status is InvoiceStatus.OPEN,
            void=status is InvoiceStatus.VOID,
            paid=status is InvoiceStatus.PAID,
            settlements=invoice.settlements,
            jalali=JalaliDate.of,
        )

    def credit_note_html(
        self, invoice: Invoice, note: CreditNote, buyer: BillingProfile, seller_name: str
    ) -> str:
        """A credit note of an invoice with no official document: what a void or a return
        credited back to the customer, with its VAT share; rendered from the events alone."""
        return self._html(
            "credit_note.html.j2",
            invoice,
            note=note,
            buyer_name=buyer.name,
            seller_name=seller_name,
            date=JalaliDate.of(note.issued_at),
            invoice_date=JalaliDate.of(invoice.issued_at),
            note_words=rials_in_words(note.amount.rials),
        )

    def credit_note_pdf(
        self, invoice: Invoice, note: CreditNote, buyer: BillingProfile, seller_name: str
    ) -> bytes:
        return self.pdf(self.credit_note_html(invoice, note, buyer, seller_name))

    def official_pdf(self, invoice: Invoice) -> bytes:
        return self.pdf(self.official_html(invoice))

    def plain_pdf(self, invoice: Invoice, buyer: BillingProfile, seller_name: str) -> bytes:
        return self.pdf(self.plain_html(invoice, buyer, seller_name))

    def pdf(self, html: str) -> bytes:
        ensure_fonts(self.font_dir)
        os.environ["SOURCE_DATE_EPOCH"] = FIXED_EPOCH
        import weasyprint

        return weasyprint.HTML(string=html, base_url=str(TEMPLATES)).write_pdf()

    # --- shared -------------------------------------------------------------------------------

    def _html(self, template: str, invoice: Invoice, **context: Any) -> str:
        lines = invoice.lines
        vat_rates = sorted({line.vat_rate.basis_points for line in lines})
        return self.env.get_template(template).render(
            invoice=invoice,
            rows=[Row(i, line) for i, line in enumerate(lines, start=1)],
            gross=Money(sum(line.gross.rials for line in lines)),
            discount=Money(sum(line.discount.rials for line in lines)),
            net=Money(sum(line.net.rials for line in lines)),
            vat=invoice.vat,
            total=invoice.total,
            vat_rates=[Rate(bp) for bp in vat_rates],
            words=rials_in_words(invoice.total.rials),
            period=(invoice.period_start, _last_day(invoice)),
            # A side-service invoice bills no period: each line prints what the biller wrote.
            service=invoice.is_service,
            font_dir=self.font_dir.as_uri(),
            **context,
        )


def _last_day(invoice: Invoice) -> JalaliDate:

    return JalaliDate.from_gregorian(invoice.period_end.to_gregorian() - timedelta(days=1))
