"""Representatives: adding them, changing their details, and assigning customers to them.

A representative serves, and sees, the customers assigned to them and everything hanging off
those customers (projections/visibility.py). A customer names at most one representative at a
time; ``assign_representative`` moves them, recorded on the customer
(``Customer.RepresentativeAssigned``) with who did it and why.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from domain.base import check_moment
from domain.errors import RepresentativeIdTaken, RepresentativeNotFound
from domain.representative import Representative, RepresentativeDetails
from service_layer.unit_of_work import CommandRunner, UnitOfWork, at_the_latest_change


def no_representative(representative_id: UUID) -> RepresentativeNotFound:
    return RepresentativeNotFound(
        f"There is no registered representative {representative_id}. Add the representative "
        "first (an admin: POST /representatives, or `billing representatives create`); one "
        "whom customers named before representatives were kept is added under that same id "
        '("id" in POST /representatives, --id in the CLI).',
        representative_id=str(representative_id),
    )


def registered_representative(uow: UnitOfWork, representative_id: UUID) -> Representative:
    """The representative, or :class:`RepresentativeNotFound` saying how to add them."""
    return uow.get(representative_id, Representative, lambda: no_representative(representative_id))


class RepresentativeCommands(CommandRunner):
    def add_representative(
        self,
        details: RepresentativeDetails,
        now: datetime,
        *,
        representative_id: UUID | None = None,
    ) -> UUID:
        """Add a representative; returns their id. ``representative_id`` gives the id: one
        derived from a request's Idempotency-Key, or one that customers registered before
        representatives were kept already name (they keep their customers). Adding the same
        details under the same id again is a safe retry that records nothing."""
        now = check_moment(now)
        new_id = representative_id or uuid4()

        def command(uow: UnitOfWork) -> UUID:
            existing = uow.find(new_id, Representative)
            if existing is not None:
                if existing.details == details:
                    return existing.id  # a retry: added already
                raise RepresentativeIdTaken(
                    f"Representative {new_id} was already added, as {existing.name!r}. To "
                    f"change their details use PUT /representatives/{new_id} (`billing "
                    "representatives change`); to add another representative, leave the id out.",
                    representative_id=str(new_id),
                )
            if new_id in self.repository:
                raise RepresentativeIdTaken(
                    f"{new_id} is the id of something else recorded here (a customer, a "
                    "subscription, an invoice…), not of a representative. Leave the id out to "
                    "add a new representative.",
                    representative_id=str(new_id),
                )
            uow.add(Representative.add(new_id, details, now))
            return new_id

        return self._run(command)

    @at_the_latest_change
    def change_representative(
        self, representative_id: UUID, details: RepresentativeDetails, now: datetime
    ) -> None:
        """Replace a representative's name, mobile number and e-mail address from ``now`` on."""
        now = check_moment(now)

        def command(uow: UnitOfWork) -> None:
            registered_representative(uow, representative_id).change_details(details, now)

        self._run(command)

    @at_the_latest_change
    def assign_representative(
        self, customer_id: UUID, representative_id: UUID, reason: str, now: datetime
    ) -> None:
        """Assign a customer to a registered representative, or move them from the one they
        have (``reason``: why, for the audit trail). From ``now`` on the new representative
        sees the customer and its subscriptions, invoices and offline payments, and the
        previous one sees none of them. Naming the representative the customer already has
        is refused (``representative_unchanged``): nothing is recorded."""
        now = check_moment(now)

        def command(uow: UnitOfWork) -> None:
            customer = uow.customer(customer_id)
            registered_representative(uow, representative_id)
            customer.assign_representative(representative_id, reason, now)

        self._run(command)

    def get_representative(self, representative_id: UUID) -> Representative:
        """The registered representative with this id, else :class:`RepresentativeNotFound`
        (what creating a representative's token should ask first)."""
        return registered_representative(UnitOfWork(self), representative_id)
