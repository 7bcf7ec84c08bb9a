"""Subscriptions: order, read, change plan, cancel, and their invoices."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID, uuid5

from fastapi import APIRouter, Query, Request, Response, status

from adapters.tokens import Role
from api.context import ContextDep, PrincipalDep, require
from api.permissions import CANCEL_SUBSCRIPTIONS, CHANGE_PLANS
from api.routers._common import answer, subscription_command
from api.routers._paging import DEFAULT_LIMIT, Limit, decode_cursor, encode_cursor
from api.schemas import CancelIn, ChangePlanIn, InvoiceOut, Page, SubscriptionIn, SubscriptionOut
from domain.base import BILLING_NAMESPACE
from projections.visibility import visible_customer

router = APIRouter(prefix="/subscriptions", tags=["subscriptions"])

Status = Annotated[str | None, Query(pattern="^(active|grace|suspended|collected|cancelled)$")]

OWNERS = (Role.ADMIN, Role.CUSTOMER, Role.REPRESENTATIVE)


def _out(ctx: ContextDep, subscription_id: UUID) -> SubscriptionOut:
    return SubscriptionOut.of_lifecycle(ctx.app.lifecycle_of(subscription_id))


@router.post(
    "", response_model=SubscriptionOut, status_code=status.HTTP_201_CREATED, summary="Order a site"
)
def order(
    body: SubscriptionIn, request: Request, ctx: ContextDep, who: PrincipalDep
) -> SubscriptionOut:
    """The site is created at once and the first invoice issued, due in the plan's window."""
    require(who, *OWNERS, action="order subscriptions")
    visible_customer(ctx.app, who, body.customer_id)
    key = getattr(request.state, "idempotency_key", None)
    # A retried order with the same Idempotency-Key names the same subscription: placed once.
    subscription_id = uuid5(BILLING_NAMESPACE, f"order/{who.token_hash}/{key}") if key else None
    sub_id = ctx.app_for(who).start_subscription(
        body.customer_id,
        body.plan_id,
        body.period,
        ctx.now(),
        site=body.site,
        subscription_id=subscription_id,
    )
    return _out(ctx, sub_id)


@router.get("", response_model=Page, summary="Subscriptions the caller may see")
def list_subscriptions(
    ctx: ContextDep,
    who: PrincipalDep,
    customer_id: UUID | None = None,
    status: Status = None,
    cursor: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Response:
    rows = ctx.reads.subscriptions(
        who,
        after=str(decode_cursor(cursor) or ""),
        limit=limit + 1,
        customer_id=customer_id,
        status=status,
    )
    items = [SubscriptionOut.of_row(row) for row in rows[:limit]]
    more = len(rows) > limit
    return answer(
        Page(
            items=items,
            next_cursor=encode_cursor(rows[limit - 1]["subscription_id"]) if more else None,
        )
    )


@router.get(
    "/{subscription_id}", response_model=SubscriptionOut, summary="A subscription and its next step"
)
def get_subscription(subscription_id: UUID, ctx: ContextDep, who: PrincipalDep) -> Response:
    return answer(SubscriptionOut.of_row(ctx.reads.subscription(who, subscription_id)))


@router.post(
    "/{subscription_id}/change-plan",
    response_model=SubscriptionOut,
    summary="Change plan: an upgrade at once (prorated), anything else from the next period",
)
def change_plan(
    subscription_id: UUID, body: ChangePlanIn, ctx: ContextDep, who: PrincipalDep
) -> SubscriptionOut:
    """An upgrade takes effect at once with an invoice for the prorated difference; a cheaper
    plan or another period waits for the renewal, unless ``when`` says otherwise."""

    def change() -> None:
        ctx.app_for(who).change_plan(
            subscription_id, body.plan_id, ctx.now(), period=body.period, when=body.when
        )

    return subscription_command(ctx, who, subscription_id, CHANGE_PLANS, change)


@router.post(
    "/{subscription_id}/cancel",
    response_model=SubscriptionOut,
    summary="Cancel at the end of the period",
)
def cancel(
    subscription_id: UUID, ctx: ContextDep, who: PrincipalDep, body: CancelIn | None = None
) -> SubscriptionOut:
    def cancel_at_period_end() -> None:
        ctx.app_for(who).cancel_subscription(
            subscription_id, ctx.now(), reason=(body or CancelIn()).reason
        )

    return subscription_command(
        ctx, who, subscription_id, CANCEL_SUBSCRIPTIONS, cancel_at_period_end
    )


@router.get(
    "/{subscription_id}/invoices",
    response_model=Page,
    summary="The subscription's invoices, oldest first",
)
def invoices(
    subscription_id: UUID,
    ctx: ContextDep,
    who: PrincipalDep,
    cursor: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Response:
    start = decode_cursor(cursor) or 0
    if not isinstance(start, int) or start < 0:
        start = 0
    rows = ctx.reads.subscription_invoices(who, subscription_id, start=start, limit=limit + 1)
    items = [InvoiceOut.of_row(row) for row in rows[:limit]]
    more = len(rows) > limit
    return answer(Page(items=items, next_cursor=encode_cursor(start + limit) if more else None))
