"""Finance reports, as recorded at any moment."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query

from api.context import ContextDep, PrincipalDep
from api.permissions import READ_REPORTS
from api.schemas import OptionalMoment
from projections.reports import LINE_COLUMNS, aging, revenue, revenue_by_line
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
    summary="Invoiced, VAT, paid, credit used, voided and credited per Jalali month, "
    "hosting and side services apart",
)
def get_revenue(
    ctx: ContextDep,
    who: PrincipalDep,
    first: str | None = Month,
    last: str | None = Month,
    as_of: OptionalMoment = None,
    group_by: str | None = Query(None, pattern="^representative$"),
) -> dict:
    """Each item: the month's figures in all, and ``hosting`` and ``services`` apart (the
    same columns). ``group_by=representative``: one item per month and representative the
    invoices were credited to at issue (``representative_id``; null: none)."""
    READ_REPORTS.check(who)
    read_models = ctx.fresh_read_models()
    moment = _moment(ctx, as_of) if as_of else None
    split = revenue_by_line(
        read_models, first_month=first, last_month=last, as_of=moment, group_by=group_by
    )
    if group_by is not None:
        return {"items": split}
    lines = {item["jalali_month"]: item for item in split}
    rows = revenue(read_models, first_month=first, last_month=last, as_of=moment)
    empty = dict.fromkeys(LINE_COLUMNS, 0)
    return {
        "items": [
            {
                **row,
                "hosting": lines.get(row["jalali_month"], {}).get("hosting", empty),
                "services": lines.get(row["jalali_month"], {}).get("services", empty),
            }
            for row in rows
        ]
    }
