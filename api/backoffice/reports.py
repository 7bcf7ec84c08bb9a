"""Reports (``/office/reports``): aging by bucket with its invoices, revenue by Jalali month as a
table and a chart, each exported as CSV and XLSX (docs/BACKOFFICE.md, "Reports").

The figures are the API's own: the page and every export call the functions
``GET /reports/aging`` and ``GET /reports/revenue`` call (``projections/reports.py``), on the
read models caught up with every recorded event, at the same moment (``ctx.now()``), under
the same permission (``READ_REPORTS``).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.backoffice.export import Table, csv_bytes, xlsx_bytes
from api.backoffice.render import is_htmx, render
from api.backoffice.session import SessionDep
from api.context import ContextDep
from api.permissions import READ_REPORTS
from domain.errors import InvalidInput, InvalidTime
from domain.jalali import JalaliDate, format_moment, to_latin_digits
from projections.reports import AGING_BUCKETS, REVENUE_COLUMNS, AgingReport, aging, revenue

router = APIRouter(prefix="/office/reports", include_in_schema=False)

BUCKET_FA = {
    "current": "سررسید نشده",
    "1-30": "۱ تا ۳۰ روز گذشته",
    "31-60": "۳۱ تا ۶۰ روز گذشته",
    "61-90": "۶۱ تا ۹۰ روز گذشته",
    "90+": "بیش از ۹۰ روز گذشته",
}
REVENUE_FA = {
    "invoiced": "صورت‌حساب‌شده",
    "vat": "مالیات بر ارزش افزوده",
    "paid": "پرداخت‌شده",
    "credit_used": "پرداخت از اعتبار",
    "voided": "باطل‌شده",
    "credited": "برگشت به اعتبار",
    "refunded": "بازپرداخت به مشتری",
}
AGING_HEADER = (
    "شناسه صورت‌حساب",
    "شناسه مشتری",
    "نام مشتری",
    "شناسه اشتراک",
    "مهلت پرداخت (شمسی، تهران)",
    "مهلت پرداخت (ISO)",
    "بازه",
    "مانده (ریال)",
)
BUCKETS_HEADER = ("بازه", "عنوان", "تعداد صورت‌حساب", "مانده (ریال)")
REVENUE_HEADER = ("ماه", *(f"{REVENUE_FA[c]} (ریال)" for c in REVENUE_COLUMNS))
#: At most this many invoices of a bucket on screen; the export holds them all.
DRILL_LIMIT = 200


# --- the figures, as the API computes them -------------------------------------------------------


def as_of_moment(text: str | None) -> datetime | None:
    """The moment a report is asked as of, as typed: ``1405/02/31`` (the end of that day in
    Tehran: a month closed) or ``1405/02/31 18:30`` (that minute in Tehran), in Latin, Persian or
    Arabic digits; None for an empty field (now)."""
    text = to_latin_digits((text or "").strip())
    if not text:
        return None
    date_part, _, time_part = text.partition(" ")
    try:
        day = JalaliDate.parse(date_part)
    except ValueError:
        raise InvalidTime(
            f"as_of {text!r} is not a Jalali date; write it like 1405/02/31 or 1405/02/31 18:30.",
            field="as_of",
        ) from None
    start = day.start_in_tehran()
    time_part = time_part.strip()
    if not time_part:
        return start + timedelta(days=1) - timedelta(microseconds=1)
    clock = re.fullmatch(r"(\d{1,2}):(\d{2})", time_part)
    if clock is None or int(clock.group(1)) > 23 or int(clock.group(2)) > 59:
        raise InvalidTime(f"as_of {text!r}: the time must be HH:MM, e.g. 18:30.", field="as_of")
    return start + timedelta(hours=int(clock.group(1)), minutes=int(clock.group(2)))


def _aging(ctx: ContextDep, at: datetime | None = None) -> AgingReport:
    return aging(ctx.fresh_read_models(), at or ctx.now())


def _months(first: str | None, last: str | None) -> tuple[str | None, str | None]:
    """The month range as typed (Persian or Arabic digits too), or None for an empty field."""

    def one(text: str | None) -> str | None:
        text = to_latin_digits((text or "").strip())
        return text or None

    return one(first), one(last)


def _revenue(
    ctx: ContextDep, first: str | None, last: str | None, at: datetime | None = None
) -> list[dict[str, Any]]:
    first, last = _months(first, last)
    return revenue(ctx.fresh_read_models(), first_month=first, last_month=last, as_of=at)


def _names(ctx: ContextDep, customer_ids: set[str]) -> dict[str, str]:
    """Customers' names by id, for the invoices listed."""
    if not customer_ids:
        return {}
    ids = sorted(customer_ids)
    marks = ", ".join("?" for _ in ids)
    rows = ctx.read_models.query(
        f"SELECT customer_id, name FROM {{rm_customer_accounts}} WHERE customer_id IN ({marks})",
        ids,
    )
    return {r["customer_id"]: r["name"] for r in rows}


def _bucket(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if value not in AGING_BUCKETS:
        raise InvalidInput(f"{value!r} is not an aging bucket.", field="bucket")
    return value


def _month_label(month: str) -> str:
    year, number = (int(part) for part in month.split("/"))
    return f"{JalaliDate(year, number, 1).month_name} {year}"


def _jalali(value: str) -> str:
    return format_moment(datetime.fromisoformat(value.replace("Z", "+00:00")))


# --- tables for the exports ----------------------------------------------------------------------


def aging_invoices_table(
    report: AgingReport, names: dict[str, str], bucket: str | None = None
) -> Table:
    rows: list[list[int | str]] = [
        [
            row["invoice_id"],
            row["customer_id"],
            names.get(row["customer_id"], ""),
            row["subscription_id"],
            _jalali(row["deadline"]),
            row["deadline"],
            row["bucket"],
            int(row["balance"]),
        ]
        for row in report.invoices
        if bucket is None or row["bucket"] == bucket
    ]
    return Table("invoices", AGING_HEADER, rows)


def aging_buckets_table(report: AgingReport) -> Table:
    counts = {b: 0 for b in AGING_BUCKETS}
    for row in report.invoices:
        counts[row["bucket"]] += 1
    rows: list[list[int | str]] = [
        [b, BUCKET_FA[b], counts[b], int(report.totals[b])] for b in AGING_BUCKETS
    ]
    return Table("buckets", BUCKETS_HEADER, rows)


def revenue_table(rows: list[dict[str, Any]]) -> Table:
    body: list[list[int | str]] = [
        [row["jalali_month"], *(int(row[c]) for c in REVENUE_COLUMNS)] for row in rows
    ]
    return Table("revenue", REVENUE_HEADER, body)


CSV = "text/csv; charset=utf-8"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _file(content: bytes, media_type: str, name: str) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


def _stamp(ctx: ContextDep, at: datetime | None) -> str:
    """The Jalali day of the report, for its file's name: ``1405-02-24``."""
    return format_moment(at or ctx.now()).split(" ")[0].replace("/", "-")


# --- the page ------------------------------------------------------------------------------------


def _drill(
    ctx: ContextDep, report: AgingReport, bucket: str | None, kept: dict[str, str]
) -> dict[str, Any]:
    if bucket is None:
        return {"bucket": None, "invoices": [], "more": 0}
    chosen = [row for row in report.invoices if row["bucket"] == bucket]
    shown = chosen[:DRILL_LIMIT]
    names = _names(ctx, {row["customer_id"] for row in shown})
    return {
        "bucket": bucket,
        "bucket_fa": BUCKET_FA[bucket],
        "invoices": [row | {"name": names.get(row["customer_id"], "")} for row in shown],
        "more": len(chosen) - len(shown),
        "bucket_total": report.totals[bucket],
        "export_query": urlencode(kept | {"bucket": bucket}),
    }


def _kept(**values: str | None) -> dict[str, str]:
    """The filters given, to carry in every link of the page."""
    return {name: value for name, value in values.items() if value}


@router.get("")
def reports_page(
    request: Request,
    session: SessionDep,
    ctx: ContextDep,
    bucket: str | None = None,
    first: str | None = None,
    last: str | None = None,
    as_of: str | None = None,
) -> Response:
    READ_REPORTS.check(session.principal)
    problems: list[str] = []
    kept = _kept(first=first, last=last, as_of=as_of)
    try:
        chosen = _bucket(bucket)
    except InvalidInput:
        chosen = None
        problems.append("بازهٔ خواسته‌شده در گزارش سنی بدهی‌ها نیست.")
    try:
        at = as_of_moment(as_of)
    except InvalidTime:
        at = None
        kept.pop("as_of")
        problems.append(
            "لحظه را به شکل سال/ماه/روز بنویسید، با ساعت یا بی آن: ۱۴۰۵/۰۲/۳۱ یا ۱۴۰۵/۰۲/۳۱ ۱۸:۳۰."
        )
    report = _aging(ctx, at)
    try:
        months = _revenue(ctx, first, last, at)
    except InvalidInput:
        months = []
        problems.append("ماه را به شکل سال/ماه بنویسید، مثلاً ۱۴۰۵/۰۱.")
    counts = {b: 0 for b in AGING_BUCKETS}
    for row in report.invoices:
        counts[row["bucket"]] += 1
    totals = {c: sum(int(row[c]) for row in months) for c in REVENUE_COLUMNS}
    return render(
        request,
        session,
        "reports.html.j2",
        title="گزارش‌ها",
        nav="reports",
        problems=problems,
        as_of=report.as_of,
        as_of_given=at is not None,
        buckets=[
            (b, BUCKET_FA[b], counts[b], report.totals[b], urlencode(kept | {"bucket": b}))
            for b in AGING_BUCKETS
        ],
        aging_total=report.total,
        aging_count=len(report.invoices),
        months=[row | {"label": _month_label(row["jalali_month"])} for row in months],
        columns=[(c, REVENUE_FA[c]) for c in REVENUE_COLUMNS],
        revenue_totals=totals,
        first=first or "",
        last=last or "",
        as_of_text=as_of or "",
        query=urlencode(kept),
        **_drill(ctx, report, chosen, kept),
    )


@router.get("/aging-invoices")
def aging_invoices(
    request: Request,
    session: SessionDep,
    ctx: ContextDep,
    bucket: str,
    as_of: str | None = None,
) -> Response:
    """A bucket's invoices: the fragment htmx swaps under the aging table (a whole page to a
    request that is not htmx's)."""
    READ_REPORTS.check(session.principal)
    kept = _kept(as_of=as_of, bucket=bucket)
    try:
        chosen = _bucket(bucket)
        at = as_of_moment(as_of)
    except (InvalidInput, InvalidTime):
        return render(
            request,
            session,
            "refused.html.j2",
            title="درخواست نادرست",
            message="بازه یا لحظهٔ خواسته‌شده در گزارش سنی بدهی‌ها خوانده نشد.",
            status=404,
        )
    if not is_htmx(request):
        return Response(status_code=303, headers={"Location": f"/office/reports?{urlencode(kept)}"})
    return render(
        request,
        session,
        "reports_drill.html.j2",
        title="گزارش‌ها",
        **_drill(ctx, _aging(ctx, at), chosen, _kept(as_of=as_of)),
    )


# --- the exports ---------------------------------------------------------------------------------


@router.get("/aging.csv")
def aging_csv(
    session: SessionDep, ctx: ContextDep, bucket: str | None = None, as_of: str | None = None
) -> Response:
    READ_REPORTS.check(session.principal)
    chosen = _bucket(bucket)
    at = as_of_moment(as_of)
    report = _aging(ctx, at)
    names = _names(ctx, {row["customer_id"] for row in report.invoices})
    table = aging_invoices_table(report, names, chosen)
    return _file(csv_bytes(table), CSV, f"aging-{_stamp(ctx, at)}.csv")


@router.get("/aging.xlsx")
def aging_xlsx(
    session: SessionDep, ctx: ContextDep, bucket: str | None = None, as_of: str | None = None
) -> Response:
    READ_REPORTS.check(session.principal)
    chosen = _bucket(bucket)
    at = as_of_moment(as_of)
    report = _aging(ctx, at)
    names = _names(ctx, {row["customer_id"] for row in report.invoices})
    tables = [aging_buckets_table(report), aging_invoices_table(report, names, chosen)]
    return _file(xlsx_bytes(tables), XLSX, f"aging-{_stamp(ctx, at)}.xlsx")


@router.get("/revenue.csv")
def revenue_csv(
    session: SessionDep,
    ctx: ContextDep,
    first: str | None = None,
    last: str | None = None,
    as_of: str | None = None,
) -> Response:
    READ_REPORTS.check(session.principal)
    at = as_of_moment(as_of)
    table = revenue_table(_revenue(ctx, first, last, at))
    return _file(csv_bytes(table), CSV, f"revenue-{_stamp(ctx, at)}.csv")


@router.get("/revenue.xlsx")
def revenue_xlsx(
    session: SessionDep,
    ctx: ContextDep,
    first: str | None = None,
    last: str | None = None,
    as_of: str | None = None,
) -> Response:
    READ_REPORTS.check(session.principal)
    at = as_of_moment(as_of)
    table = revenue_table(_revenue(ctx, first, last, at))
    return _file(xlsx_bytes([table]), XLSX, f"revenue-{_stamp(ctx, at)}.xlsx")
