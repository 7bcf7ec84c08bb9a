"""The due-actions index: each subscription's next lifecycle step, kept by following the log.

A tick must cost in proportion to what is due, not to the number of subscriptions. This index
follows the application's notification log from its tracking position; when events of a
subscription (or of one of its invoices) arrive, it asks the pure lifecycle function for that
subscription's next step and files the subscription under that moment. ``earliest()`` then
answers "who is due first" from a heap.

This version keeps the index in memory and rebuilds it from the log when a process starts
(the log is the truth; the index is a cache of a fold over it).

A side-service invoice is filed under its own id, not its subscription's: its reminders and
overdue notice are its own schedule (domain/service_invoices.py), which never touches the
subscription's lifecycle. ``is_service_invoice`` tells the tick which one an entry is.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from threading import RLock
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Mapper
from eventsourcing.utils import resolve_topic

from domain.invoice import Invoice, InvoiceKind
from domain.subscription import Subscription

SECTION = 500


@dataclass(frozen=True, order=True)
class DueEntry:
    due_at: datetime
    subscription_id: UUID


class DueIndex:
    def __init__(
        self,
        recorder: ApplicationRecorder,
        mapper: Mapper,
        next_due: Callable[[UUID], datetime | None],
    ) -> None:
        self._recorder = recorder
        self._mapper = mapper
        self._next_due = next_due
        self.position = 0  # the last notification id folded into the index
        self._due: dict[UUID, datetime] = {}
        self._heap: list[DueEntry] = []
        self._invoice_owner: dict[UUID, UUID] = {}
        #: The side-service invoices filed under their own id.
        self._service_invoices: set[UUID] = set()
        # Per subscription, the notification id up to which its due moment is already known
        # (this process wrote those events and filed the result itself).
        self._seen: dict[UUID, int] = {}
        self._lock = RLock()

    def refresh(self) -> int:
        """Fold every notification recorded since ``position``; returns how many were read."""
        with self._lock:
            read = 0
            while True:
                notifications = self._recorder.select_notifications(
                    start=self.position, limit=SECTION, inclusive_of_start=False
                )
                if not notifications:
                    return read
                touched: dict[UUID, None] = {}
                for notification in notifications:
                    owner = self._owner(notification)
                    if owner is not None and notification.id > self._seen.get(owner, 0):
                        touched[owner] = None
                for subscription_id in touched:
                    self.set(subscription_id, self._next_due(subscription_id))
                self.position = notifications[-1].id
                read += len(notifications)

    def _owner(self, notification) -> UUID | None:
        """The subscription whose next step an event can change: its own, or its invoice's.
        Chosen by the event's class (resolved from the stored topic, cached by the library);
        only an invoice's InvoiceIssued is decoded, to learn the invoice's subscription."""
        event_class = resolve_topic(notification.topic)
        aggregate_id = UUID(str(notification.originator_id))
        if issubclass(event_class, Subscription.Event):
            return aggregate_id
        if issubclass(event_class, Invoice.InvoiceIssued):
            issued = self._mapper.to_domain_event(notification)
            assert isinstance(issued, Invoice.InvoiceIssued)
            if issued.kind == InvoiceKind.SERVICE.value:
                self._service_invoices.add(aggregate_id)
                self._invoice_owner[aggregate_id] = aggregate_id
            else:
                self._invoice_owner[aggregate_id] = issued.subscription_id
        if issubclass(event_class, Invoice.Event):
            return self._invoice_owner.get(aggregate_id)
        return None

    def set(self, subscription_id: UUID, due_at: datetime | None, *, seen: int = 0) -> None:
        with self._lock:
            if seen:
                self._seen[subscription_id] = max(seen, self._seen.get(subscription_id, 0))
            if due_at is None:
                self._due.pop(subscription_id, None)
                return
            if self._due.get(subscription_id) == due_at:
                return
            self._due[subscription_id] = due_at
            heapq.heappush(self._heap, DueEntry(due_at, subscription_id))

    def note_service_invoice(self, invoice_id: UUID) -> None:
        """This process issued the side-service invoice ``invoice_id`` (filed by its own id)."""
        with self._lock:
            self._service_invoices.add(invoice_id)
            self._invoice_owner[invoice_id] = invoice_id

    def is_service_invoice(self, an_id: UUID) -> bool:
        return an_id in self._service_invoices

    def due_at(self, subscription_id: UUID) -> datetime | None:
        return self._due.get(subscription_id)

    def earliest(self, among: Iterable[UUID] | None = None) -> DueEntry | None:
        """The subscription due first (optionally among some), or None when nothing is planned."""
        with self._lock:
            if among is not None:
                entries = [DueEntry(self._due[s], s) for s in among if s in self._due]
                return min(entries) if entries else None
            while self._heap:
                head = self._heap[0]
                if self._due.get(head.subscription_id) == head.due_at:
                    return head
                heapq.heappop(self._heap)  # a stale entry: the subscription moved on
            return None

    def upcoming(
        self, until: datetime, limit: int, among: Iterable[UUID] | None = None
    ) -> list[UUID]:
        """The first ``limit`` subscriptions due by ``until`` (optionally among some), earliest
        first: a walk of the heap's top, so it costs in proportion to ``limit``."""
        with self._lock:
            if among is not None:
                chosen = sorted(DueEntry(self._due[s], s) for s in among if s in self._due)
                return [e.subscription_id for e in chosen if e.due_at <= until][:limit]
            found: list[UUID] = []
            heap = self._heap
            frontier = [(heap[0], 0)] if heap else []
            while frontier and len(found) < limit:
                entry, at = heapq.heappop(frontier)
                if entry.due_at > until:
                    break
                if self._due.get(entry.subscription_id) == entry.due_at:
                    found.append(entry.subscription_id)
                for child in (2 * at + 1, 2 * at + 2):
                    if child < len(heap):
                        heapq.heappush(frontier, (heap[child], child))
            return found

    def __len__(self) -> int:
        return len(self._due)
