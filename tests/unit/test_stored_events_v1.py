"""Events stored by the code of before InvoiceIssued and NoticeSent version 2 still load, and
the lifecycle decides about them what that code decided.

``tests/data/events_v1.sqlite`` was written by ``tests/data/make_events_v1.py`` with the
code of commit 2aead4c, and ``events_v1.json`` holds what that code's lifecycle planned for
each subscription at the end of the history. Each test works on a copy of the file.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from domain import lifecycle
from domain.base import NoticeKind
from domain.notices import MOMENTS, SHAPES
from service_layer.application import BillingApplication

DATA = Path(__file__).resolve().parents[1] / "data"
DECIDED = json.loads((DATA / "events_v1.json").read_text())
END = datetime.fromisoformat(DECIDED["end"])
SUB_A = UUID("00000000-0000-4000-8000-00000000000a")  # basic, a change to plus pending
SUB_C = UUID("00000000-0000-4000-8000-00000000000c")  # plus, suspended


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    copy = tmp_path / "events_v1.sqlite"
    shutil.copyfile(DATA / "events_v1.sqlite", copy)
    return copy


def open_app(path: Path) -> BillingApplication:
    return BillingApplication(
        env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
    )


def test_the_file_holds_version_1_events(old_store):
    """What the tests below read really is the old format: no class_version in any event."""
    with sqlite3.connect(old_store) as db:
        states = [row[0] for row in db.execute("SELECT state FROM stored_events")]
        topics = {row[0] for row in db.execute("SELECT topic FROM stored_events")}
    assert states and not any(b"class_version" in bytes(s) for s in states)
    assert "domain.invoice:Invoice.InvoiceIssued" in topics
    assert "domain.subscription:Subscription.NoticeSent" in topics


def test_old_aggregates_load_as_they_were(old_store):
    app = open_app(old_store)
    for sub_id, was in DECIDED["subscriptions"].items():
        life = app.lifecycle_of(UUID(sub_id), all_invoices=True)
        assert life.subscription.version == was["version"]
        assert life.subscription.status.value == was["status"]
        assert set(map(str, life.invoices)) == set(was["invoices"])
        for invoice_id, inv in life.invoices.items():
            before = was["invoices"][str(invoice_id)]
            assert inv.version == before["version"]
            assert inv.balance.rials == before["balance"]
            assert [[n.kind.value, n.number] for n in inv.notices] == before["notices"]


def test_the_lifecycle_decides_what_the_old_code_decided(old_store):
    app = open_app(old_store)
    for sub_id, was in DECIDED["subscriptions"].items():
        life = app.lifecycle_of(UUID(sub_id), all_invoices=True)
        sub = life.subscription
        planned = [
            [s.step.value, s.due_at.isoformat(), str(s.invoice_id or ""), s.number]
            for s in lifecycle.planned_steps(sub, life.invoices, sub.plan.policy)
        ]
        assert planned == was["planned_steps"], sub_id


def test_the_upcast_leaves_old_invoices_on_the_schedule_of_their_period(old_store):
    """InvoiceIssued version 1 recorded no reminder schedule: the upcast fills None, read as
    the schedule of the plan the invoice's period was billed on."""
    app = open_app(old_store)
    a = app.lifecycle_of(SUB_A, all_invoices=True)
    c = app.lifecycle_of(SUB_C, all_invoices=True)
    for life, days in ((a, (3, 1)), (c, (7, 3, 1))):
        for inv in life.invoices.values():
            assert inv.reminder_days is None
            assert lifecycle.reminder_days_of(inv, life.subscription) == days


def test_old_notice_facts_are_read_in_the_one_shape_and_time_format(old_store):
    app = open_app(old_store)
    notices = []
    for sub_id in DECIDED["subscriptions"]:
        life = app.lifecycle_of(UUID(sub_id), all_invoices=True)
        notices += life.subscription.notices
        for inv in life.invoices.values():
            notices += inv.notices
    assert {n.kind for n in notices} >= {NoticeKind.PAYMENT_REMINDER, NoticeKind.SITE_SUSPENDED}
    for notice in notices:
        assert isinstance(notice.shape, SHAPES[notice.kind])
        for name in MOMENTS & notice.facts.keys():
            moment = notice.facts[name]
            assert moment is None or moment.endswith("+00:00"), (notice.kind, name, moment)


def test_a_plan_change_taking_effect_adds_no_reminder_to_an_old_invoice(old_store):
    """The old code sent invoice 1 of A a third, late reminder when the change to ``plus``
    (three reminders) took effect at the renewal; it keeps the two of its period's plan."""
    app = open_app(old_store)
    first = app.get_subscription(SUB_A).invoice_ids[0]
    app.advance(END + timedelta(days=3), on_time=True)
    sub = app.get_subscription(SUB_A)
    assert len(sub.periods) == 2 and sub.plan.id == "plus"
    reminders = app.get_invoice(first).notices_of(NoticeKind.PAYMENT_REMINDER)
    assert sorted(n.number for n in reminders) == [1, 2]
    renewal = app.get_invoice(sub.invoice_ids[1])
    assert renewal.reminder_days == (7, 3, 1)


def test_old_notices_read_as_no_hold_and_render_with_todays_templates(old_store):
    """Facts added later (``hold_until`` of a reminder or grace notice, ``invoice_id`` of
    hold_ended) read as their default in notices stored before them: no hold was told, so an
    old reminder still names its suspension date when the outbox renders it."""
    from adapters.notify.render import NoticeRenderer
    from domain.notices import NoticeSentEvent
    from projections.model import AggregateStates
    from projections.outbox import OutboxView

    app = open_app(old_store)
    states = AggregateStates()
    outbox = OutboxView(
        NoticeRenderer(
            portal_name="Saman360",
            payment_link="https://pay.example/{invoice_id}",
            support_email="s@x.example",
        )
    )
    rows = []
    for stored in app.recorder.select_notifications(start=1, limit=10_000):
        event = app.mapper.to_domain_event(stored)
        states.apply(event)
        if isinstance(event, NoticeSentEvent):
            assert "hold_until" not in event.facts  # as stored: nothing is rewritten
            if event.kind == NoticeKind.PAYMENT_REMINDER.value:
                assert SHAPES[NoticeKind.PAYMENT_REMINDER](**event.facts).hold_until is None
                rows += [e.row for e in outbox.entries(event, states)]
    bodies = [r["body"] for r in rows if r["channel"] == "email"]
    assert bodies and all("تعلیق می‌شود" in b and "توقف" not in b for b in bodies)
