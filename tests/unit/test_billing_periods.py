"""Billing periods follow the Jalali calendar: clamp to month end, keep the anchor day."""

from datetime import timedelta

from domain import lifecycle
from domain.jalali import JalaliDate
from tests.builders import DAY, in_memory_app, ordered, random_ref, run_clock


def run_paying(app, sub_id, start, until):
    """Advance day by day, paying every open invoice on the day it is issued."""
    now = start
    while now < until:
        now += DAY
        app.advance(now, on_time=True)
        life = app.lifecycle_of(sub_id)
        due = lifecycle.amount_due(life.subscription, life.invoices)
        if due.is_positive:
            app.record_payment(random_ref(), due, now, subscription_id=sub_id)


def order_on(jalali: JalaliDate, period: str = "monthly"):
    app = in_memory_app()
    at = jalali.start_in_tehran() + timedelta(hours=9)
    return app, ordered(app, at=at, period=period), at


def test_a_monthly_period_from_the_31st_clamps_to_30_and_29_and_returns_to_31():
    app, sub_id, at = order_on(JalaliDate(1405, 6, 31))
    run_paying(app, sub_id, at, at + 215 * DAY)
    starts = [p.start.isoformat() for p in app.get_subscription(sub_id).periods]
    assert starts == [
        "1405/06/31",
        "1405/07/30",  # Mehr has 30 days
        "1405/08/30",
        "1405/09/30",
        "1405/10/30",
        "1405/11/30",
        "1405/12/29",  # Esfand 1405 has 29 days
        "1406/01/31",  # the anchor day comes back
    ]


def test_each_period_ends_where_the_next_begins():
    app, sub_id, at = order_on(JalaliDate(1405, 6, 31))
    run_clock(app, at, at + 100 * DAY, step=timedelta(days=1))
    periods = app.get_subscription(sub_id).periods
    assert len(periods) >= 3  # 100 days of monthly periods: the loop compares two pairs or more
    for current, following in zip(periods, periods[1:], strict=False):
        assert current.end == following.start
        assert current.ends_at == following.starts_at
    assert periods[0].last_day.isoformat() == "1405/07/29"


def test_quarterly_and_yearly_periods_keep_the_anchor_day():
    app, sub_id, at = order_on(JalaliDate(1405, 6, 31), period="quarterly")
    assert app.get_subscription(sub_id).periods[0].end.isoformat() == "1405/09/30"
    app, sub_id, at = order_on(JalaliDate(1403, 12, 30), period="yearly")  # 1403 is leap
    assert app.get_subscription(sub_id).periods[0].end.isoformat() == "1404/12/29"


def test_a_period_starts_at_midnight_in_tehran():
    app, sub_id, at = order_on(JalaliDate(1405, 1, 15))
    run_clock(app, at, at + 32 * DAY, step=timedelta(hours=1))
    second = app.get_subscription(sub_id).periods[1]
    assert second.starts_at.isoformat() == "2026-05-04T20:30:00+00:00"  # 1405/02/15 00:00 +03:30
