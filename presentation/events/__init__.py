"""One formatter per event class, English and Persian side by side (the timeline's words).

The modules mirror ``domain/``'s aggregates; importing this package registers them all in
:data:`~presentation.events.registry.FORMATTERS`. Ask with :func:`words_for`.
"""

from presentation.events import (  # noqa: F401 - imported to register their formatters
    catalogue,
    customer,
    invoice,
    notices,
    official,
    payment,
    representative,
    staff,
    subscription,
)
from presentation.events.registry import FORMATTERS, EventData, formats, words_for

__all__ = ["FORMATTERS", "EventData", "formats", "words_for"]
