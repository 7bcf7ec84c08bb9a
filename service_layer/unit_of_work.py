"""How one command runs: in a unit of work that saves every aggregate it touched in one
``save`` (one database transaction), run again on fresh state after a write conflict, and
decided at the latest change of what it touches when it is stamped a moment before it.

:class:`CommandRunner` is what every command module of the service layer builds on;
``service_layer/application.py`` composes them into ``BillingApplication``.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import (
    ConnectionPoolClosedError,
    ConnectionUnavailableError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)

from domain.actor import SCHEDULER, UNKNOWN, Actor, recorded_actor
from domain.base import BillingAggregate, check_moment
from domain.customer import Customer
from domain.errors import (
    CustomerNotFound,
    InvoiceNotFound,
    SubscriptionNotFound,
    TimeWentBackwards,
)
from domain.invoice import Invoice
from domain.subscription import Subscription
from service_layer.aggregate_cache import AggregateCache, events_after

if TYPE_CHECKING:
    from domain.four_eyes import FourEyes
    from domain.official import Seller
    from domain.vat import VatSchedule

# The logger the retries were always logged under (before the commands were split up).
log = logging.getLogger("service_layer.application")

A = TypeVar("A", bound=BillingAggregate)
R = TypeVar("R")

#: Optimistic-concurrency retries before giving up (each retry reloads fresh state, after a
#: short random pause so that writers racing for one counter spread out).
ATTEMPTS = 12

#: How far behind an aggregate's last change a command's moment may be and still be run at
#: that change (two requests racing, another machine's clock a moment behind); the
#: composition root sets it from BILLING_CLOCK_SKEW_TOLERANCE (None: no limit, test mode).
DEFAULT_SKEW_TOLERANCE = timedelta(seconds=120)

#: What the store raises when it cannot be reached (the server is gone, the pool timed out or
#: was closed). A command never catches these: nothing was saved, and the caller (the API's
#: 503, the scheduler's failed tick) decides when to try again.
STORE_FAILURES = (
    OperationalError,
    InterfaceError,
    ConnectionUnavailableError,
    ConnectionPoolClosedError,
)


#: Who the command running in this thread (or task) acts for; set by :meth:`CommandRunner.acting`.
_ACTING: ContextVar[Actor | None] = ContextVar("billing_actor", default=None)

#: Inside :meth:`CommandRunner.folds_deferred`: the last notification id written so far by the
#: commands run in this thread (or task), folded once on leaving; None outside.
_DEFERRED: ContextVar[list[int] | None] = ContextVar("billing_deferred_fold", default=None)

#: Inside :meth:`CommandRunner.read_together`: the aggregates that the commands run in this
#: thread (or task) take from the aggregate cache as they are, without asking the store for
#: newer events (read for all of them at once when the batch began, or saved by one of its
#: commands since); None outside. Emptied by a write conflict.
_CHECKED: ContextVar[set[UUID] | None] = ContextVar("billing_checked_batch", default=None)


class UnitOfWork:
    """The aggregates one command loaded or created, saved together once, each new event
    carrying the actor who caused it (docs/AUDIT.md, "Actors")."""

    def __init__(
        self, app: Application[UUID], actor: Actor = UNKNOWN, cache: AggregateCache | None = None
    ) -> None:
        self.app = app
        self.actor = actor
        self.aggregates: dict[UUID, BillingAggregate] = {}
        #: Where a command's aggregates come from and go back to once saved (None: a query,
        #: which replays what it reads and disturbs no cache; service_layer/aggregate_cache.py).
        self.cache = cache
        #: Locks the command took (:meth:`hold`), released once its save committed or failed.
        self.holds = contextlib.ExitStack()
        self._held: set[int] = set()

    def get(self, aggregate_id: UUID, cls: type[A], not_found: Callable[[], Exception]) -> A:
        if aggregate_id not in self.aggregates and self.cache is not None:
            self.load([aggregate_id])
        if aggregate_id in self.aggregates:
            found = self.aggregates[aggregate_id]
        else:
            try:
                found = self.app.repository.get(aggregate_id, projector_func=project)
            except AggregateNotFoundError:
                raise not_found() from None
            self.aggregates[aggregate_id] = found
        if not isinstance(found, cls):
            raise not_found()
        return found

    def cached(self, aggregate_id: UUID) -> BillingAggregate | None:
        """The aggregate as last cached, maybe behind the store: only to choose what to
        :meth:`load` with it."""
        return self.cache.peek(aggregate_id) if self.cache is not None else None

    def load(self, aggregate_ids: Iterable[UUID]) -> None:
        """Bring several aggregates into this unit of work at once, up to date with the store:
        each cached one with the events stored after its cached version, the others from their
        first, all in one query where the store allows (an id with no events stays absent)."""
        if self.cache is None:
            return  # a query: :meth:`get` replays each as it is asked for
        wanted = [i for i in dict.fromkeys(aggregate_ids) if i not in self.aggregates]
        if not wanted:
            return
        taken = {i: self.cache.take(i) for i in wanted}
        checked = _CHECKED.get() or ()
        versions = {
            i: (a.version if a is not None else 0)
            for i, a in taken.items()
            if a is None or i not in checked
        }
        stored = events_after(self.app.recorder, versions) if versions else {}
        to_event = self.app.mapper.to_domain_event
        for aggregate_id, aggregate in taken.items():
            newer = [to_event(e) for e in stored.get(aggregate_id, ())]
            brought = project(aggregate, newer) if newer else aggregate
            if brought is not None:
                self.aggregates[aggregate_id] = brought

    def find(self, aggregate_id: UUID, cls: type[A]) -> A | None:
        """:meth:`get`, or None when there is no such aggregate."""
        try:
            return self.get(aggregate_id, cls, _Absent)
        except _Absent:
            return None

    def subscription(self, subscription_id: UUID) -> Subscription:
        return self.get(subscription_id, Subscription, lambda: no_subscription(subscription_id))

    def invoice(self, invoice_id: UUID) -> Invoice:
        return self.get(invoice_id, Invoice, lambda: no_invoice(invoice_id))

    def customer(self, customer_id: UUID) -> Customer:
        return self.get(customer_id, Customer, lambda: no_customer(customer_id))

    def add(self, aggregate: BillingAggregate) -> None:
        self.aggregates[aggregate.id] = aggregate

    def hold(self, lock: Any) -> None:
        """Hold ``lock`` (anything with ``held()``, a context manager) until this unit of work's
        save has committed or failed; holding it twice is holding it once. For a choice that
        must see every earlier writer's save and be saved before the next writer makes it: the
        next official number (adapters/series_lock.py)."""
        if id(lock) not in self._held:
            self.holds.enter_context(lock.held())
            self._held.add(id(lock))

    def attribute_to_time(self) -> None:
        """The events pending so far were time's doing (a catch-up before the command's own
        decision): they are recorded with the scheduler as their actor, not the caller."""
        self._stamp(SCHEDULER)

    def _stamp(self, actor: Actor) -> None:
        recorded = actor.to_dict()
        for aggregate in self.aggregates.values():
            for pending in aggregate.pending_events:
                if "actor" not in vars(pending):
                    object.__setattr__(pending, "actor", recorded)

    def save(self) -> int:
        """Save every changed aggregate at once; returns the last notification id written."""
        return UnitOfWork.save_together([self])

    @staticmethod
    def save_together(uows: Sequence[UnitOfWork]) -> int:
        """Save the changed aggregates of several units of work of one application in one
        transaction (all or nothing: IntegrityError if any of them conflicts); returns the
        last notification id written (0: nothing to save)."""
        changed = [a for uow in uows for a in uow.aggregates.values() if a.pending_events]
        if not changed:
            return 0
        for uow in uows:
            uow._stamp(uow.actor)
        first_saved = {a.id: a.pending_events[0].originator_version for a in changed}
        app = uows[0].app
        recordings = app.save(*changed)
        for uow in uows:
            for listener in getattr(app, "saved_listeners", ()):
                # e.g. the read models' fold (projections/runner.py, AggregateStates.hint)
                listener(uow.aggregates.values(), first_saved)
        return max((r.notification.id for r in recordings), default=0)

    @property
    def holding(self) -> bool:
        """Whether this unit of work holds a lock (:meth:`hold`) until its save."""
        return bool(self._held)

    def keep(self, result: object = None) -> None:
        """After a successful save: give what this command loaded and saved back to the cache,
        except the aggregates the command returns (its caller goes on reading them, and a
        cached aggregate may be taken and changed by the next command)."""
        if self.cache is None:
            return
        returned = result if isinstance(result, tuple | list) else (result,)
        held = {id(item) for item in returned if isinstance(item, BillingAggregate)}
        kept = [a for a in self.aggregates.values() if id(a) not in held]
        self.cache.give_back(kept)
        checked = _CHECKED.get()
        if checked is not None:  # as the store holds them now: the batch may take them as they are
            checked.update(a.id for a in kept if not a.pending_events)


class _Absent(Exception):
    """:meth:`UnitOfWork.find`'s not-found, never seen outside it."""


class CommandRunner(Application[UUID]):
    """Running a command: what every command module of ``BillingApplication`` builds on."""

    # Set by BillingApplication.__init__; read by the commands.
    vat: VatSchedule
    #: See :func:`at_the_latest_change`.
    skew_tolerance: timedelta | None
    #: The portal's company; without it no official invoice is issued (plain PDFs still are).
    seller: Seller | None
    #: Which money decisions need two people (off unless BILLING_FOUR_EYES).
    four_eyes: FourEyes
    #: The aggregates commands saved, kept for the next command (None: none kept); see
    #: service_layer/aggregate_cache.py.
    aggregate_cache: AggregateCache | None = None
    #: Who acts when no caller said (:meth:`acting`): the composition root sets it per process
    #: (the console's operator, the scheduler); an API request always says.
    default_actor: Actor = UNKNOWN
    #: Called after each successful save with every aggregate the unit of work held, as saved,
    #: and the version of the first event the save stored for each one it changed (the read
    #: models take them instead of loading them again: AggregateStates.hint).
    saved_listeners: tuple[
        Callable[[Iterable[BillingAggregate], Mapping[UUID, int]], None], ...
    ] = ()
    #: Called after each successful save, before the command returns, with the last
    #: notification id it wrote: the read models fold the log through it, so what a command
    #: wrote is in the read models when its caller is answered (``ReadModels.fold_written``;
    #: docs/ARCHITECTURE.md, "Reads never wait"). A listener must not raise: the write stands.
    written_listeners: tuple[Callable[[int], None], ...] = ()

    @contextlib.contextmanager
    def folds_deferred(self, *, fold: bool = True) -> Iterator[None]:
        """Commands run inside write without folding each save; on leaving (also by an
        exception: what was saved stands), what they wrote is folded once, or, with ``fold``
        False, left to the caller, who catches up itself (the scheduler's tick). For callers
        that write many times in a row: the tick, ``advance``."""
        if _DEFERRED.get() is not None:  # nested: the outermost folds
            yield
            return
        written = [0]
        token = _DEFERRED.set(written)
        try:
            yield
        finally:
            _DEFERRED.reset(token)
            if written[0] and fold:
                self._written(written[0])

    @contextlib.contextmanager
    def read_together(self, aggregate_ids: Iterable[UUID]) -> Iterator[set[UUID]]:
        """A batch of commands that share one read of the store: ``aggregate_ids`` are brought
        up to date in the aggregate cache in one query now, and the commands run inside take
        them (and what they save) from the cache without asking the store again, one round
        trip less each (docs/ARCHITECTURE.md, "Aggregates kept between commands"). Another
        writer's change to one of them in between is caught as before by the version check of
        the save that changes it, which also ends the batch's trust; what a command only reads
        is as of the batch's read. Yields the ids so checked."""
        if self.aggregate_cache is None:
            yield set()
            return
        uow = UnitOfWork(self, cache=self.aggregate_cache)
        uow.load(aggregate_ids)
        uow.keep()
        checked = set(uow.aggregates)
        token = _CHECKED.set(checked)
        try:
            yield checked
        finally:
            _CHECKED.reset(token)

    def _written(self, notification_id: int) -> None:
        deferred = _DEFERRED.get()
        if deferred is not None:
            deferred[0] = max(deferred[0], notification_id)
            return
        for listener in self.written_listeners:
            listener(notification_id)

    def acting(self, actor: Actor) -> Self:
        """This application, its commands recorded as caused by ``actor``:
        ``app.acting(who).decide_receipt(...)``."""
        return cast(Self, Acting(self, actor))

    @property
    def actor(self) -> Actor:
        """Who the command being run acts for."""
        return _ACTING.get() or self.default_actor

    def recorded_by(
        self, aggregate_id: UUID, event_type: type, where: Callable[[Any], bool] = bool
    ) -> Actor:
        """The actor of the latest ``event_type`` event of an aggregate that ``where`` accepts
        (UNKNOWN when there is none, or it was stored before actors were kept)."""
        found = UNKNOWN
        for stored in self.events.get(aggregate_id):
            if isinstance(stored, event_type) and where(stored):
                found = recorded_actor(stored)
        return found

    def is_recorded(self, aggregate_id: UUID) -> bool:
        """Whether the store holds any event of ``aggregate_id``: one indexed lookup of its
        first event, nothing decoded or replayed (``id in repository`` loads the aggregate)."""
        return bool(self.recorder.select_events(aggregate_id, limit=1))

    def _run(self, command: Callable[[UnitOfWork], R]) -> R:
        """Run a command in a unit of work; on a write conflict, run it again on fresh state."""
        return self._run_tracked(command)[0]

    def _run_tracked(self, command: Callable[[UnitOfWork], R]) -> tuple[R, int]:
        """:meth:`_run`, also returning the last notification id the save wrote (0: none)."""
        for attempt in range(1, ATTEMPTS + 1):
            uow = UnitOfWork(self, self.actor, self.aggregate_cache)
            with uow.holds:  # what the command locked is released before any backoff
                result = command(uow)
                self._before_save(uow)
                try:
                    written = uow.save()
                    conflict = None
                except IntegrityError as error:
                    conflict = error
            if conflict is not None:
                forget_checked()  # another writer was there: read everything afresh from now on
                if attempt == ATTEMPTS:
                    raise conflict
                log.info("write conflict, retrying command (attempt %d)", attempt + 1)
                # Exponential backoff with full jitter (1 ms, 2 ms, … capped at 100 ms), so
                # that writers racing for one aggregate spread out.
                time.sleep(random.uniform(0, min(0.1, 0.001 * 2**attempt)))
                continue

            uow.keep(result)
            if written:
                self._written(written)  # before the caller hears of it: the read models hold it
            return result, written
        raise AssertionError("unreachable")

    def _before_save(self, uow: UnitOfWork) -> None:
        """What every command adds to its own save (``BillingApplication``: the official
        invoices of what it paid in full). Nothing here."""


class Acting:
    """An application whose every command (and query) runs with one actor: what
    :meth:`CommandRunner.acting` returns. Thread-safe: the actor is a context variable, set
    for the call only."""

    def __init__(self, app: CommandRunner, actor: Actor) -> None:
        self._app = app
        self._actor = actor

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._app, name)
        if not callable(value) or isinstance(value, type):
            return value
        actor = self._actor

        @functools.wraps(value)
        def as_actor(*args: Any, **kwargs: Any) -> Any:
            token = _ACTING.set(actor)
            try:
                return value(*args, **kwargs)
            finally:
                _ACTING.reset(token)

        return as_actor

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            setattr(self._app, name, value)

    def acting(self, actor: Actor) -> Acting:
        return Acting(self._app, actor)

    @property
    def actor(self) -> Actor:
        return self._actor


def at_the_latest_change(method: Callable[..., R]) -> Callable[..., R]:
    """Run a command stamped before the last change of an aggregate it touches again at that
    change, when the difference is within the application's clock-skew tolerance; beyond it,
    refuse it (TimeWentBackwards) saying by how much and what to check.

    Everything the command decides is then decided at the moment it is recorded at, and the
    order of saving stays the order of the events."""
    signature = inspect.signature(method)

    @functools.wraps(method)
    def run(self: CommandRunner, *args: Any, **kwargs: Any) -> R:
        bound = signature.bind(self, *args, **kwargs)
        sent = check_moment(bound.arguments["now"])
        for _ in range(ATTEMPTS):
            try:
                return method(*bound.args, **bound.kwargs)
            except TimeWentBackwards as late:
                latest = late.details.get("latest")
                if latest is None:
                    raise
                behind = latest - sent
                tolerance = self.skew_tolerance
                if tolerance is not None and behind > tolerance:
                    raise TimeWentBackwards(
                        f"{late.message} It is {behind.total_seconds():,.0f} s behind; the "
                        f"engine accepts {tolerance.total_seconds():,.0f} s "
                        "(BILLING_CLOCK_SKEW_TOLERANCE). The machines' clocks must be "
                        "synchronised (NTP); nothing was recorded, and the request may be sent "
                        "again.",
                        latest=latest,
                    ) from None
                bound.arguments["now"] = latest
        raise AssertionError("unreachable")

    return run


def forget_checked() -> None:
    """End the trust of the running :meth:`CommandRunner.read_together` batch (if any): every
    later load asks the store again."""
    checked = _CHECKED.get()
    if checked is not None:
        checked.clear()


def project(aggregate: Any, events: Iterable[Any]) -> Any:
    """Fold events into an aggregate (the library's default also runs a typing.Protocol
    isinstance check per event, which costs a fifth of a tick)."""
    for domain_event in events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate


def no_subscription(subscription_id: UUID) -> SubscriptionNotFound:
    return SubscriptionNotFound(
        f"There is no subscription {subscription_id}. Check the id (GET /subscriptions lists yours).",
        subscription_id=str(subscription_id),
    )


def no_invoice(invoice_id: UUID) -> InvoiceNotFound:
    return InvoiceNotFound(
        f"There is no invoice {invoice_id}. Check the id (a subscription's invoices are listed under it).",
        invoice_id=str(invoice_id),
    )


def no_customer(customer_id: UUID) -> CustomerNotFound:
    return CustomerNotFound(
        f"There is no customer {customer_id}. Register the customer first.",
        customer_id=str(customer_id),
    )
