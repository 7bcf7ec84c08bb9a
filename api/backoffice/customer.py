"""The back office's customer page (docs/BACKOFFICE.md, "Customer"): the profile and its
representative, credit and open balance, subscriptions, invoices, payments, offline requests
and bank receipts (with their scans), official invoices (download; issue one once the profile
is complete, naming what is missing otherwise) and the notices sent.

Everything is read from the read models (one indexed query per table, by customer or by the
customer's invoices) and the customer's own aggregate. Downloads reuse the API's routes
(``api/routers/documents.py``, ``api/routers/payments.py``): the same checks, the same bytes
and the same safe headers, for the signed-in person instead of a bearer token.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.backoffice.render import render
from api.backoffice.session import PATH, SessionDep, StaffSession
from api.context import Context, ContextDep
from api.permissions import ISSUE_OFFICIAL
from api.routers import documents, payments
from domain.customer import Customer, CustomerKind
from domain.errors import NotFound, OfficialInvoiceRefused
from presentation.explain_text import _INVOICE_STATUS, _NOTICE, _STATUS
from projections.representative_views import representative
from projections.visibility import visible_customer, visible_invoice

router = APIRouter(prefix=PATH, include_in_schema=False)

#: The fields an official invoice prints from the buyer's profile (domain/official.py).
OFFICIAL_FIELDS_FA = {
    "economic_code": "کد اقتصادی",
    "national_id": "شناسهٔ ملی",
    "postal_code": "کد پستی",
    "address": "نشانی",
}
PROFILE_FA = (
    ("national_code", "کد ملی"),
    ("national_id", "شناسهٔ ملی"),
    ("economic_code", "کد اقتصادی"),
    ("registration_number", "شمارهٔ ثبت"),
    ("postal_code", "کد پستی"),
)
SITE_FA = {"up": "برقرار", "suspended": "معلق", "collected": "جمع‌آوری‌شده", "removed": "حذف‌شده"}
OFFLINE_STATUS_FA = {
    "pending": "در انتظار تصمیم",
    "approved": "پذیرفته",
    "rejected": "ردشده",
    "under_review": "در حال بررسی",
    "confirmed": "تأییدشده",
}
ENTRY_FA = {"paid": "پرداخت", "credit": "از اعتبار"}
LIMIT = 100


def _missing(customer: Customer) -> list[str]:
    """What the profile lacks for an official invoice (empty: nothing; a person cannot have one)."""
    profile = customer.profile
    return [f for f in OFFICIAL_FIELDS_FA if not (getattr(profile, f) or "").strip()]


def _customer_page(ctx: Context, session: StaffSession, customer: Customer) -> dict[str, Any]:
    """Everything the page shows, from the read models."""
    rm = ctx.fresh_read_models()
    cid = str(customer.id)
    subscriptions = rm.query(
        "SELECT * FROM {rm_subscriptions} WHERE customer_id = ? ORDER BY ordered_at DESC", [cid]
    )
    invoices = rm.query(
        "SELECT invoice_id, subscription_id, period_no, kind, status, issued_at, deadline, "
        "total, paid, balance, voided_amount FROM {rm_invoices} WHERE customer_id = ? "
        f"ORDER BY issued_at DESC, invoice_id LIMIT {LIMIT}",
        [cid],
    )
    ids = [i["invoice_id"] for i in invoices]
    marks = ", ".join("?" for _ in ids)
    offline: list[dict[str, Any]] = []
    officials: dict[str, dict[str, str]] = {}
    if ids:
        offline = rm.query(
            f"SELECT * FROM {{rm_offline_payments}} WHERE invoice_id IN ({marks}) "
            "ORDER BY created_at DESC, item_id",
            ids,
        )
        for row in rm.query(
            "SELECT owner_id, field, shown FROM {rm_search_keys} "
            f"WHERE owner_id IN ({marks}) AND field IN ('official_number', 'tax_id')",
            ids,
        ):
            officials.setdefault(row["owner_id"], {})[row["field"]] = row["shown"]
    for item in offline:
        item["detail"] = json.loads(item["detail"])
    payments_ = rm.query(
        "SELECT invoice_id, entry, amount, reference, recorded_at FROM {rm_invoice_ledger} "
        "WHERE customer_id = ? AND entry IN ('paid', 'credit') "
        f"ORDER BY recorded_at DESC, invoice_id LIMIT {LIMIT}",
        [cid],
    )
    notices = rm.query(
        "SELECT kind, number, subscription_id, invoice_id, due_at, recorded_at "
        "FROM {rm_notices} WHERE customer_id = ? "
        f"ORDER BY recorded_at DESC LIMIT {LIMIT}",
        [cid],
    )
    open_balance = sum(int(i["balance"]) for i in invoices if i["status"] == "open")
    rep = (
        representative(rm, session.principal, customer.representative_id)
        if customer.representative_id
        else None
    )
    legal = customer.profile.kind is CustomerKind.LEGAL
    return {
        "customer": customer,
        "profile": customer.profile,
        "legal": legal,
        "representative": rep,
        "subscriptions": subscriptions,
        "invoices": invoices,
        "officials": officials,
        "receipts": [o for o in offline if o["kind"] == "receipt"],
        "requests": [o for o in offline if o["kind"] == "request"],
        "payments": payments_,
        "notices": notices,
        "open_balance": open_balance,
        "missing": _missing(customer) if legal else [],
        "seller": ctx.app.seller is not None,
        "limit": LIMIT,
        "official_fields_fa": OFFICIAL_FIELDS_FA,
        "profile_fa": PROFILE_FA,
        "status_fa": {k.value: w.persian for k, w in _STATUS.items()},
        "invoice_status_fa": {k: w.persian for k, w in _INVOICE_STATUS.items()},
        "notice_fa": {k.value: w.persian for k, w in _NOTICE.items()},
        "site_fa": SITE_FA,
        "offline_status_fa": OFFLINE_STATUS_FA,
        "entry_fa": ENTRY_FA,
    }


def _not_found(request: Request, session: StaffSession, message: str) -> Response:
    return render(
        request, session, "refused.html.j2", title="پیدا نشد", message=message, status=404
    )


@router.get("/customers/{customer_id}")
def customer_page(
    request: Request,
    customer_id: UUID,
    session: SessionDep,
    ctx: ContextDep,
    issued: UUID | None = None,
) -> Response:
    try:
        customer = visible_customer(ctx.app, session.principal, customer_id)
    except NotFound:
        return _not_found(request, session, "چنین مشتری‌ای ثبت نشده است.")
    values = _customer_page(ctx, session, customer)
    issued_number = ""
    if issued is not None and str(issued) in values["officials"]:
        issued_number = values["officials"][str(issued)].get("official_number", "")
    return render(
        request,
        session,
        "customer.html.j2",
        title=customer.profile.name,
        nav="search",
        issued_number=issued_number,
        refusal="",
        **values,
    )


@router.post("/invoices/{invoice_id}/official")
def issue_official(
    request: Request, invoice_id: UUID, session: SessionDep, ctx: ContextDep
) -> Response:
    """Issue the official invoice of a paid invoice (the API's ``POST
    /invoices/{id}/official``): back to the customer's page, which names it or says why not."""
    ISSUE_OFFICIAL.check(session.principal)
    try:
        invoice = visible_invoice(ctx.app, session.principal, invoice_id)
    except NotFound:
        return _not_found(request, session, "چنین صورتحسابی ثبت نشده است.")
    try:
        ctx.app_for(session.principal).issue_official_invoice(invoice_id, ctx.now())
    except OfficialInvoiceRefused as refusal:
        customer = ctx.app.get_customer(invoice.customer_id)
        return render(
            request,
            session,
            "customer.html.j2",
            title=customer.profile.name,
            nav="search",
            issued_number="",
            refusal=_refusal_fa(refusal),
            status=409,
            **_customer_page(ctx, session, customer),
        )
    return RedirectResponse(
        f"{PATH}/customers/{invoice.customer_id}?issued={invoice_id}#invoice-{invoice_id}",
        status_code=303,
    )


def _refusal_fa(refusal: OfficialInvoiceRefused) -> str:
    reason = refusal.details.get("reason", "")
    if reason == "profile_incomplete":
        missing = "، ".join(
            OFFICIAL_FIELDS_FA.get(f, f) for f in refusal.details.get("missing", [])
        )
        return f"نمایهٔ مشتری کامل نیست؛ کم دارد: {missing}."
    if reason == "not_a_legal_entity":
        return "صورتحساب رسمی فقط برای اشخاص حقوقی صادر می‌شود."
    if reason == "not_paid":
        return "صورتحساب هنوز تسویه نشده است؛ صورتحساب رسمی پس از پرداخت کامل صادر می‌شود."
    if reason == "seller_not_configured":
        return "مشخصات شرکت فروشنده تنظیم نشده است؛ صدور صورتحساب رسمی ممکن نیست."
    return "صورتحساب رسمی صادر نشد."


@router.get("/invoices/{invoice_id}/official.pdf")
def official_pdf(invoice_id: UUID, session: SessionDep, ctx: ContextDep) -> Response:
    """The API's official PDF, for the signed-in person."""
    return documents.official_pdf(invoice_id, ctx, session.principal)


@router.get("/invoices/{invoice_id}/invoice.pdf")
def plain_pdf(invoice_id: UUID, session: SessionDep, ctx: ContextDep) -> Response:
    """The API's plain invoice PDF (a proforma while unpaid), for the signed-in person."""
    return documents.plain_pdf(invoice_id, ctx, session.principal)


@router.get("/receipts/{receipt_id}/scan")
def receipt_scan(receipt_id: UUID, session: SessionDep, ctx: ContextDep) -> Response:
    """A receipt's scan, with the API's headers (served as data, never as a page): the queue
    and the customer page link here."""
    return payments.receipt_scan(receipt_id, ctx, session.principal)
