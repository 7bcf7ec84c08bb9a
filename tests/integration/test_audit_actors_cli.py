"""``billing audit actions`` and ``billing audit timeline`` on a SQLite store where two finance
staff members decided about one subscription: each output format names the right person, the
filters work, and a filter the command cannot read stops it with exit code 2 and a message.
Run in process (``cli.main``), like a console script without the process."""

from __future__ import annotations

import contextlib
import csv
import io
import json

import pytest

import cli
from bootstrap import build_application
from tests.audit_history import APPROVED, CONFIRMED, decided_history

MARYAM_JSON = {"kind": "staff", "id": "staff-maryam", "name": "مریم کریمی", "role": "finance"}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("actors-cli") / "actors.sqlite"
    app = build_application(database_url=f"sqlite:///{path}")
    history = decided_history(app)
    app.close()
    return str(path), history


def billing(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_actions_as_json_name_each_person(store):
    db, h = store
    code, out, err = billing("audit", "actions", "--actor", "staff", "--format", "json", "--db", db)
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == 12  # the hold's notice (hold_placed) is Ali's too
    by = {
        (r["event"], r["aggregate_id"]): r["actor"]["id"]
        for r in rows
        if r["event"] != "NoticeSent"
    }
    assert by[("OfflinePaymentApproved", str(h.first_invoice))] == "staff-maryam"
    assert by[("ReceiptConfirmed", str(h.first_invoice))] == "staff-ali"
    assert by[("InvoiceVoided", str(h.renewal))] == "staff-maryam"
    assert by[("EnforcementHoldPlaced", str(h.subscription))] == "staff-ali"
    approved = next(r for r in rows if r["event"] == "OfflinePaymentApproved")
    assert approved["actor"] == MARYAM_JSON
    assert approved["recorded_at_jalali"] == "1405/01/17 09:00"


def test_actions_as_csv_and_json_lines(store):
    db, _ = store
    code, out, _ = billing(
        "audit", "actions", "--actor", "staff-ali", "--format", "csv", "--db", db
    )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["event"] for r in rows] == [
        "ReceiptConfirmed",
        "PaymentRecorded",
        "InvoicesSettled",
        "NoticeSent",
        "PaymentReceived",
        "EnforcementHoldPlaced",
        "NoticeSent",  # hold_placed
    ]
    assert {(r["actor_kind"], r["actor_id"], r["actor_name"], r["actor_role"]) for r in rows} == {
        ("staff", "staff-ali", "علی رضایی", "finance")
    }
    assert {r["by"] for r in rows} == {"علی رضایی (finance)"}
    assert all(r["recorded_at"].endswith("Z") and r["recorded_at_jalali"] for r in rows)
    code, out, _ = billing(
        "audit", "actions", "--actor", "scheduler", "--format", "jsonl", "--db", db
    )
    lines = [json.loads(line) for line in out.splitlines()]
    assert [r["event"] for r in lines] == ["SubscriptionRenewed", "InvoiceIssued", "NoticeSent"]
    assert {r["by"] for r in lines} == {"the scheduler"}


def test_actions_between_two_moments_as_text(store):
    db, _ = store
    code, out, err = billing(
        "audit",
        "actions",
        "--from",
        APPROVED.isoformat(),
        "--to",
        CONFIRMED.isoformat(),
        "--db",
        db,
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("1405/01/17 09:00  2026-04-06T05:30:00Z  Invoice")
    assert lines[0].endswith("— by مریم کریمی (finance)") and "OfflinePaymentApproved" in lines[0]
    assert any("ReceiptRegistered" in line and line.endswith("— by the customer") for line in lines)
    assert lines[-1].startswith("1405/01/19 09:00")


def test_no_match_says_so_and_succeeds(store):
    db, _ = store
    code, out, err = billing("audit", "actions", "--actor", "staff:nobody", "--db", db)
    assert (code, out) == (0, "")
    assert "no recorded event matches --actor staff:nobody" in err
    code, out, _ = billing("audit", "actions", "--actor", "gateway", "--format", "json", "--db", db)
    assert json.loads(out) == []


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--actor", "robot:7"], "'robot' is not an actor kind"),
        (["--actor", "gateway:1"], "gateway actors have no id"),
        (["--from", "2026-05-01"], "has no time zone"),
        (["--to", "soon"], "not an ISO 8601 moment"),
        (
            ["--from", "2026-06-01T00:00:00Z", "--to", "2026-05-01T00:00:00Z"],
            "[invalid_time_range]",
        ),
    ],
)
def test_a_filter_it_cannot_read_stops_it_with_a_message(store, argv, says):
    db, _ = store
    code, out, err = billing("audit", "actions", *argv, "--db", db)
    assert code == 2 and out == ""
    assert err.startswith("billing: ") and says in err
    assert err.rstrip().endswith(
        ("[invalid_actor_filter]", "[invalid_time]", "[invalid_time_range]")
    )


def test_the_timeline_text_says_who_did_each_step(store):
    db, h = store
    code, out, err = billing("audit", "timeline", str(h.subscription), "--db", db)
    assert code == 0, err
    lines = out.splitlines()
    assert next(line for line in lines if " OfflinePaymentApproved " in line).endswith(
        "— by مریم کریمی (finance)"
    )
    assert next(line for line in lines if " EnforcementHoldPlaced " in line).endswith(
        "— by علی رضایی (finance)"
    )
    assert next(line for line in lines if " SubscriptionRenewed " in line).endswith(
        "— by the scheduler"
    )
    code, out, _ = billing("audit", "timeline", str(h.subscription), "--format", "csv", "--db", db)
    voided = next(r for r in csv.DictReader(io.StringIO(out)) if r["event"] == "InvoiceVoided")
    assert (voided["actor_id"], voided["by"]) == ("staff-maryam", "مریم کریمی (finance)")


def test_explain_on_the_command_line_names_who_decided(store):
    db, h = store
    code, out, err = billing(
        "audit", "explain", str(h.subscription), "--at", "2026-05-08T05:30:00Z", "--db", db
    )
    assert code == 0, err
    assert "placed by علی رضایی, finance, 1405/02/17" in out
    assert "offline approved by مریم کریمی, finance, 1405/01/17" in out
    assert "توسط مریم کریمی (مالی)" in out


@pytest.mark.postgres
def test_the_actions_report_reads_postgresql_in_pages():
    from service_layer.actions import ActionFilter, actions, actions_page
    from tests.stores import postgres_schema

    with postgres_schema() as url:
        app = build_application(database_url=url)
        decided_history(app)
        wanted = ActionFilter.parse(actor="staff")
        everything = [r.position for r in actions(app, wanted, batch=4)]
        assert len(everything) == 12  # with the hold_placed notice
        joined, after = [], 0
        while after is not None:
            page = actions_page(app, wanted, after=after, limit=3, scan_limit=5)
            joined += [r.position for r in page.items]
            after = page.after
        assert joined == everything
        app.close()
        code, out, err = billing(
            "audit", "actions", "--actor", "staff-ali", "--format", "json", "--db", url
        )
        assert code == 0, err
        assert {r["actor"]["name"] for r in json.loads(out)} == {"علی رضایی"}
