"""The notices of issue 20: a hold and its end are told, reminders under a hold announce no
suspension it prevents, and money kept as credit says where it went (docs/LIFECYCLE.md,
"Enforcement hold" and "Payments"; docs/EVENTS.md, "Notice facts")."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.base import NoticeKind
from domain.errors import ReceiptRefused
from domain.money import Money
from domain.subscription import SiteState, SubscriptionStatus
from service_layer.timeline import timeline
from tests.builders import DAY, HOUR, T0, a_company, a_plan, in_memory_app, ordered, run_clock

DEADLINE = T0 + 30 * DAY  # the first invoice's deadline
TOTAL = 1_100_000  # the first invoice: 1,000,000 rials and VAT
GRACE = 3 * DAY  # the default plan's grace


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def kinds(notices) -> list[str]:
    return [n.kind.value for n in notices]


def a_company_subscription():
    app = in_memory_app()
    app.define_plan(a_plan(), T0)
    sub_id = ordered(app, customer=app.register_customer(a_company(), T0))
    return app, sub_id, app.get_subscription(sub_id).invoice_ids[0]


# --- 1. a hold and its end are told ------------------------------------------------------------


def test_placing_a_hold_tells_the_customer_until_when_and_what_is_still_due():
    app, sub_id, invoice_id = a_company_subscription()
    until = DEADLINE + 10 * DAY
    app.place_hold(sub_id, "court order", until, T0 + DAY)
    sub = app.get_subscription(sub_id)
    told = sub.notices_of(NoticeKind.HOLD_PLACED)
    assert len(told) == 1 and told[0].recorded_at == T0 + DAY and told[0].due_at is None
    assert told[0].facts == {
        "until": utc(until),
        "amount_due": TOTAL,
        "site": "up",
        "invoice_id": str(invoice_id),  # the invoice its payment link pays
    }


def test_a_hold_on_a_suspended_site_says_the_site_stays_suspended():
    app, sub_id, _ = a_company_subscription()
    run_clock(app, T0, DEADLINE + 4 * DAY, step=6 * HOUR)
    assert app.get_subscription(sub_id).site_state is SiteState.SUSPENDED
    app.place_hold(sub_id, "disputed", DEADLINE + 20 * DAY, DEADLINE + 4 * DAY)
    facts = app.get_subscription(sub_id).notices_of(NoticeKind.HOLD_PLACED)[0].shape
    # The first invoice and the renewal issued on day 31 are both open.
    assert facts.site == "suspended" and facts.amount_due == 2 * TOTAL


def test_the_same_hold_placed_again_records_nothing_a_new_end_is_told_again():
    """A retried request (no answer came back) places the hold in force again: one hold, one
    notice. Another end is another decision, and the customer is told the new end."""
    app, sub_id, _ = a_company_subscription()
    until = DEADLINE + 10 * DAY
    app.place_hold(sub_id, "court order", until, T0 + DAY)
    version = app.get_subscription(sub_id).version
    app.place_hold(sub_id, "court order", until, T0 + DAY + HOUR)  # the retry
    sub = app.get_subscription(sub_id)
    assert sub.version == version and len(sub.notices_of(NoticeKind.HOLD_PLACED)) == 1
    app.place_hold(sub_id, "court order", until + 5 * DAY, T0 + 2 * DAY)
    told = app.get_subscription(sub_id).notices_of(NoticeKind.HOLD_PLACED)
    assert [n.facts["until"] for n in told] == [utc(until), utc(until + 5 * DAY)]


def test_a_hold_that_runs_out_is_told_once_with_the_day_before_any_action():
    app, sub_id, invoice_id = a_company_subscription()
    until = DEADLINE + 10 * DAY  # past the grace: the invoice is overdue when it ends
    app.place_hold(sub_id, "court order", until, T0 + DAY)
    run_clock(app, T0 + DAY, until + 12 * HOUR, step=6 * HOUR)
    ended = app.get_subscription(sub_id).notices_of(NoticeKind.HOLD_ENDED)
    assert len(ended) == 1 and ended[0].due_at == until and ended[0].recorded_at == until
    assert ended[0].facts == {
        "amount_due": 2 * TOTAL,  # with the renewal of day 31, not overdue yet
        "overdue": [str(invoice_id)],
        "action_not_before": utc(until + DAY),
        "invoice_id": str(invoice_id),
    }


def test_a_hold_lifted_by_finance_is_told_once_and_a_second_lift_records_nothing():
    from domain.errors import HoldRefused

    app, sub_id, invoice_id = a_company_subscription()
    app.place_hold(sub_id, "dispute", T0 + 90 * DAY, T0 + DAY)
    app.lift_hold(sub_id, "resolved", T0 + 2 * DAY)
    sub = app.get_subscription(sub_id)
    ended = sub.notices_of(NoticeKind.HOLD_ENDED)
    assert len(ended) == 1 and ended[0].due_at is None
    # Nothing is overdue and the site is up: no action to announce.
    assert ended[0].facts == {
        "amount_due": TOTAL,
        "overdue": [],
        "action_not_before": None,
        "invoice_id": str(invoice_id),
    }
    with pytest.raises(HoldRefused):
        app.lift_hold(sub_id, "resolved", T0 + 2 * DAY + HOUR)  # a retry
    assert app.get_subscription(sub_id).version == sub.version


def test_the_timeline_puts_each_hold_notice_right_after_its_event():
    app, sub_id, _ = a_company_subscription()
    until = T0 + 5 * DAY
    app.place_hold(sub_id, "court order", until, T0 + DAY)
    run_clock(app, T0 + DAY, until + HOUR, step=6 * HOUR)
    names = [
        f"{e.event}:{e.data['kind']}" if e.event == "NoticeSent" else e.event
        for e in timeline(app, sub_id)
        if e.aggregate == "Subscription"
    ]
    assert names[-4:] == [
        "EnforcementHoldPlaced",
        "NoticeSent:hold_placed",
        "EnforcementHoldEnded",
        "NoticeSent:hold_ended",
    ]


# --- 2. reminders under a hold -----------------------------------------------------------------


def test_reminders_and_grace_under_a_hold_say_on_hold_until_and_give_no_suspension_date():
    """The hold lasts past the plan's suspension moment (the deadline plus grace): the notices
    say the hold's end instead, and the site is indeed not suspended then."""
    app, sub_id, invoice_id = a_company_subscription()
    until = DEADLINE + 10 * DAY
    app.place_hold(sub_id, "court order", until, T0 + DAY)
    run_clock(app, T0 + DAY, DEADLINE + GRACE + DAY, step=6 * HOUR)
    invoice = app.get_invoice(invoice_id)
    told = invoice.notices_of(NoticeKind.PAYMENT_REMINDER, NoticeKind.GRACE_STARTED)
    assert kinds(told) == ["payment_reminder", "payment_reminder", "grace_started"]
    for notice in told:
        assert notice.facts["hold_until"] == utc(until)
        assert notice.facts["suspension_at"] is None
        assert notice.facts["amount_due"] == TOTAL and notice.facts["deadline"] == utc(DEADLINE)
    sub = app.get_subscription(sub_id)
    assert sub.site_state is SiteState.UP and sub.status is SubscriptionStatus.GRACE


def test_a_hold_ending_a_day_before_the_suspension_leaves_its_date_and_says_the_hold():
    app, sub_id, invoice_id = a_company_subscription()
    until = DEADLINE - 2 * DAY  # in force at the first reminder, over long before the grace ends
    app.place_hold(sub_id, "court order", until, T0 + DAY)
    run_clock(app, T0 + DAY, DEADLINE + HOUR, step=6 * HOUR)
    first, second = app.get_invoice(invoice_id).notices_of(NoticeKind.PAYMENT_REMINDER)
    assert first.facts["hold_until"] == utc(until)
    assert first.facts["suspension_at"] == utc(DEADLINE + GRACE)  # it will happen
    assert second.facts["hold_until"] is None  # the hold was over by then
    assert second.facts["suspension_at"] == utc(DEADLINE + GRACE)


def test_without_a_hold_a_reminder_is_as_before():
    app, sub_id, invoice_id = a_company_subscription()
    run_clock(app, T0, DEADLINE - 2 * DAY, step=6 * HOUR)
    (reminder,) = app.get_invoice(invoice_id).notices_of(NoticeKind.PAYMENT_REMINDER)
    assert reminder.facts == {
        "deadline": utc(DEADLINE),
        "amount_due": TOTAL,
        "suspension_at": utc(DEADLINE + GRACE),
        "hold_until": None,
    }


# --- 3. money kept as credit says where it went ------------------------------------------------


def test_a_gateway_payment_verified_after_a_void_is_kept_as_credit_and_told_once():
    app, sub_id, invoice_id = a_company_subscription()
    authority = "A00000000000000000000000000000000042"
    app.open_payment_link(invoice_id, authority, Money(TOTAL), "zarinpal", T0 + DAY)
    app.void_invoice(invoice_id, "issued by mistake", T0 + DAY + HOUR)
    attempt, outcome = app.record_gateway_outcome(
        authority, T0 + DAY + 2 * HOUR, verified_ref_id="R-1"
    )
    assert outcome is not None and outcome.credit.rials == TOTAL and outcome.allocations == ()
    invoice = app.get_invoice(invoice_id)
    kept = invoice.notices_of(NoticeKind.PAYMENT_KEPT_AS_CREDIT)
    assert len(kept) == 1 and kept[0].facts == {
        "reference": attempt.reference,
        "amount": TOTAL,
        "cause": "void",
        "credit": TOTAL,
    }
    # The gateway calls back again: counted once already, nothing is told twice.
    app.record_gateway_outcome(authority, T0 + DAY + 3 * HOUR, verified_ref_id="R-1")
    assert app.get_invoice(invoice_id).version == invoice.version


def test_a_receipt_confirmed_after_collection_is_told_on_its_invoice_not_the_subscription():
    """The money is in the bank, the site is gone: the customer hears it became credit, why,
    and how much credit they have; nothing is recorded on the collected subscription."""
    app, sub_id, first = a_company_subscription()
    request = app.request_offline_payment(first, "transfer", T0 + DAY)
    app.decide_offline_payment(first, request, T0 + DAY, approve=True, extension_days=0)
    receipt = app.register_receipt(
        first,
        bank="017",
        tracking_number="5555",
        amount=300_000,
        paid_on="1405/01/16",
        now=T0 + DAY,
    )
    app.record_payment("PAID-ONLINE", TOTAL, T0 + 2 * DAY, invoice_id=first)
    run_clock(app, T0 + 2 * DAY, T0 + 120 * DAY, step=DAY)  # the renewals go unpaid
    assert app.status_of(sub_id) is SubscriptionStatus.COLLECTED
    sub = app.get_subscription(sub_id)
    app.decide_receipt(first, receipt, T0 + 120 * DAY, confirm=True)
    assert app.get_subscription(sub_id).version == sub.version  # collected is final
    kept = app.get_invoice(first).notices_of(NoticeKind.PAYMENT_KEPT_AS_CREDIT)
    assert len(kept) == 1 and kept[0].shape.cause == "collected"
    assert kept[0].facts["amount"] == 300_000 and kept[0].facts["reference"].startswith("receipt:")
    assert kept[0].facts["credit"] == app.get_customer(sub.customer_id).credit.rials == 300_000
    with pytest.raises(ReceiptRefused):  # decided once: a retry records nothing
        app.decide_receipt(first, receipt, T0 + 120 * DAY + HOUR, confirm=True)
    assert len(app.get_invoice(first).notices_of(NoticeKind.PAYMENT_KEPT_AS_CREDIT)) == 1


def test_a_payment_that_pays_an_invoice_is_not_told_as_kept_credit():
    app, sub_id, invoice_id = a_company_subscription()
    app.record_payment("R-9", TOTAL + 5_000, T0 + DAY, invoice_id=invoice_id)
    assert app.get_invoice(invoice_id).notices_of(NoticeKind.PAYMENT_KEPT_AS_CREDIT) == []
    received = app.get_subscription(sub_id).notices_of(NoticeKind.PAYMENT_RECEIVED)
    assert received[0].facts["credit"] == 5_000  # the excess is said on the payment's notice
