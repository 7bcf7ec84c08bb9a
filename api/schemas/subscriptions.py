"""Subscriptions: orders, plan changes, cancellations, and a subscription with its next step."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Input, MultilineText, PeriodName, jalali
from domain.lifecycle import DueStep
from domain.subscription import Subscription
from projections.reads import iso_text, moment_of
from service_layer.application import Lifecycle
from service_layer.timeline import iso

# --- subscriptions -------------------------------------------------------------------------------


class SubscriptionIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "customer_id": "5c4c1b6e-3a0e-4a54-9d6e-6f8b2f1f9a10",
                    "plan_id": "business",
                    "period": "monthly",
                }
            ]
        },
    )
    customer_id: UUID
    plan_id: str = Field(min_length=1, max_length=63)
    period: PeriodName
    site: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9.-]{0,62}$",
        description="The site's name; generated when absent.",
    )


class ChangePlanIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"plan_id": "pro"},
                {"plan_id": "pro", "period": "yearly", "when": "renewal"},
            ]
        },
    )
    plan_id: str = Field(min_length=1, max_length=63)
    period: PeriodName | None = None
    when: Literal["now", "renewal"] | None = Field(
        default=None,
        description='"now": at once, with a proration invoice (an upgrade only); "renewal": '
        "from the next period. Left out: an upgrade on the same period takes effect now, "
        "anything else at the renewal (docs/LIFECYCLE.md).",
    )


class CancelIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "moving to another provider"}]},
    )
    reason: Annotated[str, *MultilineText()] = "requested by the customer"


class PeriodOut(BaseModel):
    number: int
    start: str = Field(description="The first day, Jalali (1405/01/15).")
    end: str = Field(description="The last day, Jalali.")
    starts_at: str
    ends_at: str


class PendingChangeOut(BaseModel):
    plan_id: str
    period: str
    from_period_no: int = Field(description="The first period on it (the next renewal).")


class NextStepOut(BaseModel):
    action: str
    at: str
    at_jalali: str


class SubscriptionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "9f6d9081-3e61-4bb6-a8a6-2a4a0e0f6f41",
                    "customer_id": "5c4c1b6e-3a0e-4a54-9d6e-6f8b2f1f9a10",
                    "plan_id": "business",
                    "period": "monthly",
                    "status": "active",
                    "site": "site-9f6d9081",
                    "site_state": "up",
                    "current_period": {
                        "number": 1,
                        "start": "1405/01/15",
                        "end": "1405/02/14",
                        "starts_at": "2026-04-04T05:30:00Z",
                        "ends_at": "2026-05-04T20:30:00Z",
                    },
                    "next_step": {
                        "action": "send_payment_reminder",
                        "at": "2026-05-01T05:30:00Z",
                        "at_jalali": "1405/02/11 09:00",
                    },
                    "ordered_at": "2026-04-04T05:30:00Z",
                    "cancelled_at": None,
                    "open_invoices": 1,
                }
            ]
        }
    )
    id: UUID
    customer_id: UUID
    representative_id: UUID | None = Field(
        default=None,
        description="The customer's representative now (who sees this subscription), if any.",
    )
    plan_id: str
    period: str
    status: Literal["active", "grace", "suspended", "collected", "cancelled"]
    site: str
    site_state: str
    current_period: PeriodOut
    next_step: NextStepOut | None
    ordered_at: str
    cancelled_at: str | None
    open_invoices: int
    pending_change: PendingChangeOut | None = Field(
        default=None, description="A plan change waiting for the next renewal, if any."
    )

    @classmethod
    def of_lifecycle(cls, life: Lifecycle) -> SubscriptionOut:
        """The subscription and its next step, from one load of it and its open invoices, with
        its customer's representative now (the customer is loaded once)."""
        return cls.of(life.subscription, life.next_step(), life.customer.representative_id)

    @classmethod
    def of(
        cls, sub: Subscription, step: DueStep | None, representative_id: UUID | None
    ) -> SubscriptionOut:
        current = sub.current_period
        return cls(
            id=sub.id,
            customer_id=sub.customer_id,
            representative_id=representative_id,
            plan_id=sub.plan.id,
            period=sub.period.value,
            status=sub.status.value,
            site=sub.site,
            site_state=sub.site_state.value,
            current_period=PeriodOut(
                number=current.number,
                start=current.start.isoformat(),
                end=current.last_day.isoformat(),
                starts_at=iso(current.starts_at),
                ends_at=iso(current.ends_at),
            ),
            next_step=NextStepOut(
                action=step.step.value, at=iso(step.due_at), at_jalali=jalali(step.due_at)
            )
            if step
            else None,
            ordered_at=iso(sub.ordered_at),
            cancelled_at=iso(sub.cancelled_at),
            open_invoices=len(sub.open_invoice_ids),
            pending_change=PendingChangeOut(
                plan_id=sub.pending_change[0].id,
                period=sub.pending_change[1].value,
                from_period_no=current.number + 1,
            )
            if sub.pending_change
            else None,
        )

    @classmethod
    def of_row(cls, row: dict[str, Any]) -> SubscriptionOut:
        """The same answer from the read models' row (projections/reads.py): the due-actions
        row is the lifecycle's next step of the same state."""
        next_at = row["next_at"]
        return cls(
            id=row["subscription_id"],
            customer_id=row["customer_id"],
            representative_id=row["representative_id"],
            plan_id=row["plan_id"],
            period=row["period"],
            status=row["status"],
            site=row["site"],
            site_state=row["site_state"],
            current_period=PeriodOut(
                number=row["period_no"],
                start=row["period_start"],
                end=row["period_last_day"],
                starts_at=iso_text(row["period_starts_at"]) or "",
                ends_at=iso_text(row["period_ends_at"]) or "",
            ),
            next_step=NextStepOut(
                action=row["next_action"],
                at=iso_text(next_at) or "",
                at_jalali=jalali(moment_of(next_at)),
            )
            if next_at
            else None,
            ordered_at=iso_text(row["ordered_at"]) or "",
            cancelled_at=iso_text(row["cancelled_at"]),
            open_invoices=row["open_invoices"],
            pending_change=PendingChangeOut(
                plan_id=row["pending_plan_id"],
                period=row["pending_period"],
                from_period_no=row["period_no"] + 1,
            )
            if row["pending_plan_id"]
            else None,
        )
