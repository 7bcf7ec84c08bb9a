"""Money is integer rials; rounding happens once, half up, to the whole rial."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidAmount, InvalidInput
from domain.money import Money, Rate


def test_money_cannot_be_mixed_with_a_plain_number():
    with pytest.raises(TypeError):
        Money(1000) + 5  # type: ignore[operator]
    with pytest.raises(InvalidAmount):
        Money(10.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidAmount):
        Money(True)  # type: ignore[arg-type]


def test_positive_amounts_are_checked_with_a_message_that_says_what_to_do():
    with pytest.raises(InvalidAmount, match="more than zero"):
        Money.positive(0)
    with pytest.raises(InvalidAmount, match="more than zero"):
        Money.positive(-5)
    with pytest.raises(InvalidAmount, match="whole number"):
        Money.positive("100")
    assert Money.positive(1) == Money(1)


@pytest.mark.parametrize(
    ("amount", "percent", "expected"),
    [
        (1_000_000, "9", 90_000),  # exact
        (1_234_567, "9", 111_111),  # 111,111.03 → down
        (5, "10", 1),  # 0.5 → half up
        (15, "10", 2),  # 1.5 → half up
        (14, "10", 1),  # 1.4 → down
        (3_000_000, "5", 150_000),  # quarterly discount of 3 months at 1,000,000
        (999_999, "5.5", 55_000),  # 54,999.945 → up
        (0, "10", 0),
    ],
)
def test_a_rate_of_an_amount_rounds_half_up_to_the_rial(amount, percent, expected):
    assert Rate.percent(percent).of(Money(amount)) == Money(expected)


def test_rates_parse_from_percent_text():
    assert Rate.percent(9) == Rate(900)
    assert Rate.percent("10%") == Rate(1000)
    assert Rate.percent("5.5") == Rate(550)
    with pytest.raises(InvalidInput):
        Rate.percent("ten")
    with pytest.raises(InvalidInput):
        Rate(10_001)


@given(st.integers(min_value=0, max_value=10**15), st.integers(min_value=0, max_value=10_000))
def test_rounding_is_never_off_by_more_than_half_a_rial(rials, basis_points):
    exact = rials * basis_points / 10_000
    rounded = Rate(basis_points).of(Money(rials)).rials
    assert abs(rounded - exact) <= 0.5 + 1e-6 * max(1, exact)
    assert rounded * 10_000 - rials * basis_points <= 5_000  # never more than half up


def test_display_uses_thousands_separators():
    assert Money(2_750_000).format() == "2,750,000 rials"
