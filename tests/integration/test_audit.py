"""Audit replay on a demo's database: verify, tampering found, as-of and explain at key moments."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID

import psycopg
import pytest

from adapters.chain import verify_stored_chain
from bootstrap import build_application, build_read_models
from tests.builders import DAY, T0, ordered, random_ref, run_clock
from tests.stores import postgres_schema

pytestmark = pytest.mark.slow  # the tests run the console script as a process
BILLING = str(Path(sys.executable).parent / "billing")
ORDER = datetime.fromisoformat("2026-04-04T05:30:00+00:00")
DEADLINE = ORDER + timedelta(days=30)
SUSPENDED = DEADLINE + timedelta(days=3)
PAID = ORDER + timedelta(days=35)


def billing(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BILLING, *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, str]:
    """One demo run paid at 35 days, kept in a SQLite file: (file, subscription id)."""
    db = tmp_path_factory.mktemp("audit") / "demo.sqlite"
    result = billing("demo", "--pay-at", "35d", "--format", "jsonl", "--db", str(db))
    assert result.returncode == 0, result.stderr
    return db, json.loads(result.stdout.splitlines()[0])["aggregate_id"]


def copy_of(demo_db: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy.sqlite"
    source = sqlite3.connect(demo_db)
    target = sqlite3.connect(copy)
    source.backup(target)
    source.close()
    target.close()
    return copy


def test_verify_passes_on_an_untouched_demo(demo):
    db, _ = demo
    result = billing("audit", "verify", "--db", str(db))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "every one matches its link" in result.stdout
    assert "every row equals the fold of the events" in result.stdout


def test_verify_names_the_aggregate_and_version_of_an_altered_event(demo, tmp_path):
    db = copy_of(demo[0], tmp_path)
    with sqlite3.connect(db) as conn:
        rowid, originator, version, state = conn.execute(
            "SELECT rowid, originator_id, originator_version, state FROM stored_events "
            "WHERE topic LIKE '%PaymentRecorded' ORDER BY rowid LIMIT 1"
        ).fetchone()
        conn.execute(
            "UPDATE stored_events SET state = ? WHERE rowid = ?",
            (state.replace(b'"amount":2750000', b'"amount":275000'), rowid),
        )
    result = billing("audit", "verify", "--db", str(db))
    assert result.returncode == 1
    assert f"aggregate {UUID(originator)} version {version}" in result.stdout
    assert "was altered" in result.stdout


def test_an_event_that_no_longer_decodes_is_reported_not_a_traceback(demo, tmp_path):
    db, subscription = copy_of(demo[0], tmp_path), demo[1]
    with sqlite3.connect(db) as conn:
        rowid, state = conn.execute(
            "SELECT rowid, state FROM stored_events WHERE originator_id = ? "
            "AND originator_version = 2",
            (UUID(subscription).hex,),
        ).fetchone()
        conn.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (b"{" + state, rowid))
    for command in ("timeline", "explain"):
        result = billing("audit", command, subscription, "--db", str(db))
        assert result.returncode == 1, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        assert "a stored event cannot be read" in result.stderr
        assert "billing audit verify" in result.stderr
    verified = billing("audit", "verify", "--db", str(db))
    assert verified.returncode == 1
    assert f"aggregate {UUID(subscription)} version 2" in verified.stdout


def test_verify_names_the_aggregate_and_version_of_a_removed_event(demo, tmp_path):
    db = copy_of(demo[0], tmp_path)
    with sqlite3.connect(db) as conn:
        originator, version = conn.execute(
            "SELECT originator_id, originator_version FROM stored_events WHERE rowid = 5"
        ).fetchone()
        conn.execute("DELETE FROM stored_events WHERE rowid = 5")
    result = billing("audit", "verify", "--db", str(db))
    assert result.returncode == 1
    assert f"aggregate {UUID(originator)} version {version}" in result.stdout
    assert "removed" in result.stdout


def test_verify_finds_a_read_model_that_drifted_from_the_events(demo, tmp_path):
    db = copy_of(demo[0], tmp_path)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE rm_subscriptions SET status = 'active' WHERE status = 'collected'")
    result = billing("audit", "verify", "--db", str(db))
    assert result.returncode == 1
    assert "status is 'active', the events say 'collected'" in result.stdout


def test_as_of_gives_the_state_before_and_after_suspension_and_restore(demo):
    db, sub_id = demo

    def state(at: datetime) -> dict:
        result = billing(
            "audit", "as-of", sub_id, at.isoformat(), "--format", "json", "--db", str(db)
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    before = state(SUSPENDED - timedelta(minutes=1))
    assert (before["status"], before["site_state"]) == ("grace", "up")
    during = state(SUSPENDED + timedelta(hours=1))
    assert (during["status"], during["site_state"], during["suspended_at"]) == (
        "suspended",
        "suspended",
        "2026-05-07T05:30:00Z",
    )
    assert during["invoices"][0]["balance"] == 2_750_000
    after = state(PAID + timedelta(minutes=1))
    assert (after["status"], after["site_state"]) == ("active", "up")
    assert after["invoices"][0]["balance"] == 0
    early = billing("audit", "as-of", sub_id, "2020-01-01T00:00:00Z", "--db", str(db))
    assert early.returncode == 4 and "did not exist yet" in early.stderr


def test_explain_says_why_in_english_and_persian(demo):
    db, sub_id = demo
    suspended = billing(
        "audit",
        "explain",
        sub_id,
        "--at",
        (SUSPENDED + timedelta(days=1)).isoformat(),
        "--db",
        str(db),
    )
    assert suspended.returncode == 0, suspended.stderr
    text = suspended.stdout
    assert "is suspended" in text and "was due on 1405/02/14 09:00" in text
    assert (
        "payment reminder #1 on 1405/02/11 09:00" in text
        and "payment reminder #2 on 1405/02/13 09:00" in text
    )
    assert "the site is collected on 1405/03/16 09:00" in text
    assert "معلق است" in text and "۱۴۰۵/۰۲/۱۴ ۰۹:۰۰" in text and "یادآوری پرداخت" in text
    restored = billing(
        "audit",
        "explain",
        sub_id,
        "--at",
        (PAID + timedelta(hours=1)).isoformat(),
        "--lang",
        "en",
        "--db",
        str(db),
    )
    assert "is active" in restored.stdout
    assert "last restored on 1405/02/19 09:00" in restored.stdout
    grace = billing(
        "audit",
        "explain",
        sub_id,
        "--at",
        (DEADLINE + timedelta(hours=1)).isoformat(),
        "--lang",
        "en",
        "--db",
        str(db),
    )
    assert (
        "in grace" in grace.stdout and "the site is suspended on 1405/02/17 09:00" in grace.stdout
    )


def test_explain_answers_for_an_invoice_a_customer_and_says_so_for_an_unknown_id(demo):
    """Before, explaining anything but a subscription crashed ('Invoice' object has no
    attribute 'invoice_ids'): 500 over HTTP, a traceback on the command line."""
    db, sub_id = demo
    timeline = billing("audit", "timeline", sub_id, "--format", "jsonl", "--db", str(db))
    events = [json.loads(line) for line in timeline.stdout.splitlines()]
    invoice_id = next(e["aggregate_id"] for e in events if e["aggregate"] == "Invoice")
    customer_id = next(e["data"]["customer_id"] for e in events if e["event"] == "InvoiceIssued")
    at = ("--at", (SUSPENDED + timedelta(days=1)).isoformat(), "--db", str(db))

    invoice = billing("audit", "explain", invoice_id, *at)
    assert invoice.returncode == 0, invoice.stderr
    assert f"Invoice {invoice_id[:8]} (period 1" in invoice.stdout
    assert "Why open: its deadline passed on 1405/02/14 09:00" in invoice.stdout
    assert "Its subscription" in invoice.stdout and "is suspended" in invoice.stdout
    assert "صورتحساب" in invoice.stdout and "پرداخت‌نشده" in invoice.stdout
    paid = billing("audit", "explain", invoice_id, "--at", PAID.isoformat(), "--db", str(db))
    assert "is paid in full" in paid.stdout and "Paid by:" in paid.stdout

    customer = billing("audit", "explain", customer_id, *at, "--lang", "en")
    assert customer.returncode == 0, customer.stderr
    assert "Customer Demo Customer (person" in customer.stdout
    assert f"- subscription {sub_id[:8]}" in customer.stdout and "suspended" in customer.stdout

    unknown = billing("audit", "explain", "00000000-0000-4000-8000-000000000000", "--db", str(db))
    assert unknown.returncode == 4 and "No events are stored" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_timeline_exports_csv_for_spreadsheets(demo):
    db, sub_id = demo
    result = billing("audit", "timeline", sub_id, "--format", "csv", "--db", str(db))
    lines = result.stdout.splitlines()
    assert lines[0].startswith("recorded_at,recorded_at_jalali,due_at,aggregate")
    assert any(",SiteSuspended," in line for line in lines)


def test_reports_as_of_a_past_moment_count_only_what_was_recorded_by_then(demo):
    db, _ = demo
    grace = billing(
        "reports",
        "aging",
        "--as-of",
        (DEADLINE + timedelta(days=2)).isoformat(),
        "--format",
        "csv",
        "--db",
        str(db),
    )
    assert "1-30,2750000" in grace.stdout
    paid = billing(
        "reports",
        "aging",
        "--as-of",
        (PAID + timedelta(hours=1)).isoformat(),
        "--format",
        "csv",
        "--db",
        str(db),
    )
    assert "total,0" in paid.stdout
    before = billing(
        "reports",
        "revenue",
        "--as-of",
        (PAID - timedelta(hours=1)).isoformat(),
        "--format",
        "jsonl",
        "--db",
        str(db),
    )
    months = [json.loads(line) for line in before.stdout.splitlines()]
    assert months and all(month["paid"] == 0 for month in months)
    after = billing(
        "reports",
        "revenue",
        "--from",
        "1405/02",
        "--to",
        "1405/02",
        "--format",
        "jsonl",
        "--db",
        str(db),
    )
    assert json.loads(after.stdout)["paid"] == 5_500_000


def test_projections_rebuild_reports_progress_and_keeps_the_same_rows(demo, tmp_path):
    db = copy_of(demo[0], tmp_path)
    result = billing("projections", "rebuild", "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert "100%" in result.stderr
    assert billing("audit", "verify", "--db", str(db)).returncode == 0
    wrong = billing("projections", "rebuild", "nonsense", "--db", str(db))
    assert wrong.returncode == 2 and "known: subscriptions" in wrong.stderr
    jobs = billing("projections", "rebuild", "--jobs", "2", "--db", str(db))
    assert jobs.returncode == 2 and "--jobs 2 needs PostgreSQL" in jobs.stderr
    assert "rebuilding" not in jobs.stderr  # refused before anything was folded


@pytest.mark.postgres
def test_the_hash_chain_finds_tampering_on_postgres():
    with postgres_schema() as url:
        app = build_application(database_url=url)
        sub_id = ordered(app)
        run_clock(app, T0, T0 + 34 * DAY, step=DAY)
        app.record_payment(random_ref(), 100_000, T0 + 34 * DAY, subscription_id=sub_id)
        checked, findings = verify_stored_chain(app)
        assert checked == app.recorder.max_notification_id() and findings == []
        schema = url.split("schema=")[1]
        with psycopg.connect(url.partition("?")[0], autocommit=True) as conn:  # its database
            row = conn.execute(
                f"SELECT notification_id, originator_id, originator_version FROM {schema}.billing_events "
                "WHERE topic LIKE '%%PaymentRecorded' LIMIT 1"
            ).fetchone()
            conn.execute(
                f"UPDATE {schema}.billing_events "
                "SET state = convert_to(replace(convert_from(state, 'UTF8'), '100000', '900000'), 'UTF8') "
                "WHERE notification_id = %s",
                (row[0],),
            )
            gone = conn.execute(
                f"DELETE FROM {schema}.billing_events WHERE notification_id = 3 RETURNING originator_id, originator_version"
            ).fetchone()
        _, findings = verify_stored_chain(app)
        named = {(f.aggregate_id, f.version, "altered" in f.problem) for f in findings}
        assert (row[1].hex, row[2], True) in named
        assert any(
            f.aggregate_id == gone[0].hex and f.version == gone[1] and "removed" in f.problem
            for f in findings
        )
        read_models = build_read_models(app, database_url=url)
        read_models.catch_up()
        app.close()
