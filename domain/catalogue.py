"""The plan catalogue as one aggregate with a well-known id.

Plans change rarely and are read together (the portal lists them), so one small aggregate
holds them all. A plan is never edited in place: a subscription copies the terms it was
ordered on, and a price change is a new plan that customers move to with change_plan.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.base import BillingAggregate, deterministic_id
from domain.errors import PlanAlreadyDefined, PlanNotFound
from domain.plans import Plan

CATALOGUE_ID = deterministic_id("catalogue")


class Catalogue(BillingAggregate):
    # --- events: what the catalogue records (docs/EVENTS.md) ---------------------------------

    class CatalogueOpened(BillingAggregate.Created):
        """The one catalogue, with no plans yet."""

    class PlanDefined(BillingAggregate.Event):
        """A plan's terms (Plan.to_dict); never edited afterwards."""

        plan: dict[str, Any]

    class PlanRetired(BillingAggregate.Event):
        """``plan_id`` can no longer be ordered (running subscriptions keep their terms)."""

        plan_id: str

    @classmethod
    def open(cls, now: datetime) -> Catalogue:
        return cls(id=CATALOGUE_ID, timestamp=now)

    @event(CatalogueOpened)
    def __init__(self, id: UUID, timestamp: datetime) -> None:
        self.plans: dict[str, Plan] = {}
        self.retired: set[str] = set()

    def define_plan(self, plan: Plan, now: datetime) -> None:
        now = self._now(now)
        if plan.id in self.plans:
            if self.plans[plan.id] == plan:
                return  # defining the same plan again is a safe retry
            raise PlanAlreadyDefined(
                f"A different plan with id {plan.id!r} already exists. Plans are never edited: "
                "define the new terms under a new id and move subscriptions with change-plan.",
                plan_id=plan.id,
            )
        self._plan_defined(plan.to_dict(), now)

    @event(PlanDefined)
    def _plan_defined(self, plan: dict[str, Any], timestamp: datetime) -> None:
        defined = Plan.from_dict(plan)
        self.plans[defined.id] = defined

    def retire_plan(self, plan_id: str, now: datetime) -> None:
        now = self._now(now)
        self.get(plan_id)
        if plan_id not in self.retired:
            self._plan_retired(plan_id, now)

    @event(PlanRetired)
    def _plan_retired(self, plan_id: str, timestamp: datetime) -> None:
        self.retired.add(plan_id)

    def get(self, plan_id: str) -> Plan:
        try:
            return self.plans[plan_id]
        except KeyError:
            known = ", ".join(sorted(self.plans)) or "none yet"
            raise PlanNotFound(
                f"There is no plan {plan_id!r}. Known plans: {known}.", plan_id=plan_id
            ) from None

    def orderable(self, plan_id: str) -> Plan:
        plan = self.get(plan_id)
        if plan_id in self.retired:
            raise PlanNotFound(
                f"Plan {plan_id!r} is retired and can no longer be ordered.", plan_id=plan_id
            )
        return plan

    def active_plans(self) -> list[Plan]:
        return [p for pid, p in sorted(self.plans.items()) if pid not in self.retired]
