"""Worked examples of amounts in Persian words, the way an official invoice writes its total.

Each expected text was written out by hand. A small reader of the words (``read_words``) checks
every amount up to a thousand trillion rials reads back to itself.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.persian_words import rials_in_words, to_persian_digits


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        (0, "صفر"),
        (1, "یک"),
        (10, "ده"),
        (11, "یازده"),
        (18, "هجده"),
        (20, "بیست"),
        (21, "بیست و یک"),
        (100, "یکصد"),  # invoice usage: «یکصد», not «صد»
        (101, "یکصد و یک"),
        (110, "یکصد و ده"),
        (250, "دویست و پنجاه"),
        (999, "نهصد و نود و نه"),
        (1_000, "یک هزار"),  # the count before every scale, as on cheques
        (1_001, "یک هزار و یک"),
        (2_500, "دو هزار و پانصد"),
        (100_000, "یکصد هزار"),
        (1_000_000, "یک میلیون"),
        (1_250_000, "یک میلیون و دویست و پنجاه هزار"),
        (1_000_001, "یک میلیون و یک"),
        (3_000_000_000, "سه میلیارد"),
        (
            12_345_678_901,
            "دوازده میلیارد و سیصد و چهل و پنج میلیون و ششصد و هفتاد و هشت هزار و نهصد و یک",
        ),
        (1_000_000_000_000, "یک هزار میلیارد"),
        (1_500_000_000_000, "یک هزار و پانصد میلیارد"),
        (1_000_500_000_000, "یک هزار میلیارد و پانصد میلیون"),
    ],
)
def test_amount_in_words(amount, words):
    assert rials_in_words(amount) == words


def test_negative_amount_is_refused():
    with pytest.raises(ValueError, match="cannot be negative; got -1,000"):
        rials_in_words(-1_000)


@pytest.mark.parametrize("amount", [1.0, "1000", True, None])
def test_only_whole_rials_are_written(amount):
    with pytest.raises(TypeError, match="whole number of rials"):
        rials_in_words(amount)


def test_persian_digits_replace_only_digits():
    assert to_persian_digits("1405/01/15") == "۱۴۰۵/۰۱/۱۵"
    assert to_persian_digits("1,250,000 ریال") == "۱,۲۵۰,۰۰۰ ریال"
    assert to_persian_digits("") == ""


# --- Reading the words back ---------------------------------------------------------------------

_VALUES = {
    "یک": 1, "دو": 2, "سه": 3, "چهار": 4, "پنج": 5, "شش": 6, "هفت": 7, "هشت": 8, "نه": 9,
    "ده": 10, "یازده": 11, "دوازده": 12, "سیزده": 13, "چهارده": 14, "پانزده": 15,
    "شانزده": 16, "هفده": 17, "هجده": 18, "نوزده": 19,
    "بیست": 20, "سی": 30, "چهل": 40, "پنجاه": 50, "شصت": 60, "هفتاد": 70, "هشتاد": 80,
    "نود": 90,
    "یکصد": 100, "دویست": 200, "سیصد": 300, "چهارصد": 400, "پانصد": 500, "ششصد": 600,
    "هفتصد": 700, "هشتصد": 800, "نهصد": 900,
}  # fmt: skip
_SCALES = {"هزار": 10**3, "میلیون": 10**6, "میلیارد": 10**9}


def read_words(words: str) -> int:
    """The number the words say. A scale multiplies everything since the last larger scale, so
    «یک هزار و پانصد میلیارد» reads as 1_500 milliard."""
    if words == "صفر":
        return 0
    done: list[tuple[int, int]] = []  # (scale, amount) of finished groups, larger scales first
    current = 0
    for token in words.split(" "):
        if token == "و":
            continue
        if token in _VALUES:
            current += _VALUES[token]
        elif token in _SCALES:
            scale = _SCALES[token]
            current += sum(amount for s, amount in done if s < scale)
            done = [(s, amount) for s, amount in done if s > scale]
            done.append((scale, current * scale))
            current = 0
        else:
            raise AssertionError(f"unexpected word {token!r} in {words!r}")
    return sum(amount for _, amount in done) + current


@given(st.integers(min_value=0, max_value=10**15))
def test_words_read_back_to_the_amount(amount):
    words = rials_in_words(amount)
    assert words == words.strip() and "  " not in words
    assert not words.startswith("و ") and not words.endswith(" و")
    assert read_words(words) == amount
