"""The plan catalogue."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from adapters.tokens import Role
from api.context import ContextDep, PrincipalDep, require
from api.routers._common import answer
from api.schemas import Page, PlanIn, PlanOut
from domain.money import Money, Rate
from domain.plans import LifecyclePolicy, Period, Plan

router = APIRouter(prefix="/plans", tags=["plans"])


@router.get("", response_model=Page, summary="The plans that can be ordered")
def list_plans(ctx: ContextDep, who: PrincipalDep) -> Response:
    return answer(Page(items=[PlanOut.of(p) for p in ctx.app.plans()], next_cursor=None))


@router.get("/{plan_id}", response_model=PlanOut, summary="One plan")
def get_plan(plan_id: str, ctx: ContextDep, who: PrincipalDep) -> PlanOut:
    return PlanOut.of(ctx.app.get_plan(plan_id))


@router.post(
    "", response_model=PlanOut, status_code=status.HTTP_201_CREATED, summary="Define a plan (admin)"
)
def define_plan(body: PlanIn, ctx: ContextDep, who: PrincipalDep) -> PlanOut:
    require(who, Role.ADMIN, action="define plans")
    policy = body.policy.model_dump() if body.policy else {}
    if body.grace_days is not None:
        policy["grace_days"] = body.grace_days
    plan = Plan(
        id=body.id,
        name=body.name,
        monthly_price=Money(body.monthly_price),
        discounts={
            Period.QUARTERLY: Rate(int(body.quarterly_discount_percent * 100)),
            Period.YEARLY: Rate(int(body.yearly_discount_percent * 100)),
        },
        policy=LifecyclePolicy.from_dict(policy),
    )
    return PlanOut.of(ctx.app_for(who).define_plan(plan, ctx.now()))
