"""Administration: tokens and, in test mode, the clock."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import FreeText, Input


class ClockAdvanceIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"days": 30}, {"to": "2026-05-08T00:00:00Z"}]},
    )
    days: float | None = Field(None, gt=0, le=3650, strict=True)
    to: datetime | None = None


class ClockOut(BaseModel):
    now: str
    now_jalali: str
    executed: int = 0
    #: Due subscriptions that could not be advanced (they stay due); always a list.
    failed: list[str] = Field(default_factory=list)


class TokenIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"role": "customer", "subject": "5c4c1b6e-3a0e-4a54-9d6e-6f8b2f1f9a10"}]
        },
    )
    role: Literal["customer", "representative", "finance", "admin"]
    subject: UUID | None = None
    label: Annotated[str, *FreeText(200, min_length=0)] = Field(
        "", description="A note for people, e.g. who holds it."
    )


class TokenOut(BaseModel):
    token: str = Field(description="Shown once; only its hash is kept.")
    role: str
    subject: UUID | None
