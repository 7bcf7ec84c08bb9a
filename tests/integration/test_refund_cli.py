"""`billing refund credit|payment`: the same rules as the routes, on the runtime's clock, with
a refusal printed as a message and a non-zero exit."""

from __future__ import annotations

import contextlib
import io

import cli
from bootstrap import build_application
from tests.builders import DAY, T0, a_person, a_plan, ordered

STORED_NOW = T0 + 9 * DAY


def _run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = cli.main(argv)
    return code, out.getvalue()


def test_refunds_from_the_console(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path}/refunds.sqlite"
    app = build_application(database_url=url)
    app.define_plan(a_plan(), T0)
    customer = app.register_customer(a_person(), T0)
    invoice = app.get_subscription(ordered(app, customer=customer)).invoice_ids[0]
    app.record_payment("BANK-1", 1_500_000, T0 + DAY, invoice_id=invoice)  # 400,000 credit
    app.close()
    monkeypatch.setenv("BILLING_TEST_MODE", "1")
    monkeypatch.setenv("BILLING_TEST_CLOCK_START", STORED_NOW.isoformat())

    code, text = _run(
        ["refund", "credit", str(customer), "100000", "--reason", "asked",
         "--bank-reference", "PAYA-1", "--db", url]
    )  # fmt: skip
    assert code == 0, text
    assert "100,000 rials" in text and "credit now 300,000 rials" in text

    code, text = _run(
        ["refund", "payment", str(invoice), "BANK-1", "--via", "transfer", "--amount", "400000",
         "--reason", "rest", "--bank-reference", "PAYA-2", "--db", url]
    )  # fmt: skip
    assert code != 0 and "refund_refused" in text and "more than is refundable" in text

    code, text = _run(
        ["refund", "payment", str(invoice), "BANK-1", "--via", "gateway", "--reason", "rest",
         "--db", url]
    )  # fmt: skip
    assert code != 0 and "not made through the gateway" in text

    app = build_application(database_url=url)
    refund = app.get_customer(customer).refunds["PAYA-1"]
    assert refund.refunded_at == STORED_NOW and app.get_customer(customer).credit.rials == 300_000
    app.close()


def test_the_cancelling_document_is_written_from_the_console(tmp_path, monkeypatch):
    from tests.builders import SELLER, a_company
    from tests.documents.pdftext import pdf_text
    from tests.integration.test_cli_runtime import SELLER_ENV

    url = f"sqlite:///{tmp_path}/void.sqlite"
    app = build_application(database_url=url)
    app.seller = SELLER
    app.define_plan(a_plan(), T0)
    customer = app.register_customer(a_company(), T0)
    invoice = app.get_subscription(ordered(app, customer=customer)).invoice_ids[0]
    app.record_payment("BANK-1", 1_100_000, T0 + DAY, invoice_id=invoice)
    app.void_invoice(invoice, "wrong company", T0 + 2 * DAY)
    app.close()
    for name, value in SELLER_ENV.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "cancelling.pdf"

    code, text = _run(
        ["invoice", "pdf", str(invoice), "--correction", "1405-000002", "--out", str(out),
         "--db", url]
    )  # fmt: skip
    assert code == 0, text
    assert "cancelling official document 1405-000002" in text
    assert "ابطالی" in pdf_text(out.read_bytes())
    code, text = _run(
        ["invoice", "pdf", str(invoice), "--correction", "1405-000009", "--out", str(out),
         "--db", url]
    )  # fmt: skip
    assert code != 0 and "1405-000002" in text


def test_a_return_and_its_credit_note_from_the_console(tmp_path, monkeypatch):
    from tests.documents.pdftext import pdf_text

    url = f"sqlite:///{tmp_path}/returns.sqlite"
    app = build_application(database_url=url)
    app.define_plan(a_plan(), T0)
    customer = app.register_customer(a_person(), T0)
    invoice = app.get_subscription(ordered(app, customer=customer)).invoice_ids[0]
    app.record_payment("BANK-1", 1_100_000, T0 + DAY, invoice_id=invoice)  # paid in full
    app.close()
    monkeypatch.setenv("BILLING_TEST_MODE", "1")
    monkeypatch.setenv("BILLING_TEST_CLOCK_START", STORED_NOW.isoformat())

    code, text = _run(
        ["invoice", "return", str(invoice), "440000", "--reason", "not delivered", "--db", url]
    )  # fmt: skip
    assert code == 0, text
    assert "return 1 of 440,000 rials (VAT 40,000)" in text and "credit note 1" in text
    assert "credit now 440,000 rials, 660,000 left to return" in text

    code, text = _run(
        ["invoice", "return", str(invoice), "660001", "--reason", "too much", "--db", url]
    )  # fmt: skip
    assert code != 0 and "return_refused" in text and "more than is left to return" in text

    out = tmp_path / "credit-note.pdf"
    code, text = _run(
        ["invoice", "pdf", str(invoice), "--credit-note", "1", "--out", str(out), "--db", url]
    )  # fmt: skip
    assert code == 0, text
    written = pdf_text(out.read_bytes())
    assert "یادداشت بستانکاری" in written and "برگشت از فروش" in written
    code, text = _run(
        ["invoice", "pdf", str(invoice), "--credit-note", "2", "--out", str(out), "--db", url]
    )  # fmt: skip
    assert code != 0 and "credit_note_not_found" in text

    app = build_application(database_url=url)
    [returned] = app.get_invoice(invoice).returns
    assert returned.recorded_at == STORED_NOW and app.get_customer(customer).credit.rials == 440_000
    app.close()
