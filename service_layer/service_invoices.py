"""Side-service invoices: issuing one for a customer, and moving its own short schedule (its
reminders and its overdue notice) through time. Paying one takes the same paths as any invoice
(service_layer/money_received.py); nothing here touches the site (docs/LIFECYCLE.md)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from domain import lifecycle
from domain.base import check_moment
from domain.errors import InvalidInput, ServiceInvoiceRefused
from domain.service_invoices import (
    ServiceLine,
    check_due_days,
    check_lines,
    due_service_steps,
    execute_service_step,
    issue_service_invoice,
    next_service_moment,
)
from domain.subscription import Subscription
from projections.due_index import DueIndex
from service_layer.catch_up import Executed, catch_up
from service_layer.unit_of_work import (
    CommandRunner,
    UnitOfWork,
    at_the_latest_change,
    no_subscription,
)


def service_lines(lines: Iterable[Mapping[str, Any] | ServiceLine]) -> list[ServiceLine]:
    """The lines a biller sent (``description``, ``unit_price``, ``quantity``), checked."""
    checked = []
    for at, line in enumerate(lines):
        if isinstance(line, ServiceLine):
            checked.append(line)
            continue
        if not isinstance(line, Mapping):
            raise InvalidInput(f"lines[{at}] must be an object.", field=f"lines[{at}]")
        checked.append(
            ServiceLine.of(
                line.get("description"), line.get("unit_price"), line.get("quantity"), at=at
            )
        )
    return check_lines(checked)


class ServiceInvoiceCommands(CommandRunner):
    # Set by BillingApplication.__init__.
    due_index: DueIndex

    @at_the_latest_change
    def issue_service_invoice(
        self,
        customer_id: UUID,
        subscription_id: UUID,
        lines: Iterable[Mapping[str, Any] | ServiceLine],
        due_days: int,
        now: datetime,
        *,
        invoice_id: UUID | None = None,
    ) -> UUID:
        """Bill ``customer_id`` for side services on their subscription ``subscription_id``:
        the invoice is issued at ``now`` with the VAT rate in force that day, due ``due_days``
        later, sent, and paid from the customer's credit as far as it goes. A retry with the
        same ``invoice_id`` issues nothing more."""
        now = check_moment(now)
        checked = service_lines(lines)
        days = check_due_days(due_days)
        new_id = invoice_id or uuid4()

        def command(uow: UnitOfWork) -> tuple[datetime | None] | None:
            if new_id in self.repository:
                return None  # a retried request: it was already issued
            customer = uow.customer(customer_id)
            sub = uow.find(subscription_id, Subscription)
            if sub is None or sub.customer_id != customer.id:
                raise no_subscription(subscription_id)
            life = catch_up(uow, subscription_id, now, self.vat)
            if life.subscription.is_closed:
                raise ServiceInvoiceRefused(
                    f"Subscription {subscription_id} was {life.subscription.status.value}; a "
                    "side-service invoice needs a subscription that is still running, which "
                    "carries its payments and notices. Name another of the customer's "
                    "subscriptions.",
                    reason="subscription_closed",
                    subscription_id=str(subscription_id),
                )
            invoice = issue_service_invoice(
                new_id, life.subscription, customer, checked, days, self.vat.rate_at(now), now
            )
            lifecycle.use_credit(customer, invoice, now)
            uow.add(invoice)
            # Its first due moment, read before the invoice goes back to the aggregate cache.
            return (next_service_moment(invoice),)

        issued, written = self._run_tracked(command)
        if issued is not None:
            self.due_index.note_service_invoice(new_id)
            self.due_index.set(new_id, issued[0], seen=written)
        return new_id

    # --- time ------------------------------------------------------------------------------

    def is_service_invoice(self, an_id: UUID) -> bool:
        """Whether a due entry's id is a side-service invoice's, as far as this process's due
        index has seen (a process that never refreshed it, the scheduler's, finds out when it
        loads the id: ``SubscriptionCommands._advance_one``)."""
        return self.due_index.is_service_invoice(an_id)

    def _advance_service_invoice(
        self, invoice_id: UUID, now: datetime, on_time: bool
    ) -> list[Executed]:
        """Send the side-service invoice's notices due by ``now``: at their own moments with
        ``on_time`` (the simulated clock, one moment per call as subscriptions do), else at
        ``now`` with their due moments kept."""

        def command(uow: UnitOfWork) -> tuple[list[Executed], datetime | None]:
            inv = uow.invoice(invoice_id)
            done: list[Executed] = []
            first: datetime | None = None
            for step in due_service_steps(inv, now):
                if on_time:
                    first = first or step.due_at
                    if step.due_at > first:
                        break
                at = max(step.due_at, inv.modified_on) if on_time else max(now, inv.modified_on)
                execute_service_step(step, inv, at)
                done.append(Executed(inv.id, step, at))
            uow.attribute_to_time()
            return done, next_service_moment(inv)  # read before the invoice goes back to the cache

        (done, following), written = self._run_tracked(command)
        self.due_index.note_service_invoice(invoice_id)
        self.due_index.set(invoice_id, following, seen=written)
        return done

    def _next_service_moment(self, invoice_id: UUID) -> datetime | None:
        return next_service_moment(UnitOfWork(self).invoice(invoice_id))


def running_subscription(read_models: Any, customer_id: UUID) -> UUID:
    """The subscription a side-service invoice goes on when the biller names none: the
    customer's one subscription still running (not collected, not ended). None, or several,
    is refused saying which to name (docs/INVOICES.md, "Side-service invoices")."""
    rows = read_models.query(
        "SELECT subscription_id FROM {rm_subscriptions} WHERE customer_id = ? "
        "AND status NOT IN ('collected', 'cancelled') ORDER BY ordered_at, subscription_id",
        (str(customer_id),),
    )
    running = [UUID(r["subscription_id"]) for r in rows]
    if len(running) == 1:
        return running[0]
    if not running:
        raise ServiceInvoiceRefused(
            f"Customer {customer_id} has no running subscription. A side-service invoice is "
            "carried by one of the customer's subscriptions (its payments and notices go "
            "through it); order a site first.",
            reason="no_running_subscription",
        )
    raise ServiceInvoiceRefused(
        f"Customer {customer_id} has {len(running)} running subscriptions; say which one the "
        "invoice goes on (subscription_id).",
        reason="subscription_required",
        subscriptions=[str(s) for s in running],
    )
