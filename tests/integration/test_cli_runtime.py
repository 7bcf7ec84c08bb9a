"""The CLI's commands run on the composition root's runtime: its clock, its documents, its
stores. In test mode that clock is the one kept in the store, shared by every process."""

from __future__ import annotations

import contextlib
import io

import cli
from bootstrap import build_application
from tests.builders import DAY, T0, a_company, a_plan, ordered

PAID_AT = T0 + 2 * DAY
STORED_NOW = T0 + 9 * DAY  # the test clock's moment: long before the wall clock's

SELLER_ENV = {
    "BILLING_SELLER_NAME": "شرکت سامان ۳۶۰",
    "BILLING_SELLER_ECONOMIC_CODE": "10380284790",
    "BILLING_SELLER_NATIONAL_ID": "10380284790",
    "BILLING_SELLER_REGISTRATION_NUMBER": "556677",
    "BILLING_SELLER_POSTAL_CODE": "1193653471",
    "BILLING_SELLER_ADDRESS": "تهران، خیابان آزادی، پلاک ۱۰",
    "BILLING_SELLER_PHONE": "02166554433",
    "BILLING_TAX_MEMORY_ID": "def5gh",
}


def _paid_company_invoice(url: str):
    """A legal entity's invoice paid while no seller was configured: no official invoice yet."""
    app = build_application(database_url=url)
    plan = a_plan("business", 2_500_000)
    app.define_plan(plan, T0)
    customer = app.register_customer(a_company("شرکت پارس"), T0)
    invoice_id = app.get_subscription(ordered(app, customer=customer, plan=plan)).invoice_ids[0]
    total = app.get_invoice(invoice_id).total.rials
    app.record_payment("A" * 30 + "0001", total, PAID_AT, invoice_id=invoice_id)
    assert app.get_invoice(invoice_id).official is None
    app.close()
    return invoice_id


def _run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = cli.main(argv)
    return code, out.getvalue()


def test_invoice_official_is_stamped_by_the_test_clock_in_test_mode(tmp_path, monkeypatch):
    """`billing invoice official` used to stamp the wall clock even in test mode."""
    url = f"sqlite:///{tmp_path}/official.sqlite"
    invoice_id = _paid_company_invoice(url)
    for name, value in SELLER_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BILLING_TEST_MODE", "1")
    monkeypatch.setenv("BILLING_TEST_CLOCK_START", STORED_NOW.isoformat())

    code, text = _run(["invoice", "official", str(invoice_id), "--db", url])

    assert code == 0, text
    assert f"issued {STORED_NOW.isoformat()}" in text
    app = build_application(database_url=url)
    assert app.get_invoice(invoice_id).official.issued_at == STORED_NOW
    app.close()
