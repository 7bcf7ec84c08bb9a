"""The lifecycle rules of docs/LIFECYCLE.md, each as a worked example on the in-memory store.

The clock is simulated: ``run_clock`` advances it hour by hour as the demo does, executing
each step at its own due moment.
"""

from datetime import timedelta

import pytest

from domain import lifecycle
from domain.errors import (
    InvalidAmount,
    InvoiceNotPayable,
    PaymentReferenceConflict,
    PlanChangeRefused,
    PlanNotFound,
    SiteNotSuspended,
    SubscriptionCollected,
    TimeWentBackwards,
    UnknownPeriod,
)
from domain.invoice import InvoiceStatus
from domain.money import Money
from domain.subscription import SiteState, SubscriptionStatus
from service_layer.timeline import timeline
from tests.builders import (
    DAY,
    HOUR,
    T0,
    a_plan,
    events_of,
    in_memory_app,
    notices,
    ordered,
    random_ref,
    run_clock,
)


def steps(executed):
    return [(e.step.step, e.recorded_at) for e in executed]


def first_invoice(app, sub_id):
    return app.get_invoice(app.get_subscription(sub_id).invoice_ids[0])


def balance_of(app, sub_id) -> Money:
    life = app.lifecycle_of(sub_id)
    return lifecycle.amount_due(life.subscription, life.invoices)


# --- order ---------------------------------------------------------------------------------------


def test_order_creates_the_site_and_issues_the_first_invoice_due_in_30_days():
    app = in_memory_app()
    sub_id = ordered(app)
    invoice = first_invoice(app, sub_id)
    assert invoice.issued_at == T0
    assert invoice.deadline == T0 + 30 * DAY
    assert invoice.total == Money(1_100_000)  # 1,000,000 + 10 % VAT
    assert app.get_subscription(sub_id).site_state is SiteState.UP
    assert app.status_of(sub_id) is SubscriptionStatus.ACTIVE
    assert events_of(app, sub_id)[:3] == [
        ("Subscription", "SubscriptionStarted"),
        ("Invoice", "InvoiceIssued"),
        ("Invoice", "NoticeSent"),
    ]


def test_unknown_plan_and_period_are_refused_and_record_nothing():
    app = in_memory_app()
    ordered(app)
    customer = app.get_subscription(ordered(app, plan=a_plan("other"))).customer_id
    before = app.recorder.max_notification_id()
    with pytest.raises(PlanNotFound, match="Known plans: basic, other"):
        app.start_subscription(customer, "gold", "monthly", T0)
    with pytest.raises(UnknownPeriod):
        app.start_subscription(customer, "basic", "fortnightly", T0)
    assert app.recorder.max_notification_id() == before


# --- the unpaid path ---------------------------------------------------------------------------


def test_unpaid_first_invoice_goes_through_reminders_grace_suspension_warnings_collection():
    app = in_memory_app()
    sub_id = ordered(app)
    deadline = T0 + 30 * DAY
    executed = run_clock(app, T0, T0 + 70 * DAY)
    first = first_invoice(app, sub_id).id
    mine = [(e.step.step, e.recorded_at) for e in executed if e.step.invoice_id in (first, None)]
    suspended_at = deadline + 3 * DAY
    collected_at = suspended_at + 30 * DAY
    assert (lifecycle.Step.REMIND, deadline - 3 * DAY) in mine
    assert (lifecycle.Step.REMIND, deadline - 1 * DAY) in mine
    assert (lifecycle.Step.START_GRACE, deadline) in mine
    assert (lifecycle.Step.SUSPEND, suspended_at) in mine
    warnings = [at for step, at in mine if step is lifecycle.Step.WARN]
    assert warnings == [collected_at - 14 * DAY, collected_at - 7 * DAY, collected_at - DAY]
    assert (lifecycle.Step.COLLECT, collected_at) in mine
    assert app.status_of(sub_id) is SubscriptionStatus.COLLECTED
    life = app.lifecycle_of(sub_id)
    assert all(inv.status is InvoiceStatus.VOID for inv in life.invoices.values())


def test_the_site_stays_up_during_grace():
    app = in_memory_app()
    sub_id = ordered(app)
    run_clock(app, T0, T0 + 31 * DAY)
    assert app.status_of(sub_id) is SubscriptionStatus.GRACE
    assert app.get_subscription(sub_id).site_state is SiteState.UP


def test_grace_days_zero_suspends_at_the_deadline_after_the_reminders():
    app = in_memory_app()
    sub_id = ordered(app, plan=a_plan(grace_days=0))
    deadline = T0 + 30 * DAY
    run_clock(app, T0, deadline)
    kinds = [
        (e.event, e.data.get("kind")) for e in timeline(app, sub_id) if e.recorded_at <= deadline
    ]
    assert kinds[-6:] == [
        ("NoticeSent", "payment_reminder"),
        ("NoticeSent", "payment_reminder"),
        ("GraceStarted", None),
        ("NoticeSent", "grace_started"),
        ("SiteSuspended", None),
        ("NoticeSent", "site_suspended"),
    ]
    assert app.get_subscription(sub_id).suspension.suspended_at == deadline


def test_renewal_invoices_are_issued_at_each_period_start_due_seven_days_later():
    app = in_memory_app()
    sub_id = ordered(app)
    run_clock(app, T0, T0 + 62 * DAY)
    sub = app.get_subscription(sub_id)
    # Ordered 1405/01/15: periods start 1405/02/15 and 1405/03/15 at 00:00 in Tehran.
    starts = [p.start.isoformat() for p in sub.periods]
    assert starts == ["1405/01/15", "1405/02/15", "1405/03/15"]
    for period in sub.periods[1:]:
        invoice = app.get_invoice(period.invoice_id)
        assert invoice.issued_at == period.starts_at
        assert invoice.deadline == period.starts_at + 7 * DAY


def test_renewals_continue_while_suspended_and_collection_voids_every_open_invoice():
    app = in_memory_app()
    sub_id = ordered(app)
    run_clock(app, T0, T0 + 64 * DAY)
    sub = app.get_subscription(sub_id)
    assert sub.site_state is SiteState.COLLECTED
    assert len(sub.invoice_ids) == 3  # the first and two renewals issued while suspended
    collected = [e for e in timeline(app, sub_id) if e.event == "SiteCollected"][0]
    assert sorted(collected.data["voided_invoice_ids"]) == sorted(map(str, sub.invoice_ids))
    assert not run_clock(app, T0 + 64 * DAY, T0 + 200 * DAY)  # collected is final


# --- "several notices before any action" --------------------------------------------------------


def test_no_suspension_without_two_reminders_and_no_collection_without_three_warnings():
    app = in_memory_app()
    sub_id = ordered(app)
    run_clock(app, T0, T0 + 70 * DAY)
    entries = timeline(app, sub_id)
    first = str(app.get_subscription(sub_id).invoice_ids[0])
    suspended = next(e for e in entries if e.event == "SiteSuspended")
    reminders = [
        e
        for e in entries
        if e.data.get("kind") == "payment_reminder" and str(e.aggregate_id) == first
    ]
    assert len(reminders) >= 2
    assert reminders[-1].recorded_at <= suspended.recorded_at - timedelta(hours=24)
    collected = next(e for e in entries if e.event == "SiteCollected")
    warnings = [e for e in entries if e.data.get("kind") == "collection_warning"]
    assert len(warnings) >= 3
    assert warnings[-1].recorded_at <= collected.recorded_at - timedelta(hours=24)


def test_after_an_outage_missed_notices_go_out_first_and_the_action_waits_24_hours():
    app = in_memory_app()
    sub_id = ordered(app)
    # The engine is down from the order until five days after the deadline.
    back = T0 + 35 * DAY
    executed = app.advance(back)
    assert [e.step.step for e in executed] == [
        lifecycle.Step.REMIND,
        lifecycle.Step.REMIND,
        lifecycle.Step.START_GRACE,
        lifecycle.Step.RENEW,
    ]
    assert all(e.recorded_at == back for e in executed)
    assert app.get_subscription(sub_id).site_state is SiteState.UP  # postponed, not skipped
    assert app.next_step_of(sub_id).step is lifecycle.Step.SUSPEND
    assert app.next_step_of(sub_id).due_at == back + timedelta(hours=24)
    # Reminders record when they were due and when they really went out.
    reminder = next(e for e in timeline(app, sub_id) if e.data.get("kind") == "payment_reminder")
    assert reminder.due_at == T0 + 27 * DAY and reminder.recorded_at == back
    assert not app.advance(back + 23 * HOUR)
    assert [e.step.step for e in app.advance(back + 24 * HOUR)] == [lifecycle.Step.SUSPEND]


def test_a_late_collection_warning_postpones_collection_to_keep_the_lead():
    app = in_memory_app()
    sub_id = ordered(app)
    suspended_at = T0 + 33 * DAY
    run_clock(app, T0, suspended_at + 10 * DAY)  # warning 1 is due at +16 days
    # Down from day 10 of the suspension until after the planned collection.
    back = suspended_at + 31 * DAY
    executed = app.advance(back)
    kinds = [e.step.step for e in executed]
    assert kinds.count(lifecycle.Step.WARN) == 3
    assert lifecycle.Step.COLLECT not in kinds
    assert app.next_step_of(sub_id).step is lifecycle.Step.COLLECT
    assert app.next_step_of(sub_id).due_at == back + timedelta(hours=24)


def test_every_time_based_event_was_due_no_later_than_it_was_recorded():
    app = in_memory_app()
    sub_id = ordered(app)
    app.advance(T0 + 40 * DAY)  # a catch-up
    run_clock(app, T0 + 40 * DAY, T0 + 90 * DAY, step=7 * HOUR)
    timed = [e for e in timeline(app, sub_id) if e.due_at is not None]
    assert timed
    assert all(e.due_at <= e.recorded_at for e in timed)


# --- payments ------------------------------------------------------------------------------------


def test_paying_before_the_deadline_keeps_the_site_active_and_stops_reminders():
    app = in_memory_app()
    sub_id = ordered(app)
    invoice = first_invoice(app, sub_id)
    app.record_payment(random_ref(), 1_100_000, T0 + 5 * DAY, invoice_id=invoice.id)
    run_clock(app, T0 + 5 * DAY, T0 + 29 * DAY)
    assert first_invoice(app, sub_id).status is InvoiceStatus.PAID
    assert "payment_reminder" not in notices(app, sub_id)
    assert app.status_of(sub_id) is SubscriptionStatus.ACTIVE


def test_payment_while_suspended_restores_the_site_in_the_same_command():
    app = in_memory_app()
    sub_id = ordered(app)
    paid_at = T0 + 35 * DAY
    run_clock(app, T0, paid_at)
    assert app.get_subscription(sub_id).site_state is SiteState.SUSPENDED
    outcome = app.record_payment(
        random_ref(), balance_of(app, sub_id), paid_at, subscription_id=sub_id
    )
    assert outcome.restored
    entries = timeline(app, sub_id)
    recorded = [e for e in entries if e.event == "PaymentRecorded"]
    restored = next(e for e in entries if e.event == "SiteRestored")
    assert recorded and all(e.recorded_at == restored.recorded_at == paid_at for e in recorded)
    assert app.status_of(sub_id) is SubscriptionStatus.ACTIVE


def test_a_partial_payment_keeps_the_site_suspended_and_the_notice_says_so():
    app = in_memory_app()
    sub_id = ordered(app)
    run_clock(app, T0, T0 + 34 * DAY)
    outcome = app.record_payment(random_ref(), 500_000, T0 + 34 * DAY, subscription_id=sub_id)
    assert not outcome.restored
    assert app.get_subscription(sub_id).site_state is SiteState.SUSPENDED
    notice = [e for e in timeline(app, sub_id) if e.event == "NoticeSent"][-1]
    assert notice.data["kind"] == "payment_received"
    assert notice.data["facts"]["site"] == "suspended"
    assert notice.data["facts"]["still_overdue"] == [str(first_invoice(app, sub_id).id)]


def test_paying_one_of_two_overdue_invoices_keeps_the_site_suspended():
    app = in_memory_app()
    sub_id = ordered(app)
    run_clock(app, T0, T0 + 45 * DAY)  # invoice 2 (due ~day 38) is past its grace too
    first, second = app.get_subscription(sub_id).invoice_ids[:2]
    app.record_payment(random_ref(), 1_100_000, T0 + 45 * DAY, invoice_id=second)
    assert app.get_subscription(sub_id).site_state is SiteState.SUSPENDED
    app.record_payment(random_ref(), 1_100_000, T0 + 45 * DAY, invoice_id=first)
    assert app.get_subscription(sub_id).site_state is SiteState.UP


def test_paying_the_oldest_while_a_newer_one_is_in_grace_restores_into_grace():
    app = in_memory_app()
    sub_id = ordered(app)
    sub = app.get_subscription(sub_id)
    second_deadline = sub.periods[0].ends_at + 7 * DAY
    run_clock(app, T0, second_deadline + HOUR)  # invoice 2 just passed its deadline
    first = sub.invoice_ids[0]
    app.record_payment(random_ref(), 1_100_000, second_deadline + HOUR, invoice_id=first)
    assert app.get_subscription(sub_id).site_state is SiteState.UP
    assert app.status_of(sub_id) is SubscriptionStatus.GRACE


def test_a_payment_that_names_no_invoice_pays_the_oldest_first():
    app = in_memory_app()
    sub_id = ordered(app)
    run_clock(app, T0, T0 + 32 * DAY)  # two open invoices now
    first, second = app.get_subscription(sub_id).invoice_ids[:2]
    outcome = app.record_payment(random_ref(), 1_500_000, T0 + 32 * DAY, subscription_id=sub_id)
    assert [(a.invoice_id, a.amount) for a in outcome.allocations] == [
        (first, Money(1_100_000)),
        (second, Money(400_000)),
    ]
    assert app.get_invoice(second).balance == Money(700_000)


def test_an_overpayment_becomes_credit_applied_to_the_next_invoice():
    app = in_memory_app()
    sub_id = ordered(app)
    invoice = first_invoice(app, sub_id)
    outcome = app.record_payment(random_ref(), 1_500_000, T0 + DAY, invoice_id=invoice.id)
    assert outcome.credit == Money(400_000)
    customer = app.get_subscription(sub_id).customer_id
    assert app.get_customer(customer).credit == Money(400_000)
    run_clock(app, T0 + DAY, T0 + 31 * DAY)  # the second period starts
    renewal = app.get_invoice(app.get_subscription(sub_id).invoice_ids[1])
    assert renewal.paid == Money(400_000)
    assert renewal.balance == Money(700_000)
    assert app.get_customer(customer).credit == Money(0)


def test_the_same_payment_reference_twice_is_a_no_op():
    app = in_memory_app()
    sub_id = ordered(app)
    invoice = first_invoice(app, sub_id)
    reference = random_ref("gw")
    app.record_payment(reference, 600_000, T0 + DAY, invoice_id=invoice.id)
    before = app.recorder.max_notification_id()
    again = app.record_payment(reference, 600_000, T0 + 2 * DAY, invoice_id=invoice.id)
    assert app.recorder.max_notification_id() == before
    assert again.allocations[0].amount == Money(600_000)
    assert app.get_invoice(invoice.id).paid == Money(600_000)


def test_the_same_reference_with_another_amount_is_refused():
    app = in_memory_app()
    sub_id = ordered(app)
    invoice = first_invoice(app, sub_id)
    reference = random_ref("gw")
    app.record_payment(reference, 600_000, T0 + DAY, invoice_id=invoice.id)
    with pytest.raises(PaymentReferenceConflict, match="already recorded"):
        app.record_payment(reference, 700_000, T0 + DAY, invoice_id=invoice.id)


@pytest.mark.parametrize("amount", [0, -1, 10.5, "100"])
def test_a_zero_negative_or_fractional_amount_is_refused(amount):
    app = in_memory_app()
    sub_id = ordered(app)
    before = app.recorder.max_notification_id()
    with pytest.raises(InvalidAmount):
        app.record_payment(random_ref(), amount, T0 + DAY, subscription_id=sub_id)
    assert app.recorder.max_notification_id() == before


def test_paying_a_collected_sites_voided_invoice_is_refused_and_records_nothing():
    app = in_memory_app()
    sub_id = ordered(app)
    run_clock(app, T0, T0 + 64 * DAY)
    invoice = first_invoice(app, sub_id)
    before = app.recorder.max_notification_id()
    with pytest.raises(InvoiceNotPayable, match="voided"):
        app.record_payment(random_ref(), 1_100_000, T0 + 64 * DAY, invoice_id=invoice.id)
    with pytest.raises(SubscriptionCollected):
        app.record_payment(random_ref(), 1_100_000, T0 + 64 * DAY, subscription_id=sub_id)
    assert app.recorder.max_notification_id() == before


def test_a_command_first_catches_up_so_a_payment_on_collection_day_finds_it_collected():
    app = in_memory_app()
    sub_id = ordered(app)
    collection = T0 + 63 * DAY
    run_clock(app, T0, collection - HOUR)  # every warning went out; the tick at 00:00 did not run
    assert app.get_subscription(sub_id).site_state is SiteState.SUSPENDED
    with pytest.raises(SubscriptionCollected):
        app.record_payment(random_ref(), 1_100_000, collection + 10 * HOUR, subscription_id=sub_id)


def test_restoring_a_site_that_is_not_suspended_is_refused():
    app = in_memory_app()
    sub = app.get_subscription(ordered(app))
    with pytest.raises(SiteNotSuspended, match="not suspended"):
        sub.restore("x", T0 + DAY)


def test_time_never_runs_backwards_within_an_aggregate():
    app = in_memory_app()
    sub_id = ordered(app)
    with pytest.raises(TimeWentBackwards):
        app.record_payment(random_ref(), 1_000, T0 - DAY, subscription_id=sub_id)


# --- plan change and cancellation ---------------------------------------------------------------


def test_a_plan_change_applies_from_the_next_period():
    app = in_memory_app()
    sub_id = ordered(app)
    app.define_plan(a_plan("pro", monthly_price=2_000_000), T0)
    app.change_plan(sub_id, "pro", T0 + DAY, period="quarterly")
    first = first_invoice(app, sub_id)
    app.record_payment(random_ref(), first.total.rials, T0 + DAY, invoice_id=first.id)
    run_clock(app, T0 + DAY, T0 + 31 * DAY)
    sub = app.get_subscription(sub_id)
    renewal = app.get_invoice(sub.invoice_ids[1])
    assert sub.plan.id == "pro" and sub.periods[1].period.value == "quarterly"
    assert renewal.lines[0].quantity == 3
    assert renewal.total == Money(6_270_000)  # 6,000,000 − 5 % + 10 % VAT
    assert (sub.periods[1].start.isoformat(), sub.periods[1].end.isoformat()) == (
        "1405/02/15",
        "1405/05/15",
    )


def test_a_plan_change_is_refused_while_an_invoice_is_overdue():
    app = in_memory_app()
    sub_id = ordered(app)
    app.define_plan(a_plan("pro", monthly_price=2_000_000), T0)
    with pytest.raises(PlanChangeRefused, match="overdue"):
        app.change_plan(sub_id, "pro", T0 + 31 * DAY)


def test_cancellation_stops_renewals_and_the_open_balance_stays_due():
    app = in_memory_app()
    sub_id = ordered(app)
    app.cancel_subscription(sub_id, T0 + DAY)
    run_clock(app, T0 + DAY, T0 + 70 * DAY)
    sub = app.get_subscription(sub_id)
    assert len(sub.invoice_ids) == 1  # no renewal
    assert sub.site_state is SiteState.COLLECTED  # the unpaid first invoice ran its course


def test_a_cancelled_and_paid_subscription_ends_at_its_period_end():
    app = in_memory_app()
    sub_id = ordered(app)
    invoice = first_invoice(app, sub_id)
    app.record_payment(random_ref(), invoice.total.rials, T0 + DAY, invoice_id=invoice.id)
    app.cancel_subscription(sub_id, T0 + 2 * DAY)
    run_clock(app, T0 + 2 * DAY, T0 + 40 * DAY)
    sub = app.get_subscription(sub_id)
    assert app.status_of(sub_id) is SubscriptionStatus.CANCELLED
    assert sub.ended_at == sub.periods[0].ends_at
    assert len(sub.invoice_ids) == 1


# --- time: one jump or many steps ----------------------------------------------------------------


def _shape(app, sub_id):
    return [
        (e.aggregate, e.event, e.recorded_at, e.due_at, e.data.get("kind"), e.data.get("number"))
        for e in timeline(app, sub_id)
    ]


@pytest.mark.parametrize("grace_days", [0, 3])
def test_one_jump_and_many_small_steps_give_the_same_events(grace_days):
    stepped, jumped = in_memory_app(), in_memory_app()
    plan = a_plan(grace_days=grace_days)
    a, b = ordered(stepped, plan=plan), ordered(jumped, plan=plan)
    run_clock(stepped, T0, T0 + 100 * DAY, step=HOUR)
    jumped.advance(T0 + 100 * DAY, on_time=True)
    assert _shape(stepped, a) == _shape(jumped, b)


def test_advance_is_idempotent():
    app = in_memory_app()
    ordered(app)
    assert app.advance(T0 + 50 * DAY)
    before = app.recorder.max_notification_id()
    assert app.advance(T0 + 50 * DAY) == []
    assert app.recorder.max_notification_id() == before


def test_replaying_the_stored_events_gives_the_same_state():
    app = in_memory_app()
    sub_id = ordered(app)
    run_clock(app, T0, T0 + 36 * DAY, step=5 * HOUR)
    app.record_payment(random_ref(), 700_000, T0 + 36 * DAY, subscription_id=sub_id)
    live = app.get_subscription(sub_id)
    replayed = app.repository.get(sub_id)
    assert replayed == live
    assert replayed.version == len(list(app.events.get(sub_id)))


def test_the_lifecycle_reads_only_open_invoices_however_long_the_contract():
    app = in_memory_app()
    sub_id = ordered(app)
    now = T0
    for _ in range(6):  # six months, each invoice paid the day it is issued
        now += 31 * DAY
        app.advance(now, on_time=True)
        app.record_payment(random_ref(), balance_of(app, sub_id), now, subscription_id=sub_id)
    sub = app.get_subscription(sub_id)
    assert len(sub.invoice_ids) == 7
    assert sub.open_invoice_ids == []
    assert app.lifecycle_of(sub_id).invoices == {}
    settled = [e for e in timeline(app, sub_id) if e.event == "InvoicesSettled"]
    assert sum(len(e.data["invoice_ids"]) for e in settled) == 7


def test_an_invoice_paid_in_full_by_credit_is_settled_at_issue():
    app = in_memory_app()
    sub_id = ordered(app)
    invoice = first_invoice(app, sub_id)
    app.record_payment(random_ref(), 2_500_000, T0 + DAY, invoice_id=invoice.id)  # 1,400,000 credit
    run_clock(app, T0 + DAY, T0 + 31 * DAY)
    sub = app.get_subscription(sub_id)
    renewal = app.get_invoice(sub.invoice_ids[1])
    assert renewal.status is InvoiceStatus.PAID
    assert renewal.id not in sub.open_invoice_ids
    assert app.get_customer(sub.customer_id).credit == Money(300_000)


def test_a_command_a_moment_older_than_a_concurrent_one_is_recorded_after_it():
    """Two requests stamped a second apart, the later one saved first: the earlier is not
    refused but recorded at the later one's moment (order of saving is the order of events)."""
    app = in_memory_app()
    sub_id = ordered(app)
    invoice_id = app.get_subscription(sub_id).invoice_ids[0]
    app.record_payment("first-saved", 1_000, T0 + DAY, invoice_id=invoice_id)
    app.record_payment(
        "stamped-earlier", 1_000, T0 + DAY - timedelta(seconds=1), invoice_id=invoice_id
    )
    settlements = app.get_invoice(invoice_id).settlements
    assert [s.reference for s in settlements] == ["first-saved", "stamped-earlier"]
    assert settlements[1].recorded_at == T0 + DAY
    with pytest.raises(TimeWentBackwards):
        app.record_payment("an-hour-late", 1_000, T0 + DAY - HOUR, invoice_id=invoice_id)


def test_a_command_whose_catch_up_issues_two_renewals_saves_both_invoices():
    """Found by the property tests: a cancellation after two idle months (no tick ran) catches
    up two renewals; both invoices are saved with the subscription that names them."""
    app = in_memory_app()
    sub_id = ordered(app)  # monthly: renewals fall due on days 31 and 61
    app.cancel_subscription(sub_id, T0 + 65 * DAY)
    sub = app.get_subscription(sub_id)
    assert len(sub.invoice_ids) == 3
    assert all(app.get_invoice(i).subscription_id == sub_id for i in sub.invoice_ids)
