"""The subscription page of the back office: ``/office/subscriptions/{id}`` (docs/BACKOFFICE.md,
"Subscription").

What the page shows, all from the stored events and the same functions as the API's audit routes:
the state now and its next step (``lifecycle_of``), the timeline with each event's actor
(``service_layer.timeline``), ``explain`` (``service_layer.audit``), its invoices; and **as of**
a Jalali moment typed as ``1405/02/14 09:00`` (Tehran time, any digits,
``domain.jalali.parse_moment``): the state and the explanation folded from the events recorded
by then (``describe_as_of``, ``explain``), and the timeline up to it.

Finance's actions (hold until a Jalali moment, lift the hold, void an invoice, change the plan)
are each two POSTs: the first checks the input and answers a confirmation naming exactly what
will happen; only the second, carrying ``confirm=1`` and the same fields, runs the command as
the signed-in person (``ctx.app_for``), who is recorded as its actor. Each checks the API's own
permission (``api/permissions.py``); a person without it sees no form and is refused 403.
With htmx the answer replaces the page's main part and the focus moves to its first
``[data-focus]``; without JavaScript the forms work as plain forms (the result is a redirect
back to the page, ``?done=<action>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup, escape

from api.backoffice.render import fa, ident, is_htmx, render, rials, when
from api.backoffice.session import OfficeForbidden, SessionDep, StaffSession
from api.context import Context, ContextDep
from api.permissions import (
    CHANGE_PLANS,
    LIFT_HOLDS,
    PLACE_HOLDS,
    READ_AUDIT,
    VOID_INVOICES,
    Permission,
)
from domain.errors import BillingError, InvalidInput, NotFound
from domain.invoice import Invoice
from domain.jalali import JalaliDate, format_moment, parse_moment
from domain.money import Money
from domain.plan_changes import When, default_when, proration_of
from domain.plans import Period
from domain.subscription import Subscription
from domain.text import multiline_text
from presentation.explain_text import status_words, step_words
from presentation.words import period_fa
from service_layer.audit import describe_as_of, explain
from service_layer.finance_actions import VoidOutcome
from service_layer.timeline import timeline, who_of, words_of

router = APIRouter(prefix="/office/subscriptions", include_in_schema=False)

SITE_FA = {"up": "در دسترس", "suspended": "معلق", "collected": "جمع‌آوری‌شده", "removed": "حذف‌شده"}
INVOICE_FA = {"open": "پرداخت‌نشده", "paid": "تسویه‌شده", "void": "باطل‌شده"}
PERIODS = tuple(p.value for p in Period)

#: What the page says after an action (``?done=`` names one; nothing a person typed is echoed).
DONE = {
    "hold": "توقف پیگیری ثبت شد و به مشتری اطلاع داده شد.",
    "lift": "توقف پیگیری برداشته شد؛ پیگیری بدهی از همین لحظه ادامه می‌یابد.",
    "void": "صورتحساب باطل شد.",
    "void-proposed": "ابطال پیشنهاد شد. طبق قاعدهٔ چهارچشم، کارمند مالی دیگری باید آن را تأیید کند.",
    "plan": "تغییر طرح ثبت شد؛ از دورهٔ بعد اعمال می‌شود.",
    "plan-now": "طرح تازه همین حالا اعمال شد و صورتحساب مابه‌التفاوت صادر شد.",
}

Field = Annotated[str, Form()]

#: A refusal in Persian, by the engine's stable code (the engine's English message is shown
#: beside it); ``invalid_input`` by the field it names.
REFUSED_FA = {
    "hold_refused": "توقف پیگیری پذیرفته نشد.",
    "four_eyes_required": "طبق قاعدهٔ چهارچشم، ابطالی را که خودتان پیشنهاد کرده‌اید کارمند دیگری باید تأیید کند.",
    "invoice_not_payable": "این صورتحساب دیگر باز نیست (پرداخت یا باطل شده است).",
    "plan_change_refused": "تا وقتی صورتحسابی سررسیدگذشته است، طرح تغییر نمی‌کند؛ ابتدا بدهی پرداخت شود.",
    "subscription_not_active": "این اشتراک لغو شده است و طرح آن تغییر نمی‌کند.",
    "subscription_collected": "این اشتراک جمع‌آوری شده است و تغییری نمی‌پذیرد.",
    "plan_not_found": "این طرح در فهرست طرح‌های قابل سفارش نیست.",
    "not_found": "پیدا نشد.",
    "invoice_not_found": "این صورتحساب پیدا نشد.",
}
FIELD_FA = {
    "reason": "دلیل را بنویسید (حداکثر ۵۰۰ نویسه، بدون نویسه‌های کنترلی).",
    "until": "پایان توقف را به شکل «۱۴۰۵/۰۳/۰۱ ۰۹:۰۰» و در آینده بنویسید.",
    "plan_id": "یکی از طرح‌های فهرست را انتخاب کنید.",
    "period": "دوره را انتخاب کنید: ماهانه، سه‌ماهه یا سالانه.",
}


def refusal_fa(error: BillingError) -> str:
    """What a refusal means, in Persian, for the person who asked."""
    if isinstance(error, InvalidInput):
        return FIELD_FA.get(str(error.details.get("field", "")), "ورودی پذیرفته نشد.")
    return REFUSED_FA.get(error.code, "موتور صورتحساب این کار را نپذیرفت.")


def _swapped(request: Request) -> bool:
    """An htmx request that swaps the main part; a history restore (the back button, with no
    page cached) wants the whole page."""
    return is_htmx(request) and request.headers.get("HX-History-Restore-Request") != "true"


def _require(permission: Permission, session: StaffSession) -> None:
    """The API's own permission, refused as a page (403) rather than problem+json."""
    if not permission.allows(session.principal):
        raise OfficeForbidden(permission.action)


# --- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AsOf:
    """What the *as of* form asked for and what it found."""

    text: str
    at: datetime | None = None
    error: str = ""
    state: dict[str, Any] | None = None
    explanation: tuple[str, ...] = ()


def _as_of(ctx: Context, subscription_id: UUID, text: str, now: datetime) -> AsOf:
    if not text.strip():
        return AsOf("")
    try:
        at = parse_moment(text)
    except ValueError:
        return AsOf(
            text, error="زمان را به شکل «۱۴۰۵/۰۲/۱۴ ۰۹:۰۰» بنویسید (تاریخ شمسی و ساعت تهران)."
        )
    if at > now:
        return AsOf(text, at, error="این زمان هنوز نرسیده است؛ زمانی در گذشته را بنویسید.")
    try:
        state = describe_as_of(ctx.app, subscription_id, at)
    except NotFound:
        return AsOf(text, at, error="این اشتراک در آن زمان هنوز ثبت نشده بود.")
    lines = explain(ctx.app, subscription_id, at).persian.split("\n")
    return AsOf(text, at, state=state, explanation=tuple(lines))


def _invoice_rows(ctx: Context, sub: Subscription) -> list[dict[str, Any]]:
    app, rows = ctx.app, []
    for invoice_id in sub.invoice_ids:
        inv: Invoice = app.get_invoice(invoice_id)
        proposal = inv.void_proposal
        rows.append(
            {
                "id": inv.id,
                "period_no": inv.period_no,
                "status": inv.status.value,
                "total": inv.total,
                "balance": inv.balance,
                "deadline": inv.deadline,
                "open": inv.is_open,
                "needs_two": app.four_eyes.void_needs_two(inv.total),
                "proposal": proposal,
                "proposed_by": (
                    who_of_actor(app.recorded_by(inv.id, Invoice.VoidProposed)) if proposal else ""
                ),
            }
        )
    return rows


def who_of_actor(actor: Any) -> str:
    from presentation.actors import who

    return who(actor).persian


def _values(
    ctx: Context,
    session: StaffSession,
    subscription_id: UUID,
    *,
    at_text: str = "",
    done: str = "",
) -> dict[str, Any]:
    """Everything the page shows (a NotFound for an id that names no subscription)."""
    app, now = ctx.app, ctx.now()
    life = app.lifecycle_of(subscription_id)  # NotFound: no subscription has that id
    sub = life.subscription
    as_of = _as_of(ctx, subscription_id, at_text, now)
    entries = [
        {
            "at": e.recorded_at,
            "due_at": e.due_at,
            "what": words_of(e).persian,
            "by": who_of(e).persian,
            "kind": e.actor.kind.value,
            "after": as_of.at is not None and e.recorded_at > as_of.at,
        }
        for e in timeline(app, subscription_id)
    ]
    step = life.next_step()
    return {
        "sub": sub,
        "customer": life.customer,
        "status_fa": status_words(sub.status).persian,
        "site_fa": SITE_FA.get(sub.site_state.value, sub.site_state.value),
        "period_fa": period_fa(sub.period.value),
        "step": step,
        "step_fa": step_words(step.step).persian if step else "",
        "hold": sub.hold,
        "pending_plan": sub.pending_change,
        "invoices": _invoice_rows(ctx, sub),
        "explanation": explain(app, subscription_id, now).persian.split("\n"),
        "entries": entries,
        "as_of": as_of,
        "as_of_status_fa": (status_words(as_of.state["status"]).persian if as_of.state else ""),
        "as_of_site_fa": SITE_FA.get(as_of.state["site_state"], "") if as_of.state else "",
        "as_of_step_fa": (
            step_words(as_of.state["next_step"]["action"]).persian
            if as_of.state and as_of.state["next_step"]
            else ""
        ),
        "plans": app.plans(),
        "periods": [(p, period_fa(p)) for p in PERIODS],
        "done": DONE.get(done, ""),
        "now": now,
        "today": JalaliDate.of(now).isoformat(),
        "invoice_fa": INVOICE_FA,
        "refused": None,
    }


def _page(
    request: Request,
    ctx: Context,
    session: StaffSession,
    subscription_id: UUID,
    *,
    status: int = 200,
    **extra: Any,
) -> Response:
    try:
        values = _values(
            ctx,
            session,
            subscription_id,
            at_text=extra.pop("at_text", ""),
            done=extra.pop("done", ""),
        )
    except NotFound:
        return render(
            request,
            session,
            "refused.html.j2",
            title="اشتراک پیدا نشد",
            message="اشتراکی با این شناسه ثبت نشده است.",
            status=404,
        )
    template = "subscription_main.html.j2" if _swapped(request) else "subscription.html.j2"
    return render(
        request,
        session,
        template,
        title=f"اشتراک {values['sub'].site}",
        nav="search",
        status=status,
        **(values | extra),
    )


@router.get("/{subscription_id}")
def subscription_page(
    subscription_id: UUID,
    request: Request,
    session: SessionDep,
    ctx: ContextDep,
    at: str = "",
    done: str = "",
) -> Response:
    _require(READ_AUDIT, session)
    return _page(request, ctx, session, subscription_id, at_text=at[:40], done=done)


# --- acting: check, confirm, act ----------------------------------------------------------------


@dataclass(frozen=True)
class Proposed:
    """An action checked and waiting for its confirmation: what the confirmation says and the
    fields the confirming form posts again."""

    name: str  # hold, lift, void, plan
    title: str
    path: str
    fields: dict[str, str]
    facts: tuple[tuple[str, Any], ...]
    warning: str = ""

    def shown(self) -> list[tuple[str, Markup]]:
        """Each fact as the page writes it: a moment in Jalali, an amount in rials, a number in
        Persian digits, text escaped."""
        return [(label, _shown(value)) for label, value in self.facts]


def _shown(value: Any) -> Markup:
    if value is None:
        return Markup("—")
    if isinstance(value, datetime):
        return when(value)
    if isinstance(value, Money):
        return rials(value)
    if isinstance(value, int):
        return ident(value)
    return escape(value)


def _reason(text: str) -> str:
    return multiline_text(text, "reason", max_length=500)


def _refused(
    request: Request,
    ctx: Context,
    session: StaffSession,
    subscription_id: UUID,
    error: BillingError,
    action: str,
) -> Response:
    status = 422 if isinstance(error, InvalidInput) else 404 if isinstance(error, NotFound) else 409
    return _page(
        request,
        ctx,
        session,
        subscription_id,
        status=status,
        refused={
            "action": action,
            "code": error.code,
            "message": error.message,
            "persian": refusal_fa(error),
        },
    )


def _confirm(
    request: Request, ctx: Context, session: StaffSession, subscription_id: UUID, proposed: Proposed
) -> Response:
    template = "subscription_confirm.html.j2"
    if not _swapped(request):
        template = "subscription_confirm_page.html.j2"
    sub = ctx.app.get_subscription(subscription_id)
    return render(
        request,
        session,
        template,
        title=f"تأیید: {proposed.title}",
        nav="search",
        sub=sub,
        proposed=proposed,
    )


def _acted(
    request: Request, ctx: Context, session: StaffSession, subscription_id: UUID, done: str
) -> Response:
    if is_htmx(request):
        return _page(request, ctx, session, subscription_id, done=done)
    return RedirectResponse(f"/office/subscriptions/{subscription_id}?done={done}", status_code=303)


def _until(text: str) -> datetime:
    try:
        return parse_moment(text)
    except ValueError:
        raise InvalidInput(
            "The hold's end is a Jalali date and time like 1405/03/01 09:00 (Tehran).",
            field="until",
        ) from None


@router.post("/{subscription_id}/hold")
def place_hold(
    subscription_id: UUID,
    request: Request,
    session: SessionDep,
    ctx: ContextDep,
    until: Field = "",
    reason: Field = "",
    confirm: Field = "",
) -> Response:
    _require(PLACE_HOLDS, session)
    try:
        moment, why = _until(until), _reason(reason)
        if moment <= ctx.now():
            raise InvalidInput("A hold must end in the future.", field="until")
        if confirm != "1":
            return _confirm(
                request,
                ctx,
                session,
                subscription_id,
                Proposed(
                    "hold",
                    "توقف پیگیری بدهی",
                    f"/office/subscriptions/{subscription_id}/hold",
                    {"until": format_moment(moment), "reason": why},
                    (("تا", moment), ("دلیل", why)),
                    "تا این زمان وب‌سایت تعلیق یا جمع‌آوری نمی‌شود و به مشتری اطلاع داده می‌شود.",
                ),
            )
        ctx.app_for(session.principal).place_hold(subscription_id, why, moment, ctx.now())
    except BillingError as error:
        return _refused(request, ctx, session, subscription_id, error, "hold")
    return _acted(request, ctx, session, subscription_id, "hold")


@router.post("/{subscription_id}/hold/lift")
def lift_hold(
    subscription_id: UUID,
    request: Request,
    session: SessionDep,
    ctx: ContextDep,
    reason: Field = "",
    confirm: Field = "",
) -> Response:
    _require(LIFT_HOLDS, session)
    try:
        why = _reason(reason)
        if confirm != "1":
            hold = ctx.app.get_subscription(subscription_id).hold
            return _confirm(
                request,
                ctx,
                session,
                subscription_id,
                Proposed(
                    "lift",
                    "برداشتن توقف پیگیری",
                    f"/office/subscriptions/{subscription_id}/hold/lift",
                    {"reason": why},
                    (("توقف تا", hold.until if hold else None), ("دلیل", why)),
                    "پیگیری بدهی از همین لحظه ادامه می‌یابد؛ اگر مهلتی گذشته باشد، گام‌های عقب‌افتاده "
                    "بی‌درنگ اجرا می‌شوند.",
                ),
            )
        ctx.app_for(session.principal).lift_hold(subscription_id, why, ctx.now())
    except BillingError as error:
        return _refused(request, ctx, session, subscription_id, error, "lift")
    return _acted(request, ctx, session, subscription_id, "lift")


@router.post("/{subscription_id}/invoices/{invoice_id}/void")
def void_invoice(
    subscription_id: UUID,
    invoice_id: UUID,
    request: Request,
    session: SessionDep,
    ctx: ContextDep,
    reason: Field = "",
    confirm: Field = "",
) -> Response:
    _require(VOID_INVOICES, session)
    app = ctx.app
    try:
        inv = app.get_invoice(invoice_id)
        if inv.subscription_id != subscription_id:
            raise NotFound(f"Invoice {invoice_id} is not one of this subscription's.")
        why = _reason(reason)
        if confirm != "1":
            needs_two = app.four_eyes.void_needs_two(inv.total)
            if needs_two and inv.void_proposal is None:
                warning = (
                    "طبق قاعدهٔ چهارچشم این ابطال فقط «پیشنهاد» می‌شود؛ صورتحساب تا تأیید "
                    "کارمند مالی دیگری باطل نمی‌شود."
                )
            elif needs_two:
                warning = "این ابطال پیشنهاد شده است؛ تأیید شما (نفر دوم) صورتحساب را باطل می‌کند."
            else:
                warning = "صورتحساب باطل می‌شود و آنچه پرداخت شده به اعتبار مشتری برمی‌گردد."
            return _confirm(
                request,
                ctx,
                session,
                subscription_id,
                Proposed(
                    "void",
                    "ابطال صورتحساب",
                    f"/office/subscriptions/{subscription_id}/invoices/{invoice_id}/void",
                    {"reason": why},
                    (
                        ("صورتحساب دورهٔ", inv.period_no),
                        ("مبلغ کل (ریال)", inv.total),
                        ("مانده (ریال)", inv.balance),
                        ("دلیل", why),
                    ),
                    warning,
                ),
            )
        outcome = ctx.app_for(session.principal).void_invoice(invoice_id, why, ctx.now())
    except BillingError as error:
        return _refused(request, ctx, session, subscription_id, error, "void")
    done = "void-proposed" if outcome is VoidOutcome.PROPOSED else "void"
    return _acted(request, ctx, session, subscription_id, done)


@router.post("/{subscription_id}/plan")
def change_plan(
    subscription_id: UUID,
    request: Request,
    session: SessionDep,
    ctx: ContextDep,
    plan_id: Field = "",
    period: Field = "",
    taking_effect: Annotated[str, Form(alias="when")] = "",
    confirm: Field = "",
) -> Response:
    _require(CHANGE_PLANS, session)
    app = ctx.app
    try:
        plans = {p.id: p for p in app.plans()}
        plan = plans.get(plan_id)
        if plan is None:
            raise InvalidInput("Choose one of the plans that can be ordered.", field="plan_id")
        if period not in PERIODS:
            raise InvalidInput("Choose a period: monthly, quarterly or yearly.", field="period")
        asked = When.parse(taking_effect or None)
        if confirm != "1":
            sub = app.get_subscription(subscription_id)
            now = ctx.now()
            taking = asked or default_when(sub, plan, Period(period), now)
            facts: tuple[tuple[str, object], ...] = (
                ("طرح کنونی", f"{sub.plan.name} ({period_fa(sub.period.value)})"),
                ("طرح تازه", f"{plan.name} ({period_fa(period)})"),
                ("بهای هر دوره (ریال)", plan.price(Period(period))),
            )
            if taking is When.NOW:
                change = proration_of(sub, plan, Period(period), now)
                facts += (
                    ("اعمال", "همین حالا"),
                    ("روزهای باقی‌ماندهٔ دوره", fa(f"{change.days_left} از {change.days_total}")),
                    ("مابه‌التفاوت پیش از مالیات (ریال)", change.net),
                )
                consequence = (
                    "طرح تازه همین حالا اعمال می‌شود و برای روزهای باقی‌ماندهٔ دوره صورتحساب "
                    "مابه‌التفاوت صادر می‌شود (اگر ارتقا نباشد، پذیرفته نمی‌شود)."
                )
            else:
                facts += (("از دورهٔ", sub.current_period.number + 1),)
                consequence = "طرح تازه از دورهٔ بعد اعمال می‌شود؛ صورتحساب دورهٔ کنونی تغییر نمی‌کند."
            return _confirm(
                request,
                ctx,
                session,
                subscription_id,
                Proposed(
                    "plan",
                    "تغییر طرح",
                    f"/office/subscriptions/{subscription_id}/plan",
                    {"plan_id": plan.id, "period": period, "when": taking.value},
                    facts,
                    consequence,
                ),
            )
        taken = ctx.app_for(session.principal).change_plan(
            subscription_id, plan.id, ctx.now(), period=period, when=asked
        )
    except BillingError as error:
        return _refused(request, ctx, session, subscription_id, error, "plan")
    return _acted(
        request, ctx, session, subscription_id, "plan-now" if taken is When.NOW else "plan"
    )
