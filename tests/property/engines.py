"""One billing engine under test: its application on one store, its read models, its events.

An :class:`Engine` can be stopped and started again from its store (a fresh application that
knows nothing but the stored events), and keeps what it recorded both folded by the
invariants' :class:`~tests.property.invariants.Ledger` and as a normalised log, so that two
engines given the same history can be compared event by event.
"""

from __future__ import annotations

import contextlib
import tempfile
from datetime import datetime
from typing import Any
from uuid import UUID

from adapters.persistence import build_with_tables, parse_database_url
from bootstrap import build_application
from projections.runner import ReadModels
from service_layer.application import BillingApplication
from tests.builders import SELLER
from tests.property.invariants import InvariantBroken, Ledger
from tests.stores import postgres_schema

MEMORY_ENV = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


def _reopened_in_memory(recorder: Any) -> BillingApplication:
    """A new application on the in-memory store of a stopped one: only the recorder survives,
    as only the database survives a real restart."""

    class Restarted(BillingApplication):
        name = "billing"

        def construct_recorder(self):
            return recorder

    return Restarted(env=dict(MEMORY_ENV))


class Engine:
    def __init__(self, store: str, *, stepping: str = "as told", read_models: bool = True) -> None:
        self.store = store
        self.stepping = stepping  # "as told", or "hourly": every clock move hour by hour
        self.with_read_models = read_models
        self._exit = contextlib.ExitStack()
        if store == "memory":
            self.url = "memory:"
        elif store == "sqlite":
            folder = self._exit.enter_context(tempfile.TemporaryDirectory())
            self.url = f"sqlite:///{folder}/billing.sqlite"
        elif store == "postgres":
            self.url = self._exit.enter_context(postgres_schema())
        else:
            raise ValueError(store)
        self.app = self._open()
        self.read_models = self._read_models()
        self.ledger = Ledger()
        self.position = 0
        self.log: list[tuple] = []
        self.names: dict[UUID, str] = {}  # ids that differ between engines → stable names

    def __repr__(self) -> str:
        return f"Engine({self.store}, {self.stepping})"

    def _open(self, recorder: Any = None) -> BillingApplication:
        app = self._opened(recorder)
        app.seller = SELLER  # organisations get official invoices, and voids their corrections
        return app

    def _opened(self, recorder: Any = None) -> BillingApplication:
        if self.store == "memory":
            if recorder is not None:
                return _reopened_in_memory(recorder)
            return BillingApplication(env=dict(MEMORY_ENV))
        return build_application(database_url=self.url)

    def _read_models(self) -> ReadModels | None:
        """The read models in the engine's own database (the outbox, which sends notices and
        is not rebuildable, is left out: it is not a read model of the invariants)."""
        if not self.with_read_models:
            return None
        return build_with_tables(
            parse_database_url(self.url), lambda env: ReadModels(self.app, env=env)
        )

    # --- events -----------------------------------------------------------------------------------

    def pull(self) -> list[Any]:
        """The events recorded since the last pull, folded into the ledger (which checks them)."""
        new = []
        while batch := self.app.recorder.select_notifications(
            start=self.position, limit=500, inclusive_of_start=False
        ):
            self.position = batch[-1].id
            new += [self.app.mapper.to_domain_event(n) for n in batch]
        self.ledger.fold(new)
        self.log += [self.normalise(e) for e in new]
        return new

    def normalise(self, event: Any) -> tuple:
        return (type(event).__qualname__, self._plain(event.__dict__))

    def _plain(self, value: Any) -> Any:
        if isinstance(value, UUID):
            return self.names.get(value, str(value))
        if isinstance(value, dict):
            return tuple(sorted((k, self._plain(v)) for k, v in value.items()))
        if isinstance(value, list | tuple):
            return tuple(self._plain(v) for v in value)
        if isinstance(value, datetime):
            return value.isoformat()
        return value

    # --- stop and start -------------------------------------------------------------------------

    def aggregates(self) -> dict[UUID, Any]:
        ids = []
        for n in self.app.recorder.select_notifications(start=0, limit=1_000_000):
            if n.originator_id not in ids:
                ids.append(n.originator_id)
        return {i: self.app.repository.get(i) for i in ids}

    def stop(self) -> None:
        """Stop the engine: only its store survives (and, to compare, what it held)."""
        self._before = self.aggregates()
        self._recorder = self.app.recorder if self.store == "memory" else None
        self.app.close()

    def start(self) -> None:
        """Start a new engine on the store: every aggregate it folds from the stored events
        equals what the stopped one had (determinism)."""
        self.app = self._open(self._recorder)
        self.read_models = self._read_models()
        after = self.aggregates()
        if self._before != after:
            differ = [k for k in self._before if self._before[k] != after.get(k)]
            raise InvariantBroken(f"{self}: replaying the store gives other states for {differ}")

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.app.close()
        self._exit.close()
