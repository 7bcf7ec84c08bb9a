"""Every event has words, in English and Persian (presentation/events), and explain answers for
every kind of aggregate (presentation/explain_text).

The words are found by the event's class, so a new event without a formatter fails here, not
as a bare event name in a finance export.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from eventsourcing.domain import Aggregate

import domain
from domain.invoice import Invoice
from domain.subscription import Subscription
from presentation.events import FORMATTERS, formats, words_for
from presentation.words import Words
from service_layer.audit import explain
from service_layer.timeline import describe, describe_fa, timeline
from tests.builders import DAY, T0, a_company, a_plan, ordered

INVOICE_ID = "1c0ffee5-0000-4000-8000-000000000001"
#: 1405/02/14 09:00 and 1405/02/17 09:00 in Tehran.
DEADLINE, SUSPENSION = "2026-05-04T05:30:00Z", "2026-05-07T05:30:00Z"


def aggregates_of_the_domain() -> list[type[Aggregate]]:
    for module in pkgutil.iter_modules(domain.__path__):
        importlib.import_module(f"domain.{module.name}")

    def below(cls: type) -> list[type]:
        return [s for sub in cls.__subclasses__() for s in (sub, *below(sub))]

    ours = {a for a in below(Aggregate) if a.__module__.startswith("domain.")}
    # a shared base (BillingAggregate) records nothing itself: only its subclasses do
    bases = {base for a in ours for base in a.__mro__[1:]}
    return sorted(ours - bases, key=lambda a: a.__qualname__)


def event_classes_of(aggregate: type[Aggregate]) -> set[type]:
    """The events an aggregate records: its nested event classes, less the library's bases
    (``Event``, and ``Created`` when the aggregate names its created event, as
    ``@event("SubscriptionStarted")`` on ``__init__`` does)."""
    events = {
        value
        for value in vars(aggregate).values()
        if isinstance(value, type)
        and issubclass(value, Aggregate.Event)
        and value is not aggregate.Event
    }
    named_created = [
        e for e in events if issubclass(e, Aggregate.Created) and e.__name__ != "Created"
    ]
    if named_created:
        events.discard(getattr(aggregate, "Created", None))
    return events


def test_every_event_class_of_every_aggregate_has_words():
    aggregates = aggregates_of_the_domain()
    names = {a.__name__ for a in aggregates}
    assert {"Subscription", "Invoice", "Customer", "Payment", "Catalogue"} <= names
    missing = sorted(
        e.__qualname__ for a in aggregates for e in event_classes_of(a) if e not in FORMATTERS
    )
    assert not missing, f"events without words in presentation/events: {missing}"
    # and nothing is registered for a class that is not an event of the domain
    known = {e for a in aggregates for e in event_classes_of(a)}
    assert set(FORMATTERS) <= known


def test_an_event_class_is_registered_once_and_an_unknown_one_is_shown_by_its_name():
    with pytest.raises(ValueError, match="Subscription.GraceStarted has two formatters"):
        formats(Subscription.GraceStarted)(lambda d: Words("", ""))
    assert words_for(None, {}, "SomethingNew") == Words("SomethingNew", "SomethingNew")


def test_grace_started_in_both_languages():
    words = FORMATTERS[Subscription.GraceStarted]({"invoice_id": INVOICE_ID})
    assert words == Words(
        "invoice 1c0ffee5 unpaid at its deadline: the grace period begins",
        "صورتحساب 1c0ffee5 تا پایان مهلت پرداخت نشد: دورهٔ ارفاق آغاز می‌شود",
    )


def test_a_payment_reminder_says_amount_deadline_and_suspension_in_both_languages():
    data = {
        "kind": "payment_reminder",
        "number": 2,
        "facts": {"amount_due": 1_100_000, "deadline": DEADLINE, "suspension_at": SUSPENSION},
    }
    words = words_for(Invoice.NoticeSent, data)
    assert words.english == (
        "notice to the customer: payment reminder #2: 1,100,000 rials due by 1405/02/14 09:00; "
        "unpaid, the site is suspended on 1405/02/17 09:00"
    )
    assert words.persian == (
        "اعلان به مشتری: یادآوری پرداخت ۲: ۱٬۱۰۰٬۰۰۰ ریال تا ۱۴۰۵/۰۲/۱۴ ۰۹:۰۰؛ اگر پرداخت "
        "نشود، وب‌سایت در ۱۴۰۵/۰۲/۱۷ ۰۹:۰۰ تعلیق می‌شود"
    )
    # the subscription's notices are another class with the same words
    assert words_for(Subscription.NoticeSent, data) == words


def test_a_reminder_under_a_hold_says_the_hold_and_no_suspension_date():
    held = "2026-05-14T05:30:00+00:00"  # 1405/02/24 09:00 in Tehran
    data = {
        "kind": "payment_reminder",
        "number": 1,
        "facts": {
            "amount_due": 1_100_000,
            "deadline": DEADLINE,
            "suspension_at": None,
            "hold_until": held,
        },
    }
    words = words_for(Invoice.NoticeSent, data)
    assert words.english == (
        "notice to the customer: payment reminder #1: 1,100,000 rials due by 1405/02/14 09:00; "
        "on hold until 1405/02/24 09:00: no suspension before then"
    )
    assert (
        "در توقف پیگیری تا ۱۴۰۵/۰۲/۲۴ ۰۹:۰۰" in words.persian and "تعلیق می‌شود" not in words.persian
    )
    grace = words_for(
        Invoice.NoticeSent, {"kind": "grace_started", "number": 0, "facts": data["facts"]}
    )
    assert (
        "on hold until 1405/02/24 09:00" in grace.english and "stays up until" not in grace.english
    )


def test_the_hold_and_kept_credit_notices_say_what_they_told():
    placed = words_for(
        Subscription.NoticeSent,
        {
            "kind": "hold_placed",
            "number": 0,
            "facts": {"until": "2026-05-14T05:30:00+00:00", "amount_due": 1_100_000, "site": "up"},
        },
    )
    assert placed.english == (
        "notice to the customer: enforcement on hold until 1405/02/24 09:00: no suspension or "
        "collection until then; 1,100,000 rials still due"
    )
    assert "۱٬۱۰۰٬۰۰۰ ریال" in placed.persian and "۱۴۰۵/۰۲/۲۴" in placed.persian
    kept = words_for(
        Invoice.NoticeSent,
        {
            "kind": "payment_kept_as_credit",
            "number": 0,
            "facts": {
                "reference": "gateway:A1",
                "amount": 300_000,
                "cause": "collected",
                "credit": 300_000,
            },
        },
    )
    assert kept.english == (
        "notice to the customer: payment gateway:A1 of 300,000 rials kept as credit (the site "
        "was collected); credit now 300,000 rials"
    )
    assert "جمع‌آوری شده بود" in kept.persian and "۳۰۰٬۰۰۰ ریال" in kept.persian


def test_a_restore_names_its_cause_a_void_or_a_payment():
    restored = FORMATTERS[Subscription.SiteRestored]
    by_void = restored({"payment_reference": f"void:{INVOICE_ID}"})
    assert by_void.english == (
        "the void of invoice 1c0ffee5 left nothing keeping the site suspended: the site is restored"
    )
    assert by_void.persian.startswith("با ابطال صورتحساب 1c0ffee5 ")
    by_payment = restored({"payment_reference": "zp-42"})
    assert by_payment.english.startswith("payment zp-42 left nothing")
    assert "پرداخت zp-42" in by_payment.persian


def test_an_invoice_issued_gives_total_vat_period_and_deadline():
    data = {
        "kind": "first",
        "period_no": 1,
        "period_start": "1405/01/15",
        "period_end": "1405/02/15",
        "lines": [
            {
                "unit_price": 1_000_000,
                "quantity": 1,
                "discount": 0,
                "vat": 100_000,
                "vat_rate_bp": 1000,
            }
        ],
        "deadline": DEADLINE,
    }
    words = FORMATTERS[Invoice.InvoiceIssued](data)
    assert words.english == (
        "first invoice for period 1 (1405/01/15 to 1405/02/14): 1,100,000 rials (VAT 10%); "
        "deadline 1405/02/14 09:00"
    )
    assert words.persian == (
        "صورتحساب نخستین دورهٔ ۱ (۱۴۰۵/۰۱/۱۵ تا ۱۴۰۵/۰۲/۱۴): ۱٬۱۰۰٬۰۰۰ ریال "
        "(مالیات بر ارزش افزوده ۱۰٪)؛ مهلت پرداخت ۱۴۰۵/۰۲/۱۴ ۰۹:۰۰"
    )


# --- on a real history -------------------------------------------------------------------------


def a_history():
    """A company's site through an offline payment with a bank receipt, a payment in full (an
    official invoice), then an unpaid renewal: every kind of aggregate the engine keeps."""
    from tests.unit.test_official_invoices import app_with_seller

    app = app_with_seller()
    app.define_plan(a_plan(), T0)
    customer = app.register_customer(a_company(), T0)
    sub_id = ordered(app, customer=customer)
    invoice_id = app.get_subscription(sub_id).invoice_ids[0]
    request_id = app.request_offline_payment(invoice_id, "treasury pays by transfer", T0 + DAY)
    app.decide_offline_payment(invoice_id, request_id, T0 + DAY, approve=True)
    app.register_receipt(
        invoice_id,
        bank="012",
        tracking_number="555001",
        amount=500_000,
        paid_on="1405/01/17",
        now=T0 + 2 * DAY,
    )
    app.record_payment("pay-1", 1_100_000, T0 + 3 * DAY, invoice_id=invoice_id)
    app.advance(T0 + 45 * DAY, on_time=True)
    return app, customer, sub_id


def test_every_event_of_a_history_reads_in_english_and_persian():
    app, _, sub_id = a_history()
    entries = timeline(app, sub_id)
    assert len(entries) > 10
    for entry in entries:
        assert describe(entry) != entry.event, entry.event
        persian = describe_fa(entry)
        assert persian and persian != describe(entry), entry.event


def test_explain_answers_for_every_aggregate_in_the_store_not_only_subscriptions():
    """Explaining an invoice used to crash ('Invoice' object has no attribute 'invoice_ids')."""
    app, customer, sub_id = a_history()
    at = T0 + 45 * DAY
    stored = {n.originator_id for n in app.recorder.select_notifications(start=1, limit=10_000)}
    kinds = {}
    for aggregate_id in stored:
        explanation = explain(app, aggregate_id, at, subscriptions_of=lambda c: [sub_id])
        assert explanation.english and explanation.persian
        kinds[explanation.english.split(" ")[0]] = explanation
    assert {"Subscription", "Invoice", "Customer", "Payment"} <= set(kinds)
    assert {"Catalogue", "BankTransfer", "OfficialNumberClaim"} <= set(kinds)
    assert f"- subscription {str(sub_id)[:8]}" in kinds["Customer"].english
    assert "رویداد ثبت‌شده دارد" in kinds["BankTransfer"].persian
