"""Paying: online through a link, offline with a bank receipt; and finance's holds and voids."""

from __future__ import annotations

import base64
import binascii
import html
import json
from collections.abc import Callable
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from adapters.links import check_return_url
from adapters.scans import safe_filename
from adapters.tokens import Principal, Role
from api.context import Context, ContextDep, PrincipalDep, require
from api.permissions import (
    DECIDE_OFFLINE,
    DECIDE_RECEIPTS,
    LIFT_HOLDS,
    PLACE_HOLDS,
    VOID_INVOICES,
    Permission,
)
from api.routers import pages
from api.routers._common import payment_out, subscription_command
from api.routers._paging import DEFAULT_LIMIT, Limit, decode_cursor, encode_cursor
from api.schemas import (
    BankOut,
    CallbackOut,
    DecisionIn,
    HoldIn,
    OfflineItemOut,
    OfflineRequestIn,
    Page,
    PaymentLinkIn,
    PaymentLinkOut,
    PaymentOut,
    PaymentRefundIn,
    ReceiptIn,
    RefundOut,
    RejectionIn,
    ReturnIn,
    ReturnOut,
    SubscriptionOut,
    VoidIn,
)
from domain.banks import BANKS
from domain.customer import RefundVia
from domain.errors import InvalidInput, OfflineRequestNotFound, ReceiptNotFound
from projections.visibility import (
    may_see_invoice,
    visible_invoice,
    visible_rows,
)
from service_layer.finance_actions import VoidOutcome

router = APIRouter(tags=["payments"])

OWNERS = (Role.ADMIN, Role.CUSTOMER, Role.REPRESENTATIVE)
FINANCE = (Role.FINANCE, Role.ADMIN)


@router.post(
    "/invoices/{invoice_id}/payment-link",
    response_model=PaymentLinkOut,
    summary="Start paying online",
)
def payment_link(
    invoice_id: UUID, ctx: ContextDep, who: PrincipalDep, body: PaymentLinkIn | None = None
) -> PaymentLinkOut:
    """The amount is the invoice's open balance as recorded now; the customer is sent to the URL.

    With ``return_url`` (a host of BILLING_RETURN_URL_HOSTS, else 422
    ``return_url_not_allowed``), the invoice page the gateway sends the customer back to offers
    a link back there."""
    require(who, *OWNERS, action="start payments")
    visible_invoice(ctx.app, who, invoice_id)
    return_url = None
    if body is not None and body.return_url is not None:
        return_url = check_return_url(body.return_url, ctx.runtime.settings.return_url_hosts)
    link = ctx.runtime.payments.create_link(invoice_id, by=who.actor)
    if return_url is not None:
        ctx.runtime.return_urls.put(link.authority, return_url, ctx.now())
    return PaymentLinkOut(
        url=link.url,
        authority=link.authority,
        amount=link.amount,
        page_url=ctx.runtime.links.url(invoice_id),
    )


@router.get(
    "/payments/callback",
    response_model=CallbackOut,
    summary="Where the gateway sends the customer back (no token)",
    responses={200: {"content": {"text/html": {}}}},
)
def callback(
    request: Request,
    ctx: ContextDep,
    authority: Annotated[
        str, Query(alias="Authority", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")
    ],
    outcome: Annotated[str, Query(alias="Status", pattern="^(OK|NOK)$")],
):
    """Only ``Authority`` and ``Status`` are read; the amount comes from our records and the
    payment counts only once the gateway verifies it."""
    result = ctx.runtime.payments.callback(authority, outcome)
    body = CallbackOut(**result.__dict__)
    if "text/html" in request.headers.get("accept", ""):
        landed = pages.callback_page(request, result)
        if landed is not None:
            return landed
        titles = {
            "paid": "پرداخت شما ثبت شد",
            "cancelled": "پرداخت انجام نشد",
            "pending": "در انتظار تأیید درگاه",
            "failed": "پرداخت ناموفق بود",
        }
        title, message = titles[body.status], html.escape(body.message)
        page = (
            f'<!DOCTYPE html><html lang="fa" dir="rtl"><head><meta charset="utf-8"><title>{title}</title></head>'
            f"<body><h1>{title}</h1><p>{message}</p></body></html>"
        )
        return HTMLResponse(page)
    return body


# --- offline -----------------------------------------------------------------------------------


@router.get("/banks", response_model=Page, summary="The banks a receipt can name, by code")
def list_banks(who: PrincipalDep) -> Page:
    """A receipt names its bank by this code (the bank's digits in an Iranian IBAN)."""
    return Page(
        items=[BankOut(**bank.__dict__) for bank in BANKS.values()],
        next_cursor=None,
    )


def _offline_item(ctx: Context, item_id: UUID, kind: str) -> dict:
    rows = ctx.fresh_read_models().query(
        "SELECT * FROM {rm_offline_payments} WHERE item_id = ? AND kind = ?", (str(item_id), kind)
    )
    if not rows:
        error = OfflineRequestNotFound if kind == "request" else ReceiptNotFound
        raise error(
            f"There is no {'offline payment request' if kind == 'request' else 'receipt'} {item_id}."
        )
    return rows[0]


def _item_out(row: dict) -> OfflineItemOut:
    return OfflineItemOut(
        id=row["item_id"],
        kind=row["kind"],
        invoice_id=row["invoice_id"],
        subscription_id=row["subscription_id"],
        customer_id=row["customer_id"],
        status=row["status"],
        detail=json.loads(row["detail"]),
        created_at=row["created_at"],
        decided_at=row["decided_at"],
    )


ItemKind = Annotated[str | None, Query(pattern="^(request|receipt)$")]
ItemStatus = Annotated[
    str | None, Query(pattern="^(pending|approved|rejected|under_review|confirmed)$")
]
#: What waits for finance: a request not yet decided, a receipt not yet confirmed or rejected.
AWAITING = (
    "((kind = 'request' AND status = 'pending') OR (kind = 'receipt' AND status = 'under_review'))"
)


@router.get(
    "/offline-payments",
    response_model=Page,
    summary="Offline requests and receipts, oldest first (finance's queue)",
)
def list_offline_payments(
    ctx: ContextDep,
    who: PrincipalDep,
    awaiting_decision: bool = False,
    kind: ItemKind = None,
    status: ItemStatus = None,
    invoice_id: UUID | None = None,
    cursor: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page:
    """``awaiting_decision=true`` gives what finance still has to decide: pending requests and
    receipts under review. Oldest first, so what has waited longest comes first. Customers and
    representatives see only their own."""
    where, params = ["(created_at > ? OR (created_at = ? AND item_id > ?))"], []
    after = decode_cursor(cursor)
    if after is None:
        params += ["", "", ""]
    elif isinstance(after, list) and len(after) == 2 and all(isinstance(a, str) for a in after):
        params += [after[0], after[0], after[1]]
    else:
        raise InvalidInput(
            "cursor is not one this API gave out; start again without it.", field="cursor"
        )
    visible, allowed = visible_rows(who, "rm_offline_payments")
    where += visible
    params += allowed
    if awaiting_decision:
        where.append(AWAITING)
    for column, value in (("kind", kind), ("status", status), ("invoice_id", invoice_id)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(str(value))
    rows = ctx.fresh_read_models().query(
        f"SELECT * FROM {{rm_offline_payments}} WHERE {' AND '.join(where)} "
        f"ORDER BY created_at, item_id LIMIT {limit + 1}",
        params,
    )
    items = [_item_out(row) for row in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    return Page(
        items=items,
        next_cursor=encode_cursor([last["created_at"], last["item_id"]]) if last else None,
    )


def _visible_item(ctx: Context, who: Principal, item_id: UUID, kind: str) -> dict:
    """The request or receipt, if the caller may see its invoice; else "not found", as for one
    that does not exist. Only that becomes a 404: an error loading the invoice or its
    customer (the store unreachable, a fault) reaches the error handler as it is."""
    row = _offline_item(ctx, item_id, kind)
    invoice = ctx.app.get_invoice(UUID(row["invoice_id"]))
    if not may_see_invoice(who, invoice, ctx.app.get_customer):
        error = OfflineRequestNotFound if kind == "request" else ReceiptNotFound
        raise error(f"There is no such {kind} {item_id}.")
    return row


def _decide(
    ctx: Context,
    who: Principal,
    item_id: UUID,
    kind: str,
    permission: Permission,
    decide: Callable[[UUID], object],
) -> OfflineItemOut:
    """Finance decides a request or a receipt: the caller must hold ``permission`` (else 403
    naming its action), the item must exist (else 404); ``decide`` is given its invoice's id; the answer
    is the item as decided."""
    permission.check(who)
    row = _offline_item(ctx, item_id, kind)
    decide(UUID(row["invoice_id"]))
    return _item_out(_offline_item(ctx, item_id, kind))


@router.post(
    "/invoices/{invoice_id}/offline-requests",
    response_model=OfflineItemOut,
    status_code=status.HTTP_201_CREATED,
    summary="Ask to pay this invoice offline (organisations)",
)
def request_offline(
    invoice_id: UUID, body: OfflineRequestIn, request: Request, ctx: ContextDep, who: PrincipalDep
) -> OfflineItemOut:
    require(who, *OWNERS, action="request offline payments")
    visible_invoice(ctx.app, who, invoice_id)
    request_id = ctx.app_for(who).request_offline_payment(
        invoice_id, body.reason, ctx.now(), request_id=_keyed(request, who, "offline")
    )
    return _item_out(_offline_item(ctx, request_id, "request"))


@router.post(
    "/offline-requests/{request_id}/approve",
    response_model=OfflineItemOut,
    summary="Approve an offline payment (finance)",
)
def approve_offline(
    request_id: UUID, ctx: ContextDep, who: PrincipalDep, body: DecisionIn | None = None
) -> OfflineItemOut:
    def approve(invoice_id: UUID) -> None:
        days = ctx.runtime.settings.offline_extension_days
        reason = (body or DecisionIn()).reason
        ctx.app_for(who).decide_offline_payment(
            invoice_id, request_id, ctx.now(), approve=True, reason=reason, extension_days=days
        )

    return _decide(ctx, who, request_id, "request", DECIDE_OFFLINE, approve)


@router.post(
    "/offline-requests/{request_id}/reject",
    response_model=OfflineItemOut,
    summary="Reject an offline payment (finance)",
)
def reject_offline(
    request_id: UUID, body: RejectionIn, ctx: ContextDep, who: PrincipalDep
) -> OfflineItemOut:
    def reject(invoice_id: UUID) -> None:
        ctx.app_for(who).decide_offline_payment(
            invoice_id, request_id, ctx.now(), approve=False, reason=body.reason
        )

    return _decide(ctx, who, request_id, "request", DECIDE_OFFLINE, reject)


_RECEIPT_FORM = {
    "type": "object",
    "required": ["bank", "tracking_number", "amount", "paid_on"],
    "properties": {
        **{
            name: schema
            for name, schema in ReceiptIn.model_json_schema()["properties"].items()
            if name != "scan_base64"
        },
        "scan": {
            "type": "string",
            "format": "binary",
            "description": "Optional: the slip as PDF, JPEG or PNG (the same checks as scan_base64).",
        },
    },
}


async def receipt_input(request: Request, ctx: ContextDep) -> tuple[ReceiptIn, bytes | None, str]:
    """The receipt as JSON (the scan in ``scan_base64``) or as ``multipart/form-data`` (the
    scan as the file part ``scan``): its fields, the scan's bytes and the field they came in."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=10)
        fields: dict[str, object] = {
            k: v for k, v in form.multi_items() if k != "scan" and isinstance(v, str)
        }
        if "scan_base64" in fields:
            raise InvalidInput(
                "In multipart/form-data the scan is the file part scan, not scan_base64.",
                field="scan_base64",
            )
        amount = fields.get("amount")
        if isinstance(amount, str) and amount.strip().isdigit():
            fields["amount"] = int(amount.strip())
        try:
            body = ReceiptIn.model_validate(fields)
        except ValidationError as error:
            raise RequestValidationError(error.errors()) from None
        scan = form.get("scan")
        if isinstance(scan, UploadFile):
            return body, await scan.read(ctx.runtime.scans.max_bytes + 1), "scan"
        if scan is not None:
            raise InvalidInput("scan must be a file part, not text.", field="scan")
        return body, None, "scan"
    raw = await request.body()
    if not raw:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    try:
        body = ReceiptIn.model_validate_json(raw)
    except ValidationError as error:
        raise RequestValidationError(error.errors()) from None
    data = None
    if body.scan_base64:
        try:
            data = base64.b64decode(body.scan_base64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("scan_base64 is not base64.", field="scan_base64") from None
    return body, data, "scan_base64"


@router.post(
    "/invoices/{invoice_id}/receipts",
    response_model=OfflineItemOut,
    status_code=status.HTTP_201_CREATED,
    summary="Register the bank receipt of an approved offline payment",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": ReceiptIn.model_json_schema()},
                "multipart/form-data": {"schema": _RECEIPT_FORM},
            },
        }
    },
)
def register_receipt(
    invoice_id: UUID,
    received: Annotated[tuple[ReceiptIn, bytes | None, str], Depends(receipt_input)],
    request: Request,
    ctx: ContextDep,
    who: PrincipalDep,
) -> OfflineItemOut:
    """JSON with the scan base64-encoded in ``scan_base64``, or ``multipart/form-data`` with the
    same fields and the scan as the file part ``scan``; both are checked alike."""
    require(who, *OWNERS, action="register receipts")
    visible_invoice(ctx.app, who, invoice_id)
    body, data, scan_field = received
    scan_hash = ctx.runtime.scans.put(data, field=scan_field) if data is not None else None
    receipt_id = ctx.app_for(who).register_receipt(
        invoice_id,
        bank=body.bank,
        tracking_number=body.tracking_number,
        amount=body.amount,
        paid_on=body.paid_on,
        now=ctx.now(),
        scan_hash=scan_hash,
        receipt_id=_keyed(request, who, "receipt"),
    )
    return _item_out(_offline_item(ctx, receipt_id, "receipt"))


@router.post(
    "/receipts/{receipt_id}/confirm",
    response_model=PaymentOut,
    summary="Confirm a receipt: the payment is recorded (finance)",
)
def confirm_receipt(receipt_id: UUID, ctx: ContextDep, who: PrincipalDep) -> PaymentOut:
    DECIDE_RECEIPTS.check(who)
    row = _offline_item(ctx, receipt_id, "receipt")
    outcome = ctx.app_for(who).decide_receipt(
        UUID(row["invoice_id"]), receipt_id, ctx.now(), confirm=True
    )
    assert outcome is not None  # a confirmed receipt always records its payment
    return payment_out(outcome)


@router.post(
    "/receipts/{receipt_id}/reject",
    response_model=OfflineItemOut,
    summary="Reject a receipt with a reason (finance)",
)
def reject_receipt(
    receipt_id: UUID, body: RejectionIn, ctx: ContextDep, who: PrincipalDep
) -> OfflineItemOut:
    def reject(invoice_id: UUID) -> None:
        ctx.app_for(who).decide_receipt(
            invoice_id, receipt_id, ctx.now(), confirm=False, reason=body.reason
        )

    return _decide(ctx, who, receipt_id, "receipt", DECIDE_RECEIPTS, reject)


@router.get(
    "/receipts/{receipt_id}/scan",
    summary="The receipt's scan, as uploaded",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}, "image/jpeg": {}, "image/png": {}}}},
)
def receipt_scan(receipt_id: UUID, ctx: ContextDep, who: PrincipalDep) -> Response:
    row = _visible_item(ctx, who, receipt_id, "receipt")
    return scan_response(ctx, receipt_id, json.loads(row["detail"]).get("scan_hash"))


def scan_response(ctx: Context, receipt_id: UUID, scan_hash: str | None) -> Response:
    """The receipt's scan (by its hash), served safely: the API's route and the back office's."""
    found = ctx.runtime.scans.get(scan_hash) if scan_hash else None
    if found is None:
        raise ReceiptNotFound(f"Receipt {receipt_id} has no scan.")
    content_type, data = found
    # An uploaded file is served as data, never as a page: no sniffing, no scripts, no plugins,
    # under our own file name. A PDF is downloaded (a browser's PDF viewer runs outside the
    # sandbox); a picture may be shown.
    disposition = "attachment" if content_type == "application/pdf" else "inline"
    return Response(
        data,
        media_type=content_type,
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Content-Disposition": f'{disposition}; filename="{safe_filename(receipt_id, content_type)}"',
            "Cache-Control": "private, no-store",
        },
    )


# --- finance actions ----------------------------------------------------------------------------


@router.post(
    "/subscriptions/{subscription_id}/enforcement-hold",
    response_model=SubscriptionOut,
    summary="Hold suspension and collection (finance)",
)
def hold(
    subscription_id: UUID, body: HoldIn, ctx: ContextDep, who: PrincipalDep
) -> SubscriptionOut:
    def place() -> None:
        if body.until.tzinfo is None:
            raise InvalidInput(
                "until must carry a time zone, e.g. 2026-06-01T00:00:00Z.", field="until"
            )
        ctx.app_for(who).place_hold(subscription_id, body.reason, body.until, ctx.now())

    return subscription_command(ctx, who, subscription_id, PLACE_HOLDS, place)


@router.post(
    "/subscriptions/{subscription_id}/enforcement-hold/lift",
    response_model=SubscriptionOut,
    summary="End a hold now (finance)",
)
def lift(
    subscription_id: UUID, body: RejectionIn, ctx: ContextDep, who: PrincipalDep
) -> SubscriptionOut:
    def lift_now() -> None:
        ctx.app_for(who).lift_hold(subscription_id, body.reason, ctx.now())

    return subscription_command(ctx, who, subscription_id, LIFT_HOLDS, lift_now)


@router.post(
    "/invoices/{invoice_id}/void",
    summary="Void an invoice with a reason (finance)",
    responses={202: {"description": "Proposed: the four-eyes rule needs a second person"}},
)
def void(
    invoice_id: UUID, body: VoidIn, ctx: ContextDep, who: PrincipalDep, response: Response
) -> dict:
    """Under the four-eyes rule (BILLING_FOUR_EYES) a void of an invoice above
    BILLING_FOUR_EYES_VOID_ABOVE rials is first proposed (202, ``"void": "proposed"``); the same
    call by a second finance person or admin voids it; by the same person, 409
    ``four_eyes_required``."""
    VOID_INVOICES.check(who)
    visible_invoice(ctx.app, who, invoice_id)
    outcome = ctx.app_for(who).void_invoice(invoice_id, body.reason, ctx.now())
    invoice = ctx.app.get_invoice(invoice_id)
    if outcome is VoidOutcome.PROPOSED:
        response.status_code = status.HTTP_202_ACCEPTED
    return {
        "id": str(invoice_id),
        "status": invoice.status.value,
        "void": outcome.value,
        "void_reason": invoice.void_reason,
    }


@router.post(
    "/invoices/{invoice_id}/refunds",
    response_model=RefundOut,
    status_code=status.HTTP_201_CREATED,
    summary="Refund a payment of an invoice, by transfer or gateway reversal (finance)",
)
def refund_payment(
    invoice_id: UUID, body: PaymentRefundIn, ctx: ContextDep, who: PrincipalDep
) -> RefundOut:
    """A refund comes out of the customer's credit: at most what is left of the payment and of
    the credit (money that paid the invoice is credit once the invoice is voided). ``via``
    ``gateway``: the gateway reverses the whole gateway payment within 30 minutes of it;
    ``transfer``: finance transferred it (``bank_reference`` required). Refused with 409
    ``refund_refused`` and a ``reason`` (``over_refundable``, ``unknown_payment``,
    ``not_a_gateway_payment``, ``reverse_window_closed``, ``partial_reverse``,
    ``gateway_refused``, ``bank_reference_used``)."""
    require(who, *FINANCE, action="record refunds")
    visible_invoice(ctx.app, who, invoice_id)
    if body.via == "gateway":
        if body.amount is not None or body.bank_reference is not None:
            raise InvalidInput(
                "A gateway reversal gives back the whole payment under the gateway's own "
                "reference: send neither amount nor bank_reference.",
                field="amount" if body.amount is not None else "bank_reference",
            )
        outcome = ctx.runtime.payments.reverse(
            invoice_id, body.payment_reference, body.reason, by=who.actor
        )
    else:
        outcome = ctx.app_for(who).refund_payment(
            invoice_id,
            body.payment_reference,
            body.amount,
            body.reason,
            RefundVia.TRANSFER,
            ctx.now(),
            bank_reference=body.bank_reference,
        )
    return RefundOut.of(outcome)


@router.post(
    "/invoices/{invoice_id}/returns",
    response_model=ReturnOut,
    status_code=status.HTTP_201_CREATED,
    summary="Return from sale: take back part of a paid invoice into credit (finance)",
)
def return_sale(invoice_id: UUID, body: ReturnIn, ctx: ContextDep, who: PrincipalDep) -> ReturnOut:
    """The amount becomes the customer's credit (refundable by the refund routes); an invoice
    with an official invoice gets a return-from-sale official document in the same save, one
    without gets a credit note. Refused with 409 ``return_refused`` and a ``reason``
    (``not_paid``, ``invoice_void``, ``over_returnable`` with ``returnable``)."""
    require(who, *FINANCE, action="record returns")
    visible_invoice(ctx.app, who, invoice_id)
    outcome = ctx.app_for(who).return_sale(invoice_id, body.amount, body.reason, ctx.now())
    return ReturnOut.of(outcome)


def _keyed(request: Request, who, what: str) -> UUID | None:
    """With an Idempotency-Key, a retried creation names the same thing."""
    from uuid import uuid5

    from domain.base import BILLING_NAMESPACE

    key = getattr(request.state, "idempotency_key", None)
    return uuid5(BILLING_NAMESPACE, f"{what}/{who.token_hash}/{key}") if key else None
