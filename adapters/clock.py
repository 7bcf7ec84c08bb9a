"""Clocks: time reaches the engine through one of these, never from the domain itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from domain.base import check_moment
from domain.errors import TimeWentBackwards


class Clock(Protocol):
    def now(self) -> datetime: ...


@runtime_checkable
class MovableClock(Clock, Protocol):
    """A clock tests and the demo move by hand (simulated, or the one stored in test mode)."""

    def advance(self, delta: timedelta) -> datetime: ...

    def advance_to(self, moment: datetime) -> datetime: ...


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


class StoredClock:
    """The test-mode clock: a simulated moment kept in the database, so every process of the
    engine (API, schedulers) reads the same time, and moving it survives a restart.

    Only built when ``BILLING_TEST_MODE`` is on; it starts at ``start`` (default: the real time
    of its creation) the first time it is created in a database.
    """

    TABLE = "test_clock"

    def __init__(self, read_models, *, start: datetime | None = None) -> None:
        self.view = read_models.view
        start = check_moment(start) if start else datetime.now(UTC)
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self.view.sql(cursor)
            sql.execute(
                f"CREATE TABLE IF NOT EXISTS {sql.table(self.TABLE)} (id INTEGER PRIMARY KEY, now TEXT NOT NULL)"
            )
            sql.execute(
                f"INSERT INTO {sql.table(self.TABLE)} (id, now) VALUES (1, ?) ON CONFLICT (id) DO NOTHING",
                (start.isoformat(),),
            )

    def now(self) -> datetime:
        with self.view.datastore.transaction(commit=False) as cursor:
            sql = self.view.sql(cursor)
            value = sql.execute(f"SELECT now FROM {sql.table(self.TABLE)} WHERE id = 1").scalar()
        return datetime.fromisoformat(value)

    def advance_to(self, moment: datetime) -> datetime:
        moment = check_moment(moment)
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self.view.sql(cursor)
            current = datetime.fromisoformat(
                sql.execute(f"SELECT now FROM {sql.table(self.TABLE)} WHERE id = 1").scalar()
            )
            if moment < current:
                raise TimeWentBackwards(
                    f"The test clock is at {current.isoformat()}; it cannot go back to {moment.isoformat()}."
                )
            sql.execute(
                f"UPDATE {sql.table(self.TABLE)} SET now = ? WHERE id = 1", (moment.isoformat(),)
            )
        return moment

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise TimeWentBackwards(f"The test clock only moves forward; got {delta}.")
        return self.advance_to(self.now() + delta)
