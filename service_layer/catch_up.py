"""Bringing a subscription up to date: loading it with what its lifecycle reads, and executing
whatever fell due before a command's moment, so that a result never depends on when the
scheduler last ran (docs/ARCHITECTURE.md, "One command's path").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain import lifecycle
from domain.base import NoticeKind
from domain.customer import Customer
from domain.errors import InvoiceNotFound
from domain.invoice import Invoice
from domain.lifecycle import DueStep
from domain.service_invoices import ServiceStep
from domain.subscription import SiteState, Subscription
from domain.vat import VatSchedule
from service_layer.unit_of_work import UnitOfWork

#: A guard against a lifecycle bug looping forever inside one command.
MAX_STEPS_PER_SUBSCRIPTION = 500


@dataclass(frozen=True)
class Executed:
    """One lifecycle step that was executed: what, for whom, due when, recorded when. A
    side-service invoice's notice (``ServiceStep``) names the invoice as ``subscription_id``:
    it is filed and advanced under its own id (service_layer/service_invoices.py)."""

    subscription_id: UUID
    step: DueStep | ServiceStep
    recorded_at: datetime


class Lifecycle:
    """A subscription with everything its lifecycle reads and writes: its open invoices, and
    its customer (loaded only when a step needs it)."""

    def __init__(
        self,
        subscription: Subscription,
        invoices: dict[UUID, Invoice],
        load_customer: Callable[[], Customer],
    ) -> None:
        self.subscription = subscription
        self.invoices = invoices
        self._load_customer = load_customer
        self._customer: Customer | None = None

    @property
    def customer(self) -> Customer:
        if self._customer is None:
            self._customer = self._load_customer()
        return self._customer

    def next_step(self) -> DueStep | None:
        """What the lifecycle does next, and when, from this state."""
        sub = self.subscription
        return lifecycle.next_step(sub, self.invoices, sub.plan.policy)

    @property
    def latest_change(self) -> datetime:
        moments = [self.subscription.modified_on]
        moments += [inv.modified_on for inv in self.invoices.values()]
        if self._customer is not None:
            moments.append(self._customer.modified_on)
        return max(moments)


def _missing_invoice(invoice_id: UUID) -> Callable[[], InvoiceNotFound]:
    return lambda: InvoiceNotFound(f"Invoice {invoice_id} is missing.")


def preload_lifecycle(uow: UnitOfWork, subscription_id: UUID) -> None:
    """Load a subscription, the invoices it had open when it was cached and its customer, in
    one query (service_layer/aggregate_cache.py); :func:`load_lifecycle` loads what else it
    finds open. The customer comes along because it is as good as free in that query, and a
    renewal needs it (loaded on its own it would be one more query)."""
    cached = uow.cached(subscription_id)
    if isinstance(cached, Subscription):
        uow.load([subscription_id, *cached.open_invoice_ids, cached.customer_id])
    else:
        uow.load([subscription_id])


def load_lifecycle(
    uow: UnitOfWork, subscription_id: UUID, *, all_invoices: bool = False
) -> Lifecycle:
    """Load a subscription with its open invoices (or all of them, for reports)."""
    preload_lifecycle(uow, subscription_id)
    sub = uow.subscription(subscription_id)
    wanted = sub.invoice_ids if all_invoices else sub.open_invoice_ids
    uow.load(wanted)
    invoices = {i: uow.get(i, Invoice, _missing_invoice(i)) for i in wanted}
    return Lifecycle(sub, invoices, lambda: uow.customer(sub.customer_id))


def run_due(
    life: Lifecycle,
    until: datetime,
    vat: VatSchedule,
    *,
    on_time: bool,
    only_first_moment: bool = False,
) -> list[Executed]:
    """Execute this subscription's steps due at or before ``until``, one at a time.

    ``on_time`` records each step at its own due moment (the engine is simulated as having
    run all along); otherwise every step is recorded at ``until`` (a real catch-up).
    """
    executed: list[Executed] = []
    first_moment: datetime | None = None
    for _ in range(MAX_STEPS_PER_SUBSCRIPTION):
        policy = life.subscription.plan.policy
        due = lifecycle.due_steps(life.subscription, life.invoices, policy, until)
        if not due:
            return executed
        step = due[0]
        if step.step is lifecycle.Step.RENEW:
            life.customer  # noqa: B018 - loaded now, so its last change bounds the moment
        if only_first_moment:
            first_moment = first_moment or step.due_at
            if step.due_at > first_moment:
                return executed
        at = max(step.due_at, life.latest_change) if on_time else max(until, life.latest_change)
        new_invoice = lifecycle.execute(
            step, life.subscription, life.invoices, lambda: life.customer, vat, at
        )
        executed.append(Executed(life.subscription.id, step, at))
        if new_invoice is not None:
            life.invoices[new_invoice.id] = new_invoice
    raise RuntimeError(
        f"Subscription {life.subscription.id}: more than {MAX_STEPS_PER_SUBSCRIPTION} lifecycle "
        "steps at once; this is a bug in the lifecycle policy."
    )


def catch_up(uow: UnitOfWork, subscription_id: UUID, now: datetime, vat: VatSchedule) -> Lifecycle:
    """Load a subscription and execute, at ``now``, everything that fell due before it."""
    life = load_lifecycle(uow, subscription_id)
    run_due(life, now, vat, on_time=False)
    # Every invoice the catch-up issued is saved with the subscription that names it (a
    # long outage may issue several renewals in one catch-up).
    for invoice in life.invoices.values():
        uow.add(invoice)
    uow.attribute_to_time()
    return life


def restore_if_nothing_keeps_it(life: Lifecycle, now: datetime, reference: str, why: str) -> None:
    """Restore a suspended site in the command that left nothing keeping it suspended (a void,
    an approved extension; payments restore in :func:`lifecycle.settle_payment`).
    ``reference``: ``void:<invoice id>`` or ``offline:<request id>``."""
    sub = life.subscription
    if sub.site_state is not SiteState.SUSPENDED or lifecycle.keeping_suspended(
        sub, life.invoices, sub.plan.policy, now
    ):
        return
    sub.restore(reference, now)
    sub.send_notice(
        NoticeKind.SITE_RESTORED,
        now,
        facts={
            "reference": why,
            "cause": reference.partition(":")[0],
            "amount": 0,
            "credit": 0,
            "amount_due": lifecycle.amount_due(sub, life.invoices).rials,
            "site": "up",
        },
    )
