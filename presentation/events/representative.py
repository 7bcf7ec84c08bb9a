"""The words of a representative's events: added, details changed."""

from __future__ import annotations

from domain.representative import Representative
from presentation.events.registry import EventData, formats
from presentation.words import Words


def _reach(d: EventData) -> Words:
    """How to reach them, if they gave a way: `` (09121234567, ali@example.ir)``."""
    ways = [w for w in (d.get("mobile"), d.get("email")) if w]
    if not ways:
        return Words("", "")
    return Words(f" ({', '.join(ways)})", f" ({'، '.join(ways)})")


@formats(Representative.RepresentativeAdded)
def _added(d: EventData) -> Words:
    reach = _reach(d)
    return Words(
        f"representative {d['name']}{reach.english} added",
        f"نماینده {d['name']}{reach.persian} افزوده شد",
    )


@formats(Representative.RepresentativeDetailsChanged)
def _details_changed(d: EventData) -> Words:
    reach = _reach(d)
    return Words(
        f"representative's details changed: now {d['name']}{reach.english}",
        f"مشخصات نماینده تغییر کرد: اکنون {d['name']}{reach.persian}",
    )
