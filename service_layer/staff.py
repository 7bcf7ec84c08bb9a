"""The staff: adding a member, disabling one, setting a password (docs/SECURITY.md, "Staff and
tokens").

Each command records the member's event (who did it is the actor on it, as on every event)
and writes the credentials table that authentication reads (``adapters/credentials.py``),
in the order that leaves the safer state should the second write fail:

- **add**: the event first, then the credentials. A member recorded without credentials
  cannot sign in or hold a token; adding them again with the same id (a retried request with
  the same ``Idempotency-Key``) writes the credentials, and so does any later command.
- **disable**: the credentials first (every token of the member stops at once, in every
  process), then the event. Disabling again records the event if it was missing.
- **set a password**: the new hash first (an old, perhaps known, password stops working at
  once), then the event, which holds no hash.

The credentials table is reached through :class:`StaffCredentials`, which the composition
root gives the application (``bootstrap.py``); an application built without it refuses the
staff commands rather than record half of one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol
from uuid import UUID, uuid4

from domain.base import check_moment
from domain.errors import StaffConflict, StaffNotFound
from domain.staff import StaffMember, check_password, staff_email, staff_name, staff_role
from domain.text import multiline_text
from service_layer.unit_of_work import CommandRunner, UnitOfWork, at_the_latest_change


class StaffCredentials(Protocol):
    """The credentials table, as the staff commands write it (``adapters.credentials``)."""

    def record(
        self, staff_id: UUID, name: str, role: str, email: str | None, added_at: datetime
    ) -> None: ...

    def disable(self, staff_id: UUID, now: datetime) -> None: ...

    def set_password(self, staff_id: UUID, password: str, now: datetime) -> None: ...

    def holder_of(self, email: str) -> UUID | None: ...


def no_staff(staff_id: UUID) -> StaffNotFound:
    return StaffNotFound(
        f"There is no staff member {staff_id}. `billing staff list` (GET /staff) names them.",
        staff_id=str(staff_id),
    )


class StaffCommands(CommandRunner):
    #: The credentials table, built when a staff command first needs it (the composition root
    #: sets this; None: the staff commands are refused).
    staff_credentials: Callable[[], StaffCredentials] | None = None

    def _credentials(self) -> StaffCredentials:
        if self.staff_credentials is None:
            raise RuntimeError(
                "This application was built without the credentials table; build it with "
                "bootstrap.open_runtime (or build_runtime), which gives it one."
            )
        return self.staff_credentials()

    def get_staff(self, staff_id: UUID) -> StaffMember:
        return UnitOfWork(self).get(staff_id, StaffMember, lambda: no_staff(staff_id))

    def _synced(self, member: StaffMember) -> None:
        """The credentials row as the member's events say (written again if it was missing)."""
        self._credentials().record(
            member.id, member.name, member.role.value, member.email, member.added_at
        )

    def sync_staff_access(self, staff_id: UUID) -> StaffMember:
        """The member (or :class:`StaffNotFound`), their credentials row written from their
        events: what a token for them needs, even if their add stopped before writing it."""
        member = self.get_staff(staff_id)
        self._synced(member)
        return member

    @at_the_latest_change
    def add_staff(
        self,
        name: str,
        role: str,
        now: datetime,
        *,
        email: str | None = None,
        staff_id: UUID | None = None,
    ) -> UUID:
        """A new staff member, who can hold tokens at once (and sign in once a password is set).
        ``staff_id`` names them (a retried request: the same id adds nobody twice)."""
        now = check_moment(now)
        name, role, email = staff_name(name), staff_role(role).value, staff_email(email)
        staff_id = staff_id or uuid4()
        credentials = self._credentials()
        if email is not None:
            holder = credentials.holder_of(email)
            if holder is not None and holder != staff_id:
                raise StaffConflict(
                    f"Staff member {holder} already signs in with {email}; give this one "
                    "another address (or none).",
                    field="email",
                )

        def command(uow: UnitOfWork) -> StaffMember:
            member = uow.find(staff_id, StaffMember)
            if member is None:
                member = StaffMember.add(staff_id, name, role, email, now)
                uow.add(member)
            elif not member.same_as(name, role, email):
                raise StaffConflict(
                    f"Staff member {staff_id} is already {member.name} ({member.role.value}); "
                    "a new member needs a new id (a new Idempotency-Key).",
                    staff_id=str(staff_id),
                )
            return member

        member = self._run(command)
        self._synced(member)
        return member.id

    @at_the_latest_change
    def disable_staff(self, staff_id: UUID, reason: str, now: datetime) -> None:
        """The member may no longer act: their tokens stop working at once (credentials first),
        then the event records it with the reason."""
        now = check_moment(now)
        reason = multiline_text(reason, "reason", max_length=500)
        member = self.get_staff(staff_id)
        self._synced(member)
        self._credentials().disable(staff_id, now)

        def command(uow: UnitOfWork) -> None:
            uow.get(staff_id, StaffMember, lambda: no_staff(staff_id)).disable(reason, now)

        self._run(command)

    @at_the_latest_change
    def set_staff_password(self, staff_id: UUID, password: str, now: datetime) -> None:
        """Replace the member's password (the hash first, then the event, which holds none)."""
        now = check_moment(now)
        password = check_password(password)
        member = self.get_staff(staff_id)
        member.check_active()
        self._synced(member)
        self._credentials().set_password(staff_id, password, now)

        def command(uow: UnitOfWork) -> None:
            uow.get(staff_id, StaffMember, lambda: no_staff(staff_id)).note_password_set(now)

        self._run(command)
