"""The sentences of ``explain`` that say who decided (docs/AUDIT.md, "Actors"): a
subscription's decisions on record, its hold and plan change, an invoice's payments and its
offline requests and receipts. ``presentation.explain_text`` puts them among its own."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from domain.actor import UNKNOWN
from domain.invoice import Invoice
from domain.subscription import Subscription
from presentation.actors import decided_by, decision_line
from presentation.words import Words, period_fa, rials_en, rials_fa, when_en_iso, when_fa

if TYPE_CHECKING:  # the facts' shapes only; nothing of the service layer runs here
    from domain.invoice import Settlement
    from service_layer.audit import Decision, InvoiceFacts, SubscriptionFacts

_en = when_en_iso
_fa = when_fa


def decider(decision: Decision | None, dated: bool = False) -> Words:
    """``by مریم کریمی, finance`` (``dated``: with the Jalali day) for a decision on record."""
    if decision is None:  # pragma: no cover - a cancellation always has its event
        return Words("", "")
    return decided_by(decision.actor, decision.recorded_at if dated else None)


def decisions_on_record(f: SubscriptionFacts) -> list[Words]:
    """Every decision on the subscription and its invoices, who made it and when."""
    if not f.decisions:
        return []
    return [Words("Decisions on record:", "تصمیم‌های ثبت‌شده:")] + [
        Words(f"- {line.english}.", f"- {line.persian}.")
        for line in map(decision_line, f.decisions)
    ]


def hold_and_plan_change(f: SubscriptionFacts) -> list[Words]:
    """Finance's hold in force and a plan change waiting for the renewal: who decided them."""
    sub, lines = f.subscription, []
    placed = f.last_decision(Subscription.EnforcementHoldPlaced)
    if sub.hold is not None and placed is not None:
        who = decider(placed, dated=True)
        lines.append(
            Words(
                f"An enforcement hold stops suspension and collection until "
                f"{_en(sub.hold.until)}: placed {who.english} ({sub.hold.reason}).",
                f"توقف پیگیری بدهی تا {_fa(sub.hold.until)} تعلیق و جمع‌آوری را متوقف می‌کند: "
                f"{who.persian} برقرار شد ({sub.hold.reason}).",
            )
        )
    scheduled = f.last_decision(Subscription.PlanChangeScheduled)
    if sub.pending_change is not None and scheduled is not None:
        plan, period = sub.pending_change
        who = decider(scheduled, dated=True)
        lines.append(
            Words(
                f"A change to plan {plan.name} ({period.value}) takes effect at the next "
                f"renewal: scheduled {who.english}.",
                f"تغییر به طرح {plan.name} ({period_fa(period.value)}) از تمدید بعد اعمال "
                f"می‌شود: {who.persian} برنامه‌ریزی شد.",
            )
        )
    return lines


_RECORDED = {"bank_receipt": "confirmed", "credit": "applied", "gateway": "verified"}


def _recorded(method: str) -> Words:
    """How a settlement came to be recorded: a receipt confirmed, credit applied, …"""
    verb = _RECORDED.get(method, "recorded")
    return Words(verb, verb)


def settled_by(f: InvoiceFacts) -> list[tuple[Settlement, Words]]:
    """Each settlement of the invoice with who recorded it: ``confirmed by مریم کریمی,
    finance`` (a bank receipt), ``verified by the payment gateway``, ``recorded by …``."""
    actors = list(f.settled_by) + [UNKNOWN] * (len(f.invoice.settlements) - len(f.settled_by))
    said = []
    for settlement, actor in zip(f.invoice.settlements, actors, strict=False):
        who = decided_by(actor)
        verb = _recorded(settlement.method)
        said.append((settlement, Words(f"{verb.english} {who.english}", who.persian)))
    return said


def offline_decisions(f: InvoiceFacts) -> list[Words]:
    """Finance's decisions on paying the invoice offline: the request approved or refused,
    the bank receipts rejected (a confirmed one is among the payments above)."""
    inv, lines = f.invoice, []
    approved = inv.approved_offline
    if approved is not None:
        decision = next(
            (
                d
                for d in f.decisions_of(Invoice.OfflinePaymentApproved)
                if d.data.get("request_id") == str(approved.request_id)
            ),
            None,
        )
        who = decided_by(
            decision.actor if decision else UNKNOWN,
            decision.recorded_at if decision else approved.decided_at,
        )
        lines.append(
            Words(
                f"Paying offline was approved {who.english}, which moved the deadline to "
                f"{_en(inv.deadline)}.",
                f"پرداخت آفلاین {who.persian} پذیرفته شد و مهلت به {_fa(inv.deadline)} رسید.",
            )
        )
    for d in f.decisions_of(Invoice.OfflinePaymentRejected):
        who = decided_by(d.actor, d.recorded_at)
        lines.append(
            Words(
                f"A request to pay offline was refused {who.english}: {d.data.get('reason')}.",
                f"درخواست پرداخت آفلاین {who.persian} رد شد: {d.data.get('reason')}.",
            )
        )
    references = inv.references()
    for event_class, verb in (
        (Invoice.ReceiptConfirmed, Words("confirmed", "تأیید شد")),
        (Invoice.ReceiptRejected, Words("rejected", "رد شد")),
    ):
        for d in f.decisions_of(event_class):
            receipt = inv.receipts.get(UUID(d.data["receipt_id"]))
            if receipt is None or receipt.reference in references:
                continue  # a confirmed receipt that paid the invoice is said with the payments
            who = decided_by(d.actor, d.recorded_at)
            reason = d.data.get("reason")
            lines.append(
                Words(
                    f"Bank receipt {receipt.tracking_number} ({rials_en(receipt.amount.rials)}) "
                    f"was {verb.english} {who.english}"
                    + (f": {reason}." if reason else "; the money went to the customer's credit."),
                    f"رسید بانکی {receipt.tracking_number} ({rials_fa(receipt.amount.rials)}) "
                    f"{who.persian} {verb.persian}" + (f": {reason}." if reason else "."),
                )
            )
    return lines
