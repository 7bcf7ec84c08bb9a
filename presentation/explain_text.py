"""Why an aggregate is in its state at a moment, in English and Persian (``billing audit
explain``, ``GET /audit/{id}/explain``).

``service_layer.audit`` gathers the facts from the events recorded by that moment (which
invoice is overdue, what comes next and when); this module only says them. Each sentence is
written in both languages together, and the two texts are joined line by line.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from domain import lifecycle
from domain.actor import UNKNOWN, Actor
from domain.base import Notice, NoticeKind
from domain.subscription import Subscription, SubscriptionStatus
from presentation.actors import decided_by
from presentation.explain_decisions import (
    decider,
    decisions_on_record,
    hold_and_plan_change,
    offline_decisions,
    settled_by,
)
from presentation.words import (
    Words,
    fa_digits,
    joined,
    period_fa,
    rials_en,
    rials_fa,
    short,
    when_en_iso,
    when_fa,
)

if TYPE_CHECKING:  # the facts' shapes only; nothing of the service layer runs here
    from domain.payment import Payment
    from service_layer.audit import CustomerFacts, InvoiceFacts, SubscriptionFacts

_en = when_en_iso
_fa = when_fa

_NOTICE = {
    NoticeKind.INVOICE_ISSUED: Words("invoice sent", "ارسال صورتحساب"),
    NoticeKind.PAYMENT_REMINDER: Words("payment reminder", "یادآوری پرداخت"),
    NoticeKind.GRACE_STARTED: Words("deadline-passed notice", "اعلان گذشتن مهلت"),
    NoticeKind.SITE_SUSPENDED: Words("suspension notice", "اعلان تعلیق"),
    NoticeKind.COLLECTION_WARNING: Words("collection warning", "هشدار جمع‌آوری"),
    NoticeKind.SITE_COLLECTED: Words("collection notice", "اعلان جمع‌آوری"),
    NoticeKind.PAYMENT_RECEIVED: Words("payment receipt", "رسید پرداخت"),
    NoticeKind.SITE_RESTORED: Words("restoration notice", "اعلان بازگشایی"),
    NoticeKind.SUBSCRIPTION_ENDED: Words("contract-ended notice", "اعلان پایان قرارداد"),
    NoticeKind.OFFLINE_APPROVED: Words("offline payment approved", "پذیرش پرداخت آفلاین"),
    NoticeKind.OFFLINE_REJECTED: Words("offline payment refused", "رد پرداخت آفلاین"),
    NoticeKind.RECEIPT_REJECTED: Words("receipt rejected", "رد رسید بانکی"),
    NoticeKind.INVOICE_VOIDED: Words("invoice voided", "ابطال صورتحساب"),
    NoticeKind.HOLD_ENDED: Words("hold ended", "پایان توقف پیگیری"),
    NoticeKind.HOLD_PLACED: Words("hold placed", "اعلان توقف پیگیری"),
    NoticeKind.PAYMENT_KEPT_AS_CREDIT: Words(
        "payment kept as credit", "پرداخت نگه‌داشته به‌عنوان اعتبار"
    ),
    NoticeKind.SERVICE_REMINDER: Words("side-service reminder", "یادآوری صورتحساب خدمات جانبی"),
    NoticeKind.SERVICE_OVERDUE: Words("side-service overdue notice", "اعلان سررسید خدمات جانبی"),
}
_STEP = {
    lifecycle.Step.RENEW: Words(
        "the next period's invoice is issued", "صورتحساب دورهٔ بعد صادر می‌شود"
    ),
    lifecycle.Step.END_HOLD: Words(
        "finance's enforcement hold ends", "توقف پیگیری بدهی به پایان می‌رسد"
    ),
    lifecycle.Step.REMIND: Words("a payment reminder goes out", "یادآوری پرداخت فرستاده می‌شود"),
    lifecycle.Step.START_GRACE: Words(
        "the deadline passes and grace begins", "مهلت پرداخت می‌گذرد و دورهٔ ارفاق آغاز می‌شود"
    ),
    lifecycle.Step.SUSPEND: Words("the site is suspended", "وب‌سایت تعلیق می‌شود"),
    lifecycle.Step.WARN: Words("a collection warning goes out", "هشدار جمع‌آوری فرستاده می‌شود"),
    lifecycle.Step.COLLECT: Words("the site is collected (removed)", "وب‌سایت جمع‌آوری (حذف) می‌شود"),
    lifecycle.Step.END: Words(
        "the cancelled contract ends and the site is removed",
        "قرارداد لغوشده پایان می‌یابد و وب‌سایت حذف می‌شود",
    ),
}
_STATUS = {
    SubscriptionStatus.ACTIVE: Words("active", "فعال"),
    SubscriptionStatus.GRACE: Words(
        "in grace (an invoice is overdue; the site is still up)", "در دورهٔ ارفاق"
    ),
    SubscriptionStatus.SUSPENDED: Words("suspended", "معلق"),
    SubscriptionStatus.COLLECTED: Words("collected", "جمع‌آوری‌شده"),
    SubscriptionStatus.CANCELLED: Words("cancelled", "لغوشده"),
}
_INVOICE_STATUS = {
    "open": Words("open", "پرداخت‌نشده"),
    "paid": Words("paid in full", "تسویه‌شده"),
    "void": Words("void", "باطل‌شده"),
}


def notices_line(notices: Sequence[Notice]) -> Words:
    """Notices in one line: what, its number, when."""
    if not notices:
        return Words("none", "هیچ")
    return joined(
        (
            Words(
                f"{_NOTICE[n.kind].english}{' #' + str(n.number) if n.number else ''} "
                f"on {_en(n.recorded_at)}",
                f"{_NOTICE[n.kind].persian}{' ' + fa_digits(n.number) if n.number else ''} "
                f"در {_fa(n.recorded_at)}",
            )
            for n in notices
        ),
        en_sep="; ",
        fa_sep="؛ ",
    )


def _notices(en: str, fa: str, notices: Sequence[Notice]) -> Words:
    line = notices_line(notices)
    return Words(f"{en}: {line.english}.", f"{fa}: {line.persian}.")


# --- a subscription: why its site is in its state, and what comes next -----------------------


def subscription_explained(f: SubscriptionFacts) -> Words:
    sub, at = f.subscription, f.at
    status = _STATUS[sub.status]
    lines = [
        Words(
            f"Subscription {short(sub.id)} (plan {sub.plan.name}, {sub.period.value}, site "
            f"{sub.site}) is {status.english} at {_en(at)}.",
            f"اشتراک {short(sub.id)} (طرح {sub.plan.name}، دورهٔ {period_fa(sub.period.value)}، "
            f"وب‌سایت {sub.site}) در {_fa(at)} {status.persian} است.",
        )
    ]
    if sub.status is SubscriptionStatus.COLLECTED:
        return joined(lines + _collected(f))
    if sub.status is SubscriptionStatus.CANCELLED:
        who = decider(f.last_decision(Subscription.SubscriptionCancelled))
        lines.append(
            Words(
                f"Why: it was cancelled on {_en(sub.cancelled_at)} {who.english} "
                f"({sub.cancel_reason}); its contract ended on {_en(sub.ended_at)} with nothing "
                "owed, and the site was removed.",
                f"دلیل: در {_fa(sub.cancelled_at)} {who.persian} لغو شد؛ قرارداد در "
                f"{_fa(sub.ended_at)} بدون بدهی پایان یافت و وب‌سایت حذف شد.",
            )
        )
        return joined(lines + decisions_on_record(f))
    lines += _what_is_owed(f)
    lines += _what_came_before(f)
    lines += _what_comes_next(f)
    return joined(lines + decisions_on_record(f))


def _collected(f: SubscriptionFacts) -> list[Words]:
    sub, policy = f.subscription, f.subscription.plan.policy
    voided = len(f.voided)
    return [
        Words(
            f"Why: the site was collected (removed) on {_en(sub.collected_at)}, a full suspension "
            f"period ({policy.suspension_days} days) after it was suspended, with invoices still "
            f"unpaid; {voided} invoice(s) totalling {rials_en(f.written_off)} were voided as "
            "uncollectible.",
            f"دلیل: وب‌سایت در {_fa(sub.collected_at)}، یک دورهٔ کامل تعلیق "
            f"({fa_digits(policy.suspension_days)} روز) پس از تعلیق، با صورتحساب‌های "
            f"پرداخت‌نشده جمع‌آوری (حذف) شد و {fa_digits(voided)} صورتحساب به مبلغ "
            f"{rials_fa(f.written_off)} به‌عنوان غیرقابل‌وصول باطل شد.",
        ),
        _notices("Collection warnings sent", "هشدارهای جمع‌آوری", f.warnings),
        Words(
            "Nothing more will happen; a payment for this subscription is refused. A new order "
            "gives a new site.",
            "رویداد دیگری در پیش نیست و پرداخت برای این اشتراک پذیرفته نمی‌شود. با سفارش تازه "
            "وب‌سایت تازه‌ای ساخته می‌شود.",
        ),
        *decisions_on_record(f),
    ]


def _what_is_owed(f: SubscriptionFacts) -> list[Words]:
    sub, cause = f.subscription, f.cause
    if cause is None and f.first_due is not None:
        first = f.first_due
        return [
            Words(
                f"Nothing is overdue. Invoice {short(first.id)} "
                f"({rials_en(first.balance.rials)} owed) is due by {_en(first.deadline)}.",
                f"بدهی سررسیدگذشته‌ای نیست. صورتحساب {short(first.id)} (ماندهٔ "
                f"{rials_fa(first.balance.rials)}) تا {_fa(first.deadline)} باید پرداخت شود.",
            )
        ]
    if cause is None:
        return [Words("Nothing is owed.", "بدهی‌ای وجود ندارد.")]
    grace_days = sub.plan.policy.grace_days
    lines = [
        Words(
            f"Why: invoice {short(cause.id)} (period {cause.period_no}, "
            f"{rials_en(cause.total.rials)}, {rials_en(cause.balance.rials)} still owed) was due "
            f"on {_en(cause.deadline)} and was not paid in full; the grace period is "
            f"{grace_days} day(s).",
            f"دلیل: صورتحساب {short(cause.id)} (دورهٔ {fa_digits(cause.period_no)}، "
            f"{rials_fa(cause.total.rials)}، ماندهٔ {rials_fa(cause.balance.rials)}) تا "
            f"{_fa(cause.deadline)} به‌طور کامل پرداخت نشد؛ دورهٔ ارفاق {fa_digits(grace_days)} "
            "روز است.",
        )
    ]
    if sub.suspension is not None:
        lines.append(
            Words(
                f"The site was suspended on {_en(sub.suspension.suspended_at)}; the customer "
                "panel still works.",
                f"وب‌سایت در {_fa(sub.suspension.suspended_at)} تعلیق شد؛ پنل کاربری همچنان "
                "در دسترس است.",
            )
        )
    lines.append(_notices("Notices about this invoice", "اعلان‌های این صورتحساب", cause.notices))
    if f.site_notices:
        lines.append(_notices("Since the suspension", "از زمان تعلیق", f.site_notices))
    return lines


def _what_came_before(f: SubscriptionFacts) -> list[Words]:
    sub, lines = f.subscription, []
    if f.restored is not None:
        last = f.restored
        reference, restored_by = last.facts.get("reference"), last.facts.get("cause", "payment")
        by = {
            "void": Words("the invoice was voided", "ابطال صورتحساب"),
            "offline": Words(
                "paying offline was approved and the deadline moved",
                "تأیید پرداخت آفلاین و تمدید مهلت",
            ),
        }.get(restored_by, Words(f"payment {reference} was recorded", f"پرداخت {reference}"))
        # The restore is recorded in the save of what caused it, so it has that one's actor.
        who = decided_by(f.restored_by or UNKNOWN)
        lines.append(
            Words(
                f"The site was last restored on {_en(last.recorded_at)}, when {by.english} "
                f"({who.english}), which left nothing keeping it suspended.",
                f"وب‌سایت آخرین بار در {_fa(last.recorded_at)} با {by.persian} ({who.persian}) "
                "بازگشایی شد.",
            )
        )
    if sub.cancelled_at is not None:
        who = decider(f.last_decision(Subscription.SubscriptionCancelled))
        lines.append(
            Words(
                f"It was cancelled on {_en(sub.cancelled_at)} {who.english}: no renewals after "
                f"{_en(sub.contract_ends_at)}.",
                f"در {_fa(sub.cancelled_at)} {who.persian} لغو شد: پس از "
                f"{_fa(sub.contract_ends_at)} تمدیدی صادر نمی‌شود.",
            )
        )
    return lines + hold_and_plan_change(f)


def _what_comes_next(f: SubscriptionFacts) -> list[Words]:
    lines = []
    if f.next_step is not None:
        step = _STEP[f.next_step.step]
        lines.append(
            Words(
                f"Next: {step.english} on {_en(f.next_step.due_at)}.",
                f"گام بعد: در {_fa(f.next_step.due_at)} {step.persian}.",
            )
        )
    if f.subscription.suspension is not None:
        lines.append(
            Words(
                f"Paying the {rials_en(f.overdue_due)} overdue restores the site at once; unless "
                f"it is paid, the site is collected on {_en(f.collect_at)}.",
                f"با پرداخت {rials_fa(f.overdue_due)} بدهی سررسیدگذشته، وب‌سایت بی‌درنگ "
                f"بازگشایی می‌شود؛ وگرنه در {_fa(f.collect_at)} جمع‌آوری می‌شود.",
            )
        )
    elif f.suspend_at is not None:
        lines.append(
            Words(
                f"Unless it is paid, the site is suspended on {_en(f.suspend_at)}.",
                f"اگر پرداخت نشود، وب‌سایت در {_fa(f.suspend_at)} تعلیق می‌شود.",
            )
        )
    return lines


# --- an invoice: what it asks, how it was paid, why it is open, paid or void ------------------


def invoice_explained(f: InvoiceFacts) -> Words:
    inv, at = f.invoice, f.at
    status = inv.status.value
    said = _INVOICE_STATUS[status]
    subscription = short(inv.subscription_id)
    what = (  # a side-service invoice bills no period (docs/INVOICES.md)
        Words("side services", "خدمات جانبی")
        if inv.is_service
        else Words(f"period {inv.period_no}, {inv.kind.value}", f"دورهٔ {fa_digits(inv.period_no)}")
    )
    lines = [
        Words(
            f"Invoice {short(inv.id)} ({what.english}, subscription "
            f"{subscription}) is {said.english} at {_en(at)}: total "
            f"{rials_en(inv.total.rials)}, paid {rials_en(inv.paid.rials)}, still owed "
            f"{rials_en(inv.balance.rials)}; deadline {_en(inv.deadline)}.",
            f"صورتحساب {short(inv.id)} ({what.persian}، اشتراک "
            f"{subscription}) در {_fa(at)} {said.persian} است: مبلغ کل "
            f"{rials_fa(inv.total.rials)}، پرداخت‌شده {rials_fa(inv.paid.rials)}، مانده "
            f"{rials_fa(inv.balance.rials)}؛ مهلت پرداخت {_fa(inv.deadline)}.",
        )
    ]
    if inv.settlements:
        paid_by = joined(
            (
                Words(
                    f"{rials_en(s.amount.rials)} ({s.method}, {s.reference}) on "
                    f"{_en(s.recorded_at)}, {who.english}",
                    f"{rials_fa(s.amount.rials)} ({s.reference}) در {_fa(s.recorded_at)} "
                    f"{who.persian}",
                )
                for s, who in settled_by(f)
            ),
            en_sep="; ",
            fa_sep="؛ ",
        )
        lines.append(Words(f"Paid by: {paid_by.english}.", f"پرداخت‌ها: {paid_by.persian}."))
    lines += offline_decisions(f)
    for receipt in f.receipts_under_review:
        lines.append(
            Words(
                f"A bank receipt of {rials_en(receipt.amount.rials)} (tracking number "
                f"{receipt.tracking_number}) waits for finance since {_en(receipt.registered_at)}.",
                f"رسید بانکی {rials_fa(receipt.amount.rials)} (شمارهٔ پیگیری "
                f"{receipt.tracking_number}) از {_fa(receipt.registered_at)} در انتظار بخش مالی است.",
            )
        )
    lines += _why_invoice(f)
    lines.append(_notices("Notices about this invoice", "اعلان‌های این صورتحساب", inv.notices))
    if inv.is_service:
        lines.append(
            Words(
                "It is a side-service invoice: unpaid, it is reminded and told overdue, and "
                "never suspends or collects the site.",
                "صورتحساب خدمات جانبی است: اگر پرداخت نشود یادآوری و اعلان سررسید می‌گیرد، "
                "اما وب‌سایت را تعلیق یا جمع‌آوری نمی‌کند.",
            )
        )
    elif f.subscription is not None:
        sub = f.subscription
        lines.append(
            Words(
                f"Its subscription {short(sub.id)} is {_STATUS[sub.status].english}; explain it "
                "for what happens to the site.",
                f"اشتراک آن {short(sub.id)} {_STATUS[sub.status].persian} است.",
            )
        )
    return joined(lines)


def _why_invoice(f: InvoiceFacts) -> list[Words]:
    inv = f.invoice
    status = inv.status.value
    if status == "void":
        who = decided_by(f.voided_by, None) if f.voided_by else Words("", "")
        if f.void_proposed_by is not None:  # four eyes: proposed by one, carried out by another
            first = decided_by(f.void_proposed_by, None)
            who = Words(
                f"{who.english}, as proposed {first.english}",
                f"{who.persian}، به پیشنهاد {first.persian.removeprefix('توسط ')}",
            )
        return [
            Words(
                f"Why: it was voided on {_en(inv.voided_at)} {who.english} ({inv.void_reason}); "
                "it is not owed.",
                f"دلیل: در {_fa(inv.voided_at)} {who.persian} باطل شد ({inv.void_reason}) و "
                "بدهی‌ای نیست.",
            )
        ]
    if status == "paid":
        lines = [
            Words(
                f"Why: the payments above settled it on {_en(inv.settled_at)}.",
                f"دلیل: با پرداخت‌های بالا در {_fa(inv.settled_at)} تسویه شد.",
            )
        ]
        if inv.official is not None:
            official = inv.official
            lines.append(
                Words(
                    f"Official invoice {official.number_text} (tax ID {official.tax_id}) was "
                    f"issued on {_en(official.issued_at)}.",
                    f"صورتحساب رسمی {official.number_text} (شناسهٔ مالیاتی {official.tax_id}) "
                    f"در {_fa(official.issued_at)} صادر شد.",
                )
            )
        return lines
    if inv.deadline <= f.at:
        return [
            Words(
                f"Why open: its deadline passed on {_en(inv.deadline)} and it is not paid in full.",
                f"دلیل: مهلت آن در {_fa(inv.deadline)} گذشت و به‌طور کامل پرداخت نشده است.",
            )
        ]
    return [
        Words(
            f"It is not due yet: pay by {_en(inv.deadline)}.",
            f"هنوز سررسید نشده است: تا {_fa(inv.deadline)} پرداخت شود.",
        )
    ]


# --- a customer, a payment, anything else -----------------------------------------------------


def customer_explained(f: CustomerFacts) -> Words:
    customer, profile = f.customer, f.customer.profile
    lines = [
        Words(
            f"Customer {profile.name} ({profile.kind.value}, {short(customer.id)}) at "
            f"{_en(f.at)}: credit held {rials_en(customer.credit.rials)}.",
            f"مشتری {profile.name} ({short(customer.id)}) در {_fa(f.at)}: اعتبار "
            f"{rials_fa(customer.credit.rials)}.",
        )
    ]
    for sub, owed in f.subscriptions:
        status = _STATUS[sub.status]
        lines.append(
            Words(
                f"- subscription {short(sub.id)}, site {sub.site}, plan {sub.plan.name} "
                f"({sub.period.value}): {status.english}, {rials_en(owed)} owed.",
                f"- اشتراک {short(sub.id)}، وب‌سایت {sub.site}، طرح {sub.plan.name}: "
                f"{status.persian}، بدهی {rials_fa(owed)}.",
            )
        )
    if not f.subscriptions:
        lines.append(Words("No subscriptions.", "اشتراکی ندارد."))
    return joined(lines)


def payment_explained(payment: Payment, at: datetime, recorded_by: Actor) -> Words:
    subscription = short(payment.subscription_id)
    who = decided_by(recorded_by)
    return Words(
        f"Payment {payment.reference} of {rials_en(payment.amount.rials)} ({payment.method}) "
        f"was received on {_en(payment.received_at)} for subscription {subscription}, recorded "
        f"{who.english}; how it was applied is on the invoices it paid.",
        f"پرداخت {payment.reference} به مبلغ {rials_fa(payment.amount.rials)} در "
        f"{_fa(payment.received_at)} برای اشتراک {subscription} {who.persian} دریافت شد.",
    )


def other_explained(aggregate: Any, at: datetime) -> Words:
    """Any other aggregate (a catalogue, a bank transfer …): how many events, and where."""
    kind = type(aggregate).__name__
    return Words(
        f"{kind} {aggregate.id} has {aggregate.version} event(s) recorded by {_en(at)}; "
        f"`billing audit timeline {aggregate.id}` lists them.",
        f"{kind} {aggregate.id} تا {_fa(at)} {fa_digits(aggregate.version)} "
        "رویداد ثبت‌شده دارد؛ فهرست آن‌ها در تاریخچهٔ ممیزی است.",
    )


def status_words(status: SubscriptionStatus | str) -> Words:
    """A subscription's status in a few words (the back office's state card)."""
    return _STATUS[SubscriptionStatus(status)]


def step_words(step: lifecycle.Step | str) -> Words:
    """What the lifecycle's next step does, in a few words."""
    return _STEP[lifecycle.Step(step)]
