"""The stored events' schema, pinned: every topic with its class_version and its fields.

Stored events are never rewritten, so an event class is a contract with every database that
holds one. Renaming or moving a class changes its topic (old events no longer load); adding,
removing or retyping a field changes what old events mean. Either fails here, loudly, until
the change follows the versioning rule of docs/EVENTS.md and this pin is updated with it.
"""

from __future__ import annotations

import re
from pathlib import Path

from eventsourcing.utils import get_topic, resolve_topic

from tests.unit.event_catalogue import stored_events

DOCS = Path(__file__).resolve().parents[2] / "docs" / "EVENTS.md"
RULE = (
    "See docs/EVENTS.md, 'Changing an event': never rewrite stored events and never rename or "
    "move an event class; a changed event gets class_version N+1 and a static "
    "upcast_vN_vN+1(state) turning the old stored dict into the new one, new fields get a "
    "default for old events, and this pin (tests/unit/test_event_schema.py) and EVENTS.md are "
    "updated in the same change."
)

#: topic → (class_version, {field: annotation}), as stored today.
PINNED: dict[str, tuple[int, dict[str, str]]] = {
    "domain.catalogue:Catalogue.CatalogueOpened": (
        1,
        {},
    ),
    "domain.catalogue:Catalogue.PlanDefined": (
        1,
        {"plan": "dict[str, Any]"},
    ),
    "domain.catalogue:Catalogue.PlanRetired": (
        1,
        {"plan_id": "str"},
    ),
    "domain.customer:Customer.BillingProfileChanged": (
        1,
        {"profile": "dict[str, Any]"},
    ),
    "domain.customer:Customer.CreditAdded": (
        1,
        {"amount": "int", "reference": "str"},
    ),
    "domain.customer:Customer.CreditRefunded": (
        1,
        {
            "amount": "int",
            "reason": "str",
            "bank_reference": "str",
            "via": "str",
            "payment_reference": "str | None",
        },
    ),
    "domain.customer:Customer.CreditUsed": (
        1,
        {"amount": "int", "invoice_id": "UUID"},
    ),
    "domain.customer:Customer.CustomerRegistered": (
        1,
        {"profile": "dict[str, Any]", "representative_id": "UUID | None"},
    ),
    "domain.customer:Customer.RepresentativeAssigned": (
        1,
        {"previous_representative_id": "UUID | None", "representative_id": "UUID", "reason": "str"},
    ),
    "domain.invoice:Invoice.CreditApplied": (
        1,
        {"amount": "int"},
    ),
    "domain.invoice:Invoice.InvoiceIssued": (
        3,
        {
            "subscription_id": "UUID",
            "customer_id": "UUID",
            "period_no": "int",
            "kind": "str",
            "period_start": "str",
            "period_end": "str",
            "lines": "list[dict[str, Any]]",
            "deadline": "datetime",
            "due_at": "datetime | None",
            "reminder_days": "list[int] | None",
            "representative_id": "UUID | None",
        },
    ),
    "domain.invoice:Invoice.InvoiceVoided": (
        1,
        {"reason": "str", "due_at": "datetime | None"},
    ),
    "domain.invoice:Invoice.VoidProposed": (1, {"reason": "str"}),
    "domain.invoice:Invoice.NoticeSent": (
        2,
        {"kind": "str", "number": "int", "due_at": "datetime | None", "facts": "dict[str, Any]"},
    ),
    "domain.invoice:Invoice.OfficialInvoiceIssued": (
        1,
        {
            "fiscal_year": "int",
            "number": "int",
            "seller": "dict[str, Any]",
            "buyer": "dict[str, Any]",
            "tax_id": "str",
            "terms": "str",
            "references": "list[str]",
        },
    ),
    "domain.invoice:Invoice.OfficialCorrectionIssued": (
        1,
        {
            "subject": "str",
            "fiscal_year": "int",
            "number": "int",
            "tax_id": "str",
            "original_number": "str",
            "original_tax_id": "str",
            "amount": "int",
            "reason": "str",
        },
    ),
    "domain.invoice:Invoice.SaleReturned": (
        1,
        {"number": "int", "amount": "int", "vat": "int", "reason": "str"},
    ),
    "domain.invoice:Invoice.CreditNoteIssued": (
        1,
        {"number": "int", "amount": "int", "vat": "int", "reason": "str", "cause": "str"},
    ),
    "domain.invoice:Invoice.OfflinePaymentApproved": (
        1,
        {"request_id": "UUID", "deadline": "datetime", "note": "str"},
    ),
    "domain.invoice:Invoice.OfflinePaymentRejected": (
        1,
        {"request_id": "UUID", "reason": "str"},
    ),
    "domain.invoice:Invoice.OfflinePaymentRequested": (
        1,
        {"request_id": "UUID", "reason": "str"},
    ),
    "domain.invoice:Invoice.PaymentRecorded": (
        1,
        {"payment_id": "UUID", "reference": "str", "amount": "int", "method": "str"},
    ),
    "domain.invoice:Invoice.ReceiptConfirmed": (
        1,
        {"receipt_id": "UUID"},
    ),
    "domain.invoice:Invoice.ReceiptRegistered": (
        1,
        {
            "receipt_id": "UUID",
            "bank": "str",
            "tracking_number": "str",
            "amount": "int",
            "paid_on": "str",
            "scan_hash": "str | None",
            "possible_duplicates": "list[str] | None",
        },
    ),
    "domain.invoice:Invoice.ReceiptRejected": (
        1,
        {"receipt_id": "UUID", "reason": "str"},
    ),
    "domain.official:OfficialNumberClaim.OfficialNumberClaimed": (
        1,
        {"fiscal_year": "int", "number": "int", "invoice_id": "UUID"},
    ),
    "domain.payment:BankTransfer.BankTransferClaimed": (
        1,
        {
            "tracking_number": "str",
            "bank": "str",
            "amount": "int",
            "invoice_id": "UUID",
            "receipt_id": "UUID",
        },
    ),
    "domain.payment:BankTransfer.BankTransferClaimedAgain": (
        1,
        {"bank": "str", "amount": "int", "invoice_id": "UUID", "receipt_id": "UUID"},
    ),
    "domain.payment:BankTransfer.BankTransferReleased": (
        1,
        {"receipt_id": "UUID", "reason": "str"},
    ),
    "domain.payment:GatewayPayment.GatewayPaymentFailed": (
        1,
        {"reason": "str", "code": "int | None"},
    ),
    "domain.payment:GatewayPayment.GatewayPaymentVerified": (
        1,
        {"ref_id": "str", "code": "int"},
    ),
    "domain.payment:GatewayPayment.GatewayVerificationPending": (
        1,
        {"reason": "str"},
    ),
    "domain.payment:GatewayPayment.PaymentLinkCreated": (
        1,
        {
            "authority": "str",
            "invoice_id": "UUID",
            "subscription_id": "UUID",
            "amount": "int",
            "gateway": "str",
        },
    ),
    "domain.payment:Payment.PaymentReceived": (
        1,
        {
            "reference": "str",
            "amount": "int",
            "method": "str",
            "customer_id": "UUID",
            "subscription_id": "UUID",
            "invoice_id": "UUID | None",
        },
    ),
    "domain.payment:TrackingNumber.TrackingNumberClaimed": (
        1,
        {"bank": "str", "tracking_number": "str", "invoice_id": "UUID", "receipt_id": "UUID"},
    ),
    "domain.payment:TrackingNumber.TrackingNumberClaimedAgain": (
        1,
        {"invoice_id": "UUID", "receipt_id": "UUID"},
    ),
    "domain.payment:TrackingNumber.TrackingNumberReleased": (
        1,
        {"receipt_id": "UUID", "reason": "str"},
    ),
    "domain.representative:Representative.RepresentativeAdded": (
        1,
        {"name": "str", "mobile": "str | None", "email": "str | None"},
    ),
    "domain.representative:Representative.RepresentativeDetailsChanged": (
        1,
        {"name": "str", "mobile": "str | None", "email": "str | None"},
    ),
    "domain.staff:StaffMember.StaffMemberAdded": (
        1,
        {"name": "str", "role": "str", "email": "str | None"},
    ),
    "domain.staff:StaffMember.StaffMemberDisabled": (
        1,
        {"reason": "str"},
    ),
    "domain.staff:StaffMember.StaffPasswordSet": (
        1,
        {},
    ),
    "domain.subscription:Subscription.EnforcementHoldEnded": (
        1,
        {"reason": "str", "due_at": "datetime | None"},
    ),
    "domain.subscription:Subscription.EnforcementHoldPlaced": (
        1,
        {"reason": "str", "until": "datetime"},
    ),
    "domain.subscription:Subscription.GraceStarted": (
        1,
        {"invoice_id": "UUID", "due_at": "datetime"},
    ),
    "domain.subscription:Subscription.GraceWithdrawn": (
        1,
        {"invoice_id": "UUID", "deadline": "datetime"},
    ),
    "domain.subscription:Subscription.InvoicesClosed": (
        1,
        {"invoice_ids": "list[UUID]", "reason": "str"},
    ),
    "domain.subscription:Subscription.InvoicesSettled": (
        1,
        {"invoice_ids": "list[UUID]", "reference": "str"},
    ),
    "domain.subscription:Subscription.NoticeSent": (
        2,
        {"kind": "str", "number": "int", "due_at": "datetime | None", "facts": "dict[str, Any]"},
    ),
    "domain.subscription:Subscription.PlanChangeScheduled": (
        1,
        {"plan": "dict[str, Any]", "period": "str", "from_period_no": "int"},
    ),
    "domain.subscription:Subscription.PlanChanged": (
        1,
        {
            "plan": "dict[str, Any]",
            "period": "str",
            "from_plan_id": "str",
            "from_period": "str",
            "period_no": "int",
            "period_end": "str",
            "invoice_id": "UUID",
            "days_left": "int",
            "days_total": "int",
        },
    ),
    "domain.subscription:Subscription.SiteCollected": (
        1,
        {"voided_invoice_ids": "list[UUID]", "due_at": "datetime"},
    ),
    "domain.subscription:Subscription.SiteRestored": (
        1,
        {"payment_reference": "str"},
    ),
    "domain.subscription:Subscription.SiteSuspended": (
        1,
        {"invoice_id": "UUID", "suspension_no": "int", "due_at": "datetime"},
    ),
    "domain.subscription:Subscription.SubscriptionCancelled": (
        1,
        {"reason": "str", "effective_at": "datetime"},
    ),
    "domain.subscription:Subscription.SubscriptionEnded": (
        1,
        {"due_at": "datetime"},
    ),
    "domain.subscription:Subscription.SubscriptionRenewed": (
        1,
        {
            "period_no": "int",
            "start": "str",
            "end": "str",
            "invoice_id": "UUID",
            "plan_id": "str",
            "period": "str",
            "due_at": "datetime",
        },
    ),
    "domain.subscription:Subscription.SubscriptionStarted": (
        1,
        {
            "customer_id": "UUID",
            "representative_id": "UUID | None",
            "site": "str",
            "plan": "dict[str, Any]",
            "period": "str",
            "anchor": "str",
            "first_period_end": "str",
            "first_invoice_id": "UUID",
        },
    ),
}


def test_every_stored_topic_still_names_its_class():
    declared = stored_events()
    gone = sorted(set(PINNED) - set(declared))
    new = sorted(set(declared) - set(PINNED))
    assert not gone, f"These stored topics no longer name an event class: {gone}. {RULE}"
    assert not new, f"New event topics are not pinned yet: {new}. {RULE}"
    for topic in PINNED:
        assert get_topic(resolve_topic(topic)) == topic, f"{topic} resolves elsewhere. {RULE}"


def test_every_event_keeps_its_fields_and_version():
    declared = stored_events()
    for topic, (version, fields) in PINNED.items():
        if topic not in declared:
            continue  # reported by the test above
        now_version, now_fields = declared[topic]
        assert (now_version, now_fields) == (version, fields), (
            f"{topic} changed: pinned version {version} with {fields}, now version "
            f"{now_version} with {now_fields}. {RULE}"
        )


def test_every_version_has_its_upcasts():
    for topic, (version, _) in PINNED.items():
        cls = resolve_topic(topic)
        for n in range(1, version):
            upcast = f"upcast_v{n}_v{n + 1}"
            assert callable(getattr(cls, upcast, None)), f"{topic} lacks {upcast}. {RULE}"


def test_every_event_and_field_is_in_the_events_document():
    text = DOCS.read_text(encoding="utf-8")
    for topic, (version, fields) in PINNED.items():
        heading = f"### `{topic}`"
        assert heading in text, f"docs/EVENTS.md has no section {heading}. {RULE}"
        section = text.split(heading, 1)[1].split("\n#", 1)[0]
        for field in fields:
            assert re.search(rf"`{field}`", section), (
                f"docs/EVENTS.md does not describe field {field} of {topic}. {RULE}"
            )
        if version > 1:
            assert f"(version {version})" in section.splitlines()[0], (
                f"docs/EVENTS.md's heading of {topic} does not say version {version}. {RULE}"
            )
