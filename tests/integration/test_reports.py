"""Finance reports from each invoice's state as of the moment asked (docs/AUDIT.md)."""

from __future__ import annotations

import contextlib
import io

import cli
from bootstrap import build_application, build_read_models
from projections.reports import aging
from tests.builders import DAY, T0, a_company, a_plan

DEADLINE = T0 + 30 * DAY


def _company_invoice(url: str):
    app = build_application(database_url=url)
    app.define_plan(a_plan(), T0)
    customer = app.register_customer(a_company(), T0)
    subscription = app.start_subscription(customer, "basic", "monthly", T0)
    return app, app.get_subscription(subscription).invoice_ids[0]


def test_an_invoice_paid_after_an_extension_is_not_aged(tmp_path):
    """Company order, offline request, approval (the deadline moves), receipt, confirmation:
    the invoice is paid, so no aging report lists it, whichever moment it is asked about.
    Before, the ledger's rows were grouped by the deadline each carried, and the extension
    split the invoice in two: the report showed it 31-60 days overdue."""
    url = f"sqlite:///{tmp_path}/aging.sqlite"
    app, invoice = _company_invoice(url)
    request = app.request_offline_payment(invoice, "treasury pays by transfer", T0 + DAY)
    app.decide_offline_payment(invoice, request, T0 + 2 * DAY, approve=True, extension_days=7)
    receipt = app.register_receipt(
        invoice,
        bank="017",
        tracking_number="123456789",
        amount=1_100_000,
        paid_on="1405/01/20",
        now=T0 + 3 * DAY,
    )
    app.decide_receipt(invoice, receipt, T0 + 4 * DAY, confirm=True)
    assert app.get_invoice(invoice).balance.rials == 0
    read_models = build_read_models(app, database_url=url)
    read_models.catch_up()

    for as_of in (T0 + 3 * DAY, T0 + 70 * DAY, T0 + 400 * DAY):
        report = aging(read_models, as_of)
        listed = [row["invoice_id"] for row in report.invoices]
        if as_of < T0 + 4 * DAY:  # before the receipt was confirmed: open, not yet due
            assert listed == [str(invoice)] and report.totals["current"] == 1_100_000
        else:
            assert listed == [] and report.total == 0, report
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(
            ["reports", "aging", "--as-of", "2026-06-15T00:00:00Z", "--format", "csv", "--db", url]
        )
    assert code == 0
    assert out.getvalue().splitlines()[1:] == [
        "current,0",
        "1-30,0",
        "31-60,0",
        "61-90,0",
        "90+,0",
        "total,0",
    ]


def test_an_open_invoice_is_aged_from_its_deadline_as_it_stood_then(tmp_path):
    """The extension counts from the moment it was recorded: before it, the old deadline."""
    url = f"sqlite:///{tmp_path}/aging.sqlite"
    app, invoice = _company_invoice(url)
    request = app.request_offline_payment(invoice, "transfer", T0 + DAY)
    approved_at = DEADLINE + 2 * DAY  # late: the invoice was 2 days overdue
    app.decide_offline_payment(invoice, request, approved_at, approve=True, extension_days=7)
    read_models = build_read_models(app, database_url=url)
    read_models.catch_up()

    def row(as_of):
        (found,) = [
            r for r in aging(read_models, as_of).invoices if r["invoice_id"] == str(invoice)
        ]
        return found["bucket"], found["deadline"][:10], found["balance"]

    assert row(approved_at - DAY) == ("1-30", "2026-05-04", 1_100_000)  # the first deadline
    assert row(approved_at + DAY) == ("current", "2026-05-13", 1_100_000)  # moved by 7 days
    assert row(approved_at + 9 * DAY) == ("1-30", "2026-05-13", 1_100_000)
