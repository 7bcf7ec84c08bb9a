"""The Iranian (Jalali / Solar Hijri) calendar, as used on invoices and billing periods.

Calendar facts this module relies on:

* A Jalali year starts on Nowruz (1 Farvardin), the day of the March equinox in Tehran, so it
  begins on 20 or 21 March (rarely 19 or 22). Jalali year ``y`` mostly overlaps Gregorian
  year ``y + 621``.
* Months 1-6 have 31 days, months 7-11 have 30 days, and Esfand (month 12) has 29 days, or 30
  in a leap year. A year therefore has 365 or 366 days.
* Which years are leap is astronomical, not a simple rule. We use Borkowski's "breaks"
  algorithm (the one in jalaali-js): leap years follow a 33-year cycle of eight leap years, and
  a short table of "break" years marks where the cycle is re-phased to stay on the equinox. It
  agrees with the official calendar for at least Jalali 1300-1500 and is defined for the years
  in :data:`MIN_YEAR`..:data:`MAX_YEAR`.
* Dates are decided in Tehran time. Iran has no daylight saving time since 2022 (1401), so
  :data:`TEHRAN` is a fixed UTC+03:30.

Pure: standard library only, no I/O, never reads the clock. Worked examples live in
``tests/unit/test_jalali.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import lru_cache

# Iran abolished daylight saving time in 2022 (1401), so a fixed +03:30 offset is exact for
# billing dates from then on. (Summer moments before that were at +04:30 and would be off.)
TEHRAN = timezone(timedelta(hours=3, minutes=30), "Asia/Tehran")

# Borkowski's break years: the Jalali years at which the 33-year leap pattern is re-phased.
# The algorithm is only defined from the first break up to (not including) the last one.
_BREAKS: tuple[int, ...] = (
    -61, 9, 38, 199, 426, 686, 756, 818, 1111, 1181, 1210,
    1635, 2060, 2097, 2192, 2262, 2324, 2394, 2456, 3178,
)  # fmt: skip

# Year 0 and below make no sense for billing, and Python's date cannot go below Gregorian 1.
MIN_YEAR = 1
MAX_YEAR = _BREAKS[-1] - 1

MONTH_NAMES: tuple[str, ...] = (
    "فروردین",
    "اردیبهشت",
    "خرداد",
    "تیر",
    "مرداد",
    "شهریور",
    "مهر",
    "آبان",
    "آذر",
    "دی",
    "بهمن",
    "اسفند",
)

_LATIN_DIGITS = "0123456789"
_PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"
_ARABIC_INDIC_DIGITS = "٠١٢٣٤٥٦٧٨٩"
_TO_PERSIAN = str.maketrans(_LATIN_DIGITS, _PERSIAN_DIGITS)
_TO_LATIN = str.maketrans(_PERSIAN_DIGITS + _ARABIC_INDIC_DIGITS, _LATIN_DIGITS * 2)

# Most digits a year, a month and a day may be written with in parse().
_FIELD_WIDTHS = (4, 2, 2)


# --- The breaks algorithm ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _YearInfo:
    nowruz: date  # Gregorian date of 1 Farvardin
    leap: bool


def _check_year(year: int) -> None:
    if isinstance(year, bool) or not isinstance(year, int):
        raise ValueError(f"A Jalali year must be an integer, not {year!r}.")
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(
            f"Jalali year {year} is outside the supported range {MIN_YEAR}..{MAX_YEAR}."
        )


@lru_cache(maxsize=512)
def _year_info(year: int) -> _YearInfo:
    """Nowruz and leapness of a Jalali year, by Borkowski's breaks algorithm.

    All quantities are non-negative wherever Python's floor ``//`` and ``%`` are used below
    (we only accept years >= 1), so they match the original's truncating arithmetic.
    """
    _check_year(year)

    # 1. Count Jalali leap years before `year`, walking the break table. Between two breaks the
    #    pattern is a run of 33-year cycles with 8 leap years each, plus one leap year every
    #    4 years in the incomplete cycle. -14 calibrates the count to the first break (-61).
    leaps_jalali = -14
    previous_break = _BREAKS[0]
    jump = 0
    for next_break in _BREAKS[1:]:
        jump = next_break - previous_break
        if year < next_break:
            break
        leaps_jalali += (jump // 33) * 8 + (jump % 33) // 4
        previous_break = next_break
    years_since_break = year - previous_break

    # ...plus the leap years from the last break up to `year`. Within each 33-year cycle the
    # cycle's first year and every 4th year after it are leap (8 of 33), so (k + 3) // 4 counts
    # the leap years among the first k years of the cycle.
    leaps_jalali += (years_since_break // 33) * 8 + ((years_since_break % 33) + 3) // 4
    # Special case of the original: in a run whose length leaves a remainder of 4 years, the
    # last of those years (4 before the next break) has one more leap year behind it.
    if jump % 33 == 4 and jump - years_since_break == 4:
        leaps_jalali += 1

    # 2. Count Gregorian leap years up to the Gregorian year in which `year` starts. The -150
    #    aligns this count with the Jalali one above (both are relative counts).
    gregorian_year = year + 621
    leaps_gregorian = gregorian_year // 4 - ((gregorian_year // 100 + 1) * 3) // 4 - 150

    # 3. Nowruz drifts one day later for every Jalali leap year and one day earlier for every
    #    Gregorian one; 20 March is the reference day.
    march_day = 20 + leaps_jalali - leaps_gregorian
    nowruz = date(gregorian_year, 3, 1) + timedelta(days=march_day - 1)

    # 4. Position within the 4-year leap group. In the last few years of a run (fewer than 6
    #    before the next break) count relative to the run's end instead, so the final short
    #    group lines up with the next break.
    n = years_since_break
    if jump - n < 6:
        n = n - jump + ((jump + 4) // 33) * 33
    # Here n may be negative; emulate the original's truncating remainder. Position 0 is leap.
    position = _trunc_mod(_trunc_mod(n + 1, 33) - 1, 4)
    return _YearInfo(nowruz=nowruz, leap=position == 0)


def _trunc_mod(a: int, b: int) -> int:
    """Remainder with the sign of `a` (C/JavaScript `%`), unlike Python's floor `%`."""
    return a - b * int(a / b)


def is_leap_year(year: int) -> bool:
    """Whether Esfand of this Jalali year has 30 days (the year has 366 days)."""
    return _year_info(year).leap


def month_length(year: int, month: int) -> int:
    """Days in a Jalali month: 31 for months 1-6, 30 for 7-11, 29 or 30 for Esfand."""
    _check_month(month)
    if month <= 6:
        return 31
    if month <= 11:
        return 30
    return 30 if is_leap_year(year) else 29


def _check_month(month: int) -> None:
    if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
        raise ValueError(f"A Jalali month must be 1..12, not {month!r}.")


def _days_before_month(month: int) -> int:
    # The first 6 months have 31 days and the next 5 have 30; Esfand's length never matters here.
    if month <= 7:
        return (month - 1) * 31
    return 6 * 31 + (month - 7) * 30


# --- Digits ------------------------------------------------------------------------------------


def to_persian_digits(text: str) -> str:
    """Replace 0-9 with ۰-۹; everything else is left as it is."""
    return text.translate(_TO_PERSIAN)


def to_latin_digits(text: str) -> str:
    """Replace Persian ۰-۹ and Arabic-Indic ٠-٩ digits with 0-9 (people type either)."""
    return text.translate(_TO_LATIN)


# --- Dates -------------------------------------------------------------------------------------


def _in_tehran(moment: datetime) -> datetime:
    # A naive datetime could be UTC or server-local; guessing would shift invoices by a day.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"The moment {moment.isoformat()} has no time zone; pass an aware datetime."
        )
    return moment.astimezone(TEHRAN)


@dataclass(frozen=True, order=True, slots=True)
class JalaliDate:
    """A day of the Jalali calendar. Ordering is chronological (year, month, day)."""

    year: int
    month: int
    day: int

    def __post_init__(self) -> None:
        _check_year(self.year)
        _check_month(self.month)
        length = month_length(self.year, self.month)
        if (
            isinstance(self.day, bool)
            or not isinstance(self.day, int)
            or not 1 <= self.day <= length
        ):
            raise ValueError(
                f"Day {self.day!r} does not exist in {self.year:04d}/{self.month:02d}"
                f" ({MONTH_NAMES[self.month - 1]} has {length} days that year)."
            )

    # --- Conversion ----------------------------------------------------------------------------

    @classmethod
    def from_gregorian(cls, d: date) -> JalaliDate:
        """The Jalali date of a Gregorian calendar date."""
        # A datetime is a date, but its calendar day depends on the zone: make callers choose.
        if isinstance(d, datetime):
            raise TypeError("from_gregorian takes a date; use JalaliDate.of() for a datetime.")
        if cls is JalaliDate:
            return _from_gregorian(d)  # dates are immutable: each day is converted once
        return cls._convert(d)

    @classmethod
    def _convert(cls, d: date) -> JalaliDate:
        # The Jalali year that starts in Gregorian year Y is Y - 621; before its Nowruz we are
        # still in the previous Jalali year.
        year = d.year - 621
        if year > MAX_YEAR or d < _year_info(year).nowruz:
            year -= 1
        _check_year(year)
        day_of_year = (d - _year_info(year).nowruz).days  # 0 on Nowruz
        if day_of_year >= (366 if is_leap_year(year) else 365):
            raise ValueError(f"{d.isoformat()} is after the last supported Jalali year {MAX_YEAR}.")
        # Months 1-6 are 31 days (186 days in all), the rest 30; Esfand is simply the remainder.
        if day_of_year < 186:
            month, day = divmod(day_of_year, 31)
        else:
            month, day = divmod(day_of_year - 186, 30)
            month += 6
        return cls(year, month + 1, day + 1)

    def to_gregorian(self) -> date:
        """The Gregorian calendar date of this day."""
        day_of_year = _days_before_month(self.month) + self.day - 1
        return _year_info(self.year).nowruz + timedelta(days=day_of_year)

    @classmethod
    def of(cls, moment: datetime) -> JalaliDate:
        """The Jalali date of an aware moment, as seen on a Tehran wall calendar."""
        return cls.from_gregorian(_in_tehran(moment).date())

    def start_in_tehran(self) -> datetime:
        """00:00 Tehran time on this day, as an aware datetime in UTC (``tzinfo=UTC``)."""
        midnight = datetime.combine(self.to_gregorian(), time(0), tzinfo=TEHRAN)
        return midnight.astimezone(UTC)

    # --- Arithmetic ----------------------------------------------------------------------------

    def add_months(self, n: int, anchor_day: int | None = None) -> JalaliDate:
        """Move `n` months (may be 0 or negative), clamping the day to the month's end.

        `anchor_day` is the day the schedule really wants (the subscription's start day). Pass
        it so a clamp is not permanent: from 1403/07/30 with anchor 31, +1 month is 1403/08/30,
        and a later 31-day month gets the 31st back. Without it, this date's own day is used.
        """
        if anchor_day is not None and (
            isinstance(anchor_day, bool)
            or not isinstance(anchor_day, int)
            or not 1 <= anchor_day <= 31
        ):
            raise ValueError(f"An anchor day must be 1..31, not {anchor_day!r}.")
        months_since_epoch = self.year * 12 + (self.month - 1) + n
        year, month_index = divmod(months_since_epoch, 12)
        month = month_index + 1
        wanted = anchor_day if anchor_day is not None else self.day
        _check_year(year)  # gives a clear message before month_length is asked about it
        return JalaliDate(year, month, min(wanted, month_length(year, month)))

    # --- Text ----------------------------------------------------------------------------------

    @property
    def month_name(self) -> str:
        """The Persian name of the month, e.g. "فروردین"."""
        return MONTH_NAMES[self.month - 1]

    def isoformat(self) -> str:
        """Zero padded, Latin digits, year first: ``1405/01/15``."""
        return f"{self.year:04d}/{self.month:02d}/{self.day:02d}"

    def __str__(self) -> str:
        return self.isoformat()

    def persian(self) -> str:
        """The :meth:`isoformat` text in Persian digits: ``۱۴۰۵/۰۱/۱۵``."""
        return to_persian_digits(self.isoformat())

    def long_persian(self) -> str:
        """Day, month name, year, as written in a Persian sentence: ``۱۵ فروردین ۱۴۰۵``."""
        return to_persian_digits(f"{self.day} {self.month_name} {self.year}")

    @classmethod
    def parse(cls, text: str) -> JalaliDate:
        """Read "1405/01/15", "1405-1-15" or "۱۴۰۵/۰۱/۱۵" (Persian or Arabic-Indic digits too)."""
        if not isinstance(text, str):
            raise ValueError(f"A Jalali date must be text like 1405/01/15, not {text!r}.")
        if cls is JalaliDate:
            return _parse(text)
        return cls._read(text)

    @classmethod
    def _read(cls, text: str) -> JalaliDate:
        fields = _split_date(to_latin_digits(text.strip()))
        if fields is None:
            raise ValueError(
                f"{text!r} is not a Jalali date; write year/month/day, e.g. 1405/01/15."
            )
        year, month, day = fields
        return cls(year, month, day)


@lru_cache(maxsize=65_536)
def _from_gregorian(d: date) -> JalaliDate:
    return JalaliDate._convert(d)


@lru_cache(maxsize=65_536)
def _parse(text: str) -> JalaliDate:
    return JalaliDate._read(text)


def _split_date(text: str) -> tuple[int, int, int] | None:
    """Year, month and day from "Y/M/D" or "Y-M-D" in Latin digits, or None if malformed."""
    # One separator throughout: splitting "1405/01-15" on "/" leaves two fields and fails.
    separator = "/" if "/" in text else "-"
    fields = text.split(separator)
    if len(fields) != 3:
        return None
    for field, width in zip(fields, _FIELD_WIDTHS, strict=True):
        # str.isdigit() would also accept "²" and friends, so check against 0-9 explicitly.
        if not 1 <= len(field) <= width or not all(c in _LATIN_DIGITS for c in field):
            return None
    year, month, day = (int(field) for field in fields)
    return year, month, day


def format_moment(moment: datetime, persian_digits: bool = False) -> str:
    """An aware moment as "1405/01/15 09:00" in Tehran time (optionally in Persian digits)."""
    local = _in_tehran(moment)
    text = f"{JalaliDate.from_gregorian(local.date()).isoformat()} {local:%H:%M}"
    return to_persian_digits(text) if persian_digits else text


def parse_moment(text: str) -> datetime:
    """A Tehran wall-clock moment typed by a person: ``1405/02/14 09:00``, ``1405/2/14 9:05``,
    ``1405/02/14`` (its 00:00), in Latin, Persian or Arabic-Indic digits; an aware datetime in
    UTC. Anything else is a ``ValueError`` that says how to write it."""
    if not isinstance(text, str):
        raise ValueError(f"A Jalali moment must be text like 1405/02/14 09:00, not {text!r}.")
    fields = to_latin_digits(text).split()
    if not 1 <= len(fields) <= 2:
        raise ValueError(f"{text!r} is not a Jalali moment; write it like 1405/02/14 09:00.")
    day = JalaliDate.parse(fields[0])  # ValueError with its own words
    hour = minute = 0
    if len(fields) == 2:
        clock = fields[1].split(":")
        if len(clock) != 2 or not all(
            1 <= len(part) <= 2 and all(c in _LATIN_DIGITS for c in part) for part in clock
        ):
            raise ValueError(f"{fields[1]!r} is not a time of day; write it like 09:00.")
        hour, minute = int(clock[0]), int(clock[1])
        if hour > 23 or minute > 59:
            raise ValueError(f"{fields[1]!r} is not a time of day; hours 00-23, minutes 00-59.")
    local = datetime.combine(day.to_gregorian(), time(hour, minute), tzinfo=TEHRAN)
    return local.astimezone(UTC)
