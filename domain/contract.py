"""The values a subscription keeps about its contract and its site: the periods it billed, an
enforcement hold, the suspension in force, the site's state and the customer-facing status.
Frozen values, rebuilt from the Subscription's events (domain/subscription.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from domain.jalali import JalaliDate
from domain.plans import Period


class SiteState(StrEnum):
    UP = "up"
    SUSPENDED = "suspended"
    COLLECTED = "collected"  # removed for non-payment
    REMOVED = "removed"  # removed because the contract ended after a cancellation


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    GRACE = "grace"
    SUSPENDED = "suspended"
    COLLECTED = "collected"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class BillingPeriod:
    """One period of the contract: [start, end) in Jalali days, billed by one invoice."""

    number: int
    start: JalaliDate
    end: JalaliDate  # exclusive: the first day of the next period
    starts_at: datetime
    invoice_id: UUID
    plan_id: str
    period: Period

    @property
    def ends_at(self) -> datetime:
        return self.end.start_in_tehran()

    @property
    def last_day(self) -> JalaliDate:
        return JalaliDate.from_gregorian(self.end.to_gregorian() - timedelta(days=1))


@dataclass(frozen=True)
class Hold:
    """An enforcement hold finance placed: no suspension or collection until ``until``."""

    reason: str
    until: datetime
    placed_at: datetime


@dataclass(frozen=True)
class Suspension:
    """The suspension in force: which invoice caused it and when it was recorded."""

    number: int
    invoice_id: UUID
    suspended_at: datetime
