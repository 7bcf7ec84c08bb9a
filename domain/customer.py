"""The Customer aggregate: billing profile, representative, and credit.

A customer is its own aggregate, not part of a subscription, because one customer may rent
several sites, the billing profile must be auditable on its own (an official invoice copies
the profile as it was when issued), the representative serves every site of the customer (and
who sees a site follows the customer's representative of the moment: a customer moved to
another representative takes all its sites with it), and credit belongs to the customer: an
overpayment on one site's invoice is applied to the next invoice of any of the customer's sites.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.base import BillingAggregate
from domain.errors import (
    InvalidAmount,
    InvalidInput,
    InvalidProfile,
    RefundRefused,
    RepresentativeUnchanged,
)
from domain.identifiers import (
    economic_code_problem,
    national_code_problem,
    national_id_problem,
    normalize_digits,
    postal_code_problem,
)
from domain.money import Money
from domain.text import free_text, identifier, multiline_text


class CustomerKind(StrEnum):
    PERSON = "person"  # a natural person
    LEGAL = "legal"  # a legal entity (company, organisation)


#: An e-mail address and an Iranian mobile number, as customers and representatives give them.
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MOBILE = re.compile(r"^(?:\+98|0)?9\d{9}$")

#: Identifiers checked when given (each may be left out; an official invoice needs some).
_IDENTIFIERS: dict[str, Callable[[str], str | None]] = {
    "national_code": national_code_problem,
    "economic_code": economic_code_problem,
    "national_id": national_id_problem,
    "postal_code": postal_code_problem,
}


@dataclass(frozen=True)
class BillingProfile:
    """Who is billed. Legal entities carry what an official invoice needs."""

    name: str
    kind: CustomerKind
    email: str
    mobile: str
    national_code: str | None = None  # natural persons
    economic_code: str | None = None  # legal entities
    national_id: str | None = None
    registration_number: str | None = None
    postal_code: str | None = None
    address: str | None = None

    def __post_init__(self) -> None:
        # Every text passes the input policy (domain/text.py) before anything else is checked.
        try:
            kind = CustomerKind(self.kind)
        except ValueError:
            raise InvalidProfile(
                f"kind {self.kind!r} is not known; a customer is a person or legal (an "
                "organisation).",
                field="kind",
            ) from None
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "name", _policy(free_text, self.name, "name", 200))
        email = _policy(identifier, self.email, "email", 254)
        if not EMAIL.match(email):
            raise InvalidProfile(f"email {self.email!r} is not an e-mail address.", field="email")
        object.__setattr__(self, "email", email)
        mobile = _policy(identifier, self.mobile, "mobile", 20).replace(" ", "").replace("-", "")
        if not MOBILE.match(mobile):
            raise InvalidProfile(
                f"mobile {self.mobile!r} is not an Iranian mobile number (like 09121234567).",
                field="mobile",
            )
        object.__setattr__(self, "mobile", mobile)
        for field, problem_of in _IDENTIFIERS.items():
            value = getattr(self, field)
            if value is None or not str(value).strip():
                object.__setattr__(self, field, None)
                continue
            value = normalize_digits(_policy(identifier, value, field, 20))
            problem = problem_of(value)
            if problem:
                raise InvalidProfile(f"{field}: {problem}.", field=field)
            object.__setattr__(self, field, value)
        for field, clean, limit in (
            ("registration_number", identifier, 40),
            ("address", free_text, 500),
        ):
            value = getattr(self, field)
            if value is None or (isinstance(value, str) and not value.strip()):
                object.__setattr__(self, field, None)
            else:
                object.__setattr__(self, field, _policy(clean, value, field, limit))

    @property
    def can_receive_official_invoice(self) -> bool:
        return self.kind is CustomerKind.LEGAL and all(
            (self.economic_code, self.national_id, self.postal_code, self.address)
        )

    def to_dict(self) -> dict[str, Any]:
        # Every field is text (or None): a shallow copy is the whole of it, and several times
        # cheaper than dataclasses.asdict's deep one (a rebuild asks once per customer event).
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["kind"] = self.kind.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BillingProfile:
        """The profile a recorded event holds, as recorded: facts are not validated again, so
        a rule tightened later never makes an old event unreadable."""
        profile = object.__new__(cls)
        for name in cls.__dataclass_fields__:
            object.__setattr__(profile, name, data.get(name))
        object.__setattr__(profile, "kind", CustomerKind(data["kind"]))
        return profile


def _policy(clean: Callable[..., str], value: object, field: str, limit: int) -> str:
    """The input policy's answer, refused as an invalid profile (a profile's one error code)."""
    try:
        return clean(value, field, max_length=limit)
    except InvalidInput as error:
        raise InvalidProfile(error.message, field=field) from None


class RefundVia(StrEnum):
    """How refunded money left: a bank transfer finance made outside the engine, or the
    gateway's reversal of a verified payment (docs/PAYMENTS.md, "Refunds")."""

    TRANSFER = "transfer"
    GATEWAY = "gateway"


@dataclass(frozen=True)
class Refund:
    """One refund as ``CreditRefunded`` recorded it."""

    amount: Money
    reason: str
    bank_reference: str
    via: RefundVia
    payment_reference: str | None
    refunded_at: datetime


class Customer(BillingAggregate):
    # --- events: what a customer records (docs/EVENTS.md) ------------------------------------

    class CustomerRegistered(BillingAggregate.Created):
        """A customer with its billing profile (BillingProfile.to_dict) and representative."""

        profile: dict[str, Any]
        representative_id: UUID | None

    class BillingProfileChanged(BillingAggregate.Event):
        """The billing profile is now ``profile`` (official invoices copy it when issued)."""

        profile: dict[str, Any]

    class CreditAdded(BillingAggregate.Event):
        """``amount`` rials became the customer's credit (``reference``: why)."""

        amount: int
        reference: str

    class CreditUsed(BillingAggregate.Event):
        """``amount`` rials of credit paid invoice ``invoice_id``."""

        amount: int
        invoice_id: UUID

    class CreditRefunded(BillingAggregate.Event):
        """``amount`` rials of the customer's credit were given back outside the engine:
        ``via`` ``transfer`` (finance's bank transfer, ``bank_reference`` its reference) or
        ``gateway`` (the gateway reversed payment ``payment_reference``); ``reason``: why."""

        amount: int
        reason: str
        bank_reference: str
        via: str
        payment_reference: str | None

    class RepresentativeAssigned(BillingAggregate.Event):
        """The customer is represented by ``representative_id`` from now on (before:
        ``previous_representative_id``, None when they had none), for ``reason``."""

        previous_representative_id: UUID | None
        representative_id: UUID
        reason: str

    @event(CustomerRegistered)
    def __init__(
        self, profile: dict[str, Any], representative_id: UUID | None, timestamp: datetime
    ) -> None:
        self.profile = BillingProfile.from_dict(profile)
        self.representative_id = representative_id
        self.credit = Money(0)
        #: Every refund, by its bank reference (a refund is recorded once per reference).
        self.refunds: dict[str, Refund] = {}

    @classmethod
    def register(
        cls,
        profile: BillingProfile,
        representative_id: UUID | None,
        now: datetime,
        *,
        customer_id: UUID | None = None,
    ) -> Customer:
        """A new customer, under ``customer_id`` when the command chooses it (one derived from an
        Idempotency-Key, so a retried registration meets the same customer)."""
        facts: dict[str, Any] = {
            "profile": profile.to_dict(),
            "representative_id": representative_id,
            "timestamp": now,
        }
        if customer_id is None:
            return cls(**facts)
        # The library's way to create under a chosen id when __init__ takes none.
        return cls._create(cls.CustomerRegistered, id=customer_id, **facts)

    def change_profile(self, profile: BillingProfile, now: datetime) -> None:
        now = self._now(now)
        if profile == self.profile:
            return
        self._profile_changed(profile.to_dict(), now)

    @event(BillingProfileChanged)
    def _profile_changed(self, profile: dict[str, Any], timestamp: datetime) -> None:
        self.profile = BillingProfile.from_dict(profile)

    def add_credit(self, amount: Money, reference: str, now: datetime) -> None:
        """Keep the part of a payment that no open invoice needed (never dropped)."""
        now = self._now(now)
        if not amount.is_positive:
            raise InvalidAmount(f"Credit must be positive; got {amount}.")
        self._credit_added(amount.rials, reference, now)

    @event(CreditAdded)
    def _credit_added(self, amount: int, reference: str, timestamp: datetime) -> None:
        self.credit = self.credit + Money(amount)

    def use_credit(self, amount: Money, invoice_id: UUID, now: datetime) -> None:
        now = self._now(now)
        if not amount.is_positive or amount > self.credit:
            raise InvalidAmount(f"Cannot use {amount} of credit; the customer has {self.credit}.")
        self._credit_used(amount.rials, invoice_id, now)

    @event(CreditUsed)
    def _credit_used(self, amount: int, invoice_id: UUID, timestamp: datetime) -> None:
        self.credit = self.credit - Money(amount)

    def refunded_of(self, payment_reference: str) -> Money:
        """What was refunded so far against one payment."""
        return Money(
            sum(
                r.amount.rials
                for r in self.refunds.values()
                if r.payment_reference == payment_reference
            )
        )

    def refund(
        self,
        amount: Money,
        reason: str,
        bank_reference: str,
        via: RefundVia,
        now: datetime,
        *,
        payment_reference: str | None = None,
        refundable: Money | None = None,
    ) -> bool:
        """Give ``amount`` of the customer's credit back (docs/PAYMENTS.md, "Refunds").

        A refund never exceeds the credit (nor ``refundable``, the caller's narrower limit,
        e.g. what is left of one payment). The bank reference names the refund: the same one
        again with the same amount is a retry and records nothing (False); with anything else
        it is refused. Returns True when the refund was recorded now."""
        now = self._now(now)
        reason = multiline_text(reason, "reason", max_length=500)
        bank_reference = identifier(bank_reference, "bank_reference", max_length=100)
        earlier = self.refunds.get(bank_reference)
        if earlier is not None:
            if (earlier.amount, earlier.via, earlier.payment_reference) == (
                amount,
                via,
                payment_reference,
            ):
                return False
            raise RefundRefused(
                f"Bank reference {bank_reference} already names a refund of {earlier.amount} "
                f"recorded on {earlier.refunded_at.isoformat()}; a transfer is recorded once. "
                "Check the reference on the bank's confirmation.",
                reason="bank_reference_used",
                field="bank_reference",
            )
        if not amount.is_positive:
            raise InvalidAmount(f"A refund must be a positive number of rials; got {amount}.")
        limit = self.credit if refundable is None else min(self.credit, refundable)
        if amount > limit:
            raise RefundRefused(
                f"A refund of {amount} is more than is refundable ({limit}): the customer's "
                f"credit is {self.credit}. Money paid on an invoice becomes credit only when "
                "the invoice is voided; void it first, or refund less.",
                reason="over_refundable",
                refundable=limit.rials,
                credit=self.credit.rials,
            )
        self._credit_refunded(
            amount.rials, reason, bank_reference, via.value, payment_reference, now
        )
        return True

    @event(CreditRefunded)
    def _credit_refunded(
        self,
        amount: int,
        reason: str,
        bank_reference: str,
        via: str,
        payment_reference: str | None,
        timestamp: datetime,
    ) -> None:
        self.credit = self.credit - Money(amount)
        self.refunds[bank_reference] = Refund(
            Money(amount), reason, bank_reference, RefundVia(via), payment_reference, timestamp
        )

    def assign_representative(self, representative_id: UUID, reason: str, now: datetime) -> None:
        """Assign the customer to a representative, or move them from the one they have: from
        now on that representative serves (and sees) the customer and all its sites, and the
        previous one no longer does. Whether the representative is registered is the command's
        to check (another aggregate)."""
        now = self._now(now)
        reason = multiline_text(reason, "reason", max_length=500)
        if representative_id == self.representative_id:
            raise RepresentativeUnchanged(
                f"Customer {self.id} is already represented by {representative_id}; nothing was "
                "changed. To move the customer, name another representative.",
                customer_id=str(self.id),
                representative_id=str(representative_id),
            )
        self._representative_assigned(self.representative_id, representative_id, reason, now)

    @event(RepresentativeAssigned)
    def _representative_assigned(
        self,
        previous_representative_id: UUID | None,
        representative_id: UUID,
        reason: str,
        timestamp: datetime,
    ) -> None:
        self.representative_id = representative_id
