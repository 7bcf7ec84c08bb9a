"""Representatives, and assigning customers to them."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import FreeText, Identifier, Input, MultilineText, jalali
from domain.representative import RepresentativeDetails
from projections.model import parse_moment
from service_layer.timeline import iso


class RepresentativeDetailsIn(Input):
    """A representative's whole details (``PUT /representatives/{id}`` replaces them)."""

    name: Annotated[str, *FreeText(200)]
    mobile: Annotated[str, *Identifier(20)] | None = Field(
        default=None, description="An Iranian mobile number, like 09121234567."
    )
    email: Annotated[str, *Identifier(254)] | None = None

    def details(self) -> RepresentativeDetails:
        return RepresentativeDetails(self.name, self.mobile, self.email)


class RepresentativeIn(RepresentativeDetailsIn):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "Ali Rezaei", "mobile": "09121234567", "email": "ali@example.ir"},
                {"name": "Sara Ahmadi"},
                {"id": "0f9c2d3e-4b5a-4c6d-8e7f-901234567890", "name": "Reza Karimi"},
            ]
        },
    )
    id: UUID | None = Field(
        default=None,
        description="Leave it out. Only to add a representative whom customers named before "
        "representatives were kept (listed with registered false), under that same id: they "
        "keep their customers and their tokens.",
    )


class RepresentativeOut(BaseModel):
    id: UUID
    name: str | None = Field(description="Null for an id never registered (see registered).")
    mobile: str | None
    email: str | None
    registered: bool = Field(
        description="False for an id that customers registered before representatives were "
        "kept name, but that was never added (POST /representatives with this id adds it)."
    )
    added_at: str | None
    added_at_jalali: str | None
    customers: int = Field(description="How many customers this representative serves now.")

    @classmethod
    def of(cls, row: dict[str, Any]) -> RepresentativeOut:
        """A row of ``projections.representative_views.representatives``."""
        added = parse_moment(row["added_at"])
        return cls(
            id=UUID(row["representative_id"]),
            name=row["name"],
            mobile=row["mobile"],
            email=row["email"],
            registered=row["registered"],
            added_at=iso(added),
            added_at_jalali=jalali(added),
            customers=row["customers"],
        )


class AssignRepresentativeIn(Input):
    """``PUT /customers/{id}/representative``: the representative the customer has from now on."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "representative_id": "0f9c2d3e-4b5a-4c6d-8e7f-901234567890",
                    "reason": "Ali moved to the Shiraz office; Reza serves Tehran now.",
                }
            ]
        },
    )
    representative_id: UUID
    reason: Annotated[str, *MultilineText(500)]
