"""Customers and their billing profiles."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import FreeText, Identifier, Input
from domain.customer import BillingProfile, Customer

# --- customers ----------------------------------------------------------------------------------


class ProfileIn(Input):
    """A customer's whole billing profile (``PUT /customers/{id}/profile`` replaces the old one
    from now on)."""

    name: Annotated[str, *FreeText(200)]
    kind: Literal["person", "legal"]
    email: Annotated[str, *Identifier(254)]
    mobile: Annotated[str, *Identifier(20)]
    national_code: Annotated[str, *Identifier(20)] | None = None
    economic_code: Annotated[str, *Identifier(20)] | None = None
    national_id: Annotated[str, *Identifier(20)] | None = None
    registration_number: Annotated[str, *Identifier(40)] | None = None
    postal_code: Annotated[str, *Identifier(20)] | None = None
    address: Annotated[str, *FreeText(500)] | None = None


class CustomerIn(ProfileIn):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Sara Ahmadi",
                    "kind": "person",
                    "email": "sara@example.ir",
                    "mobile": "09121234567",
                },
                {
                    "name": "Pars Co",
                    "kind": "legal",
                    "email": "finance@pars.example.ir",
                    "mobile": "09351234567",
                    "economic_code": "411111111111",
                    "national_id": "10380284790",
                    "registration_number": "12345",
                    "postal_code": "1193653471",
                    "address": "Tehran, Valiasr St., No. 1",
                },
            ]
        },
    )
    representative_id: UUID | None = None


class CustomerOut(BaseModel):
    id: UUID
    name: str
    kind: str
    email: str
    mobile: str
    representative_id: UUID | None
    profile: dict[str, Any]
    credit: int = Field(description="Credit held for the next invoices, in rials.")
    open_balance: int = Field(description="What the customer's open invoices still ask, in rials.")

    @classmethod
    def of(cls, customer: Customer, open_balance: int) -> CustomerOut:
        p = customer.profile
        return cls(
            id=customer.id,
            name=p.name,
            kind=p.kind.value,
            email=p.email,
            mobile=p.mobile,
            representative_id=customer.representative_id,
            profile=p.to_dict(),
            credit=customer.credit.rials,
            open_balance=open_balance,
        )

    @classmethod
    def of_row(cls, row: dict[str, Any]) -> CustomerOut:
        """The same answer from the customer accounts read model's row, with the open balance
        its statement summed (projections/reads.py)."""
        stored = json.loads(row["profile"])  # stored with sorted keys: put back in field order
        return cls(
            id=row["customer_id"],
            name=row["name"],
            kind=row["kind"],
            email=row["email"],
            mobile=row["mobile"],
            representative_id=row["representative_id"],
            profile={name: stored.get(name) for name in PROFILE_FIELDS},
            credit=row["credit"],
            open_balance=row["open_balance"],
        )


#: A billing profile's fields in the order ``BillingProfile.to_dict`` writes them.
PROFILE_FIELDS = tuple(BillingProfile.__dataclass_fields__)
