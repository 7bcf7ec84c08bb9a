"""Administration: tokens (made, listed, revoked), and in test mode only, the clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from adapters.clock import MovableClock
from adapters.tokens import Role
from api.context import ContextDep, PrincipalDep, require
from api.routers._common import token_item_out, token_out
from api.routers._paging import DEFAULT_LIMIT, Limit, decode_cursor, encode_cursor
from api.schemas import ClockAdvanceIn, ClockOut, Page, TokenIn, TokenOut
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
def create_token(body: TokenIn, response: Response, ctx: ContextDep, who: PrincipalDep) -> TokenOut:
    """For a customer or a representative (``subject``), or a machine client (``owner``
    client, ``name``); optionally expiring, optionally narrowed by ``scopes``. The token is in
    this answer only (not kept for an Idempotency-Key: a retry makes another)."""
    require(who, Role.ADMIN, action="create tokens")
    if body.role == "customer" and body.subject:
        visible_customer(ctx.app, who, body.subject)  # refuse a token for no customer
    issued = ctx.tokens.issue(
        body.role,
        ctx.now(),
        subject=body.subject,
        owner=body.owner,
        name=body.name,
        label=body.label,
        expires_at=body.expires_at,
        scopes=body.scopes,
    )
    return token_out(issued, response, body.subject)


@router.get("/tokens", response_model=Page, summary="Every token, oldest first (admin)")
def list_tokens(
    ctx: ContextDep, who: PrincipalDep, cursor: str | None = None, limit: Limit = DEFAULT_LIMIT
) -> Page:
    """Each token's id, owner, role, scopes, when it was created, expires and was last used
    (to the minute), whether it was revoked, and its state; never the token or its hash."""
    require(who, Role.ADMIN, action="list tokens")
    after = decode_cursor(cursor)
    if after is not None and not (
        isinstance(after, list) and len(after) == 2 and all(isinstance(a, str) for a in after)
    ):
        raise InvalidInput(
            "cursor is not one this API gave out; start again without it.", field="cursor"
        )
    found = ctx.tokens.tokens(after=(after[0], after[1]) if after else None, limit=limit + 1)
    now = ctx.now()
    last = found[limit - 1] if len(found) > limit else None
    return Page(
        items=[token_item_out(info, now) for info in found[:limit]],
        next_cursor=encode_cursor(list(last.sort_key)) if last else None,
    )


@router.delete(
    "/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Revoke a token: it stops working at once, in every process (admin)",
)
def revoke_token(
    token_id: Annotated[str, Path(max_length=64)], ctx: ContextDep, who: PrincipalDep
) -> Response:
    """Revoking a revoked token again answers the same; an id that names no token is 404
    ``token_not_found``."""
    require(who, Role.ADMIN, action="revoke tokens")
    ctx.tokens.revoke_id(token_id, ctx.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


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
