"""The words of a notice sent to the customer (``NoticeSent`` of an invoice or a subscription).

One event class carries every kind of notice, so its formatter says each kind in its own way,
from the facts the notice stated (amounts, deadlines, the moments of the next actions).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.base import NoticeKind
from domain.invoice import Invoice
from domain.subscription import Subscription
from presentation.events.registry import EventData, formats
from presentation.words import Words, fa_digits, rials_en, rials_fa, when_en, when_fa

Facts = dict[str, Any]
_BY_KIND: dict[NoticeKind, Callable[[Facts, Words], Words]] = {}


def _kind(kind: NoticeKind):
    def register(say: Callable[[Facts, Words], Words]) -> Callable[[Facts, Words], Words]:
        _BY_KIND[kind] = say
        return say

    return register


@formats(Invoice.NoticeSent, Subscription.NoticeSent)
def _notice_sent(d: EventData) -> Words:
    kind = d["kind"]
    number = (
        Words(f" #{d['number']}", f" {fa_digits(d['number'])}")
        if d.get("number")
        else Words("", "")
    )
    say = _BY_KIND.get(kind)
    text = say(d.get("facts", {}), number) if say else Words(kind, kind)
    return Words(f"notice to the customer: {text.english}", f"اعلان به مشتری: {text.persian}")


@_kind(NoticeKind.INVOICE_ISSUED)
def _invoice_issued(f: Facts, number: Words) -> Words:
    return Words(
        f"invoice sent: {rials_en(f.get('amount_due'))} due by {when_en(f.get('deadline'))}",
        f"صورتحساب فرستاده شد: {rials_fa(f.get('amount_due'))} تا {when_fa(f.get('deadline'))}",
    )


def _suspension(f: Facts) -> Words:
    """What a reminder or grace notice said comes next: the suspension's moment, or the
    enforcement hold in force (and the suspension after it, if the hold does not prevent it)."""
    at, held = f.get("suspension_at"), f.get("hold_until")
    if not held:
        return Words(
            f"unpaid, the site is suspended on {when_en(at)}",
            f"اگر پرداخت نشود، وب‌سایت در {when_fa(at)} تعلیق می‌شود",
        )
    on_hold = Words(
        f"on hold until {when_en(held)}: no suspension before then",
        f"در توقف پیگیری تا {when_fa(held)}: تا آن زمان تعلیقی در کار نیست",
    )
    if not at:
        return on_hold
    return Words(
        f"{on_hold.english}; unpaid, the site is suspended on {when_en(at)}",
        f"{on_hold.persian}؛ اگر پرداخت نشود، وب‌سایت در {when_fa(at)} تعلیق می‌شود",
    )


@_kind(NoticeKind.PAYMENT_REMINDER)
def _payment_reminder(f: Facts, number: Words) -> Words:
    then = _suspension(f)
    return Words(
        f"payment reminder{number.english}: {rials_en(f.get('amount_due'))} due by "
        f"{when_en(f.get('deadline'))}; {then.english}",
        f"یادآوری پرداخت{number.persian}: {rials_fa(f.get('amount_due'))} تا "
        f"{when_fa(f.get('deadline'))}؛ {then.persian}",
    )


@_kind(NoticeKind.GRACE_STARTED)
def _grace_started(f: Facts, number: Words) -> Words:
    if f.get("hold_until"):
        then = _suspension(f)
        return Words(
            f"deadline passed: {rials_en(f.get('amount_due'))} due; {then.english}",
            f"مهلت پرداخت گذشت: {rials_fa(f.get('amount_due'))} بدهی؛ {then.persian}",
        )
    return Words(
        f"deadline passed: the site stays up until {when_en(f.get('suspension_at'))}, "
        "then it is suspended unless paid",
        f"مهلت پرداخت گذشت: وب‌سایت تا {when_fa(f.get('suspension_at'))} فعال می‌ماند و "
        "پس از آن، اگر پرداخت نشود، تعلیق می‌شود",
    )


@_kind(NoticeKind.SITE_SUSPENDED)
def _site_suspended(f: Facts, number: Words) -> Words:
    return Words(
        f"site suspended notice: pay {rials_en(f.get('amount_due'))} to restore it; "
        f"collection on {when_en(f.get('collection_at'))}",
        f"اعلان تعلیق وب‌سایت: با پرداخت {rials_fa(f.get('amount_due'))} بازگشایی می‌شود؛ "
        f"جمع‌آوری در {when_fa(f.get('collection_at'))}",
    )


@_kind(NoticeKind.COLLECTION_WARNING)
def _collection_warning(f: Facts, number: Words) -> Words:
    return Words(
        f"collection warning{number.english}: the site is removed on "
        f"{when_en(f.get('collection_at'))} unless {rials_en(f.get('amount_due'))} is paid",
        f"هشدار جمع‌آوری{number.persian}: وب‌سایت در {when_fa(f.get('collection_at'))} حذف "
        f"می‌شود مگر {rials_fa(f.get('amount_due'))} پرداخت شود",
    )


@_kind(NoticeKind.SITE_COLLECTED)
def _site_collected(f: Facts, number: Words) -> Words:
    return Words(
        f"site collected notice: {rials_en(f.get('amount_voided'))} voided as uncollectible",
        f"اعلان جمع‌آوری وب‌سایت: {rials_fa(f.get('amount_voided'))} به‌عنوان غیرقابل‌وصول باطل شد",
    )


@_kind(NoticeKind.SITE_RESTORED)
def _site_restored(f: Facts, number: Words) -> Words:
    reference = f.get("reference")
    if f.get("cause"):
        return Words(f"{reference}: the site is restored", f"{reference}: وب‌سایت بازگشایی شد")
    return Words(
        f"payment {reference} received: the site is restored",
        f"پرداخت {reference} دریافت شد: وب‌سایت بازگشایی شد",
    )


@_kind(NoticeKind.PAYMENT_RECEIVED)
def _payment_received(f: Facts, number: Words) -> Words:
    suspended = f.get("site") == "suspended"
    return Words(
        f"payment {f.get('reference')} received; {rials_en(f.get('amount_due'))} still due"
        + (" and the site stays suspended" if suspended else ""),
        f"پرداخت {f.get('reference')} دریافت شد؛ {rials_fa(f.get('amount_due'))} هنوز مانده است"
        + (" و وب‌سایت در تعلیق می‌ماند" if suspended else ""),
    )


@_kind(NoticeKind.SUBSCRIPTION_ENDED)
def _subscription_ended(f: Facts, number: Words) -> Words:
    return Words(
        "the cancelled contract ended: the site is removed",
        "قرارداد لغوشده پایان یافت: وب‌سایت حذف می‌شود",
    )


@_kind(NoticeKind.OFFLINE_APPROVED)
def _offline_approved(f: Facts, number: Words) -> Words:
    return Words(
        f"offline payment approved; pay by {when_en(f.get('deadline'))}",
        f"پرداخت آفلاین پذیرفته شد؛ پرداخت تا {when_fa(f.get('deadline'))}",
    )


@_kind(NoticeKind.OFFLINE_REJECTED)
def _offline_rejected(f: Facts, number: Words) -> Words:
    return Words(
        f"offline payment refused ({f.get('reason')})",
        f"پرداخت آفلاین پذیرفته نشد ({f.get('reason')})",
    )


@_kind(NoticeKind.RECEIPT_REJECTED)
def _receipt_rejected(f: Facts, number: Words) -> Words:
    return Words(
        f"receipt rejected ({f.get('reason')})", f"رسید بانکی تأیید نشد ({f.get('reason')})"
    )


@_kind(NoticeKind.INVOICE_VOIDED)
def _invoice_voided(f: Facts, number: Words) -> Words:
    return Words(f"invoice voided ({f.get('reason')})", f"صورتحساب باطل شد ({f.get('reason')})")


@_kind(NoticeKind.SALE_RETURNED)
def _sale_returned(f: Facts, number: Words) -> Words:
    return Words(
        f"{rials_en(f.get('amount'))} of the invoice returned to credit ({f.get('reason')}); "
        f"credit now {rials_en(f.get('credit'))}",
        f"{rials_fa(f.get('amount'))} از صورتحساب برگشت خورد و به اعتبار افزوده شد "
        f"({f.get('reason')})؛ اعتبار اکنون {rials_fa(f.get('credit'))}",
    )


@_kind(NoticeKind.HOLD_ENDED)
def _hold_ended(f: Facts, number: Words) -> Words:
    return Words("enforcement hold ended", "توقف پیگیری بدهی پایان یافت")


@_kind(NoticeKind.HOLD_PLACED)
def _hold_placed(f: Facts, number: Words) -> Words:
    return Words(
        f"enforcement on hold until {when_en(f.get('until'))}: no suspension or collection "
        f"until then; {rials_en(f.get('amount_due'))} still due",
        f"توقف پیگیری بدهی تا {when_fa(f.get('until'))}: تا آن زمان تعلیق یا جمع‌آوری "
        f"نمی‌شود؛ {rials_fa(f.get('amount_due'))} همچنان بدهی است",
    )


@_kind(NoticeKind.PAYMENT_KEPT_AS_CREDIT)
def _payment_kept_as_credit(f: Facts, number: Words) -> Words:
    collected = f.get("cause") == "collected"
    why = Words(
        "the site was collected" if collected else "the invoice was void",
        "وب‌سایت جمع‌آوری شده بود" if collected else "صورتحساب باطل شده بود",
    )
    return Words(
        f"payment {f.get('reference')} of {rials_en(f.get('amount'))} kept as credit "
        f"({why.english}); credit now {rials_en(f.get('credit'))}",
        f"پرداخت {f.get('reference')} به مبلغ {rials_fa(f.get('amount'))} به اعتبار مشتری "
        f"افزوده شد ({why.persian})؛ اعتبار اکنون {rials_fa(f.get('credit'))}",
    )


@_kind(NoticeKind.SERVICE_REMINDER)
def _service_reminder(f: Facts, number: Words) -> Words:
    return Words(
        f"side-service reminder{number.english}: {rials_en(f.get('amount_due'))} due by "
        f"{when_en(f.get('deadline'))} (the site is not affected)",
        f"یادآوری{number.persian} صورتحساب خدمات جانبی: {rials_fa(f.get('amount_due'))} تا "
        f"{when_fa(f.get('deadline'))} (وب‌سایت تعلیق نمی‌شود)",
    )


@_kind(NoticeKind.SERVICE_OVERDUE)
def _service_overdue(f: Facts, number: Words) -> Words:
    return Words(
        f"side-service invoice overdue: {rials_en(f.get('amount_due'))} was due by "
        f"{when_en(f.get('deadline'))} (the site is not affected)",
        f"مهلت صورتحساب خدمات جانبی گذشت: {rials_fa(f.get('amount_due'))} تا "
        f"{when_fa(f.get('deadline'))} پرداختنی بود (وب‌سایت تعلیق نمی‌شود)",
    )


@_kind(NoticeKind.REFUND_SENT)
def _refund_sent(f: Facts, number: Words) -> Words:
    return Words(
        f"{rials_en(f.get('amount'))} refunded ({f.get('via')}, {f.get('bank_reference')}); "
        f"credit now {rials_en(f.get('credit'))}",
        f"{rials_fa(f.get('amount'))} بازپرداخت شد ({f.get('bank_reference')})؛ اعتبار اکنون "
        f"{rials_fa(f.get('credit'))}",
    )
