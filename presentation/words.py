"""One text in English and Persian, and how both write amounts, moments and numbers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, overload

from domain.jalali import format_moment, to_persian_digits


@dataclass(frozen=True)
class Words:
    """The same thing said in English and in Persian."""

    english: str
    persian: str


def joined(lines: Iterable[Words], en_sep: str = "\n", fa_sep: str = "\n") -> Words:
    """Sentences one after the other, each language on its own."""
    lines = list(lines)
    return Words(
        en_sep.join(w.english for w in lines),
        fa_sep.join(w.persian for w in lines),
    )


@overload
def iso(moment: datetime) -> str: ...


@overload
def iso(moment: None) -> None: ...


@overload
def iso(moment: datetime | None) -> str | None: ...


def iso(moment: datetime | None) -> str | None:
    """A moment as ISO 8601 in UTC with a ``Z`` (how the API and exports write moments)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _moment(value: datetime | str | None) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def when_en(value: datetime | str | None) -> str:
    """A moment (or its ISO text, as event data holds it) as Tehran's Jalali date and time."""
    moment = _moment(value)
    return format_moment(moment) if moment else "?"


def when_fa(value: datetime | str | None) -> str:
    moment = _moment(value)
    return format_moment(moment, persian_digits=True) if moment else "?"


def when_en_iso(moment: datetime | None) -> str:
    """The Jalali moment with its ISO form beside it: "1405/02/14 09:00 (2026-05-04T05:30:00Z)"."""
    return f"{format_moment(moment)} ({iso(moment)})" if moment else "?"


def rials_en(value: Any) -> str:
    return f"{value:,} rials" if isinstance(value, int) else "?"


def rials_fa(value: Any) -> str:
    if not isinstance(value, int):
        return "?"
    return to_persian_digits(f"{value:,}".replace(",", "٬")) + " ریال"


def fa_digits(value: Any) -> str:
    """A number (or any text) with Persian digits."""
    return to_persian_digits(str(value))


def short(an_id: Any) -> str:
    """The first eight characters of an id: enough for a person to find it in a list."""
    return str(an_id)[:8]


_PERIODS_FA = {"monthly": "ماهانه", "quarterly": "سه‌ماهه", "yearly": "سالانه"}


def period_fa(period: str) -> str:
    """A billing period's name in Persian ("monthly" → "ماهانه")."""
    return _PERIODS_FA.get(period, period)
