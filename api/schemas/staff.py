"""Staff members (admin only): adding, listing, disabling."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import FreeText, Identifier, Input, MultilineText


class StaffIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "مریم کریمی", "role": "finance", "email": "maryam@example.ir"}]
        },
    )
    name: Annotated[str, *FreeText(200)]
    role: Literal["admin", "finance", "support"]
    email: Annotated[str, *Identifier(254)] | None = Field(
        default=None, description="The address they sign in with (optional)."
    )


class DisableIn(Input):
    reason: Annotated[str, *MultilineText(500)]


class StaffOut(BaseModel):
    id: UUID
    name: str
    role: str
    email: str | None
    state: Literal["active", "disabled"]
    added_at: str
    disabled_at: str | None
    password_set: bool
    token: str | None = Field(
        default=None,
        description="Only in the answer to POST /staff: their first token, shown once.",
    )
    token_id: str | None = Field(default=None, description="That token's public id.")
