"""Representatives: add them, list them with how many customers each serves, change their
details. Assigning a customer to one is ``PUT /customers/{id}/representative`` (customers)."""

from __future__ import annotations

from uuid import UUID, uuid5

from fastapi import APIRouter, Request, status

from adapters.tokens import Principal, Role
from api.context import READERS, Context, ContextDep, PrincipalDep, require
from api.routers._paging import DEFAULT_LIMIT, Limit, decode_cursor, encode_cursor
from api.schemas import Page, RepresentativeDetailsIn, RepresentativeIn, RepresentativeOut
from domain.base import BILLING_NAMESPACE
from domain.errors import InvalidInput, RepresentativeNotFound
from projections.representative_views import representative, representatives
from projections.visibility import visible_representative

router = APIRouter(prefix="/representatives", tags=["representatives"])

#: Who may read representatives: a representative sees only themselves; customers none.
#: Who may read representatives: those who read every record, and a representative (themselves).
REP_READERS = (Role.REPRESENTATIVE, *READERS)


def _out(ctx: Context, who: Principal, representative_id: UUID) -> RepresentativeOut:
    """The representative as listed now (read your writes), or "not found"."""
    row = representative(ctx.fresh_read_models(), who, representative_id)
    if row is None:
        raise RepresentativeNotFound(
            f"There is no representative {representative_id}: none was added with this id, "
            "and no customer names it. GET /representatives lists them.",
            representative_id=str(representative_id),
        )
    return RepresentativeOut.of(row)


@router.post(
    "",
    response_model=RepresentativeOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add a representative (admin)",
)
def add_representative(
    body: RepresentativeIn, request: Request, ctx: ContextDep, who: PrincipalDep
) -> RepresentativeOut:
    """Customers can then be registered with the representative (``representative_id`` of
    ``POST /customers``) and assigned to them, and a representative token made for them. With
    ``id``: a representative whom customers named before representatives were kept, added
    under that id (they keep their customers)."""
    require(who, Role.ADMIN, action="add representatives")
    details = body.details()
    key = getattr(request.state, "idempotency_key", None)
    # A retried request with the same Idempotency-Key names the same representative: added once.
    keyed = uuid5(BILLING_NAMESPACE, f"representative/{who.token_hash}/{key}") if key else None
    added = ctx.app_for(who).add_representative(
        details, ctx.now(), representative_id=body.id or keyed
    )
    return _out(ctx, who, added)


@router.get("", response_model=Page, summary="Representatives, with how many customers each has")
def list_representatives(
    ctx: ContextDep, who: PrincipalDep, cursor: str | None = None, limit: Limit = DEFAULT_LIMIT
) -> Page:
    """Admin and finance see every representative, a representative only themselves, by id.
    Ids that customers registered before representatives were kept name, but that were never
    added, are listed too, with ``registered`` false and no name."""
    require(who, *REP_READERS, action="list representatives")
    after = decode_cursor(cursor) or ""
    if not isinstance(after, str):
        raise InvalidInput(
            "cursor is not one this API gave out; start again without it.", field="cursor"
        )
    rows = representatives(ctx.fresh_read_models(), who, after=after, limit=limit + 1)
    items = [RepresentativeOut.of(row) for row in rows[:limit]]
    last = rows[limit - 1]["representative_id"] if len(rows) > limit else None
    return Page(items=items, next_cursor=encode_cursor(last) if last else None)


@router.get(
    "/{representative_id}",
    response_model=RepresentativeOut,
    summary="A representative, with how many customers they have",
)
def get_representative(
    representative_id: UUID, ctx: ContextDep, who: PrincipalDep
) -> RepresentativeOut:
    require(who, *REP_READERS, action="read representatives")
    visible_representative(who, representative_id)  # another representative: not found
    return _out(ctx, who, representative_id)


@router.put(
    "/{representative_id}",
    response_model=RepresentativeOut,
    summary="Replace a representative's details (admin)",
)
def change_representative(
    representative_id: UUID, body: RepresentativeDetailsIn, ctx: ContextDep, who: PrincipalDep
) -> RepresentativeOut:
    """The name, mobile number and e-mail address from now on (the same again changes
    nothing). Events already recorded keep who acted as they were then."""
    require(who, Role.ADMIN, action="change representatives")
    ctx.app_for(who).change_representative(representative_id, body.details(), ctx.now())
    return _out(ctx, who, representative_id)
