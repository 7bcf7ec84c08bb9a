"""Staff actions (``/office/actions``): who did what and when, filtered by person and Jalali
dates, a page at a time (docs/BACKOFFICE.md, "Staff actions").

The rows are the API's ``GET /audit/actions`` (``service_layer/actions.py``): every recorded
event in the order the store recorded it, with who caused it, under the same permission
(``READ_AUDIT``). The page's filter is the same :class:`ActionFilter`; only its input differs:
a person chosen from the staff list (or a kind of actor), and Jalali dates, each a whole day
in Tehran (``to`` includes its day).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.backoffice.render import ROLE_FA, is_htmx, render
from api.backoffice.session import SessionDep
from api.context import ContextDep
from api.permissions import READ_AUDIT
from domain.errors import InvalidActorFilter, InvalidTime, InvalidTimeRange
from domain.jalali import JalaliDate
from service_layer.actions import ActionFilter, ActorFilter, actions_page

router = APIRouter(prefix="/office/actions", include_in_schema=False)

#: Rows on a page.
PAGE_SIZE = 50

#: The kinds of actor a person may pick instead of one member (Persian labels).
KINDS_FA = (
    ("staff", "همهٔ کارکنان"),
    ("customer", "مشتریان"),
    ("representative", "نمایندگان"),
    ("client", "سامانه‌های متصل"),
    ("scheduler", "زمان‌بند"),
    ("gateway", "درگاه پرداخت"),
    ("operator", "گرداننده در خط فرمان"),
)

AGGREGATE_FA = {
    "Subscription": "اشتراک",
    "Invoice": "صورت‌حساب",
    "Customer": "مشتری",
    "Payment": "پرداخت",
    "Catalogue": "فهرست طرح‌ها",
    "StaffMember": "کارمند",
    "Representative": "نماینده",
    "OfficialInvoice": "صورت‌حساب رسمی",
}
#: Pages of the back office an aggregate has.
AGGREGATE_PAGE = {"Subscription": "/office/subscriptions/", "Customer": "/office/customers/"}


def _day(text: str, name: str) -> JalaliDate | None:
    text = text.strip()
    if not text:
        return None
    try:
        return JalaliDate.parse(text)
    except ValueError:
        raise InvalidTime(
            f"{name} {text!r} is not a Jalali date; write it like 1405/02/14.", field=name
        ) from None


def page_filter(person: str, since: str, until: str) -> ActionFilter:
    """The filter a person set on the page: ``person`` as the API's ``actor`` (``staff:ID``, a
    kind), ``since`` and ``until`` as Jalali dates (the whole of each day in Tehran)."""
    first, last = _day(since, "from"), _day(until, "to")
    start = first.start_in_tehran() if first else None
    # "to 1405/02/14" includes that day: up to the last microsecond before the next one.
    end = _next_day(last) - timedelta(microseconds=1) if last else None
    if start is not None and end is not None and start > end:
        raise InvalidTimeRange("from is after to; swap them, or leave one out.", field="from")
    actor = ActorFilter.parse(person) if person.strip() else None
    return ActionFilter(actor, start, end)


def _next_day(day: JalaliDate) -> datetime:
    return day.start_in_tehran() + timedelta(days=1)


def _people(ctx: ContextDep) -> list[tuple[str, str]]:
    """The staff list as the person select offers it: (value, label)."""
    return [
        (
            f"staff:{m.id}",
            f"{m.name} ({ROLE_FA.get(m.role, m.role)}{'، غیرفعال' if not m.active else ''})",
        )
        for m in ctx.credentials.members()
    ]


def _row(action: Any) -> dict[str, Any]:
    said = action.as_json()
    aggregate = said["aggregate"]
    link = AGGREGATE_PAGE.get(aggregate)
    return said | {
        "recorded": action.entry.recorded_at,
        "aggregate_fa": AGGREGATE_FA.get(aggregate, aggregate),
        "link": f"{link}{said['aggregate_id']}" if link else None,
        "role_fa": ROLE_FA.get(said["actor"]["role"] or "", ""),
    }


@router.get("")
def actions_list(
    request: Request,
    session: SessionDep,
    ctx: ContextDep,
    person: str = "",
    since: str = "",
    until: str = "",
    after: int = 0,
) -> Response:
    READ_AUDIT.check(session.principal)
    problem = ""
    rows: list[dict[str, Any]] = []
    next_after: int | None = None
    try:
        wanted = page_filter(person, since, until)
    except InvalidTime:
        problem = "تاریخ را به شکل سال/ماه/روز بنویسید، مثلاً ۱۴۰۵/۰۲/۱۴."
    except InvalidTimeRange:
        problem = "«از تاریخ» پس از «تا تاریخ» است؛ جای آن دو را عوض کنید."
    except InvalidActorFilter:
        problem = "این شخص یا نوع عامل شناخته نشد."
    else:
        page = actions_page(ctx.app, wanted, after=max(after, 0), limit=PAGE_SIZE)
        rows = [_row(a) for a in page.items]
        next_after = page.after
    query = {"person": person, "since": since, "until": until}
    kept = {k: v for k, v in query.items() if v}
    values: dict[str, Any] = {
        "problem": problem,
        "rows": rows,
        "person": person,
        "since": since,
        "until": until,
        "after": after,
        "people": _people(ctx),
        "kinds": KINDS_FA,
        "next_link": (
            f"/office/actions?{urlencode(kept | {'after': next_after})}"
            if next_after is not None
            else None
        ),
        "first_link": f"/office/actions?{urlencode(kept)}" if after > 0 else None,
    }
    template = "actions_rows.html.j2" if is_htmx(request) else "actions.html.j2"
    return render(request, session, template, title="اقدامات کارکنان", nav="actions", **values)
