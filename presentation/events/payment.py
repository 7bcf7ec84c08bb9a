"""The words of payments: a payment received, bank transfers and their tracking numbers, and
payments at the online gateway."""

from __future__ import annotations

from domain.payment import BankTransfer, GatewayPayment, Payment, TrackingNumber
from presentation.events.invoice import bank_fa
from presentation.events.registry import EventData, formats
from presentation.words import Words, rials_en, rials_fa, short


@formats(Payment.PaymentReceived)
def _received(d: EventData) -> Words:
    return Words(
        f"payment {d['reference']} of {rials_en(d['amount'])} received ({d['method']})",
        f"پرداخت {d['reference']} به مبلغ {rials_fa(d['amount'])} دریافت شد ({d['method']})",
    )


# --- bank transfers (a receipt's tracking number, counted once per bank) -----------------------


@formats(BankTransfer.BankTransferClaimed)
def _transfer_claimed(d: EventData) -> Words:
    invoice = short(d["invoice_id"])
    return Words(
        f"bank transfer #{d['tracking_number']} of bank {d['bank']}, {rials_en(d['amount'])}, "
        f"claimed by a receipt for invoice {invoice}",
        f"واریز بانکی با شمارهٔ پیگیری {d['tracking_number']} در {bank_fa(d['bank'])}، "
        f"{rials_fa(d['amount'])}، با رسیدی برای صورتحساب {invoice} ثبت شد",
    )


@formats(BankTransfer.BankTransferClaimedAgain)
def _transfer_claimed_again(d: EventData) -> Words:
    invoice = short(d["invoice_id"])
    return Words(
        f"the same tracking number claimed again at bank {d['bank']}, {rials_en(d['amount'])}, "
        f"by a receipt for invoice {invoice}",
        f"همین شمارهٔ پیگیری دوباره در {bank_fa(d['bank'])}، {rials_fa(d['amount'])}، با رسیدی "
        f"برای صورتحساب {invoice} ثبت شد",
    )


@formats(BankTransfer.BankTransferReleased)
def _transfer_released(d: EventData) -> Words:
    return Words(
        f"bank transfer released: its receipt was rejected ({d['reason']})",
        f"واریز بانکی آزاد شد: رسید آن رد شد ({d['reason']})",
    )


@formats(TrackingNumber.TrackingNumberClaimed)
def _tracking_claimed(d: EventData) -> Words:
    return Words(
        f"tracking number {d['tracking_number']} of {d['bank']} claimed",
        f"شمارهٔ پیگیری {d['tracking_number']} در {bank_fa(d['bank'])} ثبت شد",
    )


@formats(TrackingNumber.TrackingNumberReleased)
def _tracking_released(d: EventData) -> Words:
    return Words(
        f"tracking number released: its receipt was rejected ({d['reason']})",
        f"شمارهٔ پیگیری آزاد شد: رسید آن رد شد ({d['reason']})",
    )


@formats(TrackingNumber.TrackingNumberClaimedAgain)
def _tracking_claimed_again(d: EventData) -> Words:
    return Words(
        "tracking number claimed again by a new receipt",
        "شمارهٔ پیگیری با رسیدی تازه دوباره ثبت شد",
    )


# --- the online gateway ----------------------------------------------------------------------


@formats(GatewayPayment.PaymentLinkCreated)
def _link_created(d: EventData) -> Words:
    return Words(
        f"payment link opened at the gateway for {rials_en(d['amount'])} "
        f"(authority {d['authority']})",
        f"پیوند پرداخت در درگاه برای {rials_fa(d['amount'])} ساخته شد (شناسهٔ {d['authority']})",
    )


@formats(GatewayPayment.GatewayPaymentVerified)
def _verified(d: EventData) -> Words:
    return Words(
        f"the gateway verified the payment (reference id {d['ref_id']})",
        f"درگاه پرداخت را تأیید کرد (شمارهٔ مرجع {d['ref_id']})",
    )


@formats(GatewayPayment.GatewayPaymentFailed)
def _failed(d: EventData) -> Words:
    return Words(
        f"the gateway payment did not go through: {d['reason']}",
        f"پرداخت در درگاه انجام نشد: {d['reason']}",
    )


@formats(GatewayPayment.GatewayVerificationPending)
def _pending(d: EventData) -> Words:
    return Words(
        "the gateway did not confirm in time: reconciliation will settle it",
        "درگاه به‌موقع تأیید نکرد: تطبیق با درگاه آن را روشن می‌کند",
    )
