"""Invoice PDFs: the official invoice prints every field the form needs, in Persian, and the
same invoice always renders to the same bytes, also from the stored events in a new process."""

from __future__ import annotations

import io
import subprocess
import sys

import pypdf
import pytest

from adapters.documents.pdf import InvoiceDocuments, rials
from bootstrap import build_application
from domain.jalali import JalaliDate, to_persian_digits
from domain.persian_words import rials_in_words
from service_layer.application import BillingApplication
from tests.builders import DAY, SELLER, T0, a_company, a_person, a_plan, ordered
from tests.documents.pdftext import pdf_text, squeeze

PAID_AT = T0 + 2 * DAY
REFERENCE = "A000000000000000000000000000012345"


@pytest.fixture(scope="module")
def documents() -> InvoiceDocuments:
    return InvoiceDocuments()


def paid_company_invoice(app: BillingApplication, name: str = "شرکت پارس") -> object:
    app.define_plan(a_plan("business", 2_500_000), T0)
    customer = app.register_customer(a_company(name), T0)
    sub_id = ordered(app, customer=customer, plan=a_plan("business", 2_500_000), period="quarterly")
    invoice_id = app.get_subscription(sub_id).invoice_ids[0]
    app.record_payment(
        REFERENCE, app.get_invoice(invoice_id).total.rials, PAID_AT, invoice_id=invoice_id
    )
    return invoice_id


@pytest.fixture(scope="module")
def official(tmp_path_factory, documents):
    db = tmp_path_factory.mktemp("pdf") / "billing.sqlite"
    app = build_application(database_url=f"sqlite:///{db}")
    app.seller = SELLER
    invoice_id = paid_company_invoice(app)
    invoice = app.get_invoice(invoice_id)
    content = documents.official_pdf(invoice)
    return db, invoice, content, pdf_text(content)


def test_the_official_invoice_prints_every_field_of_the_form(official):
    _, invoice, content, text = official
    record = invoice.official
    flat = squeeze(text)

    def fa(value) -> str:
        return to_persian_digits(str(value))

    for field in [  # table headers wrap inside their cells: each of their words must be there
        "صورتحساب فروش کالا و خدمات",
        "مشخصات فروشنده",
        "مشخصات خریدار",
        "شماره اقتصادی",
        "شناسه ملی",
        "شماره ثبت",
        "کد پستی ده رقمی",
        "نشانی",
        "تلفن",
        # the item table
        "ردیف",
        "کد کالا / خدمت",
        "شرح کالا / خدمت",
        "تعداد / مقدار",
        "واحد",
        "مبلغ واحد (ریال)",
        "مبلغ کل (ریال)",
        "مبلغ تخفیف (ریال)",
        "مبلغ کل پس از تخفیف (ریال)",
        "مالیات و عوارض ارزش افزوده (ریال)",
        "جمع کل (ریال)",
        "شرایط و نحوه فروش: نقدی",
        "مهر و امضای فروشنده",
    ]:
        for word in field.split():
            assert squeeze(word) in flat, field
    line = invoice.lines[0]
    expected_numbers = {
        "number": fa(record.number_text),
        "Jalali issue date": JalaliDate.of(record.issued_at).persian(),
        "seller economic code": fa(SELLER.party.economic_code),
        "seller registration number": fa(SELLER.party.registration_number),
        "seller postal code": fa(SELLER.party.postal_code),
        "seller phone": fa(SELLER.party.phone),
        "buyer economic code": fa(a_company().economic_code),
        "buyer national ID": fa(a_company().national_id),
        "buyer postal code": fa(a_company().postal_code),
        "quantity (months)": fa(line.quantity),
        "unit price": rials(line.unit_price),
        "amount": rials(line.gross),
        "discount": rials(line.discount),
        "after discount": rials(line.net),
        "VAT": rials(line.vat),
        "total": rials(invoice.total),
        "VAT rate in force": "۱۰٪",
    }
    for what, value in expected_numbers.items():
        assert value in text, f"{what}: {value}"
    assert line.discount.is_positive  # a quarterly period: the discount column is exercised
    assert "ماه" in text
    assert squeeze(f"مبلغ به حروف: {rials_in_words(invoice.total.rials)} ریال") in flat
    assert record.tax_id in text and len(record.tax_id) == 22
    assert REFERENCE in text
    assert "شرکت پارس" in text and "Tehran, Valiasr St., No. 1" in text
    assert SELLER.party.name in text


def test_the_document_is_one_a4_page_with_no_creation_date(official):
    _, _, content, _ = official
    reader = pypdf.PdfReader(io.BytesIO(content))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width) * 25.4 / 72), round(float(box.height) * 25.4 / 72)) == (210, 297)
    assert "/CreationDate" not in (reader.metadata or {})


def test_two_renders_are_byte_identical(official, documents):
    _, invoice, content, _ = official
    assert documents.official_pdf(invoice) == content


@pytest.mark.slow
def test_a_new_process_renders_the_same_bytes_from_the_stored_events(official, tmp_path):
    db, invoice, content, _ = official
    out = tmp_path / "again.pdf"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "invoice",
            "pdf",
            str(invoice.id),
            "--out",
            str(out),
            "--db",
            str(db),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert f"official invoice {invoice.official.number_text}" in result.stdout
    assert out.read_bytes() == content


def test_a_proforma_is_marked_as_such_and_a_paid_invoice_as_paid(documents):
    app = BillingApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    app.define_plan(a_plan(), T0)
    customer = app.register_customer(a_person(), T0)
    invoice_id = app.get_subscription(ordered(app, customer=customer)).invoice_ids[0]
    profile = app.get_customer(customer).profile
    proforma = pdf_text(documents.plain_pdf(app.get_invoice(invoice_id), profile, "سامان ۳۶۰"))
    assert squeeze("پیش‌فاکتور") in squeeze(proforma)

    assert squeeze("سند رسمی نیست") in squeeze(proforma)
    assert rials(app.get_invoice(invoice_id).total) in proforma
    app.record_payment("p-1", 1_100_000, T0 + DAY, invoice_id=invoice_id)
    paid = pdf_text(documents.plain_pdf(app.get_invoice(invoice_id), profile, "سامان ۳۶۰"))
    assert squeeze("پرداخت شده") in squeeze(paid) and "p-1" in paid
    assert squeeze("سند رسمی نیست") not in squeeze(paid)


@pytest.mark.slow
def test_the_cli_refuses_an_official_invoice_for_a_person_with_the_reason(tmp_path):
    db = tmp_path / "b.sqlite"
    app = build_application(database_url=f"sqlite:///{db}")
    app.seller = SELLER
    app.define_plan(a_plan(), T0)
    customer = app.register_customer(a_person(), T0)
    invoice_id = app.get_subscription(ordered(app, customer=customer)).invoice_ids[0]
    app.record_payment("p-1", 1_100_000, T0 + DAY, invoice_id=invoice_id)
    out = tmp_path / "x.pdf"
    result = subprocess.run(
        [sys.executable, "-m", "cli", "invoice", "pdf", str(invoice_id), "--out", str(out)]
        + ["--db", str(db)],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "only to legal entities" in result.stderr
    assert "[official_invoice_refused]" in result.stderr
    assert not out.exists()


def test_a_proration_invoice_prints_its_own_line_in_persian(documents):
    """docs/INVOICES.md, "Proration invoices": the line says from which plan to which, for how
    many of the period's days, not "hosting from … to …" of a whole period."""
    app = BillingApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    customer = app.register_customer(a_person(), T0)
    sub_id = ordered(app, customer=customer)
    app.define_plan(a_plan("pro", monthly_price=2_500_000), T0)
    app.change_plan(sub_id, "pro", T0 + 9 * DAY)
    invoice = app.get_invoice(app.get_subscription(sub_id).invoice_ids[-1])
    html = documents.plain_html(invoice, app.get_customer(customer).profile, "سامان ۳۶۰")
    persian = invoice.lines[0].description.rpartition(" | ")[2]
    assert persian.startswith("ارتقا از طرح Basic") and persian in html
    assert "میزبانی وب‌سایت، طرح" not in html
    text = pdf_text(documents.plain_pdf(invoice, app.get_customer(customer).profile, "سامان ۳۶۰"))
    assert rials(invoice.total) in text


def test_a_side_service_invoice_prints_each_line_as_billed_and_no_hosting_period(documents):
    """docs/INVOICES.md, "Side-service invoices": the plain and the official invoice print the
    biller's description of each line, the unit «عدد», and no hosting plan or period."""
    app = BillingApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    app.seller = SELLER
    app.define_plan(a_plan(), T0)
    customer = app.register_customer(a_company(), T0)
    sub_id = ordered(app, customer=customer)
    lines = [
        {"description": "طراحی لوگو", "unit_price": 5_000_000, "quantity": 1},
        {"description": "ثبت دامنه", "unit_price": 1_500_000, "quantity": 2},
    ]
    invoice_id = app.issue_service_invoice(customer, sub_id, lines, 10, T0 + DAY)
    profile = app.get_customer(customer).profile
    proforma = squeeze(pdf_text(documents.plain_pdf(app.get_invoice(invoice_id), profile, "سامان")))
    for words in ("طراحی لوگو", "ثبت دامنه", "عدد", "خدمات جانبی"):
        assert squeeze(words) in proforma
    assert squeeze("میزبانی وب‌سایت") not in proforma
    app.record_payment(
        "svc-1", app.get_invoice(invoice_id).total.rials, T0 + DAY, invoice_id=invoice_id
    )
    invoice = app.get_invoice(invoice_id)
    assert invoice.official is not None
    official = squeeze(pdf_text(documents.official_pdf(invoice)))
    assert squeeze("طراحی لوگو") in official and squeeze("میزبانی وب‌سایت") not in official
