"""Aggregates kept between commands, brought up to date from the store before each use.

A lifecycle step used to replay its subscription and each open invoice from their first event,
one query each. Now the aggregates a command saved stay in this process's cache, and the next
command that needs them reads only the events recorded since their cached version, for all of
them in one query (docs/ARCHITECTURE.md, "Aggregates kept between commands").

Why this stays correct with several processes writing the same aggregates:

- **Never stale.** A cached aggregate at version v is used only after the events the store
  holds after v have been folded into it. That read is made when the command loads the
  aggregate, exactly when a plain load would have read it, so the command decides on the same
  state a fresh load would have given it. A write by another process after that read is
  caught, as before, by the store's version check when the command saves: the save fails with
  a write conflict and the command runs again (``CommandRunner._run_tracked``). One exception,
  for time's commands only: a batch of them (the scheduler's group, ``advance``'s next 50)
  shares one read made when the batch began (``CommandRunner.read_together``), so what a
  command of it only reads may be that much older; what it changes is still checked by its
  save, and a conflict ends the batch's trust (docs/ARCHITECTURE.md, "A batch read together").
- **Never half-changed.** An aggregate is *taken out* of the cache when a command loads it and
  given back only after that command's save succeeded (then it is exactly what the store
  holds). A command that fails, is refused, or loses a write conflict gives nothing back, so
  its changes can never be seen by another command and its retry loads afresh. Two threads
  never share an aggregate object: the second one misses and loads its own. Nor does a
  command's caller: an aggregate the command returns is not kept.
- **No copies.** eventsourcing's own cache deep-copies an aggregate at every use, which made a
  drive slower than replaying (docs/BENCHMARKS.md, "Lifecycle"); taking out and giving back
  needs no copy.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from domain.base import BillingAggregate

#: How many aggregates one process keeps (about 3 per subscription in its lifecycle: the
#: subscription, an open invoice or two, sometimes the customer; a few kilobytes each).
DEFAULT_MAXSIZE = 30_000


class AggregateCache:
    """Aggregates at the version they were last saved or loaded at, least recently used first."""

    def __init__(self, maxsize: int = DEFAULT_MAXSIZE) -> None:
        self.maxsize = maxsize
        self._kept: OrderedDict[UUID, BillingAggregate] = OrderedDict()
        self._lock = threading.Lock()
        #: Loads served from the cache, and loads that had to replay from the first event.
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._kept)

    def peek(self, aggregate_id: UUID) -> BillingAggregate | None:
        """The cached aggregate, left in the cache: only to read which ids to load with it."""
        return self._kept.get(aggregate_id)

    def take(self, aggregate_id: UUID) -> BillingAggregate | None:
        """The cached aggregate, out of the cache (None: not cached)."""
        with self._lock:
            found = self._kept.pop(aggregate_id, None)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def give_back(self, aggregates: Iterable[BillingAggregate]) -> None:
        """Keep aggregates a command saved (or read and left unchanged), unless the cache
        already holds a later version of one."""
        with self._lock:
            for aggregate in aggregates:
                if aggregate.pending_events:
                    continue  # not saved: never kept
                kept = self._kept.get(aggregate.id)
                if kept is not None and kept.version > aggregate.version:
                    continue
                self._kept[aggregate.id] = aggregate
                self._kept.move_to_end(aggregate.id)
            while len(self._kept) > self.maxsize:
                self._kept.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()


def events_after(recorder: Any, versions: Mapping[UUID, int]) -> dict[UUID, list[Any]]:
    """The stored events of each aggregate after the version given for it, by aggregate: in one
    query where the recorder offers it (SQLite and PostgreSQL, adapters/chain.py), else one
    query per aggregate (memory)."""
    found: dict[UUID, list[Any]] = {}
    batched = getattr(recorder, "select_events_after", None)
    if batched is not None:
        for stored in batched(versions):
            originator = stored.originator_id
            key = originator if isinstance(originator, UUID) else UUID(str(originator))
            found.setdefault(key, []).append(stored)
        return found
    for aggregate_id, version in versions.items():
        events = recorder.select_events(aggregate_id, gt=version or None)
        if events:
            found[aggregate_id] = list(events)
    return found
