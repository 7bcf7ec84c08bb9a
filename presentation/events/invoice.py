"""The words of an invoice's events: issue, payments, credit, offline requests, receipts, voids."""

from __future__ import annotations

from datetime import timedelta

from domain.banks import BANKS
from domain.invoice import Invoice
from domain.jalali import JalaliDate
from presentation.events.registry import EventData, formats
from presentation.words import Words, fa_digits, rials_en, rials_fa, when_en, when_fa

_KIND_FA = {"first": "نخستین", "renewal": "تمدید", "proration": "ارتقا"}
_TERMS_FA = {"cash": "نقد", "credit": "نسیه"}


def _last_day(period_end: str) -> str:
    """A period's last day: the day before its end (periods end at the next one's start)."""
    end = JalaliDate.parse(period_end)
    return JalaliDate.from_gregorian(end.to_gregorian() - timedelta(days=1)).isoformat()


def bank_fa(code: str) -> str:
    """A bank's Persian name for its code, or the code if it is not one the engine knows."""
    bank = BANKS.get(code)
    return bank.name_fa if bank else code


@formats(Invoice.InvoiceIssued)
def _issued(d: EventData) -> Words:
    lines = d["lines"]
    total = sum(
        line["unit_price"] * line["quantity"] - line["discount"] + line["vat"] for line in lines
    )
    rates = [f"{line['vat_rate_bp'] / 100:g}" for line in lines]
    vat_en = ", ".join(f"VAT {rate}%" for rate in rates)
    vat_fa = "، ".join(
        f"مالیات بر ارزش افزوده {fa_digits(rate.replace('.', '٫'))}٪" for rate in rates
    )
    last_day = _last_day(d["period_end"])
    return Words(
        f"{d['kind']} invoice for period {d['period_no']} ({d['period_start']} to {last_day}): "
        f"{rials_en(total)} ({vat_en}); deadline {when_en(d['deadline'])}",
        f"صورتحساب {_KIND_FA.get(d['kind'], d['kind'])} دورهٔ {fa_digits(d['period_no'])} "
        f"({fa_digits(d['period_start'])} تا {fa_digits(last_day)}): {rials_fa(total)} "
        f"({vat_fa})؛ مهلت پرداخت {when_fa(d['deadline'])}",
    )


@formats(Invoice.PaymentRecorded)
def _payment_recorded(d: EventData) -> Words:
    return Words(
        f"{rials_en(d['amount'])} of payment {d['reference']} applied to this invoice",
        f"{rials_fa(d['amount'])} از پرداخت {d['reference']} برای این صورتحساب منظور شد",
    )


@formats(Invoice.CreditApplied)
def _credit_applied(d: EventData) -> Words:
    return Words(
        f"{rials_en(d['amount'])} of the customer's credit applied",
        f"{rials_fa(d['amount'])} از اعتبار مشتری برای این صورتحساب منظور شد",
    )


@formats(Invoice.OfficialInvoiceIssued)
def _official_issued(d: EventData) -> Words:
    buyer = d["buyer"]
    number = f"{d['fiscal_year']}-{d['number']:06d}"
    return Words(
        f"official invoice {number} issued to {buyer['name']} "
        f"(economic code {buyer['economic_code']}), tax ID {d['tax_id']}, terms {d['terms']}",
        f"صورتحساب رسمی {number} به نام {buyer['name']} (کد اقتصادی {buyer['economic_code']}) "
        f"صادر شد، شناسهٔ مالیاتی {d['tax_id']}، شرایط {_TERMS_FA.get(d['terms'], d['terms'])}",
    )


_SUBJECT_FA = {"cancelling": "ابطالی", "corrective": "اصلاحی", "return": "برگشت از فروش"}


@formats(Invoice.OfficialCorrectionIssued)
def _correction_issued(d: EventData) -> Words:
    number = f"{d['fiscal_year']}-{d['number']:06d}"
    subject = d["subject"]
    return Words(
        f"{subject} official document {number} issued for official invoice "
        f"{d['original_number']} (tax ID {d['original_tax_id']}), tax ID {d['tax_id']}",
        f"صورتحساب رسمی {_SUBJECT_FA.get(subject, subject)} {number} برای صورتحساب "
        f"{d['original_number']} (شناسهٔ مالیاتی {d['original_tax_id']}) صادر شد، شناسهٔ "
        f"مالیاتی {d['tax_id']}",
    )


@formats(Invoice.SaleReturned)
def _sale_returned(d: EventData) -> Words:
    return Words(
        f"return {d['number']}: {rials_en(d['amount'])} of the invoice taken back into credit "
        f"({d['reason']})",
        f"برگشت از فروش {d['number']}: {rials_fa(d['amount'])} از صورتحساب به اعتبار "
        f"برگشت ({d['reason']})",
    )


@formats(Invoice.CreditNoteIssued)
def _credit_note_issued(d: EventData) -> Words:
    cause_en = "void" if d["cause"] == "void" else "return"
    cause_fa = "ابطال" if d["cause"] == "void" else "برگشت از فروش"
    return Words(
        f"credit note {d['number']} issued for {rials_en(d['amount'])} ({cause_en}: {d['reason']})",
        f"یادداشت بستانکاری {d['number']} به مبلغ {rials_fa(d['amount'])} صادر شد "
        f"({cause_fa}: {d['reason']})",
    )


@formats(Invoice.InvoiceVoided)
def _voided(d: EventData) -> Words:
    return Words(f"invoice voided ({d['reason']})", f"صورتحساب باطل شد ({d['reason']})")


@formats(Invoice.VoidProposed)
def _void_proposed(d: EventData) -> Words:
    return Words(
        f"void proposed, awaiting a second person ({d['reason']})",
        f"ابطال پیشنهاد شد و در انتظار نفر دوم است ({d['reason']})",
    )


@formats(Invoice.OfflinePaymentRequested)
def _offline_requested(d: EventData) -> Words:
    return Words(
        f"the customer asked to pay offline: {d['reason']}",
        f"مشتری درخواست پرداخت آفلاین داد: {d['reason']}",
    )


@formats(Invoice.OfflinePaymentApproved)
def _offline_approved(d: EventData) -> Words:
    return Words(
        f"finance approved paying offline; the deadline moves to {when_en(d['deadline'])}",
        f"بخش مالی پرداخت آفلاین را پذیرفت؛ مهلت پرداخت به {when_fa(d['deadline'])} می‌رسد",
    )


@formats(Invoice.OfflinePaymentRejected)
def _offline_rejected(d: EventData) -> Words:
    return Words(
        f"finance refused paying offline: {d['reason']}",
        f"بخش مالی پرداخت آفلاین را نپذیرفت: {d['reason']}",
    )


@formats(Invoice.ReceiptRegistered)
def _receipt_registered(d: EventData) -> Words:
    return Words(
        f"bank receipt registered: {d['bank']} #{d['tracking_number']}, {rials_en(d['amount'])}, "
        f"paid {d['paid_on']}; suspension and collection of this invoice wait for finance",
        f"رسید بانکی ثبت شد: {bank_fa(d['bank'])}، شمارهٔ پیگیری {d['tracking_number']}، "
        f"{rials_fa(d['amount'])}، واریز در {fa_digits(d['paid_on'])}؛ تعلیق و جمع‌آوری به خاطر "
        "این صورتحساب در انتظار بخش مالی می‌ماند",
    )


@formats(Invoice.ReceiptConfirmed)
def _receipt_confirmed(d: EventData) -> Words:
    return Words(
        "finance confirmed the receipt: the payment is recorded",
        "بخش مالی رسید را تأیید کرد: پرداخت ثبت می‌شود",
    )


@formats(Invoice.ReceiptRejected)
def _receipt_rejected(d: EventData) -> Words:
    return Words(
        f"finance rejected the receipt: {d['reason']}",
        f"بخش مالی رسید را نپذیرفت: {d['reason']}",
    )
