"""Returns from sale and credit notes (docs/INVOICES.md, "Returns from sale", "Credit notes"):
the rules the HTTP tests do not reach."""

import pytest

from domain.errors import OfficialInvoiceRefused, ReturnRefused
from tests.builders import DAY, SELLER, T0, a_company, a_person, a_plan, app_with_seller, ordered


def paid_invoice(app, profile):
    app.define_plan(a_plan(), T0)
    customer = app.register_customer(profile, T0)
    invoice_id = app.get_subscription(ordered(app, customer=customer)).invoice_ids[0]
    app.record_payment("p", 1_100_000, T0 + DAY, invoice_id=invoice_id)
    return customer, invoice_id


def test_a_return_needs_the_sellers_settings_for_its_official_document():
    app = app_with_seller()
    customer, invoice_id = paid_invoice(app, a_company())
    assert app.get_invoice(invoice_id).official is not None
    app.seller = None
    with pytest.raises(OfficialInvoiceRefused) as refused:
        app.return_sale(invoice_id, 100_000, "not delivered", T0 + 2 * DAY)
    assert refused.value.details["reason"] == "seller_not_configured"
    # Nothing was recorded: no return, no credit.
    assert app.get_invoice(invoice_id).returns == []
    assert app.get_customer(customer).credit.rials == 0


def test_an_invoice_returned_before_its_official_invoice_never_gets_one():
    app = app_with_seller(None)  # no seller: the paid invoice gets no official one
    _, invoice_id = paid_invoice(app, a_company())
    outcome = app.return_sale(invoice_id, 100_000, "not delivered", T0 + 2 * DAY)
    assert (outcome.document, outcome.credit_note) == (None, 1)
    app.seller = SELLER
    with pytest.raises(OfficialInvoiceRefused) as refused:
        app.issue_official_invoice(invoice_id, T0 + 3 * DAY)
    assert refused.value.details["reason"] == "returned_before_issue"
    # Nor does a later command on it issue one by itself.
    app.return_sale(invoice_id, 100_000, "again", T0 + 3 * DAY)
    invoice = app.get_invoice(invoice_id)
    assert invoice.official is None and [n.number for n in invoice.credit_notes] == [1, 2]


def test_returns_never_exceed_what_was_paid_and_a_void_credits_only_the_rest():
    app = app_with_seller(None)
    customer, invoice_id = paid_invoice(app, a_person())
    app.return_sale(invoice_id, 1_000_000, "most of it", T0 + 2 * DAY)
    with pytest.raises(ReturnRefused) as refused:
        app.return_sale(invoice_id, 100_001, "too much", T0 + 2 * DAY)
    assert refused.value.details["returnable"] == 100_000
    app.void_invoice(invoice_id, "closed", T0 + 3 * DAY)
    invoice = app.get_invoice(invoice_id)
    assert [(n.cause, n.amount.rials) for n in invoice.credit_notes] == [
        ("return", 1_000_000),
        ("void", 100_000),
    ]
    assert app.get_customer(customer).credit.rials == 1_100_000  # paid, all back, once


def test_a_void_that_credits_nothing_has_no_credit_note_nor_does_a_collections():
    app = app_with_seller(None)
    app.define_plan(a_plan(), T0)
    customer = app.register_customer(a_person(), T0)
    invoice_id = app.get_subscription(ordered(app, customer=customer)).invoice_ids[0]
    app.void_invoice(invoice_id, "never used", T0 + DAY)  # nothing paid on it
    assert app.get_invoice(invoice_id).credit_notes == []
    # A collection's void writes the balance off and keeps what was paid: nothing credited.
    other = app.get_subscription(ordered(app, customer=customer)).invoice_ids[0]
    app.record_payment("part", 500_000, T0 + DAY, invoice_id=other)
    invoice = app.get_invoice(other)
    invoice.void("collected", T0 + 40 * DAY, due_at=T0 + 40 * DAY)
    assert invoice.credit_notes_due == []
