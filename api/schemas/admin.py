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
    days: float | None = Field(default=None, gt=0, le=3650, strict=True)
    to: datetime | None = None


class ClockOut(BaseModel):
    now: str
    now_jalali: str
    executed: int = 0
    #: Due subscriptions that could not be advanced (they stay due); always a list.
    failed: list[str] = Field(default_factory=list)


ScopeName = Literal["read", "payments"]
Scopes = Annotated[
    list[ScopeName],
    Field(
        max_length=2,
        description="Narrower than the role: `read` (reads only), `payments` (reads and the "
        "payment routes). None: everything the role may do.",
    ),
]
ExpiresAt = Annotated[
    datetime | None,
    Field(description="When it stops working (ISO 8601 with a time zone); none: never."),
]
Label = Annotated[str, *FreeText(200, min_length=0)]


class TokenIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"role": "customer", "subject": "5c4c1b6e-3a0e-4a54-9d6e-6f8b2f1f9a10"},
                {
                    "role": "finance",
                    "owner": "client",
                    "name": "portal",
                    "scopes": ["payments"],
                    "expires_at": "2027-03-20T20:30:00Z",
                },
            ]
        },
    )
    role: Literal["customer", "representative", "finance", "admin", "support"]
    subject: UUID | None = Field(
        default=None, description="The customer or representative it acts for."
    )
    owner: Literal["customer", "representative", "client"] | None = Field(
        default=None,
        description="Whose it is: the customer or representative named by `subject`, or a "
        "machine client named by `name`. A staff member's token: POST /staff/{id}/tokens.",
    )
    name: Annotated[str, *FreeText(200)] | None = Field(
        default=None, description="The owner's name: the machine client's (e.g. portal)."
    )
    label: Label = Field("", description="A note for people, e.g. who holds it.")
    expires_at: ExpiresAt = None
    scopes: Scopes = Field(default_factory=list)


class StaffTokenIn(Input):
    """A further token for a staff member (they may hold several, e.g. one per machine)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"expires_at": "2026-12-31T20:30:00Z", "scopes": []}]},
    )
    label: Label = Field("", description="A note for people, e.g. which machine holds it.")
    expires_at: ExpiresAt = None
    scopes: Scopes = Field(default_factory=list)


class OwnerOut(BaseModel):
    """Whose a token is: ``kind`` staff, client, customer or representative."""

    kind: str
    id: str | None
    name: str | None
    role: str | None = None


class TokenOut(BaseModel):
    token: str = Field(description="Shown once; only its hash is kept.")
    id: str = Field(description="The public id it is listed and revoked by.")
    role: str
    subject: UUID | None
    owner: OwnerOut
    created_at: str
    expires_at: str | None
    scopes: list[str]


class TokenItemOut(BaseModel):
    """A token as listed: never the token nor its hash."""

    id: str
    role: str
    owner: OwnerOut
    scopes: list[str]
    label: str
    created_at: str
    expires_at: str | None
    last_used_at: str | None
    revoked_at: str | None
    state: Literal["active", "revoked", "expired", "owner_disabled"]
