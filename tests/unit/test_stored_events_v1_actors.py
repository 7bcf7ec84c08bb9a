"""Events stored before actors were recorded have none, and read as actor unknown: in the
timeline, in ``explain`` and in the actions report. Nothing is rewritten; a command on the old
store records its own events with their actor beside them (docs/EVENTS.md, "Versioning").

``tests/data/events_v1.sqlite`` (``tests/data/make_events_v1.py``, commit 2aead4c) holds three
subscriptions: A with a plan change and an enforcement hold, B with a manual payment and an
approved offline request, C suspended. Each test works on a copy of the file.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from service_layer.actions import ActionFilter, actions
from service_layer.application import BillingApplication
from service_layer.audit import explain
from service_layer.timeline import timeline
from tests.audit_history import MARYAM

DATA = Path(__file__).resolve().parents[1] / "data"
DECIDED = json.loads((DATA / "events_v1.json").read_text())
END = datetime.fromisoformat(DECIDED["end"])
SUB_A = UUID("00000000-0000-4000-8000-00000000000a")
SUB_B = UUID("00000000-0000-4000-8000-00000000000b")
UNKNOWN_JSON = {"kind": "unknown", "id": None, "name": None}
UNKNOWN_PERSON = "by an unknown person (recorded before actors were kept)"


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    copy = tmp_path / "events_v1.sqlite"
    shutil.copyfile(DATA / "events_v1.sqlite", copy)
    return copy


def open_app(path: Path) -> BillingApplication:
    return BillingApplication(
        env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
    )


def stored_rows(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute(
            "SELECT originator_id, originator_version, topic, state FROM stored_events "
            "ORDER BY rowid"
        ).fetchall()


def test_the_old_events_carry_no_actor(old_store):
    assert not any(b'"actor"' in bytes(row[3]) for row in stored_rows(old_store))


def test_every_old_timeline_item_has_actor_kind_unknown(old_store):
    app = open_app(old_store)
    items = [e.as_json() for sub in DECIDED["subscriptions"] for e in timeline(app, UUID(sub))]
    assert len(items) > 30
    assert all(item["actor"] == UNKNOWN_JSON for item in items)


def test_explain_says_an_old_decision_was_made_by_an_unknown_person(old_store):
    app = open_app(old_store)
    a = explain(app, SUB_A, END).english
    assert f"placed {UNKNOWN_PERSON}, 1405/02/11 (the customer disputes the price)" in a
    assert f"scheduled {UNKNOWN_PERSON}, 1405/01/20" in a
    b = explain(app, SUB_B, END).english
    assert f"offline approved {UNKNOWN_PERSON}, 1405/01/22" in b
    assert f"(manual) on invoice 6201e244 recorded {UNKNOWN_PERSON}, 1405/01/17" in b
    assert "فردی نامعلوم" in explain(app, SUB_B, END).persian


def test_a_new_command_records_its_actor_and_rewrites_nothing(old_store):
    before = stored_rows(old_store)
    app = open_app(old_store)
    invoice = app.get_subscription(SUB_A).invoice_ids[0]
    app.acting(MARYAM).void_invoice(invoice, "charged in error", END + timedelta(hours=1))
    after = stored_rows(old_store)
    assert after[: len(before)] == before  # the stored events are as they were
    entries = timeline(app, SUB_A)
    old = [e for e in entries if e.recorded_at <= END]
    new = [e for e in entries if e.recorded_at > END]
    assert old and all(e.as_json()["actor"] == UNKNOWN_JSON for e in old)
    assert new and {e.actor for e in new} == {MARYAM}
    assert {e.event for e in new} >= {"InvoiceVoided", "InvoicesClosed"}

    unknown = list(actions(app, ActionFilter.parse(actor="unknown")))
    assert len(unknown) == len(before)
    maryams = list(actions(app, ActionFilter.parse(actor="staff-maryam")))
    assert sorted(r.entry.event for r in maryams) == sorted(e.event for e in new)
