"""Amounts in Persian words, as an official invoice writes the total («مبلغ به حروف»).

Choices, following the usual wording of invoices and cheques:

- the count is always written before a scale word: «یکصد» (not «صد»), «یک هزار» (not «هزار»),
  «یک میلیون», so each group reads the same whether or not it starts with one;
- groups and the parts inside a group are joined with « و »: 1_250_000 →
  «یک میلیون و دویست و پنجاه هزار»;
- the scales are هزار, میلیون, میلیارد. A thousand milliard is «یک هزار میلیارد», as in
  budgets and the press, not «تریلیون». The count before «میلیارد» is written out in full,
  so 1_500_000_000_000 → «یک هزار و پانصد میلیارد»;
- 18 is «هجده», the Academy of Persian Language's spelling (not «هیجده»).

The caller appends « ریال».
"""

from __future__ import annotations

from domain.jalali import to_persian_digits

__all__ = ["rials_in_words", "to_persian_digits"]

_ONES = ("", "یک", "دو", "سه", "چهار", "پنج", "شش", "هفت", "هشت", "نه")
_TEENS = (
    "ده",
    "یازده",
    "دوازده",
    "سیزده",
    "چهارده",
    "پانزده",
    "شانزده",
    "هفده",
    "هجده",
    "نوزده",
)
_TENS = ("", "", "بیست", "سی", "چهل", "پنجاه", "شصت", "هفتاد", "هشتاد", "نود")
_HUNDREDS = (
    "",
    "یکصد",
    "دویست",
    "سیصد",
    "چهارصد",
    "پانصد",
    "ششصد",
    "هفتصد",
    "هشتصد",
    "نهصد",
)
# Largest first. Counts of a milliard or more are written out recursively (see the docstring).
_SCALES = ((10**9, "میلیارد"), (10**6, "میلیون"), (10**3, "هزار"))
_JOINER = " و "


def _below_thousand(n: int) -> list[str]:
    """The parts of 1..999 in words, to be joined with « و »."""
    hundreds, rest = divmod(n, 100)
    parts = [_HUNDREDS[hundreds]] if hundreds else []
    if 10 <= rest < 20:
        parts.append(_TEENS[rest - 10])
    else:
        tens, ones = divmod(rest, 10)
        if tens:
            parts.append(_TENS[tens])
        if ones:
            parts.append(_ONES[ones])
    return parts


def rials_in_words(amount: int) -> str:
    """A whole, non-negative number of rials in Persian words: 1_250_000 →
    «یک میلیون و دویست و پنجاه هزار»; 0 → «صفر». The caller appends « ریال».
    """
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError(f"an amount in words needs a whole number of rials; got {amount!r}")
    if amount < 0:
        raise ValueError(
            f"an amount in words cannot be negative; got {amount:,}: "
            "write a refund or credit as a positive amount with its own label"
        )
    if amount == 0:
        return "صفر"
    parts: list[str] = []
    rest = amount
    for size, name in _SCALES:
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{rials_in_words(count)} {name}")
    if rest:
        parts.extend(_below_thousand(rest))
    return _JOINER.join(parts)
