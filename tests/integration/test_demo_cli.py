"""The `billing` console script, run as a user runs it (a real process, a real SQLite file)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # each test runs the console script as a process
BILLING = str(Path(sys.executable).parent / "billing")
ORDER = datetime.fromisoformat("2026-04-04T05:30:00+00:00")


def billing(*args: str, db: Path | None = None) -> subprocess.CompletedProcess:
    command = [BILLING, *args] + (["--db", str(db)] if db else [])
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def demo_events(tmp_path: Path, *args: str) -> list[dict]:
    result = billing("demo", "--format", "jsonl", *args, db=tmp_path / "demo.sqlite")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def at(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def kinds(events: list[dict], kind: str) -> list[dict]:
    return [e for e in events if e["event"] == "NoticeSent" and e["data"]["kind"] == kind]


def test_every_jsonl_line_has_the_documented_fields(tmp_path):
    events = demo_events(tmp_path, "--until", "40d")
    assert len(events) >= 5  # order, invoice, reminders, grace: the loop below checks them all
    for event in events:
        assert {
            "recorded_at",
            "due_at",
            "aggregate",
            "aggregate_id",
            "version",
            "event",
            "data",
        } <= set(event)
        assert event["aggregate"] in ("Subscription", "Invoice", "Payment")


def test_an_unpaid_site_goes_all_the_way_to_collection_in_order(tmp_path):
    events = demo_events(tmp_path)
    names = [e["event"] for e in events]
    assert names[:2] == ["SubscriptionStarted", "InvoiceIssued"]
    first = events[1]
    deadline = at(first["data"]["deadline"])
    assert deadline == ORDER + timedelta(days=30)
    first_id = first["aggregate_id"]
    reminders = [e for e in kinds(events, "payment_reminder") if e["aggregate_id"] == first_id]
    assert len(reminders) >= 2 and all(at(e["recorded_at"]) < deadline for e in reminders)
    grace = next(e for e in events if e["event"] == "GraceStarted")
    assert at(grace["recorded_at"]) == at(grace["due_at"]) == deadline
    suspended = next(e for e in events if e["event"] == "SiteSuspended")
    assert at(suspended["recorded_at"]) == deadline + timedelta(days=3)
    collected = next(e for e in events if e["event"] == "SiteCollected")
    warnings = kinds(events, "collection_warning")
    assert len(warnings) >= 3
    assert at(warnings[-1]["recorded_at"]) <= at(collected["recorded_at"]) - timedelta(hours=24)
    voided = [e for e in events if e["event"] == "InvoiceVoided"]
    assert first_id in [e["aggregate_id"] for e in voided]
    order = [
        names.index(n)
        for n in ("SubscriptionStarted", "GraceStarted", "SiteSuspended", "SiteCollected")
    ]
    assert order == sorted(order)


def test_paying_at_35_days_restores_at_that_moment_and_renewals_follow(tmp_path):
    events = demo_events(tmp_path, "--pay-at", "35d")
    paid_at = ORDER + timedelta(days=35)
    recorded = [e for e in events if e["event"] == "PaymentRecorded"]
    restored = [e for e in events if e["event"] == "SiteRestored"]
    assert recorded and restored
    assert {at(e["recorded_at"]) for e in recorded} == {paid_at} == {at(restored[0]["recorded_at"])}
    assert events.index(recorded[-1]) < events.index(restored[0])
    renewals = [
        e for e in events if e["event"] == "InvoiceIssued" and e["data"]["kind"] == "renewal"
    ]
    starts = [at(e["recorded_at"]) for e in renewals]
    assert len(starts) >= 3
    assert all(
        later - earlier >= timedelta(days=29)
        for earlier, later in zip(starts, starts[1:], strict=False)
    )
    assert any(start > paid_at for start in starts)


def test_grace_days_zero_suspends_at_the_deadline_after_the_reminders(tmp_path):
    events = demo_events(tmp_path, "--grace-days", "0", "--until", "40d")
    deadline = ORDER + timedelta(days=30)
    suspended = next(e for e in events if e["event"] == "SiteSuspended")
    assert at(suspended["recorded_at"]) == deadline
    first_id = events[1]["aggregate_id"]
    reminders = [e for e in kinds(events, "payment_reminder") if e["aggregate_id"] == first_id]
    assert len(reminders) == 2
    assert all(events.index(r) < events.index(suspended) for r in reminders)


def _without_ids(events: list[dict]) -> list[tuple]:
    def strip(value):
        if isinstance(value, dict):
            return {
                k: strip(v)
                for k, v in value.items()
                if not k.endswith("_id")
                and k
                not in (
                    "site",
                    "reference",
                    "payment_reference",
                    "voided_invoice_ids",
                    "invoice_ids",
                    "still_overdue",
                )
            }
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return [
        (e["event"], e["aggregate"], e["recorded_at"], e["due_at"], e["version"], strip(e["data"]))
        for e in events
    ]


def test_the_same_command_twice_gives_the_same_events_apart_from_ids(tmp_path):
    once = demo_events(tmp_path, "--pay-at", "35d", "--until", "80d")
    twice = demo_events(tmp_path, "--pay-at", "35d", "--until", "80d")  # same file, a second site
    assert _without_ids(once) == _without_ids(twice)


def test_the_demo_keeps_its_events_for_a_later_audit(tmp_path):
    db = tmp_path / "kept.sqlite"
    result = billing("demo", "--format", "jsonl", "--until", "50d", db=db)
    subscription_id = json.loads(result.stdout.splitlines()[0])["aggregate_id"]
    replay = billing("audit", "timeline", subscription_id, "--format", "jsonl", db=db)
    assert replay.returncode == 0, replay.stderr
    assert replay.stdout == result.stdout
    text = billing("audit", "timeline", subscription_id, db=db)
    assert "SiteSuspended" in text.stdout and "rials" in text.stdout and "1405/02/14" in text.stdout


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["demo", "--until", "soon"], 2, "not a duration"),
        (["demo", "--period", "weekly"], 2, "invalid choice"),
        (["demo", "--price", "0", "--db", "memory"], 2, "more than zero"),
        (["audit", "timeline", "not-an-id"], 2, "not an id"),
        (["audit", "timeline", "00000000-0000-0000-0000-000000000000"], 4, "No events are stored"),
        (["audit", "explain", "00000000-0000-0000-0000-000000000000"], 4, "No events are stored"),
        (["tokens", "create", "--role", "finance", "--label", "ops\x1b[2J"], 2, "U+001B"),
    ],
)
def test_bad_input_gets_a_clear_message_and_a_non_zero_exit(tmp_path, args, code, says):
    if "--db" not in args:
        args = [*args, "--db", str(tmp_path / "x.sqlite")]
    result = billing(*args)
    assert result.returncode == code
    assert says in result.stderr


def test_a_setting_with_a_control_character_stops_the_engine_naming_it(tmp_path):
    result = subprocess.run(
        [BILLING, "audit", "verify", "--db", str(tmp_path / "x.sqlite")],
        capture_output=True,
        text=True,
        env={"BILLING_SELLER_NAME": "Pars\x07", "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert result.returncode == 3
    assert "BILLING_SELLER_NAME contains the control character U+0007" in result.stderr


def test_a_bad_database_url_is_a_configuration_error(tmp_path):
    result = subprocess.run(
        [BILLING, "audit", "timeline", "00000000-0000-0000-0000-000000000000"],
        capture_output=True,
        text=True,
        env={"BILLING_DATABASE_URL": "mysql://nowhere/x", "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert result.returncode == 3
    assert "BILLING_DATABASE_URL" in result.stderr


@pytest.mark.parametrize(
    ("setting", "value", "says"),
    [
        ("BILLING_TICK_INTERVAL", "-5", "BILLING_TICK_INTERVAL: must be more than 0"),
        ("BILLING_DELIVERY_LEASE", "0", "BILLING_DELIVERY_LEASE: must be more than 0"),
        ("BILLING_VAT_SCHEDULE", "garbage", "BILLING_VAT_SCHEDULE: VAT schedule entry 'garbage'"),
        (
            "BILLING_VAT_SCHEDULE",
            "1403/01/01=abc",
            "BILLING_VAT_SCHEDULE: 'abc' is not a percentage",
        ),
        # A replaced setting would otherwise be ignored, and notices would link elsewhere.
        (
            "BILLING_PAYMENT_LINK",
            "https://portal.example/pay/{invoice_id}",
            "BILLING_PAYMENT_LINK is no longer read; set BILLING_PUBLIC_URL",
        ),
    ],
)
def test_an_interval_that_would_spin_or_a_vat_schedule_that_does_not_parse_stops_the_engine(
    tmp_path, setting, value, says
):
    """A negative tick interval used to start a scheduler that spun and ignored SIGTERM; a bad
    VAT schedule ended with exit 2 and without naming the setting. Both stop at start now."""
    result = subprocess.run(
        [BILLING, "audit", "verify", "--db", str(tmp_path / "x.sqlite")],
        capture_output=True,
        text=True,
        env={setting: value, "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert result.returncode == 3, result.stderr
    assert says in result.stderr


def test_the_sandbox_gateway_on_a_taken_port_says_so_without_a_traceback():
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = billing("sandbox-gateway", "--port", str(port))
    assert result.returncode == 3
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
