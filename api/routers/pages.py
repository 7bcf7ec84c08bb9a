"""The hosted invoice page every notice links to: ``/pay/{invoice_id}?t=<signature>``.

No login: the signature (HMAC-SHA256 of the invoice id, adapters/links.py) is the key to one
invoice's page. It is refused (a Persian page, 404) when forged, and closes (410) once the
invoice is paid in full or voided plus ``BILLING_LINK_GRACE_DAYS`` (domain/invoice_page.py).

The page shows the invoice in Persian, right to left (Jalali dates, Persian digits, amounts
and ids isolated left to right), links its PDF, and has forms that work without JavaScript:
pay online (reusing an attempt still open at the gateway), and for organisations, ask to pay
offline and register the bank receipt with its scan. Each POST needs the link's signature and
a hidden ``csrf`` field bound to a ``SameSite=Lax`` cookie (docs/PAYMENTS.md, "CSRF").
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from adapters.documents.fonts import ensure_fonts
from adapters.notify.render import persian_number
from api.context import Context
from api.errors import _status_of
from api.security import PAGE_POLICY
from domain import text
from domain.actor import Actor, ActorKind
from domain.banks import BANKS
from domain.customer import CustomerKind
from domain.errors import BillingError, InvalidInput, NotFound
from domain.invoice import Invoice
from domain.invoice_page import page_is_open, status_fa
from domain.jalali import JalaliDate, to_persian_digits
from domain.offline import ReceiptStatus, RequestStatus

router = APIRouter(include_in_schema=False)

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
COOKIE = "billing_page"
FONTS = ("Vazirmatn-Regular.ttf", "Vazirmatn-Bold.ttf")


def persian_amount(value: Any) -> str:
    """Rials with Persian digits and the Persian thousands separator: ۲٬۷۵۰٬۰۰۰."""
    rials = value.rials if hasattr(value, "rials") else int(value)
    return to_persian_digits(f"{rials:,}".replace(",", "٬"))


_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined)
_env.filters.update(num=persian_amount, fa=persian_number)

RESULTS = {
    "paid": ("ok", "پرداخت شما ثبت شد", "مبلغ {amount} ریال دریافت و ثبت شد. سپاس‌گزاریم."),
    "cancelled": ("bad", "پرداخت انجام نشد", "پرداخت در درگاه لغو شد؛ مبلغی برداشت نشد."),
    "pending": (
        "wait",
        "در انتظار تأیید درگاه",
        "درگاه هنوز پرداخت را تأیید نکرده است؛ به‌محض تأیید ثبت می‌شود و نیازی به پرداخت دوباره نیست.",
    ),
    "failed": ("bad", "پرداخت ناموفق بود", "پرداخت کامل نشد؛ می‌توانید دوباره تلاش کنید."),
}
DONE = {
    "offline": "درخواست پرداخت آفلاین ثبت شد؛ پس از بررسی واحد مالی خبر می‌دهیم.",
    "receipt": "رسید بانکی ثبت شد و پس از بررسی واحد مالی تأیید می‌شود.",
}
#: What a refusal says in Persian, by its stable code (the engine's own message follows).
REFUSALS = {
    "invalid_input": "آنچه فرستادید پذیرفته نشد.",
    "invalid_amount": "مبلغ پذیرفته نشد.",
    "offline_request_refused": "درخواست پرداخت آفلاین پذیرفته نشد.",
    "tracking_number_used": "این شمارهٔ پیگیری پیش‌تر برای همین بانک ثبت شده است.",
    "nothing_to_pay": "چیزی برای پرداخت نمانده است.",
    "below_gateway_minimum": "مانده کمتر از حداقل مبلغ درگاه است.",
    "gateway_unavailable": "درگاه پرداخت در دسترس نیست؛ چند دقیقهٔ دیگر دوباره تلاش کنید.",
    "invoice_not_payable": "این صورتحساب باطل شده است و پرداخت نمی‌شود.",
}
REQUEST_FA = {
    RequestStatus.PENDING: "در انتظار بررسی واحد مالی",
    RequestStatus.APPROVED: "تأیید شد؛ رسید واریز را ثبت کنید",
    RequestStatus.REJECTED: "رد شد",
}
RECEIPT_FA = {
    ReceiptStatus.UNDER_REVIEW: "در انتظار بررسی",
    ReceiptStatus.CONFIRMED: "تأیید شد",
    ReceiptStatus.REJECTED: "رد شد",
}


class PageGone(Exception):
    """A link that opens nothing: forged or unknown (404), or closed (410)."""

    def __init__(self, status: int) -> None:
        self.status = status


@dataclass(frozen=True)
class Result:
    tone: str
    title: str
    text: str
    ref_id: str | None


def result_of(status: str, amount: int, ref_id: str | None) -> Result:
    tone, title, line = RESULTS[status]
    return Result(tone, title, line.format(amount=persian_amount(amount)), ref_id)


def _ctx(request: Request) -> Context:
    return request.app.state.context


def opened(ctx: Context, invoice_id: str, token: str | None) -> Invoice:
    """The invoice the link opens, or :class:`PageGone`."""
    try:
        uuid = UUID(invoice_id)
    except ValueError:
        raise PageGone(404) from None
    if not ctx.runtime.links.valid(uuid, token):
        raise PageGone(404)
    try:
        invoice = ctx.app.get_invoice(uuid)
    except NotFound:
        raise PageGone(404) from None
    grace = timedelta(days=ctx.runtime.settings.link_grace_days)
    if not page_is_open(invoice, grace, ctx.now()):
        raise PageGone(410)
    return invoice


def _policy(ctx: Context) -> str:
    """The strict page policy, with forms also allowed to lead to the gateway (pay online
    answers with a redirect there, and a browser checks ``form-action`` on redirects too)."""
    gateway = urlsplit(ctx.runtime.settings.gateway_url)
    return PAGE_POLICY.decode().replace(
        "form-action 'self'", f"form-action 'self' {gateway.scheme}://{gateway.netloc}"
    )


def _html(ctx: Context, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        body,
        status_code=status,
        headers={"Content-Security-Policy": _policy(ctx), "Cache-Control": "no-store"},
    )


def gone_page(ctx: Context, status: int) -> HTMLResponse:
    if status == 410:
        title = "این پیوند دیگر باز نمی‌شود"
        line = (
            "این صورتحساب تسویه یا باطل شده و مهلت نمایش آن گذشته است. "
            "صورتحساب‌های خود را در پنل کاربری ببینید."
        )
    else:
        title = "صورتحساب پیدا نشد"
        line = "این پیوند درست نیست یا کامل کپی نشده است. پیوند را از آخرین پیام ما باز کنید."
    settings = ctx.runtime.settings
    body = _env.get_template("invoice_page.html.j2").render(
        title=title, gone=line, portal=settings.portal_name, support_email=settings.support_email
    )
    return _html(ctx, body, status)


def page(
    request: Request,
    invoice: Invoice,
    *,
    result: Result | None = None,
    return_url: str | None = None,
    done: str | None = None,
    error: BillingError | None = None,
) -> HTMLResponse:
    """The invoice page of ``invoice`` (whose link was checked), with what just happened."""
    ctx = _ctx(request)
    links, settings, now = ctx.runtime.links, ctx.runtime.settings, ctx.now()
    customer = ctx.app.get_customer(invoice.customer_id)
    subscription = ctx.app.get_subscription(invoice.subscription_id)
    cookie = request.cookies.get(COOKIE) or secrets.token_urlsafe(24)
    minimum = ctx.runtime.gateway.minimum
    requests_ = list(invoice.offline_requests.values())
    organisation = customer.profile.kind is CustomerKind.LEGAL
    items = [
        f"درخواست {JalaliDate.of(r.requested_at).persian()}: {REQUEST_FA[r.status]}"
        + (f" ({r.decision})" if r.decision and r.status is RequestStatus.REJECTED else "")
        for r in requests_
    ] + [
        f"رسید {BANKS[r.bank].name_fa if r.bank in BANKS else r.bank}، شمارهٔ پیگیری "
        f"\u2066{r.tracking_number}\u2069، {persian_amount(r.amount)} ریال: {RECEIPT_FA[r.status]}"
        for r in invoice.receipts.values()
    ]
    standing = {r.status for r in requests_}
    values = {
        "title": f"صورتحساب {invoice.id.hex[:8]}",
        "gone": None,
        "portal": settings.portal_name,
        "support_email": settings.support_email,
        "number": str(invoice.id)[:8],
        "customer_name": customer.profile.name,
        "site": subscription.site,
        "period_start": invoice.period_start.persian(),
        "period_end": invoice.period_end.persian(),
        "status": invoice.status.value,
        "status_fa": status_fa(invoice, now),
        "result": result,
        "return_url": return_url,
        "done": DONE.get(done or ""),
        "error": REFUSALS.get(error.code, "درخواست انجام نشد.") if error else None,
        "error_detail": error.message if error else None,
        "lines": invoice.lines,
        "vat": invoice.vat,
        "total": invoice.total,
        "paid": invoice.paid,
        "balance": invoice.balance.rials,
        "deadline": JalaliDate.of(invoice.deadline).long_persian(),
        "pdf_href": f"/pay/{invoice.id}/invoice.pdf?t={links.token(invoice.id)}",
        "payable": invoice.is_open,
        "online": invoice.balance.rials >= minimum,
        "online_note": f"مانده کمتر از حداقل مبلغ درگاه ({persian_amount(minimum)} ریال) است؛ "
        "آن را با صورتحساب بعدی یا با واریز بانکی بپردازید.",
        "online_action": f"/pay/{invoice.id}/online?t={links.token(invoice.id)}",
        "request_action": f"/pay/{invoice.id}/offline-request?t={links.token(invoice.id)}",
        "receipt_action": f"/pay/{invoice.id}/receipt?t={links.token(invoice.id)}",
        "csrf": links.form_token(invoice.id, cookie),
        "organisation": organisation,
        "offline_items": items,
        "may_request": organisation
        and invoice.is_open
        and not standing & {RequestStatus.PENDING, RequestStatus.APPROVED},
        "may_register": organisation and invoice.is_open and RequestStatus.APPROVED in standing,
        "banks": [bank for bank in BANKS.values() if bank.merged_into is None],
    }
    status = 200 if error is None else _status_of(error)
    response = _html(ctx, _env.get_template("invoice_page.html.j2").render(**values), status)
    if request.cookies.get(COOKIE) != cookie:
        response.set_cookie(
            COOKIE,
            cookie,
            path="/pay",
            httponly=True,
            samesite="lax",
            secure=settings.public_url.startswith("https://"),
        )
    return response


def callback_page(request: Request, outcome: Any) -> Response | None:
    """Where the gateway's callback lands a browser: the invoice's page with the outcome, and
    the portal's return link when the payment link was made with one; None when the page is
    closed (the callback then answers its short page)."""
    ctx = _ctx(request)
    invoice = ctx.app.get_invoice(outcome.invoice_id)
    grace = timedelta(days=ctx.runtime.settings.link_grace_days)
    if not page_is_open(invoice, grace, ctx.now()):
        return None
    return page(
        request,
        invoice,
        result=result_of(outcome.status, outcome.amount, outcome.ref_id),
        return_url=ctx.runtime.return_urls.get(outcome.authority),
    )


def _customer_actor(ctx: Context, invoice: Invoice) -> Actor:
    """Who acts through the page: the invoice's customer (the link is theirs)."""
    return Actor(ActorKind.CUSTOMER, id=str(invoice.customer_id), role="customer")


@router.get("/pay/{invoice_id}", response_class=HTMLResponse)
def invoice_page(request: Request, invoice_id: str, t: str | None = None) -> Response:
    ctx = _ctx(request)
    try:
        invoice = opened(ctx, invoice_id, t)
    except PageGone as gone:
        return gone_page(ctx, gone.status)
    return page(request, invoice, done=request.query_params.get("done"))


@router.get("/pay/{invoice_id}/invoice.pdf")
def invoice_pdf(request: Request, invoice_id: str, t: str | None = None) -> Response:
    ctx = _ctx(request)
    try:
        invoice = opened(ctx, invoice_id, t)
    except PageGone as gone:
        return gone_page(ctx, gone.status)
    profile = ctx.app.get_customer(invoice.customer_id).profile
    seller = ctx.app.seller.party.name if ctx.app.seller else ctx.runtime.settings.portal_name
    content = ctx.runtime.documents.plain_pdf(invoice, profile, seller)
    return Response(
        content,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="invoice-{invoice.id}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )


async def _posted(request: Request, invoice_id: str) -> tuple[Invoice, Any] | Response:
    """The invoice of a page POST and its form, or the answer that refuses it: a bad link
    (404/410) or a form that did not come from the page (403)."""
    ctx = _ctx(request)
    try:
        invoice = await run_in_threadpool(opened, ctx, invoice_id, request.query_params.get("t"))
    except PageGone as gone:
        return gone_page(ctx, gone.status)
    form = await request.form(max_files=1, max_fields=20)
    field = form.get("csrf")
    if not ctx.runtime.links.form_valid(
        invoice.id, request.cookies.get(COOKIE), field if isinstance(field, str) else None
    ):
        body = _env.get_template("invoice_page.html.j2").render(
            title="فرم پذیرفته نشد",
            gone="این فرم از صفحهٔ صورتحساب در همین مرورگر فرستاده نشده است. صفحه را دوباره باز کنید و دوباره بفرستید.",
            portal=ctx.runtime.settings.portal_name,
            support_email=ctx.runtime.settings.support_email,
        )
        return _html(ctx, body, 403)
    return invoice, form


def _back(ctx: Context, invoice: Invoice, done: str) -> RedirectResponse:
    return RedirectResponse(f"{ctx.runtime.links.path(invoice.id)}&done={done}", status_code=303)


@router.post("/pay/{invoice_id}/online")
async def pay_online(request: Request, invoice_id: str) -> Response:
    posted = await _posted(request, invoice_id)
    if isinstance(posted, Response):
        return posted
    invoice, _ = posted
    ctx = _ctx(request)

    def pay() -> Response:
        link = ctx.runtime.payments.create_link(
            invoice.id, by=_customer_actor(ctx, invoice), reuse=True
        )
        return RedirectResponse(link.url, status_code=303)

    return await _answer(request, ctx, invoice, pay)


@router.post("/pay/{invoice_id}/offline-request")
async def request_offline(request: Request, invoice_id: str) -> Response:
    posted = await _posted(request, invoice_id)
    if isinstance(posted, Response):
        return posted
    invoice, form = posted
    ctx = _ctx(request)

    def ask() -> Response:
        reason = text.multiline_text(_text(form, "reason"), "reason")
        ctx.app.acting(_customer_actor(ctx, invoice)).request_offline_payment(
            invoice.id, reason, ctx.now()
        )
        return _back(ctx, invoice, "offline")

    return await _answer(request, ctx, invoice, ask)


@router.post("/pay/{invoice_id}/receipt")
async def register_receipt(request: Request, invoice_id: str) -> Response:
    posted = await _posted(request, invoice_id)
    if isinstance(posted, Response):
        return posted
    invoice, form = posted
    ctx = _ctx(request)
    scan = form.get("scan")
    data = None
    if isinstance(scan, UploadFile) and scan.filename:
        data = await scan.read(ctx.runtime.scans.max_bytes + 1)

    def register() -> Response:
        amount_text = text.identifier(_text(form, "amount"), "amount", max_length=20)
        amount_text = amount_text.replace(",", "").replace("٬", "")
        if not amount_text.isdigit():
            raise InvalidInput(
                f"amount must be a whole number of rials (got {amount_text!r}).",
                field="amount",
            )
        scan_hash = ctx.runtime.scans.put(data, field="scan") if data is not None else None
        ctx.app.acting(_customer_actor(ctx, invoice)).register_receipt(
            invoice.id,
            bank=text.identifier(_text(form, "bank"), "bank", max_length=100),
            tracking_number=_text(form, "tracking_number"),
            amount=int(amount_text),
            paid_on=text.identifier(_text(form, "paid_on"), "paid_on", max_length=10),
            now=ctx.now(),
            scan_hash=scan_hash,
        )
        return _back(ctx, invoice, "receipt")

    return await _answer(request, ctx, invoice, register)


async def _answer(
    request: Request, ctx: Context, invoice: Invoice, act: Callable[[], Response]
) -> Response:
    """Run what a form asks (in the thread pool: it writes to the store); a refusal shows the
    page again with the reason, having recorded nothing."""

    def go() -> Response:
        try:
            return act()
        except BillingError as refused:
            return page(request, ctx.app.get_invoice(invoice.id), error=refused)

    return await run_in_threadpool(go)


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    if not isinstance(value, str):
        raise InvalidInput(f"{name} is missing.", field=name)
    return value


@router.get("/fonts/{name}")
def font(name: str) -> Response:
    """The page's font, served by the engine (the CSP allows fonts from here only)."""
    if name not in FONTS:
        return Response(status_code=404)
    return FileResponse(
        ensure_fonts() / name,
        media_type="font/ttf",
        headers={"Cache-Control": "public, max-age=86400"},
    )
