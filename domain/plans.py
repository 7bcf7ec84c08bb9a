"""The plan catalogue: what a website costs and how its lifecycle is timed.

A :class:`Plan` has a monthly price, a discount per billing period (monthly, quarterly,
yearly) and a :class:`LifecyclePolicy` (deadlines, grace, suspension period, notice schedule).
A subscription copies its plan's terms when it is ordered or changed, so a later edit of the
catalogue never alters a running contract or an issued invoice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import timedelta
from enum import StrEnum
from typing import Any

from domain.errors import InvalidInput, InvalidPlan, UnknownPeriod
from domain.money import Money, Rate
from domain.text import free_text


class Period(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"

    @property
    def months(self) -> int:
        return {"monthly": 1, "quarterly": 3, "yearly": 12}[self.value]

    @classmethod
    def parse(cls, value: str | Period) -> Period:
        if isinstance(value, Period):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            raise UnknownPeriod(
                f"There is no billing period {value!r}; choose monthly, quarterly or yearly.",
                field="period",
            ) from None


#: The rule behind "several notices before any action" (docs/LIFECYCLE.md, "The unpaid path"). These are not plan
#: settings: no plan can turn them off.
MIN_REMINDERS_BEFORE_SUSPENSION = 2
MIN_WARNINGS_BEFORE_COLLECTION = 3
MIN_LEAD = timedelta(hours=24)


@dataclass(frozen=True)
class LifecyclePolicy:
    """Every duration of the lifecycle, in whole days (the defaults of docs/LIFECYCLE.md)."""

    first_invoice_days: int = 30
    renewal_invoice_days: int = 7
    grace_days: int = 3
    suspension_days: int = 30
    #: Payment reminders, in days before the invoice's deadline.
    reminder_days: tuple[int, ...] = (3, 1)
    #: Collection warnings, in days before the planned collection.
    collection_warning_days: tuple[int, ...] = (14, 7, 1)
    receipt_review_days: int = 3

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "reminder_days", tuple(sorted(set(self.reminder_days), reverse=True))
        )
        object.__setattr__(
            self,
            "collection_warning_days",
            tuple(sorted(set(self.collection_warning_days), reverse=True)),
        )
        self._check()

    def _check(self) -> None:
        whole = {
            "first_invoice_days": self.first_invoice_days,
            "renewal_invoice_days": self.renewal_invoice_days,
            "grace_days": self.grace_days,
            "suspension_days": self.suspension_days,
            "receipt_review_days": self.receipt_review_days,
        }
        for name, value in whole.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidPlan(
                    f"{name} must be a whole number of days, 0 or more; got {value!r}.", field=name
                )
        if self.first_invoice_days < 1 or self.renewal_invoice_days < 1:
            raise InvalidPlan(
                "An invoice needs at least one day before its deadline.",
                field="renewal_invoice_days",
            )
        if len(self.reminder_days) < MIN_REMINDERS_BEFORE_SUSPENSION or min(self.reminder_days) < 1:
            raise InvalidPlan(
                f"reminder_days needs at least {MIN_REMINDERS_BEFORE_SUSPENSION} different days, each 1 or "
                f"more, before the deadline (got {list(self.reminder_days)}): no site is suspended "
                "without two reminders, the last a day or more before.",
                field="reminder_days",
            )
        if max(self.reminder_days) > max(self.first_invoice_days, self.renewal_invoice_days):
            raise InvalidPlan(
                "A payment reminder cannot come before the invoice exists: "
                f"reminder_days {list(self.reminder_days)} reach past the invoice window.",
                field="reminder_days",
            )
        warnings = self.collection_warning_days
        if len(warnings) < MIN_WARNINGS_BEFORE_COLLECTION or min(warnings) < 1:
            raise InvalidPlan(
                f"collection_warning_days needs at least {MIN_WARNINGS_BEFORE_COLLECTION} different days, "
                f"each 1 or more, before collection (got {list(warnings)}).",
                field="collection_warning_days",
            )
        if max(warnings) > self.suspension_days:
            raise InvalidPlan(
                f"Collection warnings must fall inside the suspension period: the earliest is "
                f"{max(warnings)} days before collection but suspension_days is {self.suspension_days}.",
                field="collection_warning_days",
            )

    @property
    def grace(self) -> timedelta:
        return timedelta(days=self.grace_days)

    @property
    def suspension(self) -> timedelta:
        return timedelta(days=self.suspension_days)

    def to_dict(self) -> dict[str, Any]:
        return {
            "first_invoice_days": self.first_invoice_days,
            "renewal_invoice_days": self.renewal_invoice_days,
            "grace_days": self.grace_days,
            "suspension_days": self.suspension_days,
            "reminder_days": list(self.reminder_days),
            "collection_warning_days": list(self.collection_warning_days),
            "receipt_review_days": self.receipt_review_days,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LifecyclePolicy:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key in ("reminder_days", "collection_warning_days"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)


DEFAULT_DISCOUNTS: dict[Period, Rate] = {
    Period.MONTHLY: Rate(0),
    Period.QUARTERLY: Rate.percent(5),
    Period.YEARLY: Rate.percent(15),
}

_PLAN_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True)
class Plan:
    id: str
    name: str
    monthly_price: Money
    discounts: dict[Period, Rate] = field(default_factory=lambda: dict(DEFAULT_DISCOUNTS))
    policy: LifecyclePolicy = field(default_factory=LifecyclePolicy)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _PLAN_ID.match(self.id):
            raise InvalidPlan(
                f"A plan id is 1–63 lower-case letters, digits or hyphens (like 'business'); got {self.id!r}.",
                field="id",
            )
        try:
            object.__setattr__(self, "name", free_text(self.name, "name", max_length=200))
        except InvalidInput as error:
            raise InvalidPlan(error.message, field="name") from None
        if not isinstance(self.monthly_price, Money) or not self.monthly_price.is_positive:
            raise InvalidPlan(
                f"monthly_price must be a positive whole number of rials; got {self.monthly_price!r}.",
                field="monthly_price",
            )
        discounts = {Period.parse(p): r for p, r in self.discounts.items()}
        for period in Period:
            discounts.setdefault(period, DEFAULT_DISCOUNTS[period])
        object.__setattr__(self, "discounts", discounts)
        for period, rate in discounts.items():
            field = f"{period.value}_discount_percent"
            if rate.basis_points >= 10_000:
                raise InvalidPlan(
                    f"A {period.value} discount of {rate.percent_text} would make the period "
                    "free; a discount must be below 100 %.",
                    field=field,
                )
            if not self.price(period).is_positive:
                raise InvalidPlan(
                    f"The {period.value} price rounds to 0 rials ({self.monthly_price} a month, "
                    f"{period.months} month(s), {rate.percent_text} off); raise the price or "
                    "lower the discount.",
                    field=field,
                )

    def months(self, period: Period) -> int:
        return period.months

    def discount(self, period: Period) -> Rate:
        return self.discounts[period]

    def price(self, period: Period) -> Money:
        """The price of one period before VAT: monthly price × months, less the discount."""
        gross = self.monthly_price * period.months
        return gross - self.discount(period).of(gross)

    def with_grace_days(self, grace_days: int) -> Plan:
        return replace(self, policy=replace(self.policy, grace_days=grace_days))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "monthly_price": self.monthly_price.rials,
            "discounts": {p.value: r.basis_points for p, r in self.discounts.items()},
            "policy": self.policy.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        """A plan from its event form; the same terms give the same (immutable) plan object,
        so replaying many subscriptions on one plan validates it once."""
        key = repr(data)
        plan = _FROM_DICT.get(key)
        if plan is None:
            if len(_FROM_DICT) > 1_024:
                _FROM_DICT.clear()
            plan = _FROM_DICT[key] = cls._from_dict(data)
        return plan

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> Plan:
        """As recorded: facts are not validated again, so a rule tightened later (the input
        policy, the discount limit) never makes an old event unreadable."""
        plan = object.__new__(cls)
        for name, value in (
            ("id", data["id"]),
            ("name", data["name"]),
            ("monthly_price", Money(data["monthly_price"])),
            ("discounts", {Period(p): Rate(bp) for p, bp in data["discounts"].items()}),
            ("policy", LifecyclePolicy.from_dict(data["policy"])),
        ):
            object.__setattr__(plan, name, value)
        return plan


_FROM_DICT: dict[str, Plan] = {}
