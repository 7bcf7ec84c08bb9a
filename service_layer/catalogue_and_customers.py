"""The catalogue of plans, and the customers who order them."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from domain.base import check_moment
from domain.catalogue import CATALOGUE_ID, Catalogue
from domain.customer import BillingProfile, Customer
from domain.plans import Plan
from service_layer.representatives import registered_representative
from service_layer.unit_of_work import CommandRunner, UnitOfWork, at_the_latest_change


def catalogue_of(uow: UnitOfWork, now: datetime) -> Catalogue:
    """The catalogue, opened at ``now`` if no plan was ever defined."""
    catalogue = uow.find(CATALOGUE_ID, Catalogue)
    if catalogue is None:
        catalogue = Catalogue.open(now)
        uow.add(catalogue)
    return catalogue


class CatalogueCommands(CommandRunner):
    @at_the_latest_change
    def define_plan(self, plan: Plan, now: datetime) -> Plan:
        now = check_moment(now)

        def command(uow: UnitOfWork) -> Plan:
            catalogue = catalogue_of(uow, now)
            catalogue.define_plan(plan, now)
            return catalogue.get(plan.id)

        return self._run(command)

    #: The active plans as of a version of the catalogue (None: not read yet).
    _plans_seen: tuple[int, tuple[Plan, ...]] | None = None

    def plans(self) -> list[Plan]:
        """The plans that can be ordered, as the store holds them now: one indexed lookup of
        any catalogue event after the version last read (``GET /plans`` asks on every
        request), the catalogue replayed only when there is one. Plans are frozen values."""
        seen = self._plans_seen
        if seen is not None and not self.recorder.select_events(CATALOGUE_ID, gt=seen[0], limit=1):
            return list(seen[1])
        try:
            catalogue: Catalogue = self.repository.get(CATALOGUE_ID)
        except AggregateNotFoundError:
            return []
        active = tuple(catalogue.active_plans())
        self._plans_seen = (catalogue.version, active)
        return list(active)

    def get_plan(self, plan_id: str) -> Plan:
        catalogue = UnitOfWork(self).find(CATALOGUE_ID, Catalogue)
        if catalogue is None:
            catalogue = Catalogue.open(datetime.fromtimestamp(0).astimezone())
        return catalogue.get(plan_id)


class CustomerCommands(CommandRunner):
    @at_the_latest_change
    def register_customer(
        self,
        profile: BillingProfile,
        now: datetime,
        *,
        representative_id: UUID | None = None,
        customer_id: UUID | None = None,
    ) -> UUID:
        """Register a customer, represented by ``representative_id`` if given: a registered
        representative (else ``representative_not_found``, and nothing is recorded).
        ``customer_id`` gives the id (one derived from a request's Idempotency-Key): when a
        customer is registered under it already, this is a retry and records nothing."""
        now = check_moment(now)

        def command(uow: UnitOfWork) -> UUID:
            if customer_id is not None and uow.find(customer_id, Customer) is not None:
                return customer_id  # a retried registration: it was already recorded
            if representative_id is not None:
                registered_representative(uow, representative_id)
            customer = Customer.register(profile, representative_id, now, customer_id=customer_id)
            uow.add(customer)
            return customer.id

        return self._run(command)

    @at_the_latest_change
    def change_profile(self, customer_id: UUID, profile: BillingProfile, now: datetime) -> None:
        """Replace a customer's billing profile from ``now`` on; documents already issued keep
        the profile they were issued to."""
        now = check_moment(now)

        def command(uow: UnitOfWork) -> None:
            uow.customer(customer_id).change_profile(profile, now)

        self._run(command)

    def get_customer(self, customer_id: UUID) -> Customer:
        return UnitOfWork(self).customer(customer_id)
