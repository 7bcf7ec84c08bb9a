"""The queue (``/office/queue``): offline requests and bank receipts awaiting finance's decision,
oldest first (docs/BACKOFFICE.md, "Queue").

The list comes from the read models in one query (``rm_offline_payments`` joined with the
invoice and the customer). Choosing a row (a click, or ``j``/``k``) loads its detail beside
the list: the receipt's scan, the invoice's open balance and deadline, the customer's earlier
receipts, and possible duplicates (the same normalised tracking number and amount at another
bank). Approve / confirm (``a``) and reject with a required reason (``r``) run the same
commands, with the same permissions, as the API's routes, recorded as the signed-in person.
Every form also works without JavaScript: it posts, and the answer is the queue again.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.backoffice.render import is_htmx, render
from api.backoffice.session import SessionDep, StaffSession
from api.context import Context, ContextDep
from api.permissions import DECIDE_OFFLINE, DECIDE_RECEIPTS, Permission
from domain import text
from domain.errors import BillingError, InvalidInput, NotFound

router = APIRouter(prefix="/office", include_in_schema=False)

#: What waits for finance: a request not yet decided, a receipt not yet confirmed or rejected.
AWAITING = (
    "((o.kind = 'request' AND o.status = 'pending') "
    "OR (o.kind = 'receipt' AND o.status = 'under_review'))"
)
#: Rows on one page of the queue: finance works oldest first, and a page this long renders in
#: a few milliseconds (docs/BENCHMARKS.md, "Back office").
LIMIT = 50

_SELECT = (
    "SELECT o.item_id, o.kind, o.invoice_id, o.subscription_id, o.customer_id, o.status, "
    "o.detail, o.created_at, o.decided_at, i.total, i.balance, i.deadline, "
    "i.status AS invoice_status, c.name AS customer_name "
    "FROM {rm_offline_payments} o "
    "JOIN {rm_invoices} i ON i.invoice_id = o.invoice_id "
    "JOIN {rm_customer_accounts} c ON c.customer_id = o.customer_id "
)

KIND_FA = {"request": "درخواست پرداخت آفلاین", "receipt": "رسید بانکی"}
STATUS_FA = {
    "pending": "در انتظار تصمیم",
    "approved": "پذیرفته",
    "rejected": "رد شده",
    "under_review": "در حال بررسی",
    "confirmed": "تأیید شده",
}
INVOICE_STATUS_FA = {"open": "پرداخت‌نشده", "paid": "پرداخت‌شده", "void": "باطل"}


def _item(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "detail": json.loads(row["detail"])}


def waiting(ctx: Context, after: tuple[str, str] | None = None) -> list[dict[str, Any]]:
    """What finance still has to decide, oldest first: at most ``LIMIT`` + 1 rows (the last
    says there is a next page), after the (created_at, item id) of a previous page's last."""
    last_at, last_id = after or ("", "")
    rows = ctx.fresh_read_models().query(
        _SELECT + f"WHERE {AWAITING} AND (o.created_at > ? OR (o.created_at = ? AND "
        f"o.item_id > ?)) ORDER BY o.created_at, o.item_id LIMIT {LIMIT + 1}",
        (last_at, last_at, last_id),
    )
    return [_item(r) for r in rows]


def waiting_count(ctx: Context) -> int:
    rows = ctx.read_models.query(
        f"SELECT COUNT(*) AS n FROM {{rm_offline_payments}} o WHERE {AWAITING}"
    )
    return int(rows[0]["n"])


def _after(value: str) -> tuple[str, str] | None:
    """A next-page link's ``after``: the previous page's last (created_at, item id)."""
    at, _, item = value.partition("|")
    return (at, item) if at and item else None


def _one(ctx: Context, item_id: UUID) -> dict[str, Any]:
    rows = ctx.fresh_read_models().query(_SELECT + "WHERE o.item_id = ?", (str(item_id),))
    if not rows:
        raise NotFound(f"There is no offline request or receipt {item_id}.")
    return _item(rows[0])


def _earlier_receipts(ctx: Context, item: dict[str, Any]) -> list[dict[str, Any]]:
    rows = ctx.read_models.query(
        "SELECT item_id, status, detail, created_at, decided_at, invoice_id "
        "FROM {rm_offline_payments} WHERE customer_id = ? AND kind = 'receipt' AND item_id <> ? "
        "ORDER BY created_at DESC LIMIT 20",
        (item["customer_id"], item["item_id"]),
    )
    return [{**r, "detail": json.loads(r["detail"])} for r in rows]


def _scan_type(ctx: Context, item: dict[str, Any]) -> str | None:
    scan_hash = item["detail"].get("scan_hash")
    found = ctx.runtime.scans.get(scan_hash) if scan_hash else None
    return found[0] if found else None


def _labels() -> dict[str, Any]:
    return {"kind_fa": KIND_FA, "status_fa": STATUS_FA, "invoice_status_fa": INVOICE_STATUS_FA}


@router.get("/queue")
def queue_page(
    request: Request,
    session: SessionDep,
    ctx: ContextDep,
    done: str = "",
    item: str = "",
    after: str = "",
) -> Response:
    items = waiting(ctx, _after(after))
    last = items[LIMIT - 1] if len(items) > LIMIT else None
    return render(
        request,
        session,
        "queue.html.j2",
        title="صف بررسی",
        nav="queue",
        items=items[:LIMIT],
        total=waiting_count(ctx),
        later=bool(after),
        next_page=f"{last['created_at']}|{last['item_id']}" if last else "",
        done=DONE.get(done, ""),
        chosen=item,
        **_labels(),
    )


def _detail(
    request: Request,
    session: StaffSession,
    ctx: Context,
    item_id: UUID,
    *,
    message: str = "",
    tone: str = "info",
    rejecting: bool = False,
    status: int = 200,
) -> Response:
    item = _one(ctx, item_id)
    return render(
        request,
        session,
        "queue_detail.html.j2",
        title="جزئیات",
        item=item,
        earlier=_earlier_receipts(ctx, item),
        scan_type=_scan_type(ctx, item) if item["kind"] == "receipt" else None,
        rejecting=rejecting,
        message=message,
        tone=tone,
        status=status,
        **_labels(),
    )


@router.get("/queue/items/{item_id}")
def item_detail(
    request: Request, item_id: UUID, session: SessionDep, ctx: ContextDep, reject: bool = False
) -> Response:
    return _detail(request, session, ctx, item_id, rejecting=reject)


DONE = {
    "approved": "درخواست پرداخت آفلاین پذیرفته شد و مشتری خبردار شد.",
    "confirmed": "رسید تأیید و پرداخت ثبت شد.",
    "rejected": "رد شد و دلیل آن به مشتری گفته شد.",
}


def _decided(
    request: Request,
    session: StaffSession,
    ctx: Context,
    item_id: UUID,
    permission: Permission,
    decide: Any,
    outcome: str,
    kind: str,
) -> Response:
    """Run ``decide`` (given the item's invoice id) as the signed-in person; answer the list's
    row removed and a banner (htmx), or the queue again (a plain form)."""
    permission.check(session.principal)
    item = _one(ctx, item_id)
    if item["kind"] != kind:
        raise NotFound(f"There is no {kind} {item_id}.")
    try:
        extra = decide(UUID(item["invoice_id"]))
    except BillingError as error:
        if not is_htmx(request):
            raise
        return _detail(request, session, ctx, item_id, message=str(error), tone="bad", status=409)
    message = DONE[outcome] + (extra or "")
    if not is_htmx(request):
        return RedirectResponse(f"/office/queue?done={outcome}", status_code=303)
    return render(
        request,
        session,
        "queue_decided.html.j2",
        title="ثبت شد",
        item=item,
        message=message,
        **_labels(),
    )


def _reason(sent: str) -> str:
    if not sent.strip():
        raise InvalidInput(
            "برای رد کردن، دلیل را بنویسید؛ این دلیل به مشتری گفته می‌شود. "
            "(A reason is required to reject.)",
            field="reason",
        )
    return text.multiline_text(sent, "reason")


@router.post("/queue/items/{item_id}/approve")
def approve(request: Request, item_id: UUID, session: SessionDep, ctx: ContextDep) -> Response:
    def decide(invoice_id: UUID) -> None:
        ctx.app_for(session.principal).decide_offline_payment(
            invoice_id,
            item_id,
            ctx.now(),
            approve=True,
            extension_days=ctx.runtime.settings.offline_extension_days,
        )

    return _decided(request, session, ctx, item_id, DECIDE_OFFLINE, decide, "approved", "request")


@router.post("/queue/items/{item_id}/confirm")
def confirm(request: Request, item_id: UUID, session: SessionDep, ctx: ContextDep) -> Response:
    def decide(invoice_id: UUID) -> str:
        outcome = ctx.app_for(session.principal).decide_receipt(
            invoice_id, item_id, ctx.now(), confirm=True
        )
        return " وب‌سایت دوباره روشن شد." if outcome is not None and outcome.restored else ""

    return _decided(request, session, ctx, item_id, DECIDE_RECEIPTS, decide, "confirmed", "receipt")


@router.post("/queue/items/{item_id}/reject")
async def reject(request: Request, item_id: UUID, session: SessionDep, ctx: ContextDep) -> Response:
    form = await request.form()
    sent = form.get("reason", "")
    return await run_in_threadpool(
        _reject, request, item_id, session, ctx, sent if isinstance(sent, str) else ""
    )


def _reject(
    request: Request, item_id: UUID, session: StaffSession, ctx: Context, sent: str
) -> Response:
    item = _one(ctx, item_id)
    permission = DECIDE_OFFLINE if item["kind"] == "request" else DECIDE_RECEIPTS
    permission.check(session.principal)
    try:
        reason = _reason(sent)
    except InvalidInput as error:
        if not is_htmx(request):
            raise
        return _detail(
            request,
            session,
            ctx,
            item_id,
            message=str(error),
            tone="bad",
            rejecting=True,
            status=422,
        )

    def decide(invoice_id: UUID) -> None:
        acting = ctx.app_for(session.principal)
        if item["kind"] == "request":
            acting.decide_offline_payment(
                invoice_id, item_id, ctx.now(), approve=False, reason=reason
            )
        else:
            acting.decide_receipt(invoice_id, item_id, ctx.now(), confirm=False, reason=reason)

    return _decided(request, session, ctx, item_id, permission, decide, "rejected", item["kind"])
