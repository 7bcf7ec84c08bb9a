"""Clocks: time reaches the engine through one of these, never from the domain itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from domain.base import check_moment
from domain.errors import TimeWentBackwards


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """The real clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock:
    """A clock that moves only when told to (tests, the demo, the API's test mode)."""

    def __init__(self, start: datetime) -> None:
        self._now = check_moment(start)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise TimeWentBackwards(f"A simulated clock only moves forward; got {delta}.")
        self._now = self._now + delta
        return self._now

    def advance_to(self, moment: datetime) -> datetime:
        moment = check_moment(moment)
        if moment < self._now:
            raise TimeWentBackwards(
                f"The simulated clock is at {self._now.isoformat()}; it cannot go back to "
                f"{moment.isoformat()}."
            )
        self._now = moment
        return self._now
