"""Subscriptions: ordering, cancelling and changing plan, moving them through time (the
scheduler's catch-up and the simulated clock), and reading them as they stand."""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterable, Sequence
from contextlib import AbstractContextManager, closing
from datetime import datetime
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError

from domain import lifecycle, plan_changes
from domain.base import check_moment
from domain.invoice import Invoice, InvoiceKind
from domain.lifecycle import DueStep
from domain.plan_changes import When
from domain.plans import Period
from domain.subscription import Subscription, SubscriptionStatus
from projections.due_index import DueEntry, DueIndex
from service_layer.catalogue_and_customers import catalogue_of
from service_layer.catch_up import (
    Executed,
    Lifecycle,
    catch_up,
    load_lifecycle,
    preload_lifecycle,
    run_due,
)
from service_layer.service_invoices import ServiceInvoiceCommands
from service_layer.unit_of_work import (
    STORE_FAILURES,
    UnitOfWork,
    at_the_latest_change,
    no_subscription,
)


class _NotASubscription(Exception):
    """A due entry named a side-service invoice this process's due index had not seen."""


log = logging.getLogger(__name__)

#: How many subscriptions :meth:`SubscriptionCommands.prefetch_lifecycles` reads in one query
#: (bounded for SQLite, whose statement is one OR term per aggregate).
PREFETCH_CHUNK = 200

#: How many due subscriptions ``advance`` reads from the store at once before executing them
#: (``read_together``): one query for the batch instead of one per subscription.
READ_BATCH = 50


class SubscriptionCommands(ServiceInvoiceCommands):
    """Side-service invoices are filed in the same due index under their own ids and moved
    through time with the subscriptions (service_layer/service_invoices.py)."""

    # Set by BillingApplication.__init__: each subscription's next due moment, in process.
    due_index: DueIndex

    @at_the_latest_change
    def start_subscription(
        self,
        customer_id: UUID,
        plan_id: str,
        period: Period | str,
        now: datetime,
        *,
        site: str | None = None,
        subscription_id: UUID | None = None,
    ) -> UUID:
        """Order a site: the subscription starts, the site is created, the first invoice issued."""
        now = check_moment(now)
        period = Period.parse(period)
        subscription_id = subscription_id or uuid4()

        def command(uow: UnitOfWork) -> UUID:
            customer = uow.customer(customer_id)
            plan = catalogue_of(uow, now).orderable(plan_id)
            if subscription_id in self.repository:
                return subscription_id  # a retried order: it was already placed
            sub = Subscription.order(
                id=subscription_id,
                customer_id=customer.id,
                representative_id=customer.representative_id,
                site=site or f"site-{str(subscription_id)[:8]}",
                plan=plan,
                period=period,
                first_invoice_id=Invoice.create_id(subscription_id, 1),
                now=now,
            )
            invoice = lifecycle.issue_invoice(
                sub, sub.current_period, InvoiceKind.FIRST, customer, self.vat, now, due_at=None
            )
            uow.add(sub)
            uow.add(invoice)
            return sub.id

        return self._run(command)

    @at_the_latest_change
    def cancel_subscription(
        self, subscription_id: UUID, now: datetime, *, reason: str = "requested by the customer"
    ) -> None:
        now = check_moment(now)

        def command(uow: UnitOfWork) -> None:
            life = catch_up(uow, subscription_id, now, self.vat)
            life.subscription.cancel(reason, now)

        self._run(command)

    @at_the_latest_change
    def change_plan(
        self,
        subscription_id: UUID,
        plan_id: str,
        now: datetime,
        *,
        period: Period | str | None = None,
        when: When | str | None = None,
    ) -> When:
        """Move to another plan (and period): ``when`` "renewal" from the next period on,
        "now" at once with a proration invoice (an upgrade only); without it, an upgrade on
        the same period takes effect now and anything else at the renewal
        (docs/LIFECYCLE.md, "Plan changes"). Returns when it takes effect."""
        now = check_moment(now)
        asked = When.parse(when)

        def command(uow: UnitOfWork) -> When:
            life = catch_up(uow, subscription_id, now, self.vat)
            sub = life.subscription
            plan = catalogue_of(uow, now).orderable(plan_id)
            chosen = Period.parse(period) if period is not None else sub.period
            overdue = [inv.id for inv in lifecycle.overdue_invoices(sub, life.invoices, now)]
            taking = asked or plan_changes.default_when(sub, plan, chosen, now)
            if taking is When.RENEWAL:
                sub.change_plan(plan, chosen, overdue, now)
                return taking
            invoice = plan_changes.change_now(
                sub, plan, chosen, life.customer, self.vat, overdue, now
            )
            life.invoices[invoice.id] = invoice
            uow.add(invoice)
            return taking

        return self._run(command)

    # --- time ----------------------------------------------------------------------------------

    def advance(
        self,
        now: datetime,
        *,
        on_time: bool = False,
        subscription_ids: Iterable[UUID] | None = None,
    ) -> list[Executed]:
        """Execute everything due up to ``now``, in due order, idempotently.

        With ``on_time`` (the simulated clock) every step is recorded at its own due moment, as
        if the engine had run all along, so one jump and many small steps give the same
        events. Without it (a real catch-up) late steps are recorded at ``now`` with their due
        moment kept, and actions wait their lead time after the notices sent late.

        The read models fold what it wrote once, when it returns (``folds_deferred``), not
        after each step.
        """
        now = check_moment(now)
        among = list(subscription_ids) if subscription_ids is not None else None
        executed: list[Executed] = []
        with self.folds_deferred():
            self.due_index.refresh()
            with closing(self._due_in_batches(now, among)) as due:
                for entry in due:
                    done = self._advance_one(entry.subscription_id, now, on_time)
                    executed += done
                    if not done:
                        # Nothing was due after all (the index was stale): file its real next
                        # moment.
                        self.due_index.set(
                            entry.subscription_id, self._next_due_moment(entry.subscription_id)
                        )
        return executed

    def _due_in_batches(self, now: datetime, among: list[UUID] | None) -> Generator[DueEntry]:
        """The due index's earliest entry, again and again until nothing is due by ``now``,
        executed by the caller in between; the lifecycles of the next ``READ_BATCH`` due are
        read from the store together (``read_lifecycles_together``), and read again after as
        many entries."""
        while True:
            entry = self.due_index.earliest(among)
            if entry is None or entry.due_at > now:
                return
            upcoming = self.due_index.upcoming(now, READ_BATCH, among)
            with self.read_lifecycles_together(upcoming):
                for _ in range(READ_BATCH):
                    entry = self.due_index.earliest(among)
                    if entry is None or entry.due_at > now:
                        return
                    yield entry

    def read_lifecycles_together(
        self, subscription_ids: Iterable[UUID]
    ) -> AbstractContextManager[set[UUID]]:
        """``read_together`` for lifecycles: each subscription with the open invoices and the
        customer it had when it was cached (those it has now that it had not then are read by
        its command as usual)."""
        wanted: list[UUID] = []
        for subscription_id in subscription_ids:
            wanted.append(subscription_id)
            cached = self.aggregate_cache.peek(subscription_id) if self.aggregate_cache else None
            if isinstance(cached, Subscription):
                wanted += [*cached.open_invoice_ids, cached.customer_id]
        return self.read_together(wanted)

    def prefetch_lifecycles(self, subscription_ids: Iterable[UUID]) -> None:
        """Bring a page of due subscriptions into the aggregate cache, with their open invoices
        and their customers, in two queries (a chunk at a time): each one's command then loads
        its whole lifecycle in one query that finds nothing newer, instead of three that
        replay it (docs/SCHEDULER.md, "A page at a time"). The cache's rule is unchanged: a
        command still reads what was stored after the cached version before deciding."""
        if self.aggregate_cache is None:
            return
        wanted = list(subscription_ids)
        for start in range(0, len(wanted), PREFETCH_CHUNK):
            chunk = wanted[start : start + PREFETCH_CHUNK]
            uow = UnitOfWork(self, cache=self.aggregate_cache)
            uow.load(chunk)
            related: list[UUID] = []
            for subscription_id in chunk:
                sub = uow.aggregates.get(subscription_id)
                if isinstance(sub, Subscription):
                    related += [*sub.open_invoice_ids, sub.customer_id]
            uow.load(related)
            uow.keep()

    @at_the_latest_change
    def advance_subscription(self, subscription_id: UUID, now: datetime) -> list[Executed]:
        """Catch one subscription up: execute everything due for it by ``now``, at ``now``."""
        return self._advance_one(subscription_id, check_moment(now), on_time=False)

    def advance_subscriptions(
        self, subscription_ids: Sequence[UUID], now: datetime
    ) -> dict[UUID, list[Executed]]:
        """:meth:`advance_subscription` for several subscriptions, their changes saved together
        in one transaction (the scheduler's busy tick, docs/SCHEDULER.md "A page at a time").

        Returns what each one advanced here did. A subscription missing from the answer was
        not advanced here and is the caller's to advance on its own: one whose command did not
        simply decide (it failed, was refused, is a side-service invoice's entry, or took the
        official-number lock), and every one of the group when their common save conflicted
        (nothing of the group was saved then). On its own it has its retries and its errors."""
        now = check_moment(now)
        decided: list[tuple[UUID, UnitOfWork, tuple[list[Executed], DueStep | None]]] = []
        with self.read_lifecycles_together(subscription_ids):  # one query for the group
            for subscription_id in subscription_ids:
                if self.is_service_invoice(subscription_id):
                    continue
                uow = UnitOfWork(self, self.actor, self.aggregate_cache)
                try:
                    result = self._lifecycle_command(subscription_id, now, on_time=False)(uow)
                    self._before_save(uow)
                except STORE_FAILURES:
                    uow.holds.close()
                    raise
                except Exception:
                    uow.holds.close()
                    continue  # on its own, it fails or is refused with all that goes with it
                if uow.holding:
                    uow.holds.close()  # a lock is held until a save: that save is its own
                    continue
                decided.append((subscription_id, uow, result))
        try:
            written = UnitOfWork.save_together([uow for _, uow, _ in decided])
        except IntegrityError:
            log.info("a grouped save of %d subscriptions conflicted; each goes alone", len(decided))
            return {}
        advanced: dict[UUID, list[Executed]] = {}
        for subscription_id, uow, (done, following) in decided:
            uow.keep((done, following))
            self.due_index.set(
                subscription_id, following.due_at if following else None, seen=written
            )
            advanced[subscription_id] = done
        if written:
            self._written(written)
        return advanced

    def _advance_one(self, subscription_id: UUID, now: datetime, on_time: bool) -> list[Executed]:
        if self.is_service_invoice(subscription_id):  # filed under its own id: its own schedule
            return self._advance_service_invoice(subscription_id, now, on_time)
        command = self._lifecycle_command(subscription_id, now, on_time)
        try:
            (done, following), written = self._run_tracked(command)
        except _NotASubscription:
            return self._advance_service_invoice(subscription_id, now, on_time)
        # The next moment is known from the state just saved: the index need not fold our own
        # notifications again.
        self.due_index.set(subscription_id, following.due_at if following else None, seen=written)
        return done

    def _lifecycle_command(
        self, subscription_id: UUID, now: datetime, on_time: bool
    ) -> Callable[[UnitOfWork], tuple[list[Executed], DueStep | None]]:
        """The command that runs a subscription's due steps by ``now`` in a unit of work."""

        def command(uow: UnitOfWork) -> tuple[list[Executed], DueStep | None]:
            preload_lifecycle(uow, subscription_id)
            if uow.find(subscription_id, Subscription) is None:
                # Not a subscription (loaded once: the lifecycle below reuses it): a
                # side-service invoice's row of the due-actions read model, or nothing.
                found = uow.find(subscription_id, Invoice)
                if found is None or not found.is_service:
                    raise no_subscription(subscription_id)
                raise _NotASubscription
            life = load_lifecycle(uow, subscription_id)
            done = run_due(life, now, self.vat, on_time=on_time, only_first_moment=on_time)
            for invoice in life.invoices.values():
                uow.add(invoice)
            uow.attribute_to_time()  # whoever asked (an admin's test clock), time did it
            # What comes next, read from the state about to be saved (once saved it goes back
            # to the aggregate cache, where another command may take it).
            return done, life.next_step()

        return command

    def _next_due_moment(self, subscription_id: UUID) -> datetime | None:
        if self.is_service_invoice(subscription_id):
            return self._next_service_moment(subscription_id)
        life = load_lifecycle(UnitOfWork(self), subscription_id)
        following = lifecycle.next_step(
            life.subscription, life.invoices, life.subscription.plan.policy
        )
        return following.due_at if following else None

    # --- queries -------------------------------------------------------------------------------

    def get_subscription(self, subscription_id: UUID) -> Subscription:
        return UnitOfWork(self).subscription(subscription_id)

    def get_invoice(self, invoice_id: UUID) -> Invoice:
        return UnitOfWork(self).invoice(invoice_id)

    def current_invoice(self, invoice_id: UUID, now: datetime) -> Invoice:
        """The invoice as it stands at ``now``, with what fell due before then applied in
        memory (a collection voids it): judged up to date, and nothing saved."""
        uow = UnitOfWork(self)
        invoice = uow.invoice(invoice_id)
        life = catch_up(uow, invoice.subscription_id, check_moment(now), self.vat)
        return life.invoices.get(invoice_id, invoice)

    def lifecycle_of(self, subscription_id: UUID, *, all_invoices: bool = False) -> Lifecycle:
        return load_lifecycle(UnitOfWork(self), subscription_id, all_invoices=all_invoices)

    def status_of(self, subscription_id: UUID) -> SubscriptionStatus:
        return self.get_subscription(subscription_id).status

    def next_step_of(self, subscription_id: UUID) -> DueStep | None:
        return self.lifecycle_of(subscription_id).next_step()
