"""Every event class the domain declares, found the way the event store finds them: by topic.

Shared by the event schema pin (test_event_schema.py) and whoever lists the events."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil

from eventsourcing.domain import CanMutateAggregate
from eventsourcing.utils import get_topic

import domain
from domain.base import BillingAggregate

#: Fields every event has from the library (not part of an event's own schema).
BASE_FIELDS = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})


def _aggregates() -> list[type]:
    for module in pkgutil.iter_modules(domain.__path__):
        importlib.import_module(f"domain.{module.name}")
    found, todo = set(), [BillingAggregate]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.add(sub)
            todo.append(sub)
    return sorted(found, key=lambda c: f"{c.__module__}:{c.__qualname__}")


def stored_events() -> dict[str, tuple[int, dict[str, str]]]:
    """topic → (class_version, {field: annotation}) for every event an aggregate can store."""
    events = {}
    for aggregate in _aggregates():
        for name, value in vars(aggregate).items():
            if name in ("Event", "Created") or not isinstance(value, type):
                continue
            if not issubclass(value, CanMutateAggregate):
                continue
            fields = {
                f.name: str(f.type) for f in dataclasses.fields(value) if f.name not in BASE_FIELDS
            }
            events[get_topic(value)] = (getattr(value, "class_version", 1), fields)
    return dict(sorted(events.items()))
