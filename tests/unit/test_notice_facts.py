"""Each notice kind has one declared shape of facts and one time format (docs/EVENTS.md,
"Notice facts")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from domain.base import NoticeKind
from domain.notices import SHAPES, NoticeSentEvent, PaymentReminderFacts, facts_of, shape_of

TEHRAN = timezone(timedelta(hours=3, minutes=30))


def test_every_kind_has_a_shape():
    assert set(SHAPES) == set(NoticeKind)


def test_moments_are_written_in_utc_with_their_offset_whatever_they_came_as():
    facts = facts_of(
        NoticeKind.PAYMENT_REMINDER,
        {
            "deadline": datetime(2026, 5, 4, 9, 0, tzinfo=TEHRAN),
            "amount_due": 1_100_000,
            "suspension_at": "2026-05-07T05:30:00Z",
        },
    )
    assert facts == {
        "deadline": "2026-05-04T05:30:00+00:00",
        "amount_due": 1_100_000,
        "suspension_at": "2026-05-07T05:30:00+00:00",
        "hold_until": None,  # no enforcement hold: recorded with its default
    }


def test_a_fact_the_kind_does_not_have_or_a_missing_one_is_refused():
    with pytest.raises(TypeError, match="InvoiceIssuedFacts"):
        facts_of(NoticeKind.INVOICE_ISSUED, {"amount_due": 1, "deadline": None, "colour": "red"})
    with pytest.raises(TypeError, match="HoldEndedFacts"):
        facts_of(NoticeKind.HOLD_ENDED, {"amount_due": 1})


def test_a_reminder_under_a_hold_states_the_hold_and_may_state_no_suspension():
    facts = facts_of(
        NoticeKind.PAYMENT_REMINDER,
        {
            "deadline": "2026-05-04T05:30:00Z",
            "amount_due": 1_100_000,
            "suspension_at": None,  # the hold prevents it
            "hold_until": datetime(2026, 5, 14, 9, 0, tzinfo=TEHRAN),
        },
    )
    assert facts["suspension_at"] is None and facts["hold_until"] == "2026-05-14T05:30:00+00:00"
    # The suspension is still said, as a moment or as None: leaving it out is refused.
    with pytest.raises(TypeError, match="PaymentReminderFacts"):
        facts_of(NoticeKind.PAYMENT_REMINDER, {"deadline": "2026-05-04T05:30:00Z", "amount_due": 1})


def test_the_new_kinds_declare_their_facts():
    placed = facts_of(
        NoticeKind.HOLD_PLACED,
        {"until": "2026-05-14T05:30:00Z", "amount_due": 5, "site": "up", "invoice_id": None},
    )
    assert placed["until"] == "2026-05-14T05:30:00+00:00"
    kept = facts_of(
        NoticeKind.PAYMENT_KEPT_AS_CREDIT,
        {"reference": "gateway:A1", "amount": 5, "cause": "void", "credit": 5},
    )
    assert kept == {"reference": "gateway:A1", "amount": 5, "cause": "void", "credit": 5}
    with pytest.raises(TypeError, match="PaymentKeptAsCreditFacts"):
        facts_of(NoticeKind.PAYMENT_KEPT_AS_CREDIT, {"reference": "gateway:A1", "amount": 5})


def test_facts_stored_before_a_fact_was_added_read_as_its_default():
    """hold_until (reminders, grace) and invoice_id (hold_ended) came later: a stored notice
    without them means no hold was told and no invoice was named."""
    reminder = shape_of(
        NoticeKind.PAYMENT_REMINDER,
        {
            "deadline": "2026-05-04T05:30:00+00:00",
            "amount_due": 5,
            "suspension_at": "2026-05-07T05:30:00+00:00",
        },
    )
    assert reminder.hold_until is None and reminder.suspension_at == "2026-05-07T05:30:00+00:00"
    ended = shape_of(
        NoticeKind.HOLD_ENDED, {"amount_due": 0, "overdue": [], "action_not_before": None}
    )
    assert ended.invoice_id is None


def test_optional_facts_are_recorded_with_their_default():
    facts = facts_of(
        NoticeKind.SITE_RESTORED,
        {
            "reference": "void of invoice 1",
            "cause": "void",
            "amount": 0,
            "credit": 0,
            "amount_due": 0,
            "site": "up",
        },
    )
    assert facts["still_overdue"] == [] and facts["cause"] == "void"


def test_version_1_facts_are_upcast_to_the_one_time_format():
    state = {
        "kind": "payment_reminder",
        "number": 1,
        "due_at": None,
        "facts": {
            "deadline": "2026-05-04T05:30:00Z",
            "amount_due": 5,
            "suspension_at": "2026-05-07T05:30:00+00:00",
        },
    }
    NoticeSentEvent.upcast_v1_v2(state)
    assert state["facts"]["deadline"] == "2026-05-04T05:30:00+00:00"
    assert PaymentReminderFacts(**state["facts"]).suspension_at == "2026-05-07T05:30:00+00:00"


def test_a_notice_reads_its_facts_as_its_kinds_shape():
    from tests.builders import in_memory_app, ordered

    app = in_memory_app()
    sub_id = ordered(app)
    invoice = app.get_invoice(app.get_subscription(sub_id).invoice_ids[0])
    issued = invoice.notices_of(NoticeKind.INVOICE_ISSUED)[0].shape
    assert issued.deadline == invoice.deadline.astimezone(UTC).isoformat()
