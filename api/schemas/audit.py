"""The audit trail: who did what (``GET /audit/actions``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

#: Every ``domain.actor.ActorKind`` (a test keeps the two the same).
ActorKindName = Literal[
    "staff", "client", "customer", "representative", "scheduler", "gateway", "operator", "unknown"
]


class ActorOut(BaseModel):
    """Who caused an event, as recorded on it (docs/AUDIT.md, "Actors")."""

    kind: ActorKindName
    id: str | None = Field(description="A staff member's, customer's, representative's id; …")
    name: str | None = Field(description="The name it had when it acted (kept as it was then).")
    role: str | None = Field(description="A staff member's role then (finance, admin, …).")


class ActionOut(BaseModel):
    """One recorded event and who caused it."""

    position: int = Field(description="Its position in the event log (the order of recording).")
    recorded_at: str
    recorded_at_jalali: str
    actor: ActorOut
    by: str = Field(description="Who, in English words: مریم کریمی (finance), the scheduler.")
    by_fa: str
    aggregate: str
    aggregate_id: str
    version: int
    event: str
    what: str = Field(description="The event in one line of English.")
    what_fa: str


class ActionsOut(BaseModel):
    """A page of the report. It may hold fewer items than ``limit`` (even none) when many
    events were read without filling it: follow ``next_cursor`` until it is null."""

    items: list[ActionOut]
    next_cursor: str | None = None
