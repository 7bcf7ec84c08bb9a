"""Plan changes at once and their proration invoices (docs/LIFECYCLE.md, "Plan changes and
cancellation"; docs/INVOICES.md, "Proration invoices"; domain/proration.py)."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction

import pytest

from domain.base import NoticeKind
from domain.errors import ImmediatePlanChangeRefused, PlanChangeRefused
from domain.invoice import InvoiceKind
from domain.jalali import JalaliDate
from domain.money import Money
from domain.plan_changes import When
from domain.subscription import SubscriptionStatus
from tests.builders import DAY, a_plan, in_memory_app, ordered, random_ref, run_clock

#: 1405/07/01 09:00 Tehran: a 30-day Jalali month (Mehr).
START = JalaliDate.parse("1405/07/01").start_in_tehran() + timedelta(hours=9)


def on_day(n: int, hour: int = 12):
    """Day ``n`` of the first period (day 1 is the order day)."""
    return START + (n - 1) * DAY + timedelta(hours=hour - 9)


def shop(pro_price: int = 2_500_000):
    app = in_memory_app()
    sub_id = ordered(app, at=START)
    app.define_plan(a_plan("pro", monthly_price=pro_price), START)
    return app, sub_id


def pay_all(app, sub_id, at) -> None:
    for invoice_id in app.get_subscription(sub_id).open_invoice_ids:
        invoice = app.get_invoice(invoice_id)
        app.record_payment(random_ref(), invoice.balance.rials, at, invoice_id=invoice.id)


def test_the_charge_is_rounded_once_half_up_to_the_rial():
    """Day 15 of 30 leaves 15 days: (2,000,001 − 1,000,000) × 15 / 30 = 500,000.5 → 500,001."""
    app, sub_id = shop(pro_price=2_000_001)
    assert app.change_plan(sub_id, "pro", on_day(15)) is When.NOW
    invoice = app.get_invoice(app.get_subscription(sub_id).invoice_ids[-1])
    (line,) = invoice.lines
    assert (line.net, line.vat) == (Money(500_001), Money(50_000))  # VAT 50,000.1 → 50,000
    assert "15 of 30 days, 1405/07/16 to 1405/07/30" in line.description


def test_an_upgrade_is_in_force_at_once_and_the_renewal_bills_it_for_the_whole_period():
    app, sub_id = shop()
    app.change_plan(sub_id, "pro", on_day(10))
    sub = app.get_subscription(sub_id)
    assert (sub.plan.id, sub.pending_change, len(sub.periods)) == ("pro", None, 1)
    proration = app.get_invoice(sub.invoice_ids[-1])
    assert proration.kind is InvoiceKind.PRORATION and proration.period_no == 1
    assert proration.total == Money(1_100_000)  # 1,500,000 × 20/30, + 10 % VAT
    assert proration.deadline == on_day(10) + 7 * DAY  # the new plan's renewal window
    assert proration.has_notice(NoticeKind.INVOICE_ISSUED)
    pay_all(app, sub_id, on_day(10))
    run_clock(app, on_day(10), on_day(32), step=DAY)
    sub = app.get_subscription(sub_id)
    renewal = app.get_invoice(sub.invoice_ids[-1])
    assert (renewal.kind, renewal.period_no) == (InvoiceKind.RENEWAL, 2)
    assert renewal.total == Money(2_750_000) and sub.periods[1].plan_id == "pro"


def test_a_second_upgrade_in_the_same_period_has_an_invoice_of_its_own():
    app, sub_id = shop()
    app.define_plan(a_plan("max", monthly_price=4_000_000), START)
    app.change_plan(sub_id, "pro", on_day(10))
    pay_all(app, sub_id, on_day(10))
    app.change_plan(sub_id, "max", on_day(20))
    sub = app.get_subscription(sub_id)
    first, upgrade, again = (app.get_invoice(i) for i in sub.invoice_ids)
    assert len({first.id, upgrade.id, again.id}) == 3
    assert again.lines[0].net == Money(500_000)  # (4,000,000 − 2,500,000) × 10 / 30
    assert sub.plan.id == "max" and sub.changes_at_once == 2


def test_a_cheaper_plan_or_the_last_day_waits_for_the_renewal_and_at_once_is_refused():
    app, sub_id = shop(pro_price=500_000)
    assert app.change_plan(sub_id, "pro", on_day(10)) is When.RENEWAL
    sub = app.get_subscription(sub_id)
    assert sub.plan.id == "basic" and sub.pending_change[0].id == "pro"
    version = sub.version
    with pytest.raises(ImmediatePlanChangeRefused) as refused:
        app.change_plan(sub_id, "pro", on_day(10), when="now")
    assert refused.value.details["reason"] == "not_an_upgrade"
    assert app.get_subscription(sub_id).version == version  # nothing recorded

    app.define_plan(a_plan("max", monthly_price=4_000_000), START)
    # The last day (1405/07/30): no day is left after it.
    assert app.change_plan(sub_id, "max", on_day(30)) is When.RENEWAL
    with pytest.raises(ImmediatePlanChangeRefused) as refused:
        app.change_plan(sub_id, "max", on_day(30), when="now")
    assert refused.value.details["reason"] == "period_over"


def test_an_upgrade_asked_at_the_renewal_is_scheduled():
    app, sub_id = shop()
    assert app.change_plan(sub_id, "pro", on_day(10), when="renewal") is When.RENEWAL
    sub = app.get_subscription(sub_id)
    assert sub.plan.id == "basic" and len(sub.invoice_ids) == 1


def test_a_change_of_period_at_once_moves_the_period_end_and_charges_the_difference():
    """Monthly → yearly on day 10: the period keeps its first day and ends a year after it;
    the new terms' value of the days left, less the old terms' value of theirs."""
    app, sub_id = shop()
    assert app.change_plan(sub_id, "basic", on_day(10), period="yearly") is When.RENEWAL
    app.change_plan(sub_id, "basic", on_day(10), period="yearly", when="now")
    sub = app.get_subscription(sub_id)
    assert sub.period.value == "yearly" and sub.pending_change is None
    assert sub.current_period.end.isoformat() == "1406/07/01"
    days = (JalaliDate.parse("1406/07/01").to_gregorian() - START.date()).days
    yearly = 12_000_000 - 1_800_000  # 15 % off
    exact = Fraction(yearly * (days - 10), days) - Fraction(1_000_000 * 20, 30)
    expected = int(exact + Fraction(1, 2))
    proration = app.get_invoice(sub.invoice_ids[-1])
    assert proration.lines[0].net == Money(expected)
    assert f"{days - 10} of {days} days" in proration.lines[0].description
    assert "less 20 unused of 30 days" in proration.lines[0].description
    # The next renewal comes at the new end, for a year.
    pay_all(app, sub_id, on_day(10))
    assert app.next_step_of(sub_id).due_at == JalaliDate.parse("1406/07/01").start_in_tehran()


def test_credit_pays_a_proration_invoice_first():
    app, sub_id = shop()
    first = app.get_invoice(app.get_subscription(sub_id).invoice_ids[0])
    app.record_payment(random_ref(), first.total.rials + 2_000_000, START, invoice_id=first.id)
    app.change_plan(sub_id, "pro", on_day(10))
    sub = app.get_subscription(sub_id)
    proration = app.get_invoice(sub.invoice_ids[-1])
    assert proration.balance == Money(0) and proration.id not in sub.open_invoice_ids
    assert app.get_customer(sub.customer_id).credit == Money(900_000)


def test_an_unpaid_proration_invoice_follows_the_unpaid_path_like_a_renewal():
    """It is hosting already given: reminders, grace, suspension on the new plan's terms."""
    app, sub_id = shop()
    first = app.get_invoice(app.get_subscription(sub_id).invoice_ids[0])
    app.record_payment(random_ref(), first.total.rials, START, invoice_id=first.id)
    app.change_plan(sub_id, "pro", on_day(10))
    proration_id = app.get_subscription(sub_id).invoice_ids[-1]
    deadline = app.get_invoice(proration_id).deadline
    run_clock(app, on_day(10), deadline + 3 * DAY + timedelta(hours=1))
    sub = app.get_subscription(sub_id)
    assert sub.status is SubscriptionStatus.SUSPENDED
    assert sub.suspension.invoice_id == proration_id
    reminders = app.get_invoice(proration_id).notices_of(NoticeKind.PAYMENT_REMINDER)
    assert len(reminders) == 2


def test_an_upgrade_is_refused_while_an_invoice_is_overdue():
    app, sub_id = shop()
    # The renewal window of the first invoice is 30 days: day 31 is past its deadline.
    with pytest.raises(PlanChangeRefused):
        app.change_plan(sub_id, "pro", on_day(31), when="now")


def test_an_upgrade_is_a_decision_on_record_in_explain():
    from service_layer.audit import explain

    app, sub_id = shop()
    app.change_plan(sub_id, "pro", on_day(10))
    said = explain(app, sub_id, on_day(11))
    decisions = said.english.split("Decisions on record:\n")[1]
    assert "- an upgrade to plan Pro (monthly) at once made by" in decisions
    assert "ارتقای بی‌درنگ به طرح Pro (ماهانه)" in said.persian
