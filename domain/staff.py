"""The portal's staff: who works on the billing engine, in which role, and since when not.

A :class:`StaffMember` is event-sourced like every other record: added (name, role, e-mail),
disabled (with a reason), a password set. The events say *that* something happened and who
did it (the actor every event carries); they never hold a secret. A password's hash, and the
disabled flag that authentication reads, are kept in the credentials table beside the API
tokens (``adapters/credentials.py``, docs/SECURITY.md "Staff and tokens"): the immutable log
must never hold what could be used to sign in, because it can never be erased.

Roles:

- ``admin``: everything, including staff and tokens;
- ``finance``: reads everything, records and decides payments, holds and voids;
- ``support``: reads everything as finance does and may correct a customer's billing
  profile; changes nothing about money (docs/API.md).

The password rule is here, pure: :func:`check_password`.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import event

from domain.base import BillingAggregate
from domain.errors import InvalidInput, InvalidPassword, StaffDisabled
from domain.text import free_text, identifier, multiline_text


class StaffRole(StrEnum):
    ADMIN = "admin"
    FINANCE = "finance"
    SUPPORT = "support"


#: What a password must have: at least 12 characters (a few unrelated words are easy to
#: remember and hard to guess), at most 256 (a longer one is a mistake, or an attempt to make
#: hashing expensive).
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def staff_role(value: object) -> StaffRole:
    """``admin``, ``finance`` or ``support``; anything else is refused naming the three."""
    try:
        return StaffRole(str(value))
    except ValueError:
        raise InvalidInput(
            f"There is no staff role {value!r}; choose admin, finance or support.", field="role"
        ) from None


def staff_name(value: object) -> str:
    """A person's name as people read it (the input policy's free text, 1-200 characters)."""
    return free_text(value, "name", max_length=200)


def staff_email(value: object) -> str | None:
    """An e-mail address for signing in (compared without regard to case), or None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    email = identifier(value, "email", max_length=254)
    if not _EMAIL.match(email):
        raise InvalidInput(
            f"email {value!r} is not an e-mail address (like maryam@example.ir).", field="email"
        )
    return email.lower()


def check_password(password: object) -> str:
    """The password as it is hashed (Unicode NFC, so the same letters typed on another
    keyboard sign in too), or :class:`InvalidPassword` saying what to change. The message
    never repeats the password."""
    if not isinstance(password, str):
        raise InvalidPassword("The password must be text.", field="password")
    bad = _CONTROL.search(password)
    if bad is not None:
        raise InvalidPassword(
            f"The password contains a control character (U+{ord(bad.group()):04X}) at "
            f"position {bad.start() + 1}, which cannot be typed at a sign-in form; choose "
            "one without it.",
            field="password",
        )
    text = unicodedata.normalize("NFC", password)
    if len(text) < MIN_PASSWORD_LENGTH:
        raise InvalidPassword(
            f"A password needs at least {MIN_PASSWORD_LENGTH} characters; this one has "
            f"{len(text)}. A few unrelated words make a long one that is easy to remember.",
            field="password",
        )
    if len(text) > MAX_PASSWORD_LENGTH:
        raise InvalidPassword(
            f"A password has at most {MAX_PASSWORD_LENGTH} characters; this one has {len(text)}.",
            field="password",
        )
    return text


class StaffMember(BillingAggregate):
    # --- events: what a staff member's record holds (docs/EVENTS.md) -------------------------

    class StaffMemberAdded(BillingAggregate.Created):
        """A person joined the staff: their name, role and e-mail address (if given)."""

        name: str
        role: str
        email: str | None

    class StaffMemberDisabled(BillingAggregate.Event):
        """The person may no longer act: their tokens stopped working (``reason``: why)."""

        reason: str

    class StaffPasswordSet(BillingAggregate.Event):
        """A new password was set. Only the fact: the hash is in the credentials table."""

    @classmethod
    def add(
        cls, staff_id: UUID, name: str, role: str, email: str | None, now: datetime
    ) -> StaffMember:
        """A new member; the name and e-mail pass the input policy, the role is one of three."""
        return cls(
            id=staff_id,
            name=staff_name(name),
            role=staff_role(role).value,
            email=staff_email(email),
            timestamp=now,
        )

    @event(StaffMemberAdded)
    def __init__(
        self, id: UUID, name: str, role: str, email: str | None, timestamp: datetime
    ) -> None:
        self.name = name
        self.role = StaffRole(role)
        self.email = email
        self.added_at = timestamp
        self.disabled_at: datetime | None = None
        self.disabled_reason: str | None = None
        self.password_set_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    def same_as(self, name: str, role: str, email: str | None) -> bool:
        """Whether adding this member again with these details is a retry of the first add."""
        return (self.name, self.role, self.email) == (
            staff_name(name),
            staff_role(role),
            staff_email(email),
        )

    def disable(self, reason: str, now: datetime) -> None:
        """No more acting for this person; disabling again keeps the first record."""
        now = self._now(now)
        reason = multiline_text(reason, "reason", max_length=500)
        if self.disabled_at is not None:
            return
        self._disabled(reason, now)

    @event(StaffMemberDisabled)
    def _disabled(self, reason: str, timestamp: datetime) -> None:
        self.disabled_at = timestamp
        self.disabled_reason = reason

    def note_password_set(self, now: datetime) -> None:
        """Record that a password was set (its hash was stored beside the tokens first)."""
        now = self._now(now)
        self.check_active()
        self._password_set(now)

    @event(StaffPasswordSet)
    def _password_set(self, timestamp: datetime) -> None:
        self.password_set_at = timestamp

    def check_active(self) -> None:
        if self.disabled_at is not None:
            raise StaffDisabled(
                f"Staff member {self.name} ({self.id}) was disabled on "
                f"{self.disabled_at.isoformat()}; nothing more is done in their name. Add a "
                "new staff member if they come back.",
                staff_id=str(self.id),
            )
