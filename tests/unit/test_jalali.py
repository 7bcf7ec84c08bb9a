"""Worked examples of the Jalali calendar module.

Reference dates are the published Nowruz days; ``jdatetime`` serves as an independent oracle
for every day of Jalali 1300-1499.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import jdatetime
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.jalali import (
    MAX_YEAR,
    MIN_YEAR,
    TEHRAN,
    JalaliDate,
    format_moment,
    is_leap_year,
    month_length,
    parse_moment,
    to_latin_digits,
    to_persian_digits,
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- Known calendar facts ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "gregorian"),
    [
        (1300, date(1921, 3, 21)),
        (1399, date(2020, 3, 20)),
        (1400, date(2021, 3, 21)),
        (1403, date(2024, 3, 20)),
        (1404, date(2025, 3, 21)),
        (1405, date(2026, 3, 21)),
    ],
)
def test_nowruz_falls_on_the_published_gregorian_day(year: int, gregorian: date) -> None:
    assert JalaliDate(year, 1, 1).to_gregorian() == gregorian
    assert JalaliDate.from_gregorian(gregorian) == JalaliDate(year, 1, 1)


def test_1402_is_not_leap_so_esfand_29_is_its_last_day() -> None:
    assert not is_leap_year(1402)
    assert month_length(1402, 12) == 29
    assert JalaliDate(1402, 12, 29).to_gregorian() == date(2024, 3, 19)
    # The next day is already Nowruz 1403.
    assert JalaliDate.from_gregorian(date(2024, 3, 20)) == JalaliDate(1403, 1, 1)
    with pytest.raises(ValueError, match="Day 30 does not exist in 1402/12"):
        JalaliDate(1402, 12, 30)


def test_1403_is_leap_so_esfand_30_exists() -> None:
    assert is_leap_year(1403)
    assert month_length(1403, 12) == 30
    assert JalaliDate(1403, 12, 30).to_gregorian() == date(2025, 3, 20)
    assert JalaliDate.from_gregorian(date(2025, 3, 20)) == JalaliDate(1403, 12, 30)


def test_1399_is_leap() -> None:
    assert is_leap_year(1399)
    assert JalaliDate(1399, 12, 30).to_gregorian() == date(2021, 3, 20)


def test_leap_years_around_today_follow_the_four_year_steps_of_the_33_year_cycle() -> None:
    # 1399 and 1403 are leap; the cycle then takes a five-year step to 1408.
    leap_years = [y for y in range(1395, 1415) if is_leap_year(y)]
    assert leap_years == [1395, 1399, 1403, 1408, 1412]


def test_month_lengths() -> None:
    assert [month_length(1404, m) for m in range(1, 13)] == [31] * 6 + [30] * 5 + [29]
    assert month_length(1403, 12) == 30


@pytest.mark.parametrize(
    ("jalali", "gregorian"),
    [
        # Where the 31-day months end and the 30-day months begin, and where Esfand begins.
        (JalaliDate(1404, 6, 31), date(2025, 9, 22)),
        (JalaliDate(1404, 7, 1), date(2025, 9, 23)),
        (JalaliDate(1404, 11, 30), date(2026, 2, 19)),
        (JalaliDate(1404, 12, 1), date(2026, 2, 20)),
    ],
)
def test_month_boundaries(jalali: JalaliDate, gregorian: date) -> None:
    assert jalali.to_gregorian() == gregorian
    assert JalaliDate.from_gregorian(gregorian) == jalali


def test_a_historic_date() -> None:
    # 22 Bahman 1357, the anniversary of the revolution.
    assert JalaliDate(1357, 11, 22).to_gregorian() == date(1979, 2, 11)


# --- Agreement with jdatetime ------------------------------------------------------------------
#
# jdatetime uses a fixed 33-year rule (a year is leap when year % 33 is 1, 5, 9, 13, 17, 22, 26
# or 30) instead of the breaks table. The two agree on every day of Jalali 1178-1633, so the
# whole range below (1300-1499) is compared. They part ways at the break year 1635, where the
# breaks algorithm moves the leap year from 1634 to 1635 (and likewise 1667/1668, 1700/1701,
# ...), and before 1178; neither matters for billing.


@settings(max_examples=300, deadline=None)
@given(st.dates(min_value=date(1921, 3, 21), max_value=date(2121, 3, 20)))
def test_from_gregorian_agrees_with_jdatetime_and_round_trips(day: date) -> None:
    oracle = jdatetime.date.fromgregorian(date=day)
    ours = JalaliDate.from_gregorian(day)
    assert (ours.year, ours.month, ours.day) == (oracle.year, oracle.month, oracle.day)
    assert ours.to_gregorian() == day


def test_every_nowruz_and_leap_year_1300_to_1500_agrees_with_jdatetime() -> None:
    for year in range(1300, 1501):
        oracle = jdatetime.date(year, 1, 1)
        assert JalaliDate(year, 1, 1).to_gregorian() == oracle.togregorian(), year
        assert is_leap_year(year) == oracle.isleap(), year


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=MIN_YEAR, max_value=MAX_YEAR - 1))
def test_leap_years_are_exactly_the_366_day_years(year: int) -> None:
    # Over the whole supported range, the leap flag and the Nowruz dates must tell one story.
    length = JalaliDate(year + 1, 1, 1).to_gregorian() - JalaliDate(year, 1, 1).to_gregorian()
    assert length.days == (366 if is_leap_year(year) else 365)


@settings(max_examples=300, deadline=None)
@given(st.dates(min_value=date(700, 1, 1), max_value=date(3700, 1, 1)))
def test_consecutive_gregorian_days_are_consecutive_jalali_days(day: date) -> None:
    today = JalaliDate.from_gregorian(day)
    tomorrow = JalaliDate.from_gregorian(day + timedelta(days=1))
    assert today.to_gregorian() == day
    if today.day < month_length(today.year, today.month):
        assert tomorrow == JalaliDate(today.year, today.month, today.day + 1)
    elif today.month < 12:
        assert tomorrow == JalaliDate(today.year, today.month + 1, 1)
    else:
        assert tomorrow == JalaliDate(today.year + 1, 1, 1)


def test_from_gregorian_refuses_a_datetime() -> None:
    # Its calendar day depends on the time zone; .of() is the right call.
    with pytest.raises(TypeError, match="use JalaliDate.of"):
        JalaliDate.from_gregorian(datetime(2026, 3, 21, tzinfo=UTC))


# --- Month arithmetic: clamp to month end, keep the anchor day ----------------------------------


def test_31st_of_shahrivar_clamps_to_30_in_mehr_and_aban() -> None:
    start = JalaliDate(1403, 6, 31)
    assert start.add_months(1) == JalaliDate(1403, 7, 30)
    assert start.add_months(2) == JalaliDate(1403, 8, 30)


def test_clamped_date_plus_a_month_keeps_the_anchor_day() -> None:
    assert JalaliDate(1403, 7, 30).add_months(1, anchor_day=31) == JalaliDate(1403, 8, 30)
    # Back in a 31-day month, the anchor day returns; without the anchor it would stay 30.
    assert JalaliDate(1403, 12, 30).add_months(1, anchor_day=31) == JalaliDate(1404, 1, 31)
    assert JalaliDate(1403, 12, 30).add_months(1) == JalaliDate(1404, 1, 30)


def test_31st_plus_six_months_lands_on_the_last_day_of_esfand() -> None:
    # Non-leap 1402: Esfand has 29 days.
    assert JalaliDate(1402, 6, 31).add_months(6, anchor_day=31) == JalaliDate(1402, 12, 29)
    # Leap 1403: Esfand has 30 days.
    assert JalaliDate(1403, 6, 31).add_months(6, anchor_day=31) == JalaliDate(1403, 12, 30)


def test_monthly_schedule_from_the_anchor_never_drifts() -> None:
    anchor = JalaliDate(1403, 1, 31)
    schedule = [anchor.add_months(k, anchor_day=31) for k in range(13)]
    assert [str(d) for d in schedule] == [
        "1403/01/31", "1403/02/31", "1403/03/31", "1403/04/31", "1403/05/31", "1403/06/31",
        "1403/07/30", "1403/08/30", "1403/09/30", "1403/10/30", "1403/11/30", "1403/12/30",
        "1404/01/31",
    ]  # fmt: skip


def test_add_months_crosses_years_both_ways() -> None:
    assert JalaliDate(1404, 11, 15).add_months(3) == JalaliDate(1405, 2, 15)
    assert JalaliDate(1405, 2, 15).add_months(-3) == JalaliDate(1404, 11, 15)
    assert JalaliDate(1405, 1, 31).add_months(-1) == JalaliDate(1404, 12, 29)
    assert JalaliDate(1405, 1, 31).add_months(-12) == JalaliDate(1404, 1, 31)
    assert JalaliDate(1405, 1, 15).add_months(0) == JalaliDate(1405, 1, 15)


@pytest.mark.parametrize("anchor_day", [0, 32, -1])
def test_add_months_rejects_an_impossible_anchor_day(anchor_day: int) -> None:
    with pytest.raises(ValueError, match="anchor day must be 1..31"):
        JalaliDate(1405, 1, 1).add_months(1, anchor_day=anchor_day)


@st.composite
def jalali_dates(draw: st.DrawFn, min_year: int = 1300, max_year: int = 1500) -> JalaliDate:
    year = draw(st.integers(min_value=min_year, max_value=max_year))
    month = draw(st.integers(min_value=1, max_value=12))
    day = draw(st.integers(min_value=1, max_value=month_length(year, month)))
    return JalaliDate(year, month, day)


@settings(max_examples=300, deadline=None)
@given(jalali_dates(), st.integers(min_value=-60, max_value=60))
def test_add_months_moves_whole_months_and_clamps_only_at_month_end(
    start: JalaliDate, n: int
) -> None:
    moved = start.add_months(n, anchor_day=start.day)
    assert (moved.year * 12 + moved.month) - (start.year * 12 + start.month) == n
    assert moved.day == min(start.day, month_length(moved.year, moved.month))
    # Going back with the same anchor always restores the start.
    assert moved.add_months(-n, anchor_day=start.day) == start


# --- Tehran time -------------------------------------------------------------------------------


def test_tehran_is_three_and_a_half_hours_ahead_of_utc() -> None:
    assert TEHRAN.utcoffset(None) == timedelta(hours=3, minutes=30)


def test_of_decides_the_date_at_tehran_midnight() -> None:
    # 20:30 UTC is 00:00 in Tehran.
    assert JalaliDate.of(utc("2026-03-20T20:29:59")) == JalaliDate(1404, 12, 29)
    assert JalaliDate.of(utc("2026-03-20T20:30:00")) == JalaliDate(1405, 1, 1)


def test_of_accepts_any_time_zone() -> None:
    moment = datetime(2026, 3, 21, 0, 0, tzinfo=TEHRAN)
    assert JalaliDate.of(moment) == JalaliDate(1405, 1, 1)
    # Tehran midnight is 21:30 in Berlin (UTC+1 in March): the Berlin wall date is irrelevant.
    berlin = timezone(timedelta(hours=1))
    assert JalaliDate.of(datetime(2026, 3, 20, 21, 29, tzinfo=berlin)) == JalaliDate(1404, 12, 29)
    assert JalaliDate.of(datetime(2026, 3, 20, 21, 30, tzinfo=berlin)) == JalaliDate(1405, 1, 1)


def test_of_rejects_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        JalaliDate.of(datetime(2026, 3, 21, 12, 0))


def test_start_in_tehran_is_tehran_midnight_in_utc() -> None:
    start = JalaliDate(1405, 1, 1).start_in_tehran()
    assert start == utc("2026-03-20T20:30:00")
    assert start.tzinfo is UTC
    assert JalaliDate.of(start) == JalaliDate(1405, 1, 1)
    assert JalaliDate.of(start - timedelta(microseconds=1)) == JalaliDate(1404, 12, 29)


def test_format_moment_shows_tehran_wall_time() -> None:
    moment = utc("2026-04-04T05:30:00")  # 09:00 in Tehran
    assert format_moment(moment) == "1405/01/15 09:00"
    assert format_moment(moment, persian_digits=True) == "۱۴۰۵/۰۱/۱۵ ۰۹:۰۰"
    with pytest.raises(ValueError, match="no time zone"):
        format_moment(datetime(2026, 4, 4, 9, 0))


# --- Text --------------------------------------------------------------------------------------


def test_text_forms() -> None:
    day = JalaliDate(1405, 1, 15)
    assert day.isoformat() == "1405/01/15"
    assert str(day) == "1405/01/15"
    assert day.persian() == "۱۴۰۵/۰۱/۱۵"
    assert day.month_name == "فروردین"
    assert day.long_persian() == "۱۵ فروردین ۱۴۰۵"
    assert JalaliDate(1404, 12, 3).long_persian() == "۳ اسفند ۱۴۰۴"


def test_month_names_in_order() -> None:
    names = [JalaliDate(1405, m, 1).month_name for m in range(1, 13)]
    assert names == [
        "فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور",
        "مهر", "آبان", "آذر", "دی", "بهمن", "اسفند",
    ]  # fmt: skip


def test_digit_conversion() -> None:
    assert to_persian_digits("Invoice 1405-07, 12.5%") == "Invoice ۱۴۰۵-۰۷, ۱۲.۵%"
    assert to_latin_digits("۱۴۰۵/۰۱/۱۵") == "1405/01/15"
    assert to_latin_digits("١٤٠٥/٠١/١٥") == "1405/01/15"  # Arabic-Indic digits
    assert to_latin_digits("فاکتور ۱۲") == "فاکتور 12"


@pytest.mark.parametrize(
    "text",
    [
        "1405/01/15",
        "1405-01-15",
        "1405/1/15",
        "۱۴۰۵/۰۱/۱۵",
        "۱۴۰۵-۱-۱۵",
        "١٤٠٥/٠١/١٥",
        " 1405/01/15\n",
    ],
)
def test_parse_accepts_common_spellings(text: str) -> None:
    assert JalaliDate.parse(text) == JalaliDate(1405, 1, 15)


@settings(max_examples=300, deadline=None)
@given(jalali_dates())
def test_parse_round_trips_both_digit_sets(day: JalaliDate) -> None:
    assert JalaliDate.parse(day.isoformat()) == day
    assert JalaliDate.parse(day.persian()) == day


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1405",
        "1405/01",
        "1405.01.15",
        "1405/01-15",
        "14050115",
        "1405/01/15/1",
        "abc",
        "1405/001/15",
    ],
)
def test_parse_rejects_text_that_is_not_a_date(text: str) -> None:
    with pytest.raises(ValueError, match="is not a Jalali date"):
        JalaliDate.parse(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1405/13/01", "month must be 1..12"),
        ("1405/00/01", "month must be 1..12"),
        ("1405/07/31", "Day 31 does not exist in 1405/07"),
        ("1404/12/30", "Day 30 does not exist in 1404/12"),
        ("1405/01/00", "Day 0 does not exist"),
    ],
)
def test_parse_rejects_days_that_do_not_exist(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        JalaliDate.parse(text)


def test_constructor_validates() -> None:
    with pytest.raises(ValueError, match="month must be 1..12"):
        JalaliDate(1405, 13, 1)
    with pytest.raises(ValueError, match="Day 32 does not exist"):
        JalaliDate(1405, 1, 32)
    with pytest.raises(ValueError, match="outside the supported range"):
        JalaliDate(0, 1, 1)
    with pytest.raises(ValueError, match="must be an integer"):
        JalaliDate("1405", 1, 1)  # type: ignore[arg-type]


def test_dates_order_chronologically() -> None:
    assert JalaliDate(1404, 12, 29) < JalaliDate(1405, 1, 1) < JalaliDate(1405, 1, 2)
    assert sorted([JalaliDate(1405, 2, 1), JalaliDate(1404, 12, 1)])[0] == JalaliDate(1404, 12, 1)


# --- moments typed by a person (the back office's as-of and hold fields) ------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "1405/02/14 09:00",
        "۱۴۰۵/۰۲/۱۴ ۰۹:۰۰",
        "١٤٠٥/٠٢/١٤ ٠٩:٠٠",
        " 1405/2/14   9:00 ",
        "1405-02-14 09:00",
    ],
)
def test_a_typed_jalali_moment_is_tehran_wall_clock_time(typed: str) -> None:
    # 14 Ordibehesht 1405 is 4 May 2026; 09:00 in Tehran (+03:30) is 05:30 UTC.
    assert parse_moment(typed) == datetime(2026, 5, 4, 5, 30, tzinfo=UTC)


def test_a_typed_jalali_date_alone_is_its_midnight_in_tehran() -> None:
    assert parse_moment("1405/01/01") == datetime(2026, 3, 20, 20, 30, tzinfo=UTC)
    assert format_moment(parse_moment("1405/12/29 23:59")) == "1405/12/29 23:59"


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "1405/02/14 9",
        "1405/02/14 24:00",
        "1405/02/14 09:60",
        "1405/13/01",
        "1405/02/32 09:00",
        "1405/02/14 09:00 extra",
        "yesterday",
        "1405/02/14 ۰۹:۰۰:۰۰",
        "1405/02/14 ²:00",
    ],
)
def test_anything_else_typed_is_refused_with_how_to_write_it(typed: str) -> None:
    with pytest.raises(ValueError):
        parse_moment(typed)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)))
@settings(max_examples=200)
def test_a_moment_written_to_the_minute_reads_back_as_itself(naive: datetime) -> None:
    moment = naive.replace(second=0, microsecond=0, tzinfo=UTC)
    assert parse_moment(format_moment(moment, persian_digits=True)) == moment
