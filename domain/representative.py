"""The Representative aggregate: a person who brings customers to the portal and serves them.

A representative sees the customers assigned to them and everything hanging off those
customers (projections/visibility.py); which representative a customer has is the customer's
own fact (``Customer.representative_id``, changed by ``Customer.assign_representative``), so
this aggregate holds only who the representative is: a name and, optionally, how to reach
them. It is its own aggregate because it exists before any customer names it and is listed,
counted and changed on its own.

Representatives named by customers registered before representatives were kept have no
aggregate: they are listed from the customers that name them, without a name, until an admin
adds them under the same id (docs/API.md, "Representatives").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.base import BillingAggregate
from domain.customer import EMAIL, MOBILE
from domain.errors import InvalidInput, InvalidRepresentative
from domain.text import free_text, identifier


@dataclass(frozen=True)
class RepresentativeDetails:
    """Who a representative is: a name, and a mobile number and an e-mail address if given.
    Every text passes the input policy (domain/text.py) as a customer's profile does."""

    name: str
    mobile: str | None = None
    email: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", _policy(free_text, self.name, "name", 200))
        mobile = _optional(self.mobile, "mobile", 20)
        if mobile is not None:
            mobile = mobile.replace(" ", "").replace("-", "")
            if not MOBILE.match(mobile):
                raise InvalidRepresentative(
                    f"mobile {self.mobile!r} is not an Iranian mobile number (like "
                    "09121234567); leave it out if the representative has none.",
                    field="mobile",
                )
        object.__setattr__(self, "mobile", mobile)
        email = _optional(self.email, "email", 254)
        if email is not None and not EMAIL.match(email):
            raise InvalidRepresentative(
                f"email {self.email!r} is not an e-mail address (like name@example.ir); leave "
                "it out if the representative has none.",
                field="email",
            )
        object.__setattr__(self, "email", email)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def recorded(cls, name: str, mobile: str | None, email: str | None) -> RepresentativeDetails:
        """The details an event holds, as recorded: not validated again, so a rule tightened
        later never makes an old event unreadable."""
        details = object.__new__(cls)
        object.__setattr__(details, "name", name)
        object.__setattr__(details, "mobile", mobile)
        object.__setattr__(details, "email", email)
        return details


def _policy(clean: Any, value: object, field: str, limit: int) -> str:
    try:
        text: str = clean(value, field, max_length=limit)
    except InvalidInput as error:
        raise InvalidRepresentative(error.message, field=field) from None
    return text


def _optional(value: object, field: str, limit: int) -> str | None:
    """An identifier that may be left out: None, or blank, is none."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _policy(identifier, value, field, limit)


class Representative(BillingAggregate):
    # --- events: what a representative records (docs/EVENTS.md) ------------------------------

    class RepresentativeAdded(BillingAggregate.Created):
        """A representative, with their name and, if given, mobile number and e-mail address."""

        name: str
        mobile: str | None
        email: str | None

    class RepresentativeDetailsChanged(BillingAggregate.Event):
        """The representative's name, mobile number and e-mail address are now these."""

        name: str
        mobile: str | None
        email: str | None

    @classmethod
    def add(cls, id: UUID, details: RepresentativeDetails, now: datetime) -> Representative:
        """A new representative under ``id`` (the command chooses it: a fresh one, one derived
        from an Idempotency-Key, or the id customers already name)."""
        return cls(
            id=id, name=details.name, mobile=details.mobile, email=details.email, timestamp=now
        )

    @event(RepresentativeAdded)
    def __init__(
        self, id: UUID, name: str, mobile: str | None, email: str | None, timestamp: datetime
    ) -> None:
        self.details = RepresentativeDetails.recorded(name, mobile, email)
        self.added_at = timestamp

    @property
    def name(self) -> str:
        return self.details.name

    def change_details(self, details: RepresentativeDetails, now: datetime) -> None:
        """Replace the name, mobile number and e-mail address from ``now`` on; the same details
        again change nothing (a safe retry). Events already recorded keep who acted as they
        were then."""
        now = self._now(now)
        if details == self.details:
            return
        self._details_changed(details.name, details.mobile, details.email, now)

    @event(RepresentativeDetailsChanged)
    def _details_changed(
        self, name: str, mobile: str | None, email: str | None, timestamp: datetime
    ) -> None:
        self.details = RepresentativeDetails.recorded(name, mobile, email)
