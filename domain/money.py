"""Money in integer rials, and rates in basis points.

Amounts are never floats. :class:`Money` cannot be mixed with a plain number by accident:
``Money + int`` is a ``TypeError``. Percentages are :class:`Rate` values in basis points
(1 % = 100 bp), so 9 %, 10 % or 5.5 % are all exact.

Rounding happens in exactly one place, :meth:`Rate.of`: half up to the whole rial, once per
invoice line and per amount (discount, then VAT on the discounted amount). Worked examples live
in ``tests/unit/test_money.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.errors import InvalidAmount, InvalidInput


def _check_int(value: object, what: str) -> int:
    # bool is an int subclass; True rials is always a mistake.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAmount(
            f"{what} must be a whole number of rials (an integer), not {value!r}.",
            value=repr(value),
        )
    return value


@dataclass(frozen=True, order=True, slots=True)
class Money:
    """An amount in Iranian rials (IRR)."""

    rials: int

    def __post_init__(self) -> None:
        if type(self.rials) is not int:  # the fast path first: this runs for every amount
            _check_int(self.rials, "An amount")

    @classmethod
    def zero(cls) -> Money:
        return cls(0)

    @classmethod
    def positive(cls, value: object, what: str = "The amount") -> Money:
        """Validate user input: a strictly positive whole number of rials."""
        rials = _check_int(value, what)
        if rials <= 0:
            raise InvalidAmount(
                f"{what} must be more than zero rials; got {rials:,}. "
                "Give the amount in rials as a positive whole number.",
                value=rials,
            )
        return cls(rials)

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        return Money(self.rials + other.rials)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        return Money(self.rials - other.rials)

    def __mul__(self, factor: int) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, int):
            return NotImplemented
        return Money(self.rials * factor)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.rials)

    def __bool__(self) -> bool:
        return self.rials != 0

    @property
    def is_positive(self) -> bool:
        return self.rials > 0

    def min(self, other: Money) -> Money:
        return self if self <= other else other

    def format(self) -> str:
        """``1,234,000 rials`` (display only; toman would be rials / 10)."""
        return f"{self.rials:,} rials"

    def __str__(self) -> str:
        return self.format()


def total(amounts: list[Money] | tuple[Money, ...]) -> Money:
    result = Money(0)
    for amount in amounts:
        result = result + amount
    return result


_PERCENT = re.compile(r"^\s*(\d{1,3})(?:\.(\d{1,2}))?\s*%?\s*$")


@dataclass(frozen=True, order=True, slots=True)
class Rate:
    """A percentage in basis points: ``Rate(1000)`` is 10 %."""

    basis_points: int

    def __post_init__(self) -> None:
        if isinstance(self.basis_points, bool) or not isinstance(self.basis_points, int):
            raise InvalidInput(f"A rate must be whole basis points, not {self.basis_points!r}.")
        if not 0 <= self.basis_points <= 10_000:
            raise InvalidInput(
                f"A rate must be between 0 % and 100 %; got {self.basis_points / 100:g} %."
            )

    @classmethod
    def percent(cls, value: int | str) -> Rate:
        """``Rate.percent(9)``, ``Rate.percent("5.5")`` or ``Rate.percent("10%")``."""
        if isinstance(value, int) and not isinstance(value, bool):
            return cls(value * 100)
        match = _PERCENT.match(str(value))
        if not match:
            raise InvalidInput(f"{value!r} is not a percentage; write it like 9, 5.5 or 10%.")
        whole, fraction = match.group(1), (match.group(2) or "0").ljust(2, "0")
        return cls(int(whole) * 100 + int(fraction))

    def of(self, amount: Money) -> Money:
        """This rate of ``amount``, rounded half up to the whole rial (the one rounding rule)."""
        if amount.rials < 0:
            return -self.of(-amount)
        return Money((amount.rials * self.basis_points + 5_000) // 10_000)

    @property
    def percent_text(self) -> str:
        return f"{self.basis_points / 100:g}%"

    def __str__(self) -> str:
        return self.percent_text
