"""Staff members (admin only): add one (with a first token), list them, disable one, give one a
further token. Each change is recorded with the caller as its actor; a disabled member's
tokens stop working at once (docs/SECURITY.md, "Staff, tokens and passwords")."""

from __future__ import annotations

from uuid import UUID, uuid5

from fastapi import APIRouter, Request, Response, status

from adapters.credentials import StaffAccount, stored_moment
from adapters.tokens import Role
from api.context import Context, ContextDep, PrincipalDep, require
from api.routers._common import token_out
from api.routers._paging import DEFAULT_LIMIT, Limit, decode_cursor, encode_cursor
from api.schemas import DisableIn, Page, StaffIn, StaffOut, StaffTokenIn, TokenOut
from domain.base import BILLING_NAMESPACE
from domain.errors import InvalidInput
from service_layer.staff import no_staff
from service_layer.timeline import iso

router = APIRouter(prefix="/staff", tags=["staff"])


def staff_out(account: StaffAccount) -> StaffOut:
    return StaffOut(
        id=account.id,
        name=account.name,
        role=account.role,
        email=account.email,
        state="active" if account.active else "disabled",
        added_at=iso(account.added_at),
        disabled_at=iso(account.disabled_at),
        password_set=account.password_set_at is not None,
    )


def _account(ctx: Context, staff_id: UUID) -> StaffAccount:
    account = ctx.credentials.get(staff_id)
    if account is None:
        raise no_staff(staff_id)
    return account


@router.post(
    "",
    response_model=StaffOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add a staff member, with their first token (admin)",
)
def add_staff(
    body: StaffIn, request: Request, response: Response, ctx: ContextDep, who: PrincipalDep
) -> StaffOut:
    """The answer holds the member's first token, shown once (it is not kept for an
    Idempotency-Key: a retry with the same key adds nobody twice and gives a new token)."""
    require(who, Role.ADMIN, action="add staff members")
    key = getattr(request.state, "idempotency_key", None)
    staff_id = uuid5(BILLING_NAMESPACE, f"staff/{who.token_hash}/{key}") if key else None
    staff_id = ctx.app_for(who).add_staff(
        body.name, body.role, ctx.now(), email=body.email, staff_id=staff_id
    )
    issued = ctx.tokens.issue_for_staff(staff_id, ctx.now(), label="first token")
    token_out(issued, response)  # no-store
    return staff_out(_account(ctx, staff_id)).model_copy(
        update={"token": issued.token, "token_id": issued.id}
    )


@router.get("", response_model=Page, summary="Staff members, in the order they were added (admin)")
def list_staff(
    ctx: ContextDep, who: PrincipalDep, cursor: str | None = None, limit: Limit = DEFAULT_LIMIT
) -> Page:
    require(who, Role.ADMIN, action="list staff members")
    after = decode_cursor(cursor)
    if after is not None and not (
        isinstance(after, list) and len(after) == 2 and all(isinstance(a, str) for a in after)
    ):
        raise InvalidInput(
            "cursor is not one this API gave out; start again without it.", field="cursor"
        )
    members = ctx.credentials.members(after=tuple(after) if after else None, limit=limit + 1)
    last = members[limit - 1] if len(members) > limit else None
    return Page(
        items=[staff_out(m) for m in members[:limit]],
        next_cursor=encode_cursor([stored_moment(last.added_at), str(last.id)]) if last else None,
    )


@router.post(
    "/{staff_id}/disable",
    response_model=StaffOut,
    summary="Disable a staff member: their tokens stop working at once (admin)",
)
def disable_staff(staff_id: UUID, body: DisableIn, ctx: ContextDep, who: PrincipalDep) -> StaffOut:
    """Disabling a disabled member again changes nothing and answers the same."""
    require(who, Role.ADMIN, action="disable staff members")
    ctx.app_for(who).disable_staff(staff_id, body.reason, ctx.now())
    return staff_out(_account(ctx, staff_id))


@router.post(
    "/{staff_id}/tokens",
    response_model=TokenOut,
    status_code=status.HTTP_201_CREATED,
    summary="Give an active staff member a further token (admin)",
)
def staff_token(
    staff_id: UUID, body: StaffTokenIn, response: Response, ctx: ContextDep, who: PrincipalDep
) -> TokenOut:
    require(who, Role.ADMIN, action="give staff members tokens")
    ctx.app.sync_staff_access(staff_id)  # 404 for no such member
    issued = ctx.tokens.issue_for_staff(
        staff_id, ctx.now(), label=body.label, expires_at=body.expires_at, scopes=body.scopes
    )
    return token_out(issued, response)
