"""Offline payments, receipts under review, enforcement holds and voids (DESIGN.md §2)."""

import pytest

from domain import lifecycle
from domain.errors import HoldRefused, OfflineRequestRefused, TrackingNumberUsed
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


def test_a_receipt_needs_an_approved_request_and_a_tracking_number_counts_once():
    app, sub_id, invoice_id = company_subscription()
    with pytest.raises(OfflineRequestRefused, match="no approved offline payment request"):
        app.register_receipt(
            invoice_id,
            bank="Melli",
            tracking_number="111",
            amount=1_100_000,
            paid_on="1405/02/01",
            now=T0 + DAY,
        )
    request_id = app.request_offline_payment(invoice_id, "transfer", T0 + DAY)
    app.decide_offline_payment(invoice_id, request_id, T0 + DAY, approve=True)
    app.register_receipt(
        invoice_id,
        bank="Melli",
        tracking_number="111",
        amount=500_000,
        paid_on="1405/02/01",
        now=T0 + DAY,
    )
    with pytest.raises(TrackingNumberUsed, match="already registered"):
        app.register_receipt(
            invoice_id,
            bank=" melli ",
            tracking_number="1 1 1",
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
        bank="Melli",
        tracking_number="222",
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
        bank="Melli",
        tracking_number="333",
        amount=1_100_000,
        paid_on="1405/02/18",
        now=now,
    )
    app.decide_receipt(invoice_id, bad, now + HOUR, confirm=False, reason="no such transfer")
    assert app.get_invoice(invoice_id).paid.rials == 0
    assert app.get_invoice(invoice_id).notices[-1].kind.value == "receipt_rejected"
    good = app.register_receipt(
        invoice_id,
        bank="Melli",
        tracking_number="444",
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
