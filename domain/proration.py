"""Proration: what a plan change at once costs for the rest of the Jalali period.

The rule (docs/INVOICES.md, "Proration invoices"; docs/LIFECYCLE.md, "Plan changes"):

- The current period is counted in whole Jalali days (Tehran): ``days_total`` from its first
  day to its end (exclusive), ``days_left`` the days **after** the day of the change up to its
  end. The day of the change is still on the old terms (the customer had them that day), so a
  change on day 10 of a 30-day period leaves 20 of 30 days.
- A period's value is its plan's price for that period before VAT (monthly price × months,
  less the period discount: :meth:`Plan.price`).
- The charge before VAT is the new terms' value of the days left, less the old terms' value
  of their days left, computed exactly on integers and rounded **once, half up, to the rial**:

      net = round_half_up(N_new × L_new / D_new − N_old × L_old / D_old)

  For an upgrade on the same period (``D_new = D_old``, ``L_new = L_old``) that is
  ``(N_new − N_old) × L / D``. A change of period at once keeps the period's first day and
  moves its end to where the new period length puts it (from the anchor day), so ``D_new`` and
  ``L_new`` count days to the new end.
- VAT is the rate in force on the day of issue, of the net charge, rounded half up (one line,
  as every invoice line: :class:`domain.invoice_lines.InvoiceLine`).
- A change takes effect at once only when that charge is at least one rial (an upgrade);
  anything else (a cheaper plan, a shorter period, a change on the last day of the period)
  waits for the renewal, because the engine does not pay money back here.

Pure: no clock, no I/O; the caller gives the day of the change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from domain.invoice_lines import InvoiceLine
from domain.jalali import JalaliDate, to_persian_digits
from domain.money import Money, Rate
from domain.plans import Period, Plan

#: The unit of a proration line (the PDF prints it in Persian: adapters/documents/pdf.py).
UNIT = "upgrade"
_PERIOD_FA = {Period.MONTHLY: "ماهانه", Period.QUARTERLY: "سه‌ماهه", Period.YEARLY: "سالانه"}


def days_between(first: JalaliDate, end: JalaliDate) -> int:
    """Whole days from ``first`` up to ``end`` (exclusive)."""
    return (end.to_gregorian() - first.to_gregorian()).days


def next_day(day: JalaliDate) -> JalaliDate:
    return JalaliDate.from_gregorian(day.to_gregorian() + timedelta(days=1))


def period_end(anchor: JalaliDate, start: JalaliDate, period: Period) -> JalaliDate:
    """The end (exclusive) of a period of length ``period`` that starts on ``start``, counted
    from the subscription's anchor day as every period is (docs/LIFECYCLE.md, Time)."""
    months = (start.year - anchor.year) * 12 + (start.month - anchor.month) + period.months
    return anchor.add_months(months, anchor_day=anchor.day)


@dataclass(frozen=True)
class Proration:
    """A change from (``from_plan``, ``from_period``) to (``to_plan``, ``to_period``) on
    ``change_day``, in the period that began on ``start`` and ends at ``old_end``; on the new
    terms it ends at ``new_end`` (the same day unless the period length changes)."""

    from_plan: Plan
    from_period: Period
    to_plan: Plan
    to_period: Period
    start: JalaliDate
    change_day: JalaliDate
    old_end: JalaliDate
    new_end: JalaliDate

    @property
    def days_total(self) -> int:
        return days_between(self.start, self.new_end)

    @property
    def days_left(self) -> int:
        return max(0, days_between(self.change_day, self.new_end) - 1)

    @property
    def old_days_total(self) -> int:
        return days_between(self.start, self.old_end)

    @property
    def old_days_left(self) -> int:
        return max(0, days_between(self.change_day, self.old_end) - 1)

    @property
    def first_day(self) -> JalaliDate:
        """The first day on the new terms: the day after the change."""
        return next_day(self.change_day)

    @property
    def last_day(self) -> JalaliDate:
        return JalaliDate.from_gregorian(self.new_end.to_gregorian() - timedelta(days=1))

    @property
    def period_changes(self) -> bool:
        return self.to_period is not self.from_period

    @property
    def net(self) -> Money:
        """The charge before VAT, rounded half up to the rial; 0 when the change is worth
        nothing more (or less) for the days left."""
        new_value, old_value = (
            self.to_plan.price(self.to_period),
            self.from_plan.price(self.from_period),
        )
        d_new, d_old = self.days_total, self.old_days_total
        numerator = (
            new_value.rials * self.days_left * d_old - old_value.rials * self.old_days_left * d_new
        )
        denominator = d_new * d_old
        if numerator <= 0 or denominator <= 0:
            return Money(0)
        return Money((2 * numerator + denominator) // (2 * denominator))

    @property
    def is_upgrade(self) -> bool:
        return self.net.is_positive

    def description(self) -> str:
        """What the line says, in English and Persian: from what to what, for how many days."""
        a, b = self.from_plan, self.to_plan
        first, last = self.first_day.isoformat(), self.last_day.isoformat()
        en = (
            f"Upgrade from {a.name} ({self.from_period.value}) to {b.name} "
            f"({self.to_period.value}): {self.days_left} of {self.days_total} days, "
            f"{first} to {last}"
        )
        fa = (
            f"ارتقا از طرح {a.name} ({_PERIOD_FA[self.from_period]}) به {b.name} "
            f"({_PERIOD_FA[self.to_period]}): {self.days_left} روز از {self.days_total} روز، "
            f"از {first} تا {last}"
        )
        if self.period_changes:
            en += (
                f", less {self.old_days_left} unused of {self.old_days_total} days of the old terms"
            )
            fa += f"، منهای {self.old_days_left} روزِ استفاده‌نشده از {self.old_days_total} روزِ طرح پیشین"
        return f"{en} | {to_persian_digits(fa)}"

    def line(self, vat_rate: Rate) -> InvoiceLine:
        """The invoice's one line: the net charge, quantity 1, no discount, VAT of it."""
        return InvoiceLine.price(
            code=self.to_plan.id,
            description=self.description(),
            quantity=1,
            unit=UNIT,
            unit_price=self.net,
            discount_rate=Rate(0),
            vat_rate=vat_rate,
        )
