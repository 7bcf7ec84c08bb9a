"""The plan catalogue: plans in and out."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import FreeText, Input, PeriodName
from domain.plans import Period, Plan

# --- plans --------------------------------------------------------------------------------------


class PlanPeriod(BaseModel):
    months: int
    discount_percent: float
    price: int = Field(description="The period's price before VAT, in rials.")


class PlanPolicyIn(Input):
    first_invoice_days: int = Field(30, ge=1, le=365, strict=True)
    renewal_invoice_days: int = Field(7, ge=1, le=365, strict=True)
    grace_days: int = Field(3, ge=0, le=365, strict=True)
    suspension_days: int = Field(30, ge=1, le=3650, strict=True)
    reminder_days: list[Annotated[int, Field(strict=True)]] = Field(
        [3, 1], min_length=2, max_length=10
    )
    collection_warning_days: list[Annotated[int, Field(strict=True)]] = Field(
        [14, 7, 1], min_length=3, max_length=10
    )


#: A discount in percent with at most two decimals (basis points), below 100: a period that
#: costs nothing is not a plan. 12.5 is 1,250 basis points; 12.345 is refused, not rounded.
Percent = Annotated[
    Decimal,
    Field(ge=0, lt=100, decimal_places=2, allow_inf_nan=False),
]


class PlanIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"id": "business", "name": "Business", "monthly_price": 2_500_000, "grace_days": 3}
            ]
        },
    )
    id: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="Lower-case letters, digits and hyphens."
    )
    name: Annotated[str, *FreeText(200)]
    monthly_price: int = Field(gt=0, le=10**15, description="Rials a month.", strict=True)
    grace_days: int | None = Field(None, ge=0, le=365, strict=True)
    quarterly_discount_percent: Percent = Decimal(5)
    yearly_discount_percent: Percent = Decimal(15)
    policy: PlanPolicyIn | None = None


class PlanOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "business",
                    "name": "Business",
                    "monthly_price": 2_500_000,
                    "grace_days": 3,
                    "periods": {
                        "monthly": {"months": 1, "discount_percent": 0, "price": 2_500_000},
                        "quarterly": {"months": 3, "discount_percent": 5, "price": 7_125_000},
                        "yearly": {"months": 12, "discount_percent": 15, "price": 25_500_000},
                    },
                    "policy": {
                        "first_invoice_days": 30,
                        "renewal_invoice_days": 7,
                        "grace_days": 3,
                        "suspension_days": 30,
                        "reminder_days": [3, 1],
                        "collection_warning_days": [14, 7, 1],
                        "receipt_review_days": 3,
                    },
                }
            ]
        }
    )
    id: str
    name: str
    monthly_price: int
    grace_days: int
    periods: dict[PeriodName, PlanPeriod]
    policy: dict[str, Any]

    @classmethod
    def of(cls, plan: Plan) -> PlanOut:
        return cls(
            id=plan.id,
            name=plan.name,
            monthly_price=plan.monthly_price.rials,
            grace_days=plan.policy.grace_days,
            periods={
                p.value: PlanPeriod(
                    months=p.months,
                    discount_percent=plan.discount(p).basis_points / 100,
                    price=plan.price(p).rials,
                )
                for p in Period
            },
            policy=plan.policy.to_dict(),
        )
