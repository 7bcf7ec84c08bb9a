"""The formatters of the events, keyed by the event class itself (``Subscription.GraceStarted``).

A formatter takes the event's data as the timeline holds it (JSON: ids and moments as strings,
amounts in integer rials) and returns :class:`~presentation.words.Words`. Keying by the class,
not its name, keeps two events of the same name apart (``Invoice.NoticeSent`` and
``Subscription.NoticeSent``) and fails at import if an event class is renamed or removed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from presentation.words import Words

EventData = dict[str, Any]
Formatter = Callable[[EventData], Words]

#: Every event class with words, and its formatter. Filled by the ``@formats`` decorators of
#: this package's modules, all imported by ``presentation.events``.
FORMATTERS: dict[type, Formatter] = {}


def formats(*event_classes: type) -> Callable[[Formatter], Formatter]:
    """Register the decorated function as the words of these event classes."""

    def register(formatter: Formatter) -> Formatter:
        for event_class in event_classes:
            if event_class in FORMATTERS:
                raise ValueError(f"{event_class.__qualname__} has two formatters")
            FORMATTERS[event_class] = formatter
        return formatter

    return register


def words_for(event_class: type | None, data: EventData, name: str = "?") -> Words:
    """The event in words; an event class without a formatter is shown by its ``name``
    (a reader still sees what happened; the tests make sure no known class lacks one)."""
    formatter = FORMATTERS.get(event_class) if event_class is not None else None
    if formatter is None:
        return Words(name, name)
    return formatter(data)
