"""Offline payments, receipts under review, enforcement holds and voids (docs/LIFECYCLE.md, docs/PAYMENTS.md)."""

import pytest

from domain import lifecycle
from domain.errors import (
    HoldRefused,
    InvoiceNotPayable,
    OfflineRequestRefused,
    TrackingNumberUsed,
)
from domain.invoice import InvoiceStatus
from domain.subscription import SiteState, SubscriptionStatus
from tests.builders import DAY, HOUR, T0, a_company, in_memory_app, ordered, run_clock

DEADLINE = T0 + 30 * DAY


def company_subscription():
    app = in_memory_app()
    from tests.builders import a_plan

    app.define_plan(a_plan(), T0)
    customer = app.register_customer(a_company(), T0)
    sub_id = ordered(app, customer=customer)
    return app, sub_id, app.get_subscription(sub_id).invoice_ids[0]


def test_an_approved_offline_request_moves_the_deadline_by_the_setting():
    app, sub_id, invoice_id = company_subscription()
    request_id = app.request_offline_payment(invoice_id, "treasury pays by transfer", T0 + DAY)
    app.decide_offline_payment(invoice_id, request_id, T0 + 2 * DAY, approve=True, extension_days=7)
    assert app.get_invoice(invoice_id).deadline == DEADLINE + 7 * DAY


def test_a_request_for_an_invoice_voided_meanwhile_is_rejected_not_approved():
    app, sub_id, invoice_id = company_subscription()
    request_id = app.request_offline_payment(invoice_id, "transfer", T0 + DAY)
    app.void_invoice(invoice_id, "issued by mistake", T0 + 2 * DAY)
    before = app.get_invoice(invoice_id)
    with pytest.raises(InvoiceNotPayable, match="voided .* Reject it instead") as refused:
        app.decide_offline_payment(invoice_id, request_id, T0 + 3 * DAY, approve=True)
    assert refused.value.code == "invoice_not_payable"
    after = app.get_invoice(invoice_id)
    assert (after.version, after.deadline) == (before.version, before.deadline)  # nothing saved
    app.decide_offline_payment(
        invoice_id, request_id, T0 + 3 * DAY, approve=False, reason="the invoice was voided"
    )
    assert app.get_invoice(invoice_id).offline_requests[request_id].status.value == "rejected"


def test_a_receipt_needs_an_approved_request_and_a_tracking_number_counts_once():
    app, sub_id, invoice_id = company_subscription()
    with pytest.raises(OfflineRequestRefused, match="no approved offline payment request"):
        app.register_receipt(
            invoice_id,
            bank="017",
            tracking_number="1111",
            amount=1_100_000,
            paid_on="1405/02/01",
            now=T0 + DAY,
        )
    request_id = app.request_offline_payment(invoice_id, "transfer", T0 + DAY)
    app.decide_offline_payment(invoice_id, request_id, T0 + DAY, approve=True)
    app.register_receipt(
        invoice_id,
        bank="017",
        tracking_number="1111",
        amount=500_000,
        paid_on="1405/02/01",
        now=T0 + DAY,
    )
    with pytest.raises(TrackingNumberUsed, match="already registered"):
        app.register_receipt(
            invoice_id,
            bank=" 017 ",
            tracking_number="1 1-1 1",
            amount=600_000,
            paid_on="1405/02/01",
            now=T0 + DAY,
        )


def test_a_receipt_under_review_pauses_suspension_for_at_most_the_review_days():
    app, sub_id, invoice_id = company_subscription()
    request_id = app.request_offline_payment(invoice_id, "transfer", T0 + DAY)
    app.decide_offline_payment(invoice_id, request_id, T0 + DAY, approve=True, extension_days=0)
    registered = DEADLINE + 2 * DAY  # in grace
    run_clock(app, T0 + DAY, registered, step=6 * HOUR)
    app.register_receipt(
        invoice_id,
        bank="017",
        tracking_number="2222",
        amount=1_100_000,
        paid_on="1405/02/15",
        now=registered,
    )
    run_clock(app, registered, registered + 3 * DAY - HOUR, step=HOUR)
    assert app.get_subscription(sub_id).site_state is SiteState.UP  # paused while finance decides
    run_clock(app, registered + 3 * DAY - HOUR, registered + 3 * DAY + HOUR, step=HOUR)
    assert (
        app.get_subscription(sub_id).site_state is SiteState.SUSPENDED
    )  # the review window ran out


def test_a_confirmed_receipt_pays_and_restores_a_rejected_one_pays_nothing_and_gives_a_day():
    app, sub_id, invoice_id = company_subscription()
    request_id = app.request_offline_payment(invoice_id, "transfer", T0 + DAY)
    app.decide_offline_payment(invoice_id, request_id, T0 + DAY, approve=True, extension_days=0)
    run_clock(app, T0 + DAY, DEADLINE + 5 * DAY, step=6 * HOUR)
    assert app.get_subscription(sub_id).site_state is SiteState.SUSPENDED
    now = DEADLINE + 5 * DAY
    bad = app.register_receipt(
        invoice_id,
        bank="017",
        tracking_number="3333",
        amount=1_100_000,
        paid_on="1405/02/18",
        now=now,
    )
    app.decide_receipt(invoice_id, bad, now + HOUR, confirm=False, reason="no such transfer")
    assert app.get_invoice(invoice_id).paid.rials == 0
    assert app.get_invoice(invoice_id).notices[-1].kind.value == "receipt_rejected"
    good = app.register_receipt(
        invoice_id,
        bank="017",
        tracking_number="4444",
        amount=1_100_000,
        paid_on="1405/02/19",
        now=now + 2 * HOUR,
    )
    outcome = app.decide_receipt(invoice_id, good, now + 3 * HOUR, confirm=True)
    assert outcome.restored and app.get_invoice(invoice_id).status is InvoiceStatus.PAID


def test_a_hold_stops_suspension_and_collection_and_its_end_gives_a_day_after_notice():
    app, sub_id, invoice_id = company_subscription()
    until = DEADLINE + 10 * DAY
    app.place_hold(sub_id, "court order", until, T0 + DAY)
    run_clock(app, T0 + DAY, until - HOUR, step=6 * HOUR)
    sub = app.get_subscription(sub_id)
    assert sub.site_state is SiteState.UP and sub.status is SubscriptionStatus.GRACE
    steps = [e.step.step for e in run_clock(app, until - HOUR, until + 23 * HOUR, step=HOUR)]
    assert lifecycle.Step.END_HOLD in steps and lifecycle.Step.SUSPEND not in steps
    assert app.get_subscription(sub_id).notices[-1].kind.value == "hold_ended"
    assert [
        e.step.step for e in run_clock(app, until + 23 * HOUR, until + 25 * HOUR, step=HOUR)
    ] == [lifecycle.Step.SUSPEND]


def test_a_hold_must_end_in_the_future_and_can_be_lifted_early():
    app, sub_id, _ = company_subscription()
    with pytest.raises(HoldRefused, match="in the future"):
        app.place_hold(sub_id, "x", T0, T0 + DAY)
    app.place_hold(sub_id, "dispute", T0 + 90 * DAY, T0 + DAY)
    app.lift_hold(sub_id, "resolved", T0 + 2 * DAY)
    assert app.get_subscription(sub_id).hold is None


def test_voiding_the_overdue_invoice_restores_the_site_and_it_is_no_longer_owed():
    app, sub_id, invoice_id = company_subscription()
    run_clock(app, T0, DEADLINE + 4 * DAY, step=6 * HOUR)
    assert app.get_subscription(sub_id).site_state is SiteState.SUSPENDED
    app.void_invoice(invoice_id, "issued by mistake", DEADLINE + 4 * DAY)
    sub = app.get_subscription(sub_id)
    assert sub.site_state is SiteState.UP and invoice_id not in sub.open_invoice_ids
    assert app.get_invoice(invoice_id).status is InvoiceStatus.VOID


def _confirmed_receipt(app, invoice_id, tracking_number, amount, now):
    receipt = app.register_receipt(
        invoice_id,
        bank="017",
        tracking_number=tracking_number,
        amount=amount,
        paid_on="1405/02/20",
        now=now,
    )
    return app.decide_receipt(invoice_id, receipt, now + HOUR, confirm=True)


def test_an_approval_after_suspension_does_not_let_a_partial_payment_restore_the_site():
    """The suspension in force lasts until its invoice is paid in full or voided: an approval
    moves the deadline, but 1,000 rials of 1,100,000 does not bring the site back."""
    app, sub_id, invoice_id = company_subscription()
    run_clock(app, T0, DEADLINE + 4 * DAY, step=6 * HOUR)
    assert app.get_subscription(sub_id).site_state is SiteState.SUSPENDED
    now = DEADLINE + 4 * DAY
    request_id = app.request_offline_payment(invoice_id, "treasury pays by transfer", now)
    app.decide_offline_payment(invoice_id, request_id, now, approve=True, extension_days=7)
    assert app.get_invoice(invoice_id).deadline > now  # no longer past deadline plus grace

    partial = _confirmed_receipt(app, invoice_id, "901000", 1_000, now + HOUR)
    assert not partial.restored and partial.still_overdue == (invoice_id,)
    assert app.get_subscription(sub_id).site_state is SiteState.SUSPENDED
    assert app.get_invoice(invoice_id).balance.rials == 1_099_000
    assert app.get_subscription(sub_id).notices[-1].facts["site"] == "suspended"

    rest = _confirmed_receipt(app, invoice_id, "902000", 1_099_000, now + 3 * HOUR)
    assert rest.restored and app.get_subscription(sub_id).site_state is SiteState.UP


def test_voiding_a_paid_invoice_moves_what_was_paid_to_the_customers_credit():
    """Money never vanishes: a void by finance turns the paid part into credit, in one save."""
    app, sub_id, invoice_id = company_subscription()
    customer_id = app.get_subscription(sub_id).customer_id
    app.record_payment("bank-77", 400_000, T0 + DAY, invoice_id=invoice_id)
    app.void_invoice(invoice_id, "issued by mistake", T0 + 2 * DAY)
    assert app.get_invoice(invoice_id).status is InvoiceStatus.VOID
    assert app.get_customer(customer_id).credit.rials == 400_000
    assert app.get_invoice(invoice_id).notices[-1].facts["credit"] == 400_000

    second_id = ordered(app, customer=customer_id, at=T0 + 3 * DAY)
    second = app.get_invoice(app.get_subscription(second_id).invoice_ids[0])
    assert second.paid.rials == 400_000  # the credit pays the next invoice
    assert app.get_customer(customer_id).credit.rials == 0


def test_voiding_a_fully_paid_invoice_credits_all_of_it():
    app, sub_id, invoice_id = company_subscription()
    customer_id = app.get_subscription(sub_id).customer_id
    app.record_payment("bank-78", 1_100_000, T0 + DAY, invoice_id=invoice_id)
    assert app.get_invoice(invoice_id).status is InvoiceStatus.PAID
    app.void_invoice(invoice_id, "the order was cancelled", T0 + 2 * DAY)
    assert app.get_customer(customer_id).credit.rials == 1_100_000


def test_a_rejected_receipt_releases_its_tracking_number_for_a_new_registration():
    """Rejection releases the claim; the number counts once again while the new receipt stands."""
    app, sub_id, invoice_id = company_subscription()
    request_id = app.request_offline_payment(invoice_id, "transfer", T0 + DAY)
    app.decide_offline_payment(invoice_id, request_id, T0 + DAY, approve=True)
    slip = {"bank": "017", "tracking_number": "5555 5555", "paid_on": "1405/02/01"}
    wrong = app.register_receipt(invoice_id, amount=110_000, now=T0 + 2 * DAY, **slip)
    app.decide_receipt(invoice_id, wrong, T0 + 3 * DAY, confirm=False, reason="amount is wrong")

    again = app.register_receipt(invoice_id, amount=1_100_000, now=T0 + 4 * DAY, **slip)
    with pytest.raises(TrackingNumberUsed, match="already registered"):
        app.register_receipt(invoice_id, amount=1_100_000, now=T0 + 4 * DAY, **slip)
    outcome = app.decide_receipt(invoice_id, again, T0 + 5 * DAY, confirm=True)
    assert outcome.amount.rials == 1_100_000
    assert app.get_invoice(invoice_id).status is InvoiceStatus.PAID
    with pytest.raises(TrackingNumberUsed):
        app.register_receipt(invoice_id, amount=1_100_000, now=T0 + 6 * DAY, **slip)


def _approved(app, invoice_id):
    request_id = app.request_offline_payment(invoice_id, "transfer", T0 + DAY)
    app.decide_offline_payment(invoice_id, request_id, T0 + DAY, approve=True)


def test_a_transfer_is_registered_once_however_its_bank_and_number_are_typed():
    """Receipts identify a transfer, not a spelling: the bank by its code, the tracking
    number with its separators, invisible characters and Persian digits taken out."""
    app, sub_id, invoice_id = company_subscription()
    _approved(app, invoice_id)
    slip = {"amount": 400_000, "paid_on": "1405/02/01", "now": T0 + 2 * DAY}
    app.register_receipt(invoice_id, bank="012", tracking_number="9988 7766 5544", **slip)
    for bank, number in (
        ("12", "9988-7766-5544"),
        ("۰۱۲", "۹۹۸۸۷۷۶۶۵۵۴۴"),
        ("\u200f012", "9988\u200b7766\u200c5544"),
    ):
        with pytest.raises(TrackingNumberUsed, match="already registered"):
            app.register_receipt(invoice_id, bank=bank, tracking_number=number, **slip)
    assert len(app.get_invoice(invoice_id).receipts) == 1


def test_the_same_number_and_amount_at_another_bank_is_accepted_and_flagged_for_finance():
    """Banks number their transfers independently, so the same tracking number at another bank
    may be another transfer: accepted, and flagged as a possible duplicate when the amount is
    the same too."""
    app, sub_id, invoice_id = company_subscription()
    _approved(app, invoice_id)
    slip = {"tracking_number": "11112222", "paid_on": "1405/02/01", "now": T0 + 2 * DAY}
    first = app.register_receipt(invoice_id, bank="012", amount=400_000, **slip)
    second = app.register_receipt(invoice_id, bank="017", amount=400_000, **slip)
    third = app.register_receipt(invoice_id, bank="054", amount=300_000, **slip)
    slip["now"] = T0 + 4 * DAY
    receipts = app.get_invoice(invoice_id).receipts
    assert receipts[first].possible_duplicates == ()
    assert receipts[second].possible_duplicates == (first,)
    assert receipts[third].possible_duplicates == ()  # another amount: another transfer
    app.decide_receipt(invoice_id, first, T0 + 3 * DAY, confirm=False, reason="not ours")
    fourth = app.register_receipt(invoice_id, bank="055", amount=400_000, **slip)
    # A rejected receipt no longer counts; the confirmed-or-pending one at 017 does.
    assert app.get_invoice(invoice_id).receipts[fourth].possible_duplicates == (second,)


def test_offline_payment_is_for_organisations_and_a_person_is_told_to_pay_online():
    from tests.builders import a_person, a_plan

    app = in_memory_app()
    app.define_plan(a_plan(), T0)
    customer = app.register_customer(a_person(), T0)
    invoice_id = app.get_subscription(ordered(app, customer=customer)).invoice_ids[0]
    version = app.get_invoice(invoice_id).version
    with pytest.raises(OfflineRequestRefused, match="for organisations") as refusal:
        app.request_offline_payment(invoice_id, "I prefer a transfer", T0 + DAY)
    assert refusal.value.details["reason"] == "not_a_legal_entity"
    assert app.get_invoice(invoice_id).version == version
