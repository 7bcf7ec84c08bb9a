"""The words of a subscription's events: its site, periods, plan, grace, suspension and end."""

from __future__ import annotations

from domain.subscription import Subscription
from presentation.events.registry import EventData, formats
from presentation.words import (
    Words,
    fa_digits,
    period_fa,
    rials_fa,
    short,
    when_en,
    when_fa,
)


@formats(Subscription.SubscriptionStarted)
def _started(d: EventData) -> Words:
    plan = d["plan"]
    return Words(
        f"ordered plan {plan['name']} ({d['period']}, {plan['monthly_price']:,} rials a month); "
        f"site {d['site']} created at once; first period from {d['anchor']}",
        f"سفارش طرح {plan['name']} ({period_fa(d['period'])}، ماهی "
        f"{rials_fa(plan['monthly_price'])})؛ وب‌سایت {d['site']} بی‌درنگ ساخته شد؛ "
        f"نخستین دوره از {fa_digits(d['anchor'])}",
    )


@formats(Subscription.SubscriptionRenewed)
def _renewed(d: EventData) -> Words:
    return Words(
        f"period {d['period_no']} begins on {d['start']} ({d['plan_id']}, {d['period']}); "
        "its invoice is issued",
        f"دورهٔ {fa_digits(d['period_no'])} از {fa_digits(d['start'])} آغاز می‌شود "
        f"({d['plan_id']}، {period_fa(d['period'])})؛ صورتحساب آن صادر می‌شود",
    )


@formats(Subscription.PlanChangeScheduled)
def _plan_change(d: EventData) -> Words:
    return Words(
        f"plan changes to {d['plan']['name']} ({d['period']}) from period {d['from_period_no']}",
        f"طرح از دورهٔ {fa_digits(d['from_period_no'])} به {d['plan']['name']} "
        f"({period_fa(d['period'])}) تغییر می‌کند",
    )


@formats(Subscription.PlanChanged)
def _plan_changed(d: EventData) -> Words:
    return Words(
        f"upgraded at once from {d['from_plan_id']} ({d['from_period']}) to {d['plan']['name']} "
        f"({d['period']}); the difference for {d['days_left']} of {d['days_total']} days of "
        f"period {d['period_no']} is invoiced",
        f"بی‌درنگ از طرح {d['from_plan_id']} ({period_fa(d['from_period'])}) به "
        f"{d['plan']['name']} ({period_fa(d['period'])}) ارتقا یافت؛ مابه‌التفاوت "
        f"{fa_digits(d['days_left'])} روز از {fa_digits(d['days_total'])} روزِ دورهٔ "
        f"{fa_digits(d['period_no'])} صورتحساب شد",
    )


@formats(Subscription.SubscriptionCancelled)
def _cancelled(d: EventData) -> Words:
    return Words(
        f"cancelled ({d['reason']}): no renewals after {when_en(d['effective_at'])}",
        f"لغو شد ({d['reason']})؛ پس از {when_fa(d['effective_at'])} تمدیدی صادر نمی‌شود",
    )


@formats(Subscription.SubscriptionEnded)
def _ended(d: EventData) -> Words:
    return Words(
        "the contract ended after its cancellation; the site is removed",
        "قرارداد پس از لغو پایان یافت؛ وب‌سایت حذف می‌شود",
    )


@formats(Subscription.InvoicesSettled)
def _settled(d: EventData) -> Words:
    count = len(d["invoice_ids"])
    if d["reference"] == "credit":
        source = Words("the customer's credit", "اعتبار مشتری")
    else:
        source = Words(f"payment {d['reference']}", f"پرداخت {d['reference']}")
    return Words(
        f"{count} invoice(s) paid in full by {source.english}",
        f"{fa_digits(count)} صورتحساب با {source.persian} به‌طور کامل تسویه شد",
    )


@formats(Subscription.InvoicesClosed)
def _closed(d: EventData) -> Words:
    count = len(d["invoice_ids"])
    return Words(
        f"{count} invoice(s) voided by finance: {d['reason']}",
        f"{fa_digits(count)} صورتحساب به دست بخش مالی باطل شد: {d['reason']}",
    )


@formats(Subscription.EnforcementHoldPlaced)
def _hold_placed(d: EventData) -> Words:
    return Words(
        f"finance put enforcement on hold until {when_en(d['until'])}: {d['reason']}",
        f"بخش مالی پیگیری بدهی را تا {when_fa(d['until'])} متوقف کرد: {d['reason']}",
    )


@formats(Subscription.EnforcementHoldEnded)
def _hold_ended(d: EventData) -> Words:
    return Words(
        f"the enforcement hold ended ({d['reason']}); the lifecycle resumes, notices first",
        f"توقف پیگیری بدهی پایان یافت ({d['reason']})؛ پیگیری از سر گرفته می‌شود، نخست با اعلان",
    )


@formats(Subscription.GraceStarted)
def _grace_started(d: EventData) -> Words:
    invoice = short(d["invoice_id"])
    return Words(
        f"invoice {invoice} unpaid at its deadline: the grace period begins",
        f"صورتحساب {invoice} تا پایان مهلت پرداخت نشد: دورهٔ ارفاق آغاز می‌شود",
    )


@formats(Subscription.GraceWithdrawn)
def _grace_withdrawn(d: EventData) -> Words:
    invoice = short(d["invoice_id"])
    return Words(
        f"invoice {invoice} has a new deadline, {when_en(d['deadline'])}: "
        "not late any more, its grace starts again then",
        f"صورتحساب {invoice} مهلت تازه‌ای دارد، {when_fa(d['deadline'])}: دیگر دیرکرد ندارد "
        "و دورهٔ ارفاق آن از آن زمان دوباره آغاز می‌شود",
    )


@formats(Subscription.SiteSuspended)
def _suspended(d: EventData) -> Words:
    invoice = short(d["invoice_id"])
    return Words(
        f"invoice {invoice} unpaid past deadline and grace: the site is suspended "
        "(the customer panel still works)",
        f"صورتحساب {invoice} پس از مهلت و دورهٔ ارفاق پرداخت نشد: وب‌سایت تعلیق شد "
        "(پنل کاربری همچنان در دسترس است)",
    )


@formats(Subscription.SiteRestored)
def _restored(d: EventData) -> Words:
    reference = str(d["payment_reference"])
    cause, _, what = reference.partition(":")
    by = {
        "void": Words(f"the void of invoice {what[:8]}", f"ابطال صورتحساب {what[:8]}"),
        "offline": Words(
            f"the approved offline request {what[:8]}",
            f"پذیرش درخواست پرداخت آفلاین {what[:8]}",
        ),
    }.get(cause, Words(f"payment {reference}", f"پرداخت {reference}"))
    return Words(
        f"{by.english} left nothing keeping the site suspended: the site is restored",
        f"با {by.persian} چیزی وب‌سایت را در تعلیق نگه نمی‌دارد: وب‌سایت بازگشایی شد",
    )


@formats(Subscription.SiteCollected)
def _collected(d: EventData) -> Words:
    count = len(d["voided_invoice_ids"])
    return Words(
        f"suspension period over, still unpaid: the site is removed and "
        f"{count} open invoice(s) voided",
        f"دورهٔ تعلیق بدون پرداخت به پایان رسید: وب‌سایت حذف شد و {fa_digits(count)} "
        "صورتحساب باز باطل شد",
    )
