"""Refunds out of credit, and the cancelling official document a void of an officially
invoiced invoice issues (docs/PAYMENTS.md, "Refunds"; docs/INVOICES.md, "Corrections")."""

import pytest

from domain.base import NoticeKind
from domain.customer import RefundVia
from domain.errors import InvalidInput, InvoiceNotPayable, OfficialInvoiceRefused, RefundRefused
from domain.identifiers import tax_id_valid
from domain.official import CorrectionSubject, OfficialNumberClaim
from tests.builders import DAY, T0, a_company, a_person, a_plan, app_with_seller, ordered


def company_invoice(app, profile=None):
    app.define_plan(a_plan(), T0)
    customer = app.register_customer(profile or a_company(), T0)
    sub_id = ordered(app, customer=customer)
    return customer, app.get_subscription(sub_id).invoice_ids[0]


# --- the cancelling official document ---------------------------------------------------------


def test_voiding_an_officially_invoiced_invoice_issues_the_cancelling_document_in_its_save():
    app = app_with_seller()
    customer, invoice_id = company_invoice(app)
    app.record_payment("p", 1_100_000, T0 + DAY, invoice_id=invoice_id)
    original = app.get_invoice(invoice_id).official
    assert original.number_text == "1405-000001"

    app.void_invoice(invoice_id, "ordered twice", T0 + 2 * DAY)

    invoice = app.get_invoice(invoice_id)
    assert invoice.status.value == "void"
    [correction] = invoice.corrections
    assert correction.subject is CorrectionSubject.CANCELLING
    assert correction.number_text == "1405-000002"  # the same series, the next number
    assert (correction.original_number, correction.original_tax_id) == (
        "1405-000001",
        original.tax_id,
    )
    assert correction.tax_id != original.tax_id and tax_id_valid(correction.tax_id)
    assert correction.amount == invoice.total.rials == 1_100_000
    assert correction.reason == "ordered twice" and correction.issued_at == T0 + 2 * DAY
    # The number is claimed for this invoice, like the original's.
    claim = app.repository.get(OfficialNumberClaim.create_id(1405, 2))
    assert claim.invoice_id == invoice_id
    # What was paid went back to credit, as for every void.
    assert app.get_customer(customer).credit.rials == 1_100_000


def test_numbers_stay_gapless_across_originals_and_corrections():
    app = app_with_seller()
    app.define_plan(a_plan(), T0)
    invoices = []
    for i in range(3):
        customer = app.register_customer(a_company(f"Co {i}"), T0)
        invoice_id = app.get_subscription(ordered(app, customer=customer)).invoice_ids[0]
        app.record_payment(f"r{i}", 1_100_000, T0 + DAY, invoice_id=invoice_id)
        invoices.append(invoice_id)
    app.void_invoice(invoices[1], "wrong plan", T0 + 2 * DAY)
    with pytest.raises(InvoiceNotPayable):  # voided already: nothing more is issued
        app.void_invoice(invoices[1], "wrong plan", T0 + 3 * DAY)
    customer = app.register_customer(a_company("Co 4"), T0 + 3 * DAY)
    fourth = app.get_subscription(ordered(app, customer=customer, at=T0 + 3 * DAY)).invoice_ids[0]
    app.record_payment("r4", 1_100_000, T0 + 4 * DAY, invoice_id=fourth)
    numbers = sorted(
        [app.get_invoice(i).official.number for i in [*invoices, fourth]]
        + [c.number for i in invoices for c in app.get_invoice(i).corrections]
    )
    assert numbers == [1, 2, 3, 4, 5]
    assert app.get_invoice(invoices[1]).corrections[0].number == 4


def test_without_the_seller_configured_the_void_is_refused_and_nothing_recorded():
    app = app_with_seller()
    _, invoice_id = company_invoice(app)
    app.record_payment("p", 1_100_000, T0 + DAY, invoice_id=invoice_id)
    version = app.get_invoice(invoice_id).version
    app.seller = None  # the operator removed the seller's settings since
    with pytest.raises(OfficialInvoiceRefused, match="BILLING_SELLER_NAME"):
        app.void_invoice(invoice_id, "mistake", T0 + 2 * DAY)
    assert app.get_invoice(invoice_id).version == version


def test_a_persons_void_issues_no_official_document():
    app = app_with_seller()
    _, invoice_id = company_invoice(app, a_person())
    app.record_payment("p", 1_100_000, T0 + DAY, invoice_id=invoice_id)
    app.void_invoice(invoice_id, "mistake", T0 + 2 * DAY)
    assert app.get_invoice(invoice_id).corrections == []


# --- refunds ----------------------------------------------------------------------------------


def test_a_refund_comes_out_of_credit_once_per_bank_reference_and_the_customer_is_told():
    app = app_with_seller()
    customer, invoice_id = company_invoice(app, a_person())
    app.record_payment("p", 1_500_000, T0 + DAY, invoice_id=invoice_id)  # 400,000 left as credit
    assert app.get_customer(customer).credit.rials == 400_000

    outcome = app.refund_credit(
        customer, 300_000, "asked back", "BT-1", T0 + 2 * DAY, notice_invoice_id=invoice_id
    )
    assert (outcome.amount, outcome.credit, outcome.recorded) == (300_000, 100_000, True)
    again = app.refund_credit(
        customer, 300_000, "asked back", "BT-1", T0 + 3 * DAY, notice_invoice_id=invoice_id
    )
    assert (again.credit, again.recorded) == (100_000, False)
    refund = app.get_customer(customer).refunds["BT-1"]
    assert (refund.amount.rials, refund.via, refund.payment_reference) == (
        300_000,
        RefundVia.TRANSFER,
        None,
    )
    [notice] = app.get_invoice(invoice_id).notices_of(NoticeKind.REFUND_SENT)
    assert notice.facts["amount"] == 300_000 and notice.facts["credit"] == 100_000

    with pytest.raises(RefundRefused, match="more than is refundable") as refusal:
        app.refund_credit(
            customer, 100_001, "more", "BT-2", T0 + 3 * DAY, notice_invoice_id=invoice_id
        )
    assert refusal.value.details["reason"] == "over_refundable"
    assert refusal.value.details["refundable"] == 100_000
    with pytest.raises(RefundRefused) as refusal:
        app.refund_credit(
            customer, 50_000, "other", "BT-1", T0 + 3 * DAY, notice_invoice_id=invoice_id
        )
    assert refusal.value.details["reason"] == "bank_reference_used"


def test_a_payment_that_paid_an_invoice_is_refundable_only_once_the_invoice_is_voided():
    app = app_with_seller()
    customer, invoice_id = company_invoice(app, a_person())
    app.record_payment("p-1", 1_100_000, T0 + DAY, invoice_id=invoice_id)
    with pytest.raises(RefundRefused, match="void it first") as refusal:
        app.refund_payment(
            invoice_id,
            "p-1",
            None,
            "cancelled",
            RefundVia.TRANSFER,
            T0 + DAY,
            bank_reference="BT-9",
        )
    assert refusal.value.details["refundable"] == 0
    app.void_invoice(invoice_id, "cancelled order", T0 + 2 * DAY)
    outcome = app.refund_payment(
        invoice_id,
        "p-1",
        600_000,
        "cancelled",
        RefundVia.TRANSFER,
        T0 + 2 * DAY,
        bank_reference="BT-9",
    )
    assert (outcome.amount, outcome.credit) == (600_000, 500_000)
    # The rest of the payment, at most: what is left of it.
    with pytest.raises(RefundRefused):
        app.refund_payment(
            invoice_id,
            "p-1",
            500_001,
            "rest",
            RefundVia.TRANSFER,
            T0 + 2 * DAY,
            bank_reference="BT-10",
        )
    rest = app.refund_payment(
        invoice_id, "p-1", None, "rest", RefundVia.TRANSFER, T0 + 2 * DAY, bank_reference="BT-10"
    )
    assert (rest.amount, rest.credit) == (500_000, 0)
    again = app.refund_payment(
        invoice_id, "p-1", None, "rest", RefundVia.TRANSFER, T0 + 3 * DAY, bank_reference="BT-10"
    )  # a retry, the amount left out as the first time
    assert (again.amount, again.credit, again.recorded) == (500_000, 0, False)
    assert app.get_customer(customer).refunded_of("p-1").rials == 1_100_000


def test_a_payment_refund_names_a_payment_of_the_invoice_and_a_transfer_its_reference():
    app = app_with_seller()
    _, invoice_id = company_invoice(app, a_person())
    app.record_payment("p-1", 1_500_000, T0 + DAY, invoice_id=invoice_id)
    with pytest.raises(RefundRefused) as refusal:
        app.refund_payment(
            invoice_id, "nope", None, "x", RefundVia.TRANSFER, T0 + DAY, bank_reference="B"
        )
    assert refusal.value.details["reason"] == "unknown_payment"
    with pytest.raises(InvalidInput, match="bank_reference is required"):
        app.refund_payment(invoice_id, "p-1", 1_000, "x", RefundVia.TRANSFER, T0 + DAY)
    with pytest.raises(RefundRefused) as refusal:
        app.refund_payment(invoice_id, "p-1", None, "x", RefundVia.GATEWAY, T0 + DAY)
    assert refusal.value.details["reason"] == "not_a_gateway_payment"


def test_under_four_eyes_the_cancelling_document_comes_with_the_second_persons_void():
    from domain.actor import Actor, ActorKind
    from domain.four_eyes import FourEyes
    from domain.invoice import Invoice
    from service_layer.finance_actions import VoidOutcome

    maryam = Actor(ActorKind.STAFF, id="s-1", name="Maryam", role="finance")
    reza = Actor(ActorKind.STAFF, id="s-2", name="Reza", role="finance")
    app = app_with_seller()
    app.four_eyes = FourEyes(enabled=True, void_above=500_000)
    _, invoice_id = company_invoice(app)
    app.record_payment("p", 1_100_000, T0 + DAY, invoice_id=invoice_id)
    proposed = app.acting(maryam).void_invoice(invoice_id, "wrong company", T0 + 2 * DAY)
    assert proposed is VoidOutcome.PROPOSED
    assert app.get_invoice(invoice_id).corrections == []  # proposed only: no document yet
    voided = app.acting(reza).void_invoice(invoice_id, "wrong company", T0 + 3 * DAY)
    assert voided is VoidOutcome.VOIDED
    [correction] = app.get_invoice(invoice_id).corrections
    assert correction.number_text == "1405-000002" and correction.issued_at == T0 + 3 * DAY
    recorded = [
        e for e in app.events.get(invoice_id) if isinstance(e, Invoice.OfficialCorrectionIssued)
    ]
    assert recorded[0].actor["id"] == "s-2"  # the second person's, with their void


def test_a_refund_is_recorded_with_the_person_who_made_it():
    from domain.actor import Actor, ActorKind, recorded_actor
    from domain.customer import Customer

    maryam = Actor(ActorKind.STAFF, id="s-1", name="Maryam", role="finance")
    app = app_with_seller()
    customer, invoice_id = company_invoice(app, a_person())
    app.record_payment("p", 1_200_000, T0 + DAY, invoice_id=invoice_id)
    app.acting(maryam).refund_credit(
        customer, 100_000, "asked back", "BT-1", T0 + 2 * DAY, notice_invoice_id=invoice_id
    )
    [refund] = [e for e in app.events.get(customer) if isinstance(e, Customer.CreditRefunded)]
    assert recorded_actor(refund) == maryam
    assert (refund.amount, refund.via, refund.bank_reference) == (100_000, "transfer", "BT-1")
