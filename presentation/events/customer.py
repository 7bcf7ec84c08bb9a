"""The words of a customer's events: registration, billing profile, credit."""

from __future__ import annotations

from domain.customer import Customer
from presentation.events.registry import EventData, formats
from presentation.words import Words, rials_en, rials_fa, short

_KIND_FA = {"person": "حقیقی", "legal": "حقوقی"}


def _who(profile: dict) -> Words:
    kind = profile["kind"]
    return Words(f"{profile['name']} ({kind})", f"{profile['name']} ({_KIND_FA.get(kind, kind)})")


@formats(Customer.CustomerRegistered)
def _registered(d: EventData) -> Words:
    who = _who(d["profile"])
    return Words(f"customer {who.english} registered", f"مشتری {who.persian} ثبت شد")


@formats(Customer.BillingProfileChanged)
def _profile_changed(d: EventData) -> Words:
    who = _who(d["profile"])
    return Words(
        f"billing profile changed: now {who.english}",
        f"مشخصات صورتحساب تغییر کرد: اکنون {who.persian}",
    )


@formats(Customer.CreditAdded)
def _credit_added(d: EventData) -> Words:
    reference = str(d["reference"])
    if reference.startswith("void:"):
        voided = reference.removeprefix("void:")[:8]
        return Words(
            f"{rials_en(d['amount'])} paid on voided invoice {voided} moved to credit",
            f"{rials_fa(d['amount'])} پرداخت‌شده برای صورتحساب باطل‌شدهٔ {voided} به اعتبار "
            "مشتری افزوده شد",
        )
    return Words(
        f"{rials_en(d['amount'])} beyond what was owed kept as credit (payment {d['reference']})",
        f"{rials_fa(d['amount'])} بیش از بدهی به‌عنوان اعتبار نگه داشته شد "
        f"(پرداخت {d['reference']})",
    )


@formats(Customer.CreditUsed)
def _credit_used(d: EventData) -> Words:
    invoice = short(d["invoice_id"])
    return Words(
        f"{rials_en(d['amount'])} of credit used for invoice {invoice}",
        f"{rials_fa(d['amount'])} از اعتبار برای صورتحساب {invoice} به کار رفت",
    )


@formats(Customer.CreditRefunded)
def _credit_refunded(d: EventData) -> Words:
    gateway = d["via"] == "gateway"
    how = Words(
        "reversed through the gateway" if gateway else f"by bank transfer {d['bank_reference']}",
        "با برگشت تراکنش در درگاه" if gateway else f"با انتقال بانکی {d['bank_reference']}",
    )
    payment = d.get("payment_reference")
    of = Words(f" of payment {payment}", f" از پرداخت {payment}") if payment else Words("", "")
    return Words(
        f"{rials_en(d['amount'])} of credit refunded{of.english} {how.english}: {d['reason']}",
        f"{rials_fa(d['amount'])} از اعتبار مشتری{of.persian} {how.persian} بازپرداخت شد: "
        f"{d['reason']}",
    )


@formats(Customer.RepresentativeAssigned)
def _representative_assigned(d: EventData) -> Words:
    new = short(d["representative_id"])
    previous = d.get("previous_representative_id")
    if previous is None:
        return Words(
            f"assigned to representative {new}: {d['reason']}",
            f"به نماینده {new} سپرده شد: {d['reason']}",
        )
    return Words(
        f"moved from representative {short(previous)} to {new}: {d['reason']}",
        f"از نماینده {short(previous)} به نماینده {new} منتقل شد: {d['reason']}",
    )
