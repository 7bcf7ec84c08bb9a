"""Every failure the random histories found, as a named example.

Each engine bug has a direct test against the application and the history the machine found
(``replay``, checked after every step as the machine does). All six are fixed:

1. A command's catch-up that issued two renewals saved only the last renewal's invoice.
2. Read models that caught up in one go recorded a later deadline on earlier ledger entries.
3. An approved offline extension after grace started left the status ``grace`` although the
   new deadline was still ahead.
4. An approved offline extension that left nothing keeping a suspended site suspended did not
   restore it: it stayed suspended until the next payment or void.
5. Confirming a bank receipt after the site was collected recorded a payment and a notice on
   the collected subscription.
6. The fix of 3 recorded GraceWithdrawn on a collected subscription (an offline request
   approved after the collection; found by the long profile).

The other failures were the test harness's own mistakes, kept so that they stay fixed.
"""

from datetime import timedelta

import pytest

from bootstrap import build_read_models
from domain.base import NoticeKind
from domain.errors import InvoiceNotPayable
from domain.subscription import SiteState, SubscriptionStatus
from tests.builders import (
    DAY,
    HOUR,
    T0,
    a_company,
    a_plan,
    in_memory_app,
    ordered,
    random_ref,
    run_clock,
)
from tests.property.machine import MINUTE, InMemory, replay, subscription_id


def an_organisation_subscription():
    """An organisation (only they may pay offline) on the default plan, ordered at T0."""
    app = in_memory_app()
    app.define_plan(a_plan(), T0)
    return app, ordered(app, customer=app.register_customer(a_company(), T0))


# --- engine bug 1: a catch-up over two renewals -----------------------------


def test_a_command_whose_catch_up_issues_two_renewals_saves_both_invoices():
    """Found as: a command's catch-up saved only the last renewal's invoice, so the subscription
    named an invoice that was never saved (InvoiceNotFound ever after)."""
    app = in_memory_app()
    sub_id = ordered(app)  # monthly; renewals fall due on days 31 and 61
    app.cancel_subscription(sub_id, T0 + 65 * DAY)  # no tick ran: the command catches up
    sub = app.get_subscription(sub_id)
    assert len(sub.invoice_ids) == 3
    for invoice_id in sub.invoice_ids:
        app.get_invoice(invoice_id)


def test_history_a_cancellation_after_three_idle_months():
    replay(
        InMemory,
        ("open_catalogue", {"offset": 0}),
        ("order", {"plan": "basic", "period": "monthly"}),
        ("idle", {"by": 90 * DAY}),
        ("cancel", {"k": 0}),
    )


# --- engine bug 2 (fixed): ledger entries folded with a later state ------------------------------------


def test_read_models_caught_up_in_one_go_equal_a_rebuild_after_an_offline_extension():
    """Found as: a read model that loaded an invoice ahead of the events it had folded (its
    latest stored version) kept it, so earlier ledger entries got the extended deadline."""
    app, sub_id = an_organisation_subscription()
    read_models = build_read_models(app, database_url="memory:")
    invoice_id = app.get_subscription(sub_id).invoice_ids[0]
    app.record_payment(random_ref(), 100_000, T0 + DAY, invoice_id=invoice_id)
    request = app.request_offline_payment(invoice_id, "transfer", T0 + 2 * DAY)
    app.decide_offline_payment(invoice_id, request, T0 + 2 * DAY, approve=True, extension_days=8)
    read_models.catch_up()  # all at once, as after a restart; step by step there is no drift
    assert [str(d) for d in read_models.verify()[1]] == []


def test_history_an_extension_then_a_restart():
    replay(
        InMemory,
        ("open_catalogue", {"offset": 0}),
        ("order", {"plan": "basic", "period": "monthly", "legal": True}),
        ("pay", {"k": 0, "how": "part", "extra": 10, "bill": 0}),
        ("request_offline", {"n": 0, "decide": "approve", "days": 8}),
        ("restart", {}),  # in memory the read models start again from zero
    )


# --- engine bug 3 (fixed): grace before the deadline ---------------------------------------------------


def test_an_extension_after_grace_started_is_active_until_the_new_deadline():
    """Found as: the status stayed "grace" with the new deadline ahead. Now GraceWithdrawn
    ends it, and grace starts again (with its notice) at the new deadline."""
    app, sub_id = an_organisation_subscription()
    now = T0 + 30 * DAY + HOUR  # an hour past the deadline: grace started
    run_clock(app, T0, now)
    assert app.status_of(sub_id) is SubscriptionStatus.GRACE
    invoice_id = app.get_subscription(sub_id).invoice_ids[0]
    request = app.request_offline_payment(invoice_id, "transfer", now)
    app.decide_offline_payment(invoice_id, request, now, approve=True, extension_days=7)
    assert app.get_invoice(invoice_id).deadline == now + 7 * DAY
    assert app.status_of(sub_id) is SubscriptionStatus.ACTIVE
    run_clock(app, now, now + 7 * DAY)
    assert app.status_of(sub_id) is SubscriptionStatus.GRACE
    grace_notices = app.get_invoice(invoice_id).notices_of(NoticeKind.GRACE_STARTED)
    assert [n.recorded_at for n in grace_notices] == [T0 + 30 * DAY, now + 7 * DAY]


def test_history_an_extension_after_an_outage_past_the_deadline():
    replay(
        InMemory,
        ("open_catalogue", {"offset": 544_180}),
        ("order", {"plan": "basic", "period": "monthly", "legal": True}),
        ("outage", {"by": 30 * DAY + 4 * HOUR}),
        ("request_offline", {"n": 0, "decide": "approve", "days": 3}),
    )


# --- engine bug 4 (fixed): an extension did not lift a suspension nothing kept ----------------------


def test_an_extension_that_leaves_nothing_overdue_restores_a_suspended_site():
    """Found as: the site stayed suspended though nothing kept it so by the engine's own rule."""
    app, sub_id = an_organisation_subscription()
    now = T0 + 45 * DAY  # invoice 1 suspended the site; invoice 2 is past its grace too
    run_clock(app, T0, now)
    first, second = app.get_subscription(sub_id).invoice_ids[:2]
    app.record_payment(random_ref(), 1_100_000, now, invoice_id=first)
    assert app.get_subscription(sub_id).site_state is SiteState.SUSPENDED  # for invoice 2
    request = app.request_offline_payment(second, "transfer", now)
    app.decide_offline_payment(second, request, now, approve=True, extension_days=7)
    assert app.get_invoice(second).deadline == now + 7 * DAY  # nothing is overdue any more
    sub = app.get_subscription(sub_id)
    assert sub.site_state is SiteState.UP
    assert sub.notices[-1].kind is NoticeKind.SITE_RESTORED
    assert sub.notices[-1].recorded_at == now


def test_history_an_extension_for_the_invoice_still_overdue_after_a_payment():
    replay(
        InMemory,
        ("open_catalogue", {"offset": 9_449}),
        ("order", {"legal": True, "period": "monthly", "plan": "slow"}),
        ("pay_online", {"bill": 0, "extra": 5, "how": "over", "k": 0}),
        ("clock_to_next_step", {"k": 0, "offset": MINUTE}),
        ("outage", {"by": 8 * DAY}),
        ("request_offline", {"days": 0, "decide": None, "n": 0}),
        ("contract", {"cancel": False, "k": 0, "period": "monthly", "plan": "lean"}),
        ("clock", {"by": 27 * DAY, "how": "daily"}),
        ("request_offline", {"days": 7, "decide": None, "n": 7}),
        ("decide_offline", {"approve": False, "days": 10, "n": 6}),
        ("clock_to_next_step", {"k": 7, "offset": timedelta(0)}),
        ("idle_to_next_step", {"k": 3, "offset": MINUTE}),
        ("pay", {"bill": None, "extra": 86, "how": "part", "k": 7}),
        ("decide_offline", {"approve": True, "days": 2, "n": 4}),
    )


# --- engine bug 5 (fixed): a receipt confirmed after collection ----------------------------------------


def test_a_receipt_confirmed_after_collection_records_nothing_on_the_subscription():
    """Found as: a payment and a notice on the collected subscription. The money is in the
    bank, so it is kept as the customer's credit, as a late gateway payment is."""
    app, sub_id = an_organisation_subscription()
    first = app.get_subscription(sub_id).invoice_ids[0]
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
    app.record_payment(random_ref(), 1_100_000, T0 + 2 * DAY, invoice_id=first)  # paid online
    run_clock(app, T0 + 2 * DAY, T0 + 120 * DAY, step=DAY)  # the renewals go unpaid
    assert app.status_of(sub_id) is SubscriptionStatus.COLLECTED
    sub = app.get_subscription(sub_id)
    outcome = app.decide_receipt(first, receipt, T0 + 120 * DAY, confirm=True)
    assert outcome.credit.rials == 300_000 and outcome.allocations == ()
    assert app.get_subscription(sub_id).version == sub.version  # collected is final
    assert app.get_customer(sub.customer_id).credit.rials == 300_000


def test_history_a_receipt_left_under_review_until_after_collection():
    replay(
        InMemory,
        ("open_catalogue", {"offset": 9_449}),
        ("order", {"legal": True, "period": "monthly", "plan": "slow"}),
        ("pay_offline", {"days": 0, "decision": None, "extra": 29, "how": "part", "n": 0}),
        ("pay_online", {"bill": 0, "extra": 5, "how": "over", "k": 0}),
        ("clock", {"by": 90 * DAY, "how": "daily"}),
        ("clock", {"by": 27 * DAY, "how": "daily"}),
        ("decide_receipt", {"confirm": True, "n": 5}),
    )


# --- the harness's own mistakes (and the model's), kept fixed ------------------------------


def test_history_the_collection_notice_shares_the_collection_moment():
    """The site_collected notice follows SiteCollected at the same moment: not "after" it."""
    replay(
        InMemory,
        ("open_catalogue", {"offset": 0}),
        ("order", {"plan": "basic", "period": "monthly"}),
        ("clock", {"by": 38 * DAY, "how": "jump"}),
        ("clock", {"by": 25 * DAY, "how": "jump"}),
    )


def test_history_a_late_grace_notice_may_come_with_the_suspension():
    """After an outage the grace notice and the suspension come in one catch-up: the 24 h lead
    runs from the last payment reminder (sent on time here), not from the grace notice."""
    replay(
        InMemory,
        ("open_catalogue", {"offset": 0}),
        ("order", {"plan": "basic", "period": "monthly"}),
        ("clock", {"by": 30 * DAY - HOUR, "how": "jump"}),
        ("outage", {"by": 5 * DAY}),
    )


def test_history_renewals_of_the_collecting_catch_up_are_logged_after_it():
    """One save logs the subscription's events before its invoices': a renewal issued in the
    catch-up that also collects is logged after SiteCollected, at the same moment."""
    replay(
        InMemory,
        ("open_catalogue", {"offset": 544_180}),
        ("outage", {"by": 22 * MINUTE}),
        ("outage", {"by": 44 * HOUR}),
        ("order", {"plan": "pro", "period": "monthly"}),
        ("request_offline", {"n": 0, "decide": "reject", "days": 7}),
        ("outage", {"by": 45 * MINUTE}),
        ("order", {"plan": "pro", "period": "monthly"}),
        ("outage", {"by": 30 * DAY}),
        ("outage", {"by": 2 * DAY}),
        ("order", {"plan": "pro", "period": "monthly"}),
        ("outage", {"by": 60 * DAY}),
        ("outage", {"by": 34 * DAY}),
    )


def test_history_a_reminder_saved_before_the_hold_end_of_its_catch_up():
    """A gateway payment's command loads the invoice before the subscription, so its save logs
    the invoice's late reminder before the EnforcementHoldEnded that came first in the same
    catch-up: whether a reminder was sent under a hold is judged once the step is folded."""
    replay(
        InMemory,
        ("open_catalogue", {"offset": 0}),
        ("order", {"legal": True, "period": "monthly", "plan": "basic"}),
        ("finance", {"action": "place_hold", "bill": 0, "hours": 1, "k": 0}),
        ("pay_offline", {"days": 0, "decision": None, "extra": 1, "how": "part", "n": 0}),
        ("idle", {"by": 27 * DAY}),
        ("pay_online", {"bill": 0, "extra": 1, "how": "part", "k": 0}),
    )


def test_history_voiding_a_partly_paid_invoice_credits_what_was_paid():
    """A finance void moves what was paid to credit under the reference void:<invoice>."""
    replay(
        InMemory,
        ("open_catalogue", {"offset": 0}),
        ("order", {"plan": "basic", "period": "monthly"}),
        ("pay", {"k": 0, "how": "part", "extra": 1, "bill": None}),
        ("pay_online", {"k": 0, "bill": 0, "how": "part", "extra": 1}),
        ("finance", {"k": 0, "action": "void", "hours": 1, "bill": 0}),
    )


def test_history_a_payment_exactly_at_the_collection_moment():
    """Landing on the collection moment: the payment finds the site collected."""
    replay(
        InMemory,
        ("open_catalogue", {"offset": 0}),
        ("order", {"plan": "lean", "period": "monthly"}),
        ("clock", {"by": 30 * DAY, "how": "jump"}),
        ("clock_to_next_step", {"k": 0, "offset": timedelta(0)}),  # warnings, one by one
        ("clock_to_next_step", {"k": 0, "offset": timedelta(0)}),
        ("clock_to_next_step", {"k": 0, "offset": timedelta(0)}),
        ("idle_to_next_step", {"k": 0, "offset": timedelta(0)}),  # collection due, no tick
        ("pay", {"k": 0, "how": "exact", "extra": 1, "bill": None}),
    )


def test_history_a_tracking_number_released_twice_is_registered_again():
    """The model kept receipts by object, and a refused command swapped the objects out."""
    replay(
        InMemory,
        ("open_catalogue", {"offset": 9_449}),
        ("order", {"legal": True, "period": "monthly", "plan": "slow"}),
        ("pay_offline", {"days": 0, "decision": None, "extra": 29, "how": "part", "n": 0}),
        ("decide_receipt", {"confirm": False, "n": 7}),
        ("register_receipt", {"again": None, "extra": 83, "how": "exact", "n": 5}),
        ("decide_offline", {"approve": True, "days": 3, "n": 3}),
        ("decide_receipt", {"confirm": False, "n": 6}),
        ("register_receipt", {"again": 7, "extra": 77, "how": "over", "n": 4}),
    )


def test_history_a_reminder_after_the_suspension_in_one_catch_up_is_not_before_it():
    """Found by the long profile. A plan change to a plan with three reminders takes effect at
    the renewal, after an invoice was already suspended under the old plan's two: the late
    catch-up suspends (due earlier) and then sends the third reminder at the same moment. The
    ledger counted that reminder as "before" the suspension. (The engine's behaviour is as
    the model says: see docs/TESTING.md.) Since InvoiceIssued version 2 an issued invoice keeps
    the reminders in force at its issue (docs/EVENTS.md), so this history sends no third
    reminder any more; it stays as a regression case."""
    replay(
        InMemory,
        ("open_catalogue", {"offset": 0}),
        ("order", {"legal": True, "period": "monthly", "plan": "basic"}),
        ("idle_to_next_step", {"k": 0, "offset": -MINUTE}),
        ("outage", {"by": 5 * DAY}),
        ("pay_offline", {"days": 8, "decision": None, "extra": 1, "how": "part", "n": 0}),
        ("contract", {"cancel": False, "k": 0, "period": "monthly", "plan": "pro"}),
        ("outage", {"by": 36 * DAY}),
    )


# --- engine bug 6 (fixed): the fix of bug 3 withdrew grace on a collected subscription ---------


def test_approving_an_offline_request_after_collection_records_nothing_on_the_subscription():
    """Found by the long profile: a request left pending until the site was collected, then
    approved. The approval moved the (voided) invoice's deadline and recorded GraceWithdrawn
    on the collected subscription, which is final. Since then the collection's void also
    refuses the approval itself: nothing is owed, so finance rejects the request instead."""
    app, sub_id = an_organisation_subscription()
    first = app.get_subscription(sub_id).invoice_ids[0]
    request = app.request_offline_payment(first, "transfer", T0 + DAY)
    run_clock(app, T0 + DAY, T0 + 120 * DAY, step=DAY)
    assert app.status_of(sub_id) is SubscriptionStatus.COLLECTED
    versions = (app.get_subscription(sub_id).version, app.get_invoice(first).version)
    with pytest.raises(InvoiceNotPayable, match="Reject it instead"):
        app.decide_offline_payment(first, request, T0 + 120 * DAY, approve=True, extension_days=7)
    assert (app.get_subscription(sub_id).version, app.get_invoice(first).version) == versions


def test_history_side_service_invoices_through_clock_ticks_outages_payments_and_collection():
    """Not a failure found: a named walk through every side-service rule of the machine, so
    the quick profile always covers them (docs/LIFECYCLE.md, "Side-service invoices"). Two
    invoices on one site: one reminded and told overdue on the simulated clock, the other's
    notices missed in an outage and sent at the catch-up; the site suspended and collected for
    hosting alone while they stay owed; payments naming one before the collection, a void
    after it, and a payment after it refused."""
    replay(
        InMemory,
        ("open_catalogue", {"offset": 0}),
        ("order", {"plan": "basic", "period": "monthly"}),
        ("bill_services", {"k": 0, "lines": [(2_000_000, 2), (150_000, 1)], "days": 10}),
        ("clock", {"by": 2 * DAY, "how": "daily"}),
        ("clock", {"by": 9 * DAY, "how": "jump"}),
        ("bill_services", {"k": 0, "lines": [(999_999, 3)], "days": 5}),
        ("pay_service", {"n": 1, "how": "part", "extra": 40}),
        ("outage", {"by": 6 * DAY}),
        ("pay_service", {"n": 0, "how": "part", "extra": 10}),
        ("clock", {"by": 90 * DAY, "how": "daily"}),
        ("pay_service", {"n": 0, "how": "exact", "extra": 1}),
        ("void_service", {"n": 1}),
        ("bill_services", {"k": 0, "lines": [(1, 1)], "days": 1}),
    )


def test_history_a_payment_naming_a_side_service_invoice_while_the_site_is_suspended():
    """A site suspended for hosting: a payment naming a side-service invoice pays it, and what
    is over pays part of the hosting invoice keeping the site suspended, which stays so (the
    machine checks the payment's restore against the model's)."""
    replay(
        InMemory,
        ("open_catalogue", {"offset": 0}),
        ("order", {"plan": "lean", "period": "monthly"}),
        ("bill_services", {"k": 0, "lines": [(500_000, 1)], "days": 3}),
        ("clock", {"by": 31 * DAY, "how": "daily"}),
        ("pay_service", {"n": 0, "how": "over", "extra": 99}),
        ("bill_services", {"k": 0, "lines": [(10_000, 1)], "days": 5}),
    )


# --- refunds and corrections, checked step by step ------------------------------------------------


def test_an_organisations_paid_invoice_voided_then_refunded_keeps_every_invariant():
    """Not a failure found: the history that surely reaches a cancelling official document and
    refunds (part, then more than is left, then the rest), checked after each step as the
    machine does (money in = applied + credit + refunded; numbers gapless)."""
    state = InMemory()
    try:
        steps = [
            ("open_catalogue", {"offset": 0}),
            ("order", {"plan": "basic", "period": "monthly", "legal": True}),
            ("order", {"plan": "basic", "period": "monthly", "legal": True}),
            ("pay", {"k": 0, "how": "over", "extra": 5, "bill": 0}),  # official 1, credit
            ("pay", {"k": 1, "how": "exact", "extra": 1, "bill": 0}),  # official 2
            ("finance", {"k": 0, "action": "refund", "hours": 1, "bill": 0}),  # 25 % of credit
            ("finance", {"k": 0, "action": "void_paid", "hours": 1, "bill": 0}),  # cancelling 3
            ("finance", {"k": 0, "action": "refund", "hours": 1, "bill": 3}),  # over: refused
            ("finance", {"k": 0, "action": "refund", "hours": 1, "bill": 2}),  # all of it
            ("clock", {"by": 40 * DAY, "how": "jump"}),
        ]
        for name, arguments in steps:
            getattr(state, name)(**arguments)
            state.engines_agree_with_the_model_and_the_rules()
        engine = state.engines[0]
        app = engine.app
        first = app.get_invoice(state.invoice_id(0, 1))
        assert first.status.value == "void" and first.official.number == 1
        assert [c.number for c in first.corrections] == [3]
        customer = app.get_subscription(subscription_id(0)).customer_id
        assert app.get_customer(customer).credit.rials == 0
        assert engine.ledger.refunded > 0
    finally:
        state.teardown()


def test_returns_from_sale_then_voids_keep_every_invariant():
    """Not a failure found: the history that surely reaches returns from sale of an
    organisation's official invoice (its return-from-sale document) and of a person's invoice
    (its credit note), a return over what is left (refused), then both voided (the cancelling
    document and a credit note for the rest) and the credit refunded, checked after each step
    as the machine does (money in = applied − returned + credit + refunded; numbers gapless)."""
    state = InMemory()
    try:
        steps = [
            ("open_catalogue", {"offset": 0}),
            ("order", {"plan": "basic", "period": "monthly", "legal": True}),
            ("order", {"plan": "basic", "period": "monthly", "legal": False}),
            ("pay", {"k": 0, "how": "exact", "extra": 1, "bill": 0}),  # official 1
            ("pay", {"k": 1, "how": "exact", "extra": 1, "bill": 0}),  # a person: none
            ("finance", {"k": 0, "action": "return", "hours": 1, "bill": 0}),  # 25 %: document 2
            ("finance", {"k": 0, "action": "return", "hours": 1, "bill": 6}),  # 101 %: refused
            ("finance", {"k": 1, "action": "return", "hours": 1, "bill": 2}),  # 50 %: note 1
            ("finance", {"k": 0, "action": "void_paid", "hours": 1, "bill": 0}),  # cancelling 3
            ("finance", {"k": 1, "action": "void_paid", "hours": 1, "bill": 0}),  # note 2
            ("finance", {"k": 0, "action": "refund", "hours": 1, "bill": 2}),  # all the credit
            ("clock", {"by": 40 * DAY, "how": "jump"}),
        ]
        for name, arguments in steps:
            getattr(state, name)(**arguments)
            state.engines_agree_with_the_model_and_the_rules()
        app = state.engines[0].app
        company = app.get_invoice(state.invoice_id(0, 1))
        assert [(c.subject.value, c.number) for c in company.corrections] == [
            ("return", 2),
            ("cancelling", 3),
        ]
        assert company.corrections[0].amount + company.corrections[1].amount == company.total.rials
        person = app.get_invoice(state.invoice_id(1, 1))
        assert person.official is None
        assert [(n.number, n.cause) for n in person.credit_notes] == [(1, "return"), (2, "void")]
        assert sum(n.amount.rials for n in person.credit_notes) == person.paid.rials
    finally:
        state.teardown()
