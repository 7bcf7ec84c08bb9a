"""The actor on every event (docs/AUDIT.md, "Actors") and the four-eyes rule (docs/SECURITY.md)."""

import pytest

from domain.actor import SCHEDULER, UNKNOWN, Actor, ActorKind, recorded_actor
from domain.errors import FourEyesRequired
from domain.four_eyes import FourEyes
from domain.invoice import InvoiceStatus
from service_layer.audit import explain
from service_layer.finance_actions import VoidOutcome
from tests.builders import DAY, T0, a_company, a_plan, in_memory_app, ordered

MARYAM = Actor(ActorKind.STAFF, id="s-1", name="مریم کریمی", role="finance")
REZA = Actor(ActorKind.STAFF, id="s-2", name="Reza Tehrani", role="finance")
CUSTOMER = Actor(ActorKind.CUSTOMER, id="c-1", role="customer")


def company_invoice(four_eyes: FourEyes | None = None):
    app = in_memory_app()
    if four_eyes is not None:
        app.four_eyes = four_eyes
    app.define_plan(a_plan(), T0)
    customer = app.register_customer(a_company(), T0)
    sub_id = ordered(app, customer=customer)
    return app, sub_id, app.get_subscription(sub_id).invoice_ids[0]


def actors_of(app, aggregate_id) -> list[tuple[str, Actor]]:
    return [(type(e).__name__, recorded_actor(e)) for e in app.events.get(aggregate_id)]


def approved_receipt(app, invoice_id, approver: Actor):
    request_id = app.acting(CUSTOMER).request_offline_payment(invoice_id, "transfer", T0 + DAY)
    app.acting(approver).decide_offline_payment(invoice_id, request_id, T0 + DAY, approve=True)
    return app.acting(CUSTOMER).register_receipt(
        invoice_id,
        bank="017",
        tracking_number="4455",
        amount=app.get_invoice(invoice_id).balance.rials,
        paid_on="1405/02/01",
        now=T0 + 2 * DAY,
    )


def test_each_event_records_the_actor_of_the_command_that_saved_it():
    app, sub_id, invoice_id = company_invoice()
    receipt_id = approved_receipt(app, invoice_id, MARYAM)
    app.acting(REZA).decide_receipt(invoice_id, receipt_id, T0 + 3 * DAY, confirm=True)
    by_event = dict(actors_of(app, invoice_id))
    assert by_event["OfflinePaymentRequested"] == CUSTOMER
    assert by_event["OfflinePaymentApproved"] == MARYAM
    assert by_event["ReceiptRegistered"] == CUSTOMER
    assert by_event["ReceiptConfirmed"] == REZA
    assert by_event["PaymentRecorded"] == REZA
    # A command run without an actor (a caller that did not say) records "unknown", never a guess.
    assert by_event["InvoiceIssued"] == UNKNOWN


def test_steps_that_fell_due_before_a_command_are_the_schedulers_not_the_callers():
    app, sub_id, invoice_id = company_invoice()
    # Forty days on, the grace period started long ago; the payment catches the subscription up
    # first, and that catch-up is time's doing.
    amount = app.get_invoice(invoice_id).balance.rials
    app.acting(MARYAM).record_payment("bank:1", amount, T0 + 40 * DAY, subscription_id=sub_id)
    actors = actors_of(app, sub_id)
    assert ("GraceStarted", SCHEDULER) in actors
    assert ("InvoicesSettled", MARYAM) in actors
    assert dict(actors_of(app, invoice_id))["PaymentRecorded"] == MARYAM


def test_the_acting_application_forwards_attributes_and_leaves_the_original_alone():
    app, _, _ = company_invoice()
    acting = app.acting(MARYAM)
    assert acting.actor == MARYAM and app.actor == UNKNOWN
    assert acting.acting(REZA).actor == REZA
    assert acting.vat is app.vat


def test_four_eyes_off_one_person_may_approve_and_confirm():
    app, _, invoice_id = company_invoice()
    receipt_id = approved_receipt(app, invoice_id, MARYAM)
    app.acting(MARYAM).decide_receipt(invoice_id, receipt_id, T0 + 3 * DAY, confirm=True)
    assert app.get_invoice(invoice_id).status is InvoiceStatus.PAID


def test_four_eyes_the_approver_cannot_confirm_the_receipt_and_nothing_is_recorded():
    app, _, invoice_id = company_invoice(FourEyes(enabled=True))
    receipt_id = approved_receipt(app, invoice_id, MARYAM)
    before = app.get_invoice(invoice_id).version
    with pytest.raises(FourEyesRequired, match="approved its offline payment request") as refused:
        app.acting(MARYAM).decide_receipt(invoice_id, receipt_id, T0 + 3 * DAY, confirm=True)
    assert refused.value.code == "four_eyes_required"
    assert "مریم کریمی" in refused.value.message
    assert app.get_invoice(invoice_id).version == before
    # A second person confirms it.
    app.acting(REZA).decide_receipt(invoice_id, receipt_id, T0 + 3 * DAY, confirm=True)
    assert app.get_invoice(invoice_id).status is InvoiceStatus.PAID


def test_four_eyes_a_large_void_takes_two_people():
    app, sub_id, invoice_id = company_invoice(FourEyes(enabled=True, void_above=500_000))
    first = app.acting(MARYAM).void_invoice(invoice_id, "issued twice", T0 + DAY)
    assert first is VoidOutcome.PROPOSED
    invoice = app.get_invoice(invoice_id)
    assert invoice.status is not InvoiceStatus.VOID and invoice.void_proposal is not None
    with pytest.raises(FourEyesRequired, match="voided by two people"):
        app.acting(MARYAM).void_invoice(invoice_id, "issued twice", T0 + DAY)
    second = app.acting(REZA).void_invoice(invoice_id, "issued twice, checked", T0 + 2 * DAY)
    assert second is VoidOutcome.VOIDED
    assert app.get_invoice(invoice_id).status is InvoiceStatus.VOID
    by_event = dict(actors_of(app, invoice_id))
    assert (by_event["VoidProposed"], by_event["InvoiceVoided"]) == (MARYAM, REZA)
    why = explain(app, invoice_id, T0 + 3 * DAY)
    assert "by Reza Tehrani, finance, as proposed by مریم کریمی, finance" in why.english
    record = explain(app, sub_id, T0 + 3 * DAY).english
    assert "proposed (four eyes) by مریم کریمی, finance" in record


def test_four_eyes_a_void_at_or_below_the_amount_takes_one_person():
    app, _, invoice_id = company_invoice(FourEyes(enabled=True, void_above=10**12))
    assert app.acting(MARYAM).void_invoice(invoice_id, "mistake", T0 + DAY) is VoidOutcome.VOIDED


def test_unknown_actors_never_count_as_the_same_person():
    rule = FourEyes(enabled=True)
    rule.check_second_person(UNKNOWN, UNKNOWN, "test")  # nobody is named: nothing to compare
    rule.check_second_person(MARYAM, REZA, "test")
    with pytest.raises(FourEyesRequired):
        rule.check_second_person(MARYAM, MARYAM, "test")
