"""Who did it, in words: the actor an event recorded (``domain/actor.py``), as the timeline, the
actions report and ``explain`` name it, in English and Persian (docs/AUDIT.md, "Actors").

- :func:`who`: the actor alone, as a timeline line ends (``… — by مریم کریمی (finance)``).
- :func:`decided_by`: who decided and on which Jalali day, as ``explain`` says it
  (``approved by مریم کریمی, finance, 1405/02/10``).
- :func:`decision_line`: one decision a person made, in one line (``explain``'s list).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from domain.actor import Actor, ActorKind
from domain.invoice import Invoice
from domain.jalali import JalaliDate
from domain.subscription import Subscription
from presentation.words import (
    Words,
    fa_digits,
    period_fa,
    rials_en,
    rials_fa,
    short,
    when_en,
    when_fa,
)

if TYPE_CHECKING:  # the facts' shape only
    from service_layer.audit import Decision


def who(actor: Actor) -> Words:
    """The actor as the timeline and the actions report name it: a person by name and role
    (``Actor.english()``/``persian()``), a machine by what it is."""
    kind = actor.kind
    if kind is ActorKind.SCHEDULER:
        return Words("the scheduler", "زمان‌بند")
    if kind is ActorKind.GATEWAY:
        return Words("the payment gateway", "درگاه پرداخت")
    if kind is ActorKind.CLIENT:
        label = actor.name or actor.role
        return (
            Words(f"a machine client ({label})", f"یک سامانهٔ متصل ({label})")
            if label
            else Words("a machine client", "یک سامانهٔ متصل")
        )
    if kind is ActorKind.OPERATOR:
        return Words(f"{actor.english()} at the console", f"{actor.persian()} در خط فرمان")
    if kind is ActorKind.STAFF and not actor.name:
        return Words(f"a staff member ({actor.id})", f"یک کارمند ({actor.id})")
    # A named staff member, the customer, a representative, or unknown (stored before actors).
    return Words(actor.english(), actor.persian())


def by(actor: Actor) -> Words:
    """``by مریم کریمی (finance)`` / ``توسط مریم کریمی (مالی)``."""
    name = who(actor)
    return Words(f"by {name.english}", f"توسط {name.persian}")


def decided_by(actor: Actor, moment: datetime | None = None) -> Words:
    """Who decided, for ``explain``: ``by مریم کریمی, finance, 1405/02/10``; without ``moment``
    (the sentence already says when) only ``by مریم کریمی, finance``. An event stored before
    actors were kept reads ``by an unknown person (recorded before actors were kept)``."""
    if actor.kind is ActorKind.UNKNOWN:
        name = Words(
            "an unknown person (recorded before actors were kept)",
            "فردی نامعلوم (ثبت‌شده پیش از آنکه عامل‌ها نگه داشته شوند)",
        )
    elif actor.kind is ActorKind.STAFF and actor.name:
        role = f", {actor.role}" if actor.role else ""
        name = Words(f"{actor.name}{role}", actor.persian())
    else:
        name = who(actor)
    if moment is None:
        return Words(f"by {name.english}", f"توسط {name.persian}")
    day = JalaliDate.of(moment)
    return Words(f"by {name.english}, {day.isoformat()}", f"توسط {name.persian} در {day.persian()}")


# --- one decision in one line ------------------------------------------------------------------

# Each gives (what was decided, the verb, what follows) in English and Persian; the line is
# "<what> <verb> <by …, day><tail>" in English, "<what> <by …, day> <verb><tail>" in Persian.
_Parts = tuple[Words, Words, Words]


def _invoice(data: dict[str, Any]) -> Words:
    invoice = short(data.get("invoice_id", ""))
    return Words(f"invoice {invoice}", f"صورتحساب {invoice}")


def _reason(data: dict[str, Any], key: str = "reason") -> Words:
    reason = data.get(key)
    return Words(f": {reason}", f": {reason}") if reason else Words("", "")


def _offline_approved(d: dict[str, Any]) -> _Parts:
    inv = _invoice(d)
    return (
        Words(f"paying {inv.english} offline", f"پرداخت آفلاین {inv.persian}"),
        Words("approved", "پذیرفته شد"),
        Words(
            f" (deadline moved to {when_en(d.get('deadline'))})",
            f" (مهلت تا {when_fa(d.get('deadline'))})",
        ),
    )


def _offline_rejected(d: dict[str, Any]) -> _Parts:
    inv = _invoice(d)
    return (
        Words(f"paying {inv.english} offline", f"پرداخت آفلاین {inv.persian}"),
        Words("refused", "رد شد"),
        _reason(d),
    )


def _receipt(d: dict[str, Any]) -> Words:
    inv = _invoice(d)
    number = d.get("tracking_number") or short(d.get("receipt_id", ""))
    return Words(
        f"bank receipt {number} ({rials_en(d.get('amount'))}) on {inv.english}",
        f"رسید بانکی {number} ({rials_fa(d.get('amount'))}) برای {inv.persian}",
    )


def _receipt_confirmed(d: dict[str, Any]) -> _Parts:
    return (_receipt(d), Words("confirmed", "تأیید شد"), Words("", ""))


def _receipt_rejected(d: dict[str, Any]) -> _Parts:
    return (_receipt(d), Words("rejected", "رد شد"), _reason(d))


def _voided(d: dict[str, Any]) -> _Parts:
    inv = _invoice(d)
    return (inv, Words("voided", "باطل شد"), _reason(d))


def _void_proposed(d: dict[str, Any]) -> _Parts:
    inv = _invoice(d)
    return (
        Words(f"a void of {inv.english}", f"ابطال {inv.persian}"),
        Words("proposed (four eyes)", "پیشنهاد شد (چهار چشم)"),
        _reason(d),
    )


def _payment(d: dict[str, Any]) -> _Parts:
    inv = _invoice(d)
    return (
        Words(
            f"payment {d.get('reference')} of {rials_en(d.get('amount'))} ({d.get('method')}) "
            f"on {inv.english}",
            f"پرداخت {d.get('reference')} به مبلغ {rials_fa(d.get('amount'))} برای {inv.persian}",
        ),
        Words("recorded", "ثبت شد"),
        Words("", ""),
    )


def _hold_placed(d: dict[str, Any]) -> _Parts:
    return (
        Words(
            f"an enforcement hold until {when_en(d.get('until'))}",
            f"توقف پیگیری بدهی تا {when_fa(d.get('until'))}",
        ),
        Words("placed", "برقرار شد"),
        _reason(d),
    )


def _hold_lifted(d: dict[str, Any]) -> _Parts:
    return (
        Words("the enforcement hold", "توقف پیگیری بدهی"),
        Words("lifted", "برداشته شد"),
        _reason(d),
    )


def _cancelled(d: dict[str, Any]) -> _Parts:
    reason = d.get("reason")
    return (
        Words("the subscription", "اشتراک"),
        Words("cancelled", "لغو شد"),
        Words(
            f" (no renewal after {when_en(d.get('effective_at'))})"
            + (f": {reason}" if reason else ""),
            f" (بدون تمدید پس از {when_fa(d.get('effective_at'))})"
            + (f": {reason}" if reason else ""),
        ),
    )


def _plan_changed(d: dict[str, Any]) -> _Parts:
    plan = d.get("plan") or {}
    name, period = plan.get("name", plan.get("id", "?")), str(d.get("period"))
    start = d.get("from_period_no")
    return (
        Words(
            f"a change to plan {name} ({period}) from period {start}",
            f"تغییر به طرح {name} ({period_fa(period)}) از دورهٔ {fa_digits(start)}",
        ),
        Words("scheduled", "برنامه‌ریزی شد"),
        Words("", ""),
    )


def _upgraded(d: dict[str, Any]) -> _Parts:
    plan = d.get("plan") or {}
    name, period = plan.get("name", plan.get("id", "?")), str(d.get("period"))
    return (
        Words(
            f"an upgrade to plan {name} ({period}) at once",
            f"ارتقای بی‌درنگ به طرح {name} ({period_fa(period)})",
        ),
        Words("made", "انجام شد"),
        Words("", ""),
    )


_DECISIONS: dict[type, Callable[[dict[str, Any]], _Parts]] = {
    Invoice.OfflinePaymentApproved: _offline_approved,
    Invoice.OfflinePaymentRejected: _offline_rejected,
    Invoice.ReceiptConfirmed: _receipt_confirmed,
    Invoice.ReceiptRejected: _receipt_rejected,
    Invoice.VoidProposed: _void_proposed,
    Invoice.InvoiceVoided: _voided,
    Invoice.PaymentRecorded: _payment,
    Subscription.EnforcementHoldPlaced: _hold_placed,
    Subscription.EnforcementHoldEnded: _hold_lifted,
    Subscription.SubscriptionCancelled: _cancelled,
    Subscription.PlanChangeScheduled: _plan_changed,
    Subscription.PlanChanged: _upgraded,
}


def decision_line(decision: Decision) -> Words:
    """``paying invoice 5e6f1a2b offline approved by مریم کریمی, finance, 1405/02/10 (…)``."""
    words = _DECISIONS.get(decision.event_type)
    when = decided_by(decision.actor, decision.recorded_at)
    if words is None:  # a decision class without words: its name, still with who and when
        return Words(f"{decision.event} {when.english}", f"{decision.event} {when.persian}")
    what, verb, tail = words(decision.data)
    return Words(
        f"{what.english} {verb.english} {when.english}{tail.english}",
        f"{what.persian} {when.persian} {verb.persian}{tail.persian}",
    )
