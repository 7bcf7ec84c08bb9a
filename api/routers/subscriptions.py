"""Subscriptions: order, read, change plan, cancel, and their invoices."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID, uuid5

from fastapi import APIRouter, Query, Request, status

from adapters.tokens import Role
from api.context import ContextDep, PrincipalDep, require
from api.permissions import CANCEL_SUBSCRIPTIONS, CHANGE_PLANS
from api.routers._common import subscription_command
from api.routers._paging import DEFAULT_LIMIT, Limit, decode_cursor, encode_cursor
from api.schemas import CancelIn, ChangePlanIn, InvoiceOut, Page, SubscriptionIn, SubscriptionOut
from domain.base import BILLING_NAMESPACE
from projections.visibility import (
    visible_customer,
    visible_lifecycle,
    visible_rows,
    visible_subscription,
)

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
) -> Page:
    visible, allowed = visible_rows(who, "rm_subscriptions")
    where, params = ["subscription_id > ?", *visible], [str(decode_cursor(cursor) or ""), *allowed]
    if customer_id:
        where.append("customer_id = ?")
        params.append(str(customer_id))
    if status:
        where.append("status = ?")
        params.append(status)
    rows = ctx.fresh_read_models().query(
        f"SELECT subscription_id FROM {{rm_subscriptions}} WHERE {' AND '.join(where)} "
        f"ORDER BY subscription_id LIMIT {limit + 1}",
        params,
    )
    ids = [r["subscription_id"] for r in rows]
    items = [_out(ctx, UUID(i)) for i in ids[:limit]]
    return Page(
        items=items, next_cursor=encode_cursor(ids[limit - 1]) if len(ids) > limit else None
    )


@router.get(
    "/{subscription_id}", response_model=SubscriptionOut, summary="A subscription and its next step"
)
def get_subscription(subscription_id: UUID, ctx: ContextDep, who: PrincipalDep) -> SubscriptionOut:
    return SubscriptionOut.of_lifecycle(visible_lifecycle(ctx.app, who, subscription_id))


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
) -> Page:
    sub = visible_subscription(ctx.app, who, subscription_id)
    start = int(decode_cursor(cursor) or 0)
    if not isinstance(start, int) or start < 0:
        start = 0
    ids = sub.invoice_ids[start : start + limit]
    items = [InvoiceOut.of(ctx.app.get_invoice(i)) for i in ids]
    more = start + limit < len(sub.invoice_ids)
    return Page(items=items, next_cursor=encode_cursor(start + limit) if more else None)
