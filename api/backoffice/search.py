"""The back office's search (docs/BACKOFFICE.md, "Search"): customers by name, national code or
ID, economic code, mobile, e-mail, customer or invoice id, official invoice number or tax ID,
and receipt tracking number, from one indexed read model (``projections/search_index.py``).

Arabic-keyboard ي and ك, Persian, Arabic and Latin digits, zero-width non-joiners, spaces and
hyphens inside a number all find the same customer. Typing searches as you go (htmx asks for
the results fragment); without JavaScript the form is an ordinary GET.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.backoffice.render import is_htmx, render
from api.backoffice.session import PATH, OfficeForbidden, SessionDep
from api.context import ContextDep
from api.permissions import USE_BACK_OFFICE
from domain.errors import InvalidInput
from domain.text import free_text
from projections.search_index import search
from projections.visibility import sees_all

router = APIRouter(prefix=PATH, include_in_schema=False)

#: How many customers one search lists.
LIMIT = 50

FIELD_FA = {
    "name": "نام",
    "national_code": "کد ملی",
    "national_id": "شناسهٔ ملی",
    "economic_code": "کد اقتصادی",
    "mobile": "تلفن همراه",
    "email": "ایمیل",
    "customer_id": "شناسهٔ مشتری",
    "invoice_id": "شمارهٔ صورتحساب",
    "official_number": "شمارهٔ صورتحساب رسمی",
    "tax_id": "شمارهٔ مالیاتی",
    "tracking_number": "شمارهٔ پیگیری رسید",
}
KIND_FA = {"person": "حقیقی", "legal": "حقوقی"}


@router.get("/search")
def search_page(request: Request, session: SessionDep, ctx: ContextDep, q: str = "") -> Response:
    # Back-office roles see every customer (projections/visibility.py); any other is refused.
    if not sees_all(session.principal):
        raise OfficeForbidden(USE_BACK_OFFICE.action)
    problem = ""
    results: list[dict] = []
    more = False
    try:
        query = free_text(q, "q", max_length=200, min_length=0)
    except InvalidInput as error:
        query = ""
        problem = f"متن جستجو پذیرفته نشد: نویسه‌ای نامرئی یا کنترلی دارد ({error.message})"
    if query:
        results, more = search(ctx.fresh_read_models(), query, limit=LIMIT)
    fragment = is_htmx(request) and request.headers.get("HX-Target") == "results"
    return render(
        request,
        session,
        "search_results.html.j2" if fragment else "search.html.j2",
        title=f"جستجو: {query}" if query else "جستجوی مشتری",
        nav="search",
        query=query,
        problem=problem,
        results=results,
        more=more,
        limit=LIMIT,
        field_fa=FIELD_FA,
        kind_fa=KIND_FA,
    )
