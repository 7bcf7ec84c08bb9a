"""Audit replay: any aggregate's state as of a past moment, and why a site is in its state.

Both are computed from the stored events (never from a read model): the state as of a moment
is the fold of the events recorded up to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from domain import lifecycle
from domain.base import Notice, NoticeKind, check_moment
from domain.customer import Customer
from domain.errors import NotFound
from domain.invoice import Invoice
from domain.jalali import format_moment, to_persian_digits
from domain.payment import Payment
from domain.subscription import Subscription, SubscriptionStatus
from service_layer.timeline import iso


def state_as_of(app: Any, aggregate_id: UUID, at: datetime) -> Any:
    """The aggregate as the events recorded up to ``at`` made it."""
    at = check_moment(at)
    aggregate = None
    first: datetime | None = None
    for event in app.events.get(aggregate_id):
        first = first or event.timestamp
        if event.timestamp > at:
            break
        aggregate = event.mutate(aggregate)
    if aggregate is None:
        if first is None:
            raise NotFound(
                f"No events are stored for {aggregate_id}. Check the id and the database."
            )
        raise NotFound(
            f"{aggregate_id} did not exist yet at {iso(at)}: its first event was recorded at {iso(first)}."
        )
    return aggregate


def _invoice_summary(inv: Invoice) -> dict[str, Any]:
    return {
        "invoice_id": str(inv.id),
        "period_no": inv.period_no,
        "kind": inv.kind.value,
        "status": inv.status.value,
        "issued_at": iso(inv.issued_at),
        "deadline": iso(inv.deadline),
        "total": inv.total.rials,
        "paid": inv.paid.rials,
        "balance": inv.balance.rials,
        "voided_at": iso(inv.voided_at),
        "notices": [_notice(n) for n in inv.notices],
    }


def _notice(n: Notice) -> dict[str, Any]:
    return {
        "kind": n.kind.value,
        "number": n.number,
        "recorded_at": iso(n.recorded_at),
        "due_at": iso(n.due_at),
    }


def describe_as_of(app: Any, aggregate_id: UUID, at: datetime) -> dict[str, Any]:
    """A JSON-ready account of the aggregate at ``at`` (a subscription with its invoices)."""
    agg = state_as_of(app, aggregate_id, at)
    base = {
        "aggregate": type(agg).__name__,
        "id": str(agg.id),
        "version": agg.version,
        "as_of": iso(at),
    }
    if isinstance(agg, Subscription):
        invoices = {}
        for invoice_id in agg.invoice_ids:
            try:
                invoices[invoice_id] = state_as_of(app, invoice_id, at)
            except NotFound:
                continue  # issued after `at`
        open_ = {i: inv for i, inv in invoices.items() if inv.is_open}
        step = lifecycle.next_step(agg, open_, agg.plan.policy)
        current = agg.current_period
        return base | {
            "status": agg.status.value,
            "site_state": agg.site_state.value,
            "plan_id": agg.plan.id,
            "period": agg.period.value,
            "current_period": {
                "number": current.number,
                "start": current.start.isoformat(),
                "last_day": current.last_day.isoformat(),
            },
            "grace_started": {str(k): iso(v) for k, v in agg.grace_started.items()},
            "suspended_at": iso(agg.suspension.suspended_at) if agg.suspension else None,
            "cancelled_at": iso(agg.cancelled_at),
            "collected_at": iso(agg.collected_at),
            "amount_due": lifecycle.amount_due(agg, open_).rials,
            "next_step": {"action": step.step.value, "at": iso(step.due_at)} if step else None,
            "invoices": [_invoice_summary(inv) for inv in invoices.values()],
            "notices": [_notice(n) for n in agg.notices],
        }
    if isinstance(agg, Invoice):
        return base | _invoice_summary(agg) | {"subscription_id": str(agg.subscription_id)}
    if isinstance(agg, Customer):
        return base | {"profile": agg.profile.to_dict(), "credit": agg.credit.rials}
    if isinstance(agg, Payment):
        return base | {
            "reference": agg.reference,
            "amount": agg.amount.rials,
            "method": agg.method,
            "subscription_id": str(agg.subscription_id),
            "received_at": iso(agg.received_at),
        }
    return base


# --- explain ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Explanation:
    english: str
    persian: str


def _rials_en(value: int) -> str:
    return f"{value:,} rials"


def _rials_fa(value: int) -> str:
    return to_persian_digits(f"{value:,}".replace(",", "٬")) + " ریال"


def _en(moment: datetime | None) -> str:
    return f"{format_moment(moment)} ({iso(moment)})" if moment else "?"


def _fa(moment: datetime | None) -> str:
    return format_moment(moment, persian_digits=True) if moment else "?"


_NOTICE_EN = {
    NoticeKind.INVOICE_ISSUED: "invoice sent",
    NoticeKind.PAYMENT_REMINDER: "payment reminder",
    NoticeKind.GRACE_STARTED: "deadline-passed notice",
    NoticeKind.SITE_SUSPENDED: "suspension notice",
    NoticeKind.COLLECTION_WARNING: "collection warning",
    NoticeKind.SITE_COLLECTED: "collection notice",
    NoticeKind.PAYMENT_RECEIVED: "payment receipt",
    NoticeKind.SITE_RESTORED: "restoration notice",
    NoticeKind.SUBSCRIPTION_ENDED: "contract-ended notice",
    NoticeKind.OFFLINE_APPROVED: "offline payment approved",
    NoticeKind.OFFLINE_REJECTED: "offline payment refused",
    NoticeKind.RECEIPT_REJECTED: "receipt rejected",
    NoticeKind.INVOICE_VOIDED: "invoice voided",
    NoticeKind.HOLD_ENDED: "hold ended",
}
_NOTICE_FA = {
    NoticeKind.INVOICE_ISSUED: "ارسال صورتحساب",
    NoticeKind.PAYMENT_REMINDER: "یادآوری پرداخت",
    NoticeKind.GRACE_STARTED: "اعلان گذشتن مهلت",
    NoticeKind.SITE_SUSPENDED: "اعلان تعلیق",
    NoticeKind.COLLECTION_WARNING: "هشدار جمع‌آوری",
    NoticeKind.SITE_COLLECTED: "اعلان جمع‌آوری",
    NoticeKind.PAYMENT_RECEIVED: "رسید پرداخت",
    NoticeKind.SITE_RESTORED: "اعلان بازگشایی",
    NoticeKind.SUBSCRIPTION_ENDED: "اعلان پایان قرارداد",
    NoticeKind.OFFLINE_APPROVED: "پذیرش پرداخت آفلاین",
    NoticeKind.OFFLINE_REJECTED: "رد پرداخت آفلاین",
    NoticeKind.RECEIPT_REJECTED: "رد رسید بانکی",
    NoticeKind.INVOICE_VOIDED: "ابطال صورتحساب",
    NoticeKind.HOLD_ENDED: "پایان توقف پیگیری",
}
_STEP_EN = {
    lifecycle.Step.RENEW: "the next period's invoice is issued",
    lifecycle.Step.END_HOLD: "finance's enforcement hold ends",
    lifecycle.Step.REMIND: "a payment reminder goes out",
    lifecycle.Step.START_GRACE: "the deadline passes and grace begins",
    lifecycle.Step.SUSPEND: "the site is suspended",
    lifecycle.Step.WARN: "a collection warning goes out",
    lifecycle.Step.COLLECT: "the site is collected (removed)",
    lifecycle.Step.END: "the cancelled contract ends and the site is removed",
}
_STEP_FA = {
    lifecycle.Step.RENEW: "صورتحساب دورهٔ بعد صادر می‌شود",
    lifecycle.Step.END_HOLD: "توقف پیگیری بدهی به پایان می‌رسد",
    lifecycle.Step.REMIND: "یادآوری پرداخت فرستاده می‌شود",
    lifecycle.Step.START_GRACE: "مهلت پرداخت می‌گذرد و دورهٔ ارفاق آغاز می‌شود",
    lifecycle.Step.SUSPEND: "وب‌سایت تعلیق می‌شود",
    lifecycle.Step.WARN: "هشدار جمع‌آوری فرستاده می‌شود",
    lifecycle.Step.COLLECT: "وب‌سایت جمع‌آوری (حذف) می‌شود",
    lifecycle.Step.END: "قرارداد لغوشده پایان می‌یابد و وب‌سایت حذف می‌شود",
}
_STATUS_EN = {
    SubscriptionStatus.ACTIVE: "active",
    SubscriptionStatus.GRACE: "in grace (an invoice is overdue; the site is still up)",
    SubscriptionStatus.SUSPENDED: "suspended",
    SubscriptionStatus.COLLECTED: "collected",
    SubscriptionStatus.CANCELLED: "cancelled",
}
_STATUS_FA = {
    SubscriptionStatus.ACTIVE: "فعال",
    SubscriptionStatus.GRACE: "در دورهٔ ارفاق",
    SubscriptionStatus.SUSPENDED: "معلق",
    SubscriptionStatus.COLLECTED: "جمع‌آوری‌شده",
    SubscriptionStatus.CANCELLED: "لغوشده",
}


def _notices_line(notices: list[Notice]) -> tuple[str, str]:
    if not notices:
        return "none", "هیچ"
    en = "; ".join(
        f"{_NOTICE_EN[n.kind]}{' #' + str(n.number) if n.number else ''} on {_en(n.recorded_at)}"
        for n in notices
    )
    fa = "؛ ".join(
        f"{_NOTICE_FA[n.kind]}{' ' + to_persian_digits(str(n.number)) if n.number else ''} در {_fa(n.recorded_at)}"
        for n in notices
    )
    return en, fa


def explain(
    app: Any,
    aggregate_id: UUID,
    at: datetime,
    *,
    subscriptions_of: Callable[[UUID], list[UUID]] | None = None,
) -> Explanation:
    """Why an aggregate is in its state at ``at``: a subscription (its site), an invoice, a
    customer (its subscriptions, one line each; ``subscriptions_of`` names them), a payment.
    An id with no events is :class:`NotFound`."""
    aggregate = state_as_of(app, aggregate_id, at)
    if isinstance(aggregate, Subscription):
        return _explain_subscription(app, aggregate, at)
    if isinstance(aggregate, Invoice):
        return _explain_invoice(app, aggregate, at)
    if isinstance(aggregate, Customer):
        ids = subscriptions_of(aggregate.id) if subscriptions_of is not None else []
        return _explain_customer(app, aggregate, at, ids)
    if isinstance(aggregate, Payment):
        return _explain_payment(aggregate, at)
    kind = type(aggregate).__name__
    return Explanation(
        f"{kind} {aggregate.id} has {aggregate.version} event(s) recorded by {_en(at)}; "
        f"`billing audit timeline {aggregate.id}` lists them.",
        f"{kind} {aggregate.id} تا {_fa(at)} {to_persian_digits(str(aggregate.version))} "
        "رویداد ثبت‌شده دارد؛ فهرست آن‌ها در تاریخچهٔ ممیزی است.",
    )


_INVOICE_STATUS_EN = {"open": "open", "paid": "paid in full", "void": "void"}
_INVOICE_STATUS_FA = {"open": "پرداخت‌نشده", "paid": "تسویه‌شده", "void": "باطل‌شده"}


def _explain_invoice(app: Any, inv: Invoice, at: datetime) -> Explanation:
    """An invoice: what it asks, what was paid and how, its deadline, and why it is open,
    paid or void."""
    short = str(inv.id)[:8]
    status = inv.status.value
    en = [
        f"Invoice {short} (period {inv.period_no}, {inv.kind.value}, subscription "
        f"{str(inv.subscription_id)[:8]}) is {_INVOICE_STATUS_EN[status]} at {_en(at)}: total "
        f"{_rials_en(inv.total.rials)}, paid {_rials_en(inv.paid.rials)}, still owed "
        f"{_rials_en(inv.balance.rials)}; deadline {_en(inv.deadline)}."
    ]
    fa = [
        f"صورتحساب {short} (دورهٔ {to_persian_digits(str(inv.period_no))}، اشتراک "
        f"{str(inv.subscription_id)[:8]}) در {_fa(at)} {_INVOICE_STATUS_FA[status]} است: مبلغ کل "
        f"{_rials_fa(inv.total.rials)}، پرداخت‌شده {_rials_fa(inv.paid.rials)}، مانده "
        f"{_rials_fa(inv.balance.rials)}؛ مهلت پرداخت {_fa(inv.deadline)}."
    ]
    if inv.settlements:
        en.append(
            "Paid by: "
            + "; ".join(
                f"{_rials_en(s.amount.rials)} ({s.method}, {s.reference}) on {_en(s.recorded_at)}"
                for s in inv.settlements
            )
            + "."
        )
        fa.append(
            "پرداخت‌ها: "
            + "؛ ".join(
                f"{_rials_fa(s.amount.rials)} ({s.reference}) در {_fa(s.recorded_at)}"
                for s in inv.settlements
            )
            + "."
        )
    approved = inv.approved_offline
    if approved is not None:
        en.append(
            f"Finance approved paying offline on {_en(approved.decided_at)}, which moved the "
            f"deadline to {_en(inv.deadline)}."
        )
        fa.append(
            f"بخش مالی در {_fa(approved.decided_at)} پرداخت آفلاین را پذیرفت و مهلت به "
            f"{_fa(inv.deadline)} رسید."
        )
    for receipt in inv.receipts_under_review():
        en.append(
            f"A bank receipt of {_rials_en(receipt.amount.rials)} (tracking number "
            f"{receipt.tracking_number}) waits for finance since {_en(receipt.registered_at)}."
        )
        fa.append(
            f"رسید بانکی {_rials_fa(receipt.amount.rials)} (شمارهٔ پیگیری "
            f"{receipt.tracking_number}) از {_fa(receipt.registered_at)} در انتظار بخش مالی است."
        )
    if status == "void":
        en.append(
            f"Why: it was voided on {_en(inv.voided_at)} ({inv.void_reason}); it is not owed."
        )
        fa.append(f"دلیل: در {_fa(inv.voided_at)} باطل شد ({inv.void_reason}) و بدهی‌ای نیست.")
    elif status == "paid":
        en.append(f"Why: the payments above settled it on {_en(inv.settled_at)}.")
        fa.append(f"دلیل: با پرداخت‌های بالا در {_fa(inv.settled_at)} تسویه شد.")
        if inv.official is not None:
            en.append(
                f"Official invoice {inv.official.number_text} (tax ID {inv.official.tax_id}) was "
                f"issued on {_en(inv.official.issued_at)}."
            )
            fa.append(
                f"صورتحساب رسمی {inv.official.number_text} (شناسهٔ مالیاتی {inv.official.tax_id}) "
                f"در {_fa(inv.official.issued_at)} صادر شد."
            )
    elif inv.deadline <= at:
        en.append(
            f"Why open: its deadline passed on {_en(inv.deadline)} and it is not paid in full."
        )
        fa.append(f"دلیل: مهلت آن در {_fa(inv.deadline)} گذشت و به‌طور کامل پرداخت نشده است.")
    else:
        en.append(f"It is not due yet: pay by {_en(inv.deadline)}.")
        fa.append(f"هنوز سررسید نشده است: تا {_fa(inv.deadline)} پرداخت شود.")
    line_en, line_fa = _notices_line(inv.notices)
    en.append(f"Notices about this invoice: {line_en}.")
    fa.append(f"اعلان‌های این صورتحساب: {line_fa}.")
    try:
        sub: Subscription = state_as_of(app, inv.subscription_id, at)
    except NotFound:
        sub = None  # type: ignore[assignment]
    if sub is not None:
        en.append(
            f"Its subscription {str(sub.id)[:8]} is {_STATUS_EN[sub.status]}; explain it for "
            "what happens to the site."
        )
        fa.append(f"اشتراک آن {str(sub.id)[:8]} {_STATUS_FA[sub.status]} است.")
    return Explanation("\n".join(en), "\n".join(fa))


def _explain_customer(
    app: Any, customer: Customer, at: datetime, subscription_ids: list[UUID]
) -> Explanation:
    """A customer: who, the credit held, and each subscription in one line."""
    profile = customer.profile
    en = [
        f"Customer {profile.name} ({profile.kind.value}, {str(customer.id)[:8]}) at {_en(at)}: "
        f"credit held {_rials_en(customer.credit.rials)}."
    ]
    fa = [
        f"مشتری {profile.name} ({str(customer.id)[:8]}) در {_fa(at)}: اعتبار "
        f"{_rials_fa(customer.credit.rials)}."
    ]
    lines = 0
    for subscription_id in subscription_ids:
        try:
            sub: Subscription = state_as_of(app, subscription_id, at)
        except NotFound:
            continue  # ordered after `at`
        invoices = {}
        for invoice_id in sub.open_invoice_ids:
            try:
                invoices[invoice_id] = state_as_of(app, invoice_id, at)
            except NotFound:
                continue
        due = lifecycle.amount_due(sub, invoices).rials
        lines += 1
        en.append(
            f"- subscription {str(sub.id)[:8]}, site {sub.site}, plan {sub.plan.name} "
            f"({sub.period.value}): {_STATUS_EN[sub.status]}, {_rials_en(due)} owed."
        )
        fa.append(
            f"- اشتراک {str(sub.id)[:8]}، وب‌سایت {sub.site}، طرح {sub.plan.name}: "
            f"{_STATUS_FA[sub.status]}، بدهی {_rials_fa(due)}."
        )
    if not lines:
        en.append("No subscriptions.")
        fa.append("اشتراکی ندارد.")
    return Explanation("\n".join(en), "\n".join(fa))


def _explain_payment(payment: Payment, at: datetime) -> Explanation:
    return Explanation(
        f"Payment {payment.reference} of {_rials_en(payment.amount.rials)} ({payment.method}) "
        f"was received on {_en(payment.received_at)} for subscription "
        f"{str(payment.subscription_id)[:8]}; how it was applied is on the invoices it paid.",
        f"پرداخت {payment.reference} به مبلغ {_rials_fa(payment.amount.rials)} در "
        f"{_fa(payment.received_at)} برای اشتراک {str(payment.subscription_id)[:8]} دریافت شد.",
    )


def _explain_subscription(app: Any, sub: Subscription, at: datetime) -> Explanation:
    """Why the site is in its state at ``at``: the invoice, its deadline, the notices, what next."""
    invoices = {}
    for invoice_id in sub.invoice_ids:
        try:
            invoices[invoice_id] = state_as_of(app, invoice_id, at)
        except NotFound:
            continue
    policy = sub.plan.policy
    open_ = {i: inv for i, inv in invoices.items() if inv.is_open}
    status = sub.status
    short = str(sub.id)[:8]
    en = [
        f"Subscription {short} (plan {sub.plan.name}, {sub.period.value}, site {sub.site}) is "
        f"{_STATUS_EN[status]} at {_en(at)}."
    ]
    fa = [
        f"اشتراک {short} (طرح {sub.plan.name}، دورهٔ {_period_fa(sub.period.value)}، وب‌سایت {sub.site}) "
        f"در {_fa(at)} {_STATUS_FA[status]} است."
    ]

    if status is SubscriptionStatus.COLLECTED:
        voided = [inv for inv in invoices.values() if inv.is_void]
        written_off = sum(inv.voided_amount.rials for inv in voided)
        en.append(
            f"Why: the site was collected (removed) on {_en(sub.collected_at)}, a full suspension period "
            f"({policy.suspension_days} days) after it was suspended, with invoices still unpaid; "
            f"{len(voided)} invoice(s) totalling {_rials_en(written_off)} were voided as uncollectible."
        )
        fa.append(
            f"دلیل: وب‌سایت در {_fa(sub.collected_at)}، یک دورهٔ کامل تعلیق ({to_persian_digits(str(policy.suspension_days))} روز) "
            f"پس از تعلیق، با صورتحساب‌های پرداخت‌نشده جمع‌آوری (حذف) شد و {to_persian_digits(str(len(voided)))} صورتحساب "
            f"به مبلغ {_rials_fa(written_off)} به‌عنوان غیرقابل‌وصول باطل شد."
        )
        warnings = sub.notices_of(NoticeKind.COLLECTION_WARNING)
        line_en, line_fa = _notices_line(warnings)
        en.append(f"Collection warnings sent: {line_en}.")
        fa.append(f"هشدارهای جمع‌آوری: {line_fa}.")
        en.append(
            "Nothing more will happen; a payment for this subscription is refused. A new order gives a new site."
        )
        fa.append(
            "رویداد دیگری در پیش نیست و پرداخت برای این اشتراک پذیرفته نمی‌شود. با سفارش تازه وب‌سایت تازه‌ای ساخته می‌شود."
        )
        return Explanation("\n".join(en), "\n".join(fa))

    if status is SubscriptionStatus.CANCELLED:
        en.append(
            f"Why: it was cancelled on {_en(sub.cancelled_at)} ({sub.cancel_reason}); its contract ended on "
            f"{_en(sub.ended_at)} with nothing owed, and the site was removed."
        )
        fa.append(
            f"دلیل: در {_fa(sub.cancelled_at)} لغو شد؛ قرارداد در {_fa(sub.ended_at)} بدون بدهی پایان یافت و وب‌سایت حذف شد."
        )
        return Explanation("\n".join(en), "\n".join(fa))

    overdue = [inv for inv in open_.values() if inv.deadline <= at]
    cause = None
    if sub.suspension is not None:
        cause = invoices.get(sub.suspension.invoice_id) or (overdue[0] if overdue else None)
    elif overdue:
        cause = overdue[0]

    if cause is not None:
        en.append(
            f"Why: invoice {str(cause.id)[:8]} (period {cause.period_no}, {_rials_en(cause.total.rials)}, "
            f"{_rials_en(cause.balance.rials)} still owed) was due on {_en(cause.deadline)} and was not paid in full; "
            f"the grace period is {policy.grace_days} day(s)."
        )
        fa.append(
            f"دلیل: صورتحساب {str(cause.id)[:8]} (دورهٔ {to_persian_digits(str(cause.period_no))}، {_rials_fa(cause.total.rials)}، "
            f"ماندهٔ {_rials_fa(cause.balance.rials)}) تا {_fa(cause.deadline)} به‌طور کامل پرداخت نشد؛ "
            f"دورهٔ ارفاق {to_persian_digits(str(policy.grace_days))} روز است."
        )
        if sub.suspension is not None:
            en.append(
                f"The site was suspended on {_en(sub.suspension.suspended_at)}; the customer panel still works."
            )
            fa.append(
                f"وب‌سایت در {_fa(sub.suspension.suspended_at)} تعلیق شد؛ پنل کاربری همچنان در دسترس است."
            )
        line_en, line_fa = _notices_line(cause.notices)
        en.append(f"Notices about this invoice: {line_en}.")
        fa.append(f"اعلان‌های این صورتحساب: {line_fa}.")
        site_notices = [
            n
            for n in sub.notices
            if n.kind in (NoticeKind.SITE_SUSPENDED, NoticeKind.COLLECTION_WARNING)
            and (sub.suspension is None or n.recorded_at >= sub.suspension.suspended_at)
        ]
        if sub.suspension is not None and site_notices:
            line_en, line_fa = _notices_line(site_notices)
            en.append(f"Since the suspension: {line_en}.")
            fa.append(f"از زمان تعلیق: {line_fa}.")
    elif open_:
        first = min(open_.values(), key=lambda inv: inv.deadline)
        en.append(
            f"Nothing is overdue. Invoice {str(first.id)[:8]} ({_rials_en(first.balance.rials)} owed) is due by "
            f"{_en(first.deadline)}."
        )
        fa.append(
            f"بدهی سررسیدگذشته‌ای نیست. صورتحساب {str(first.id)[:8]} (ماندهٔ {_rials_fa(first.balance.rials)}) "
            f"تا {_fa(first.deadline)} باید پرداخت شود."
        )
    else:
        en.append("Nothing is owed.")
        fa.append("بدهی‌ای وجود ندارد.")

    restored = sub.notices_of(NoticeKind.SITE_RESTORED)
    if restored and sub.suspension is None:
        last = restored[-1]
        reference, restored_by = last.facts.get("reference"), last.facts.get("cause", "payment")
        en_cause, fa_cause = {
            "void": ("finance voided the invoice", "ابطال صورتحساب به دست بخش مالی"),
            "offline": (
                "finance approved paying offline and moved the deadline",
                "تأیید پرداخت آفلاین و تمدید مهلت",
            ),
        }.get(restored_by, (f"payment {reference}", f"پرداخت {reference}"))
        en.append(
            f"The site was last restored on {_en(last.recorded_at)}, when {en_cause}, which left "
            "nothing keeping it suspended."
        )
        fa.append(f"وب‌سایت آخرین بار در {_fa(last.recorded_at)} با {fa_cause} بازگشایی شد.")

    if sub.cancelled_at is not None:
        en.append(
            f"It was cancelled on {_en(sub.cancelled_at)}: no renewals after {_en(sub.contract_ends_at)}."
        )
        fa.append(
            f"در {_fa(sub.cancelled_at)} لغو شد: پس از {_fa(sub.contract_ends_at)} تمدیدی صادر نمی‌شود."
        )

    step = lifecycle.next_step(sub, open_, policy)
    if step is not None:
        en.append(f"Next: {_STEP_EN[step.step]} on {_en(step.due_at)}.")
        fa.append(f"گام بعد: در {_fa(step.due_at)} {_STEP_FA[step.step]}.")
    if sub.suspension is not None:
        collect_at = lifecycle.collection_moment(
            sub, policy, open_
        ) or lifecycle.planned_collection(sub, policy)
        overdue_due = sum(inv.balance.rials for inv in lifecycle.past_grace(sub, open_, policy, at))
        en.append(
            f"Paying the {_rials_en(overdue_due)} overdue restores the site at once; unless it is paid, "
            f"the site is collected on {_en(collect_at)}."
        )
        fa.append(
            f"با پرداخت {_rials_fa(overdue_due)} بدهی سررسیدگذشته، وب‌سایت بی‌درنگ بازگشایی می‌شود؛ "
            f"وگرنه در {_fa(collect_at)} جمع‌آوری می‌شود."
        )
    elif cause is not None:
        suspend_at = (
            lifecycle.suspension_moment(cause, sub, policy) or cause.deadline + policy.grace
        )
        en.append(f"Unless it is paid, the site is suspended on {_en(suspend_at)}.")
        fa.append(f"اگر پرداخت نشود، وب‌سایت در {_fa(suspend_at)} تعلیق می‌شود.")
    return Explanation("\n".join(en), "\n".join(fa))


def _period_fa(period: str) -> str:
    return {"monthly": "ماهانه", "quarterly": "سه‌ماهه", "yearly": "سالانه"}[period]
