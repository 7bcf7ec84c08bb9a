"""Plans, periods with their discounts, VAT by date, and invoice lines (docs/LIFECYCLE.md, "Invoices and money")."""

from datetime import UTC, datetime

import pytest

from domain.errors import InvalidPlan, UnknownPeriod
from domain.invoice import InvoiceLine
from domain.jalali import JalaliDate
from domain.money import Money, Rate
from domain.plans import LifecyclePolicy, Period, Plan
from domain.vat import IRAN_VAT, VatSchedule


def business() -> Plan:
    return Plan(id="business", name="Business", monthly_price=Money(1_000_000))


def test_longer_periods_earn_the_default_discounts():
    plan = business()
    assert plan.price(Period.MONTHLY) == Money(1_000_000)
    assert plan.price(Period.QUARTERLY) == Money(2_850_000)  # 3,000,000 less 5 %
    assert plan.price(Period.YEARLY) == Money(10_200_000)  # 12,000,000 less 15 %


def test_a_plan_sets_its_own_discounts():
    plan = Plan(
        id="pro",
        name="Pro",
        monthly_price=Money(1_000_000),
        discounts={"quarterly": Rate.percent(10), "yearly": Rate.percent(20)},
    )
    assert plan.price(Period.QUARTERLY) == Money(2_700_000)
    assert plan.price(Period.YEARLY) == Money(9_600_000)


def test_an_unknown_period_is_refused_with_the_choices():
    with pytest.raises(UnknownPeriod, match="monthly, quarterly or yearly"):
        Period.parse("weekly")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"reminder_days": (1,)}, "reminder_days"),  # one reminder is not "several notices"
        ({"reminder_days": (3, 0)}, "reminder_days"),  # a reminder at the deadline has no lead
        ({"collection_warning_days": (7, 1)}, "collection_warning_days"),
        ({"collection_warning_days": (40, 7, 1)}, "collection_warning_days"),  # before suspension
        ({"grace_days": -1}, "grace_days"),
    ],
)
def test_no_plan_can_switch_off_the_notices_before_an_action(changes, field):
    with pytest.raises(InvalidPlan) as error:
        LifecyclePolicy(**changes)
    assert error.value.details["field"] == field


def test_grace_days_zero_is_a_valid_plan():
    assert LifecyclePolicy(grace_days=0).grace_days == 0


def test_a_plan_survives_its_event_form():
    plan = business().with_grace_days(0)
    assert Plan.from_dict(plan.to_dict()) == plan


def test_vat_changes_by_date_on_the_fiscal_year_boundary():
    assert IRAN_VAT.rate_on(JalaliDate(1402, 12, 29)) == Rate.percent(9)
    assert IRAN_VAT.rate_on(JalaliDate(1403, 1, 1)) == Rate.percent(10)
    # The boundary is Tehran midnight: 2024-03-19T20:29Z is still 1402/12/29 in Tehran.
    assert IRAN_VAT.rate_at(datetime(2024, 3, 19, 20, 29, tzinfo=UTC)) == Rate.percent(9)
    assert IRAN_VAT.rate_at(datetime(2024, 3, 19, 20, 30, tzinfo=UTC)) == Rate.percent(10)


def test_a_vat_schedule_is_configured_in_jalali_dates():
    schedule = VatSchedule.parse("1396/01/01=9, 1403/01/01=10, 1405/01/01=12")
    assert schedule.rate_on(JalaliDate(1405, 1, 1)) == Rate.percent(12)
    assert VatSchedule.parse(str(schedule)) == schedule


def test_invoice_line_rounds_once_per_line_discount_then_vat():
    # Quarterly at 1,234,567 a month: gross 3,703,701; 5 % = 185,185.05 → 185,185;
    # net 3,518,516; VAT 9 % = 316,666.44 → 316,666; total 3,835,182.
    line = InvoiceLine.price(
        code="x",
        description="x",
        quantity=3,
        unit="month",
        unit_price=Money(1_234_567),
        discount_rate=Rate.percent(5),
        vat_rate=Rate.percent(9),
    )
    assert (line.gross, line.discount, line.net, line.vat, line.total) == (
        Money(3_703_701),
        Money(185_185),
        Money(3_518_516),
        Money(316_666),
        Money(3_835_182),
    )
    assert InvoiceLine.from_dict(line.to_dict()) == line
