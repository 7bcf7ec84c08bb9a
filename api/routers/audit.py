"""Audit replay for finance: timelines and states as of a moment, from the events."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from api.context import READERS, ContextDep, PrincipalDep, require
from api.schemas import Moment, OptionalMoment, Page
from projections.reports import subscriptions_of
from service_layer.audit import describe_as_of, explain
from service_layer.timeline import describe, timeline

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get(
    "/{aggregate_id}/timeline", response_model=Page, summary="Every event of an aggregate, in order"
)
def get_timeline(aggregate_id: UUID, ctx: ContextDep, who: PrincipalDep) -> Page:
    require(who, *READERS, action="read the audit trail")
    return Page(
        items=[e.as_json() | {"what": describe(e)} for e in timeline(ctx.app, aggregate_id)],
        next_cursor=None,
    )


@router.get(
    "/{aggregate_id}/as-of", summary="The aggregate's state at a moment, folded from its events"
)
def as_of(aggregate_id: UUID, at: Moment, ctx: ContextDep, who: PrincipalDep) -> dict:
    require(who, *READERS, action="read the audit trail")
    if at.tzinfo is None:
        from domain.errors import InvalidTime

        raise InvalidTime("at must carry a time zone, e.g. 2026-05-08T00:00:00Z.", field="at")
    return describe_as_of(ctx.app, aggregate_id, at)


@router.get(
    "/{aggregate_id}/explain",
    summary="Why a subscription, invoice or customer is in its state, in Persian and English",
)
def get_explanation(
    aggregate_id: UUID, ctx: ContextDep, who: PrincipalDep, at: OptionalMoment = None
) -> dict:
    """A subscription: why its site is up, in grace, suspended or collected, and what comes
    next. An invoice: what it asks, how it was paid, why it is open, paid or void. A customer:
    each of its subscriptions in one line. An id with no events answers 404."""
    require(who, *READERS, action="read the audit trail")
    if at is not None and at.tzinfo is None:
        from domain.errors import InvalidTime

        raise InvalidTime("at must carry a time zone, e.g. 2026-05-08T00:00:00Z.", field="at")
    read_models = ctx.fresh_read_models()
    explanation = explain(
        ctx.app,
        aggregate_id,
        at or ctx.now(),
        subscriptions_of=lambda customer_id: subscriptions_of(read_models, customer_id),
    )
    return {"english": explanation.english, "persian": explanation.persian}
