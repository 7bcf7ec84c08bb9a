"""What each person did: the actions report (``GET /audit/actions``, ``billing audit actions``).

Read from the events themselves, never from a read model: the notification log (every stored
event, in the order the store recorded it) is read in batches, each event decoded by the
application's mapper, and kept when its actor (docs/AUDIT.md, "Actors") and its recorded moment
pass the filter. Each row says when (ISO and Jalali), who (kind, id, name, role), on what
(aggregate and id), which event, and the event's words (``presentation.events``).

The filter, in one place for the API and the CLI:

- ``actor``: an actor kind (``staff``, ``client``, ``customer``, ``representative``,
  ``scheduler``, ``gateway``, ``operator``, ``unknown``), an actor id (a staff member's id, a
  customer's id, an operator's ``user@host``), or ``kind:id`` for an id of one kind (also how
  an id that is itself a kind's name, or holds a colon, is written: ``staff:scheduler``).
- ``from`` / ``to``: ISO 8601 moments with a time zone; a row is kept when
  ``from <= recorded_at <= to``.

The CLI streams every row (:func:`actions`); the API reads one page at a time
(:func:`actions_page`): at most ``limit`` rows and at most :data:`SCAN_LIMIT` events read, so
a big store is never read at once; the page's ``after`` is the notification id to go on from.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.actor import Actor, ActorKind
from domain.errors import InvalidActorFilter, InvalidInput, InvalidTime, InvalidTimeRange
from domain.jalali import format_moment
from domain.text import identifier
from presentation.words import iso
from service_layer.timeline import TimelineEntry, entry_of, who_of, words_of

__all__ = [
    "BATCH",
    "SCAN_LIMIT",
    "Action",
    "ActionFilter",
    "ActionsPage",
    "ActorFilter",
    "actions",
    "actions_page",
]

#: How many stored events are fetched from the store at a time.
BATCH = 500
#: The most events one page of the API reads: a page may hold fewer rows than its limit, even
#: none, when that many events were read without filling it; its cursor goes on from there.
SCAN_LIMIT = 5_000

_KINDS = ", ".join(kind.value for kind in ActorKind)
#: Kinds whose actors carry no id: ``scheduler:x`` can match nothing, so it is refused.
_WITHOUT_ID = (ActorKind.SCHEDULER, ActorKind.GATEWAY, ActorKind.UNKNOWN)


def _canonical(an_id: str) -> str:
    """An id as compared: a UUID in its one written form (any case, braces, no hyphens)."""
    try:
        return str(UUID(an_id))
    except ValueError:
        return an_id


@dataclass(frozen=True)
class ActorFilter:
    """Which actors a row may have: of ``kind``, with ``id``, or both."""

    kind: ActorKind | None = None
    id: str | None = None

    @classmethod
    def parse(cls, text: str) -> ActorFilter:
        """``scheduler``, ``3f2a…`` (an id), ``staff:42`` (an id of one kind)."""
        try:
            value = identifier(text, "actor", max_length=200)
        except InvalidInput as error:
            raise InvalidActorFilter(
                f"{error.message} Give an actor kind ({_KINDS}), an actor id, or kind:id.",
                field="actor",
            ) from None
        kinds = {kind.value: kind for kind in ActorKind}
        if value.lower() in kinds:
            return cls(kind=kinds[value.lower()])
        prefix, colon, rest = value.partition(":")
        if not colon:
            return cls(id=_canonical(value))
        kind = kinds.get(prefix.lower())
        if kind is None:
            raise InvalidActorFilter(
                f"actor {value!r}: {prefix!r} is not an actor kind; kinds are {_KINDS}. Write "
                "a kind, an id, or kind:id (an id with a colon in it too: staff:a:b).",
                field="actor",
            )
        if kind in _WITHOUT_ID:
            raise InvalidActorFilter(
                f"actor {value!r}: {kind.value} actors have no id; write actor={kind.value}.",
                field="actor",
            )
        if not rest.strip():
            raise InvalidActorFilter(
                f"actor {value!r} names a kind but no id; write {kind.value} alone, or "
                f"{kind.value}:ID.",
                field="actor",
            )
        return cls(kind=kind, id=_canonical(rest.strip()))

    def matches(self, actor: Actor) -> bool:
        if self.kind is not None and actor.kind is not self.kind:
            return False
        return self.id is None or (actor.id is not None and _canonical(actor.id) == self.id)

    def __str__(self) -> str:
        if self.kind is not None and self.id is not None:
            return f"{self.kind.value}:{self.id}"
        return self.kind.value if self.kind is not None else str(self.id)


def _moment(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    if not text.strip():
        raise InvalidTime(
            f"{name} is empty; give an ISO 8601 moment like 2026-05-08T00:00:00Z, or leave it out.",
            field=name,
        )
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidTime(
            f"{name} {text!r} is not an ISO 8601 moment; write it like 2026-05-08T00:00:00Z.",
            field=name,
        ) from None
    if moment.tzinfo is None:
        raise InvalidTime(
            f"{name} {text!r} has no time zone; add one, e.g. 2026-05-08T00:00:00Z.", field=name
        )
    return moment


@dataclass(frozen=True)
class ActionFilter:
    """Which recorded events the report keeps (module docstring: the syntax)."""

    actor: ActorFilter | None = None
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def parse(
        cls, actor: str | None = None, since: str | None = None, until: str | None = None
    ) -> ActionFilter:
        """The filter as a person or a client wrote it (``from`` is ``since``, ``to`` is
        ``until``); anything it cannot mean is refused with a stable code: ``invalid_actor_filter``,
        ``invalid_time``, ``invalid_time_range``."""
        start, end = _moment(since, "from"), _moment(until, "to")
        if start is not None and end is not None and start > end:
            raise InvalidTimeRange(
                f"from {iso(start)} is after to {iso(end)}; swap them, or leave one out.",
                field="from",
            )
        who = ActorFilter.parse(actor) if actor is not None else None
        return cls(who, start, end)

    def matches(self, entry: TimelineEntry) -> bool:
        if self.since is not None and entry.recorded_at < self.since:
            return False
        if self.until is not None and entry.recorded_at > self.until:
            return False
        return self.actor is None or self.actor.matches(entry.actor)

    def as_json(self) -> dict[str, Any]:
        """The filter as the report states it back (``null`` where none was given)."""
        return {
            "actor": str(self.actor) if self.actor is not None else None,
            "from": iso(self.since),
            "to": iso(self.until),
        }


@dataclass(frozen=True)
class Action:
    """One recorded event with who caused it: a row of the report."""

    #: The event's position in the notification log (the store's order of recording).
    position: int
    entry: TimelineEntry

    def as_json(self) -> dict[str, Any]:
        entry, actor = self.entry, self.entry.actor
        what, by = words_of(entry), who_of(entry)
        return {
            "position": self.position,
            "recorded_at": iso(entry.recorded_at),
            "recorded_at_jalali": format_moment(entry.recorded_at),
            "actor": {
                "kind": actor.kind.value,
                "id": actor.id,
                "name": actor.name,
                "role": actor.role,
            },
            "by": by.english,
            "by_fa": by.persian,
            "aggregate": entry.aggregate,
            "aggregate_id": str(entry.aggregate_id),
            "version": entry.version,
            "event": entry.event,
            "what": what.english,
            "what_fa": what.persian,
        }


@dataclass(frozen=True)
class ActionsPage:
    """A page of the report: its rows, and the position to go on from (None: the log ends)."""

    items: list[Action] = field(default_factory=list)
    after: int | None = None


def _stored(app: Any, after: int, batch: int) -> Iterator[Any]:
    """The stored events after position ``after``, in order, fetched ``batch`` at a time."""
    while True:
        found = app.recorder.select_notifications(start=after + 1, limit=batch)
        yield from found
        if len(found) < batch:
            return
        after = found[-1].id


def _kept(app: Any, notification: Any, flt: ActionFilter) -> Action | None:
    entry = entry_of(app.mapper.to_domain_event(notification))
    return Action(notification.id, entry) if flt.matches(entry) else None


def actions(app: Any, flt: ActionFilter, *, after: int = 0, batch: int = BATCH) -> Iterator[Action]:
    """Every recorded event after position ``after`` that passes ``flt``, in the order the store
    recorded them, read ``batch`` events at a time (the CLI prints each as it comes)."""
    for notification in _stored(app, after, batch):
        action = _kept(app, notification, flt)
        if action is not None:
            yield action


def actions_page(
    app: Any,
    flt: ActionFilter,
    *,
    after: int = 0,
    limit: int = 50,
    scan_limit: int = SCAN_LIMIT,
) -> ActionsPage:
    """At most ``limit`` rows after position ``after``, reading at most ``scan_limit`` events;
    ``after`` of the answer is where the next page starts, None when the log is read to its end."""
    if after < 0 or limit < 1 or scan_limit < 1:
        raise InvalidInput("after must be 0 or more, limit and scan_limit 1 or more.")
    items: list[Action] = []
    last, read = after, 0
    for notification in _stored(app, after, min(BATCH, scan_limit)):
        last, read = notification.id, read + 1
        action = _kept(app, notification, flt)
        if action is not None:
            items.append(action)
        if len(items) >= limit or read >= scan_limit:
            more = (app.recorder.max_notification_id() or 0) > last
            return ActionsPage(items, last if more else None)
    return ActionsPage(items, None)
