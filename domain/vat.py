"""Value-added tax by date.

Iran's VAT rate is set by each year's budget law, so it changes on a fiscal-year boundary
(1 Farvardin). The rate of an invoice line is the rate in force on the invoice's date in
Tehran; the issued invoice records that rate, so a later change never alters it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.errors import InvalidInput
from domain.jalali import JalaliDate
from domain.money import Rate


@dataclass(frozen=True)
class VatSchedule:
    """Rates with the Jalali date each comes into force, oldest first."""

    changes: tuple[tuple[JalaliDate, Rate], ...]

    def __post_init__(self) -> None:
        if not self.changes:
            raise InvalidInput("A VAT schedule needs at least one rate.")
        object.__setattr__(self, "changes", tuple(sorted(self.changes)))

    def rate_on(self, day: JalaliDate) -> Rate:
        if day < self.changes[0][0]:
            raise InvalidInput(
                f"No VAT rate is configured for {day}; the schedule starts on {self.changes[0][0]}."
            )
        rate = self.changes[0][1]
        for since, candidate in self.changes:
            if since <= day:
                rate = candidate
        return rate

    def rate_at(self, moment: datetime) -> Rate:
        return self.rate_on(JalaliDate.of(moment))

    @classmethod
    def parse(cls, text: str) -> VatSchedule:
        """``"1396/01/01=9,1403/01/01=10"``: Jalali date = percent, comma separated."""
        changes = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            day, sep, percent = part.partition("=")
            if not sep:
                raise InvalidInput(
                    f"VAT schedule entry {part!r} should look like 1403/01/01=10 (date=percent)."
                )
            try:
                changes.append((JalaliDate.parse(day.strip()), Rate.percent(percent.strip())))
            except ValueError as error:
                raise InvalidInput(f"VAT schedule entry {part!r}: {error}") from None
        return cls(tuple(changes))

    def __str__(self) -> str:
        return ",".join(f"{day}={rate.basis_points / 100:g}" for day, rate in self.changes)


#: 9 % from 1396 until the budget law of 1403 raised it to 10 %. Finance keeps this current
#: through the BILLING_VAT_SCHEDULE setting.
IRAN_VAT = VatSchedule.parse("1396/01/01=9,1403/01/01=10")
