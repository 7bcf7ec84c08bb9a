"""Finance reports, as recorded at any moment."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query

from api.context import ContextDep, PrincipalDep
from api.permissions import READ_REPORTS
from api.schemas import OptionalMoment
from projections.reports import aging, revenue
from service_layer.timeline import iso

router = APIRouter(prefix="/reports", tags=["reports"])

Month = Query(None, pattern=r"^\d{4}[/-]\d{1,2}$", description="A Jalali month, e.g. 1405/01")


def _moment(ctx: ContextDep, at: datetime | None) -> datetime:
    if at is None:
        return ctx.now()
    if at.tzinfo is None:
        from domain.errors import InvalidTime

        raise InvalidTime("as_of must carry a time zone, e.g. 2026-05-20T00:00:00Z.", field="as_of")
    return at


@router.get("/aging", summary="Open balances by days past their deadline")
def get_aging(ctx: ContextDep, who: PrincipalDep, as_of: OptionalMoment = None) -> dict:
    READ_REPORTS.check(who)
    report = aging(ctx.fresh_read_models(), _moment(ctx, as_of))
    return {
        "as_of": iso(report.as_of),
        "buckets": report.totals,
        "total": report.total,
        "invoices": report.invoices,
    }


@router.get(
    "/revenue",
    summary="Invoiced, VAT, paid, credit used, voided and credited per Jalali month",
)
def get_revenue(
    ctx: ContextDep,
    who: PrincipalDep,
    first: str | None = Month,
    last: str | None = Month,
    as_of: OptionalMoment = None,
) -> dict:
    READ_REPORTS.check(who)
    rows = revenue(
        ctx.fresh_read_models(),
        first_month=first,
        last_month=last,
        as_of=_moment(ctx, as_of) if as_of else None,
    )
    return {"items": rows}
