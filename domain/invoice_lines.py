"""An invoice's lines: priced once, at issue, the only place rounding happens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from domain.jalali import JalaliDate
from domain.money import Money, Rate
from domain.plans import Period, Plan


@dataclass(frozen=True)
class InvoiceLine:
    """One line of the invoice, priced once at issue (the only place rounding happens).

    gross = unit price × quantity; discount = period discount of gross (rounded half up);
    VAT = VAT rate of (gross − discount) (rounded half up); total = gross − discount + VAT.
    """

    code: str
    description: str
    quantity: int
    unit: str
    unit_price: Money
    discount_rate: Rate
    discount: Money
    vat_rate: Rate
    vat: Money

    @classmethod
    def price(
        cls,
        *,
        code: str,
        description: str,
        quantity: int,
        unit: str,
        unit_price: Money,
        discount_rate: Rate,
        vat_rate: Rate,
    ) -> InvoiceLine:
        gross = unit_price * quantity
        discount = discount_rate.of(gross)
        vat = vat_rate.of(gross - discount)
        return cls(
            code, description, quantity, unit, unit_price, discount_rate, discount, vat_rate, vat
        )

    @classmethod
    def for_plan(
        cls, plan: Plan, period: Period, start: JalaliDate, end: JalaliDate, vat_rate: Rate
    ) -> InvoiceLine:
        last_day = JalaliDate.from_gregorian(end.to_gregorian() - timedelta(days=1))
        return cls.price(
            code=plan.id,
            description=f"Website plan {plan.name} ({period.value}), {start} to {last_day}",
            quantity=period.months,
            unit="month",
            unit_price=plan.monthly_price,
            discount_rate=plan.discount(period),
            vat_rate=vat_rate,
        )

    @property
    def gross(self) -> Money:
        return self.unit_price * self.quantity

    @property
    def net(self) -> Money:
        return self.gross - self.discount

    @property
    def total(self) -> Money:
        return self.net + self.vat

    def to_dict(self) -> dict[str, Any]:
        """The line as stored in the InvoiceIssued event (integers are rials or basis points)."""
        return {
            "code": self.code,
            "description": self.description,
            "quantity": self.quantity,
            "unit": self.unit,
            "unit_price": self.unit_price.rials,
            "discount_rate_bp": self.discount_rate.basis_points,
            "discount": self.discount.rials,
            "vat_rate_bp": self.vat_rate.basis_points,
            "vat": self.vat.rials,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InvoiceLine:
        return cls(
            code=data["code"],
            description=data["description"],
            quantity=data["quantity"],
            unit=data["unit"],
            unit_price=Money(data["unit_price"]),
            discount_rate=Rate(data["discount_rate_bp"]),
            discount=Money(data["discount"]),
            vat_rate=Rate(data["vat_rate_bp"]),
            vat=Money(data["vat"]),
        )
