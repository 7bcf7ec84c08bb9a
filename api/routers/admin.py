"""Administration: tokens, and in test mode only, the clock."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, status

from adapters.clock import MovableClock
from adapters.tokens import Role
from api.context import ContextDep, PrincipalDep, require
from api.schemas import ClockAdvanceIn, ClockOut, TokenIn, TokenOut
from domain.errors import InvalidInput
from domain.jalali import format_moment
from projections.visibility import visible_customer
from service_layer.timeline import iso

router = APIRouter(prefix="/admin", tags=["admin"])
clock_router = APIRouter(prefix="/admin", tags=["test clock"])


@router.post(
    "/tokens",
    response_model=TokenOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create a token (admin)",
)
def create_token(body: TokenIn, ctx: ContextDep, who: PrincipalDep) -> TokenOut:
    require(who, Role.ADMIN, action="create tokens")
    if body.role == "customer" and body.subject:
        visible_customer(ctx.app, who, body.subject)  # refuse a token for no customer
    token = ctx.tokens.create(body.role, ctx.now(), subject=body.subject, label=body.label)
    return TokenOut(token=token, role=body.role, subject=body.subject)


@clock_router.post(
    "/clock/advance",
    response_model=ClockOut,
    summary="Move the test clock, stepping through every due moment",
)
def advance_clock(body: ClockAdvanceIn, ctx: ContextDep, who: PrincipalDep) -> ClockOut:
    """As if the engine had been running all along: every step is recorded at its own due
    moment, so one jump and many small ones give the same events."""
    require(who, Role.ADMIN, action="move the test clock")
    if (body.days is None) == (body.to is None):
        raise InvalidInput('Give either "days" or "to".', field="days")
    now = ctx.now()
    target = now + timedelta(days=body.days) if body.days is not None else body.to
    clock = ctx.runtime.clock
    if target is None or not isinstance(clock, MovableClock):
        raise InvalidInput("The clock moves only in test mode (BILLING_TEST_MODE=1).", field="to")
    if target.tzinfo is None:
        raise InvalidInput('"to" must carry a time zone, e.g. 2026-05-08T00:00:00Z.', field="to")
    if target - now > timedelta(days=3650):
        raise InvalidInput("The test clock moves at most ten years at a time.", field="to")
    executed = ctx.app_for(who).advance(target, on_time=True)
    clock.advance_to(target)
    ctx.fresh_read_models()
    return ClockOut(now=iso(target), now_jalali=format_moment(target), executed=len(executed))


@clock_router.post("/tick", response_model=ClockOut, summary="Run one scheduler tick now")
def tick(ctx: ContextDep, who: PrincipalDep) -> ClockOut:
    require(who, Role.ADMIN, action="run the scheduler")
    report = ctx.runtime.tick()
    return ClockOut(
        now=iso(report.at),
        now_jalali=format_moment(report.at),
        executed=len(report.executed),
        failed=report.failed,
    )
