"""`billing staff …`, `billing tokens list|revoke` and `--as STAFF_ID`: what they print, their
exit codes, and the actor the events record."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from datetime import timedelta
from uuid import UUID

import pytest

import cli
from bootstrap import open_runtime
from domain.actor import ActorKind, recorded_actor
from domain.staff import StaffMember
from tests.builders import T0, a_company, a_plan, ordered

SELLER_ENV = {
    "BILLING_SELLER_NAME": "شرکت سامان ۳۶۰",
    "BILLING_SELLER_ECONOMIC_CODE": "10380284790",
    "BILLING_SELLER_NATIONAL_ID": "10380284790",
    "BILLING_SELLER_REGISTRATION_NUMBER": "556677",
    "BILLING_SELLER_POSTAL_CODE": "1193653471",
    "BILLING_SELLER_ADDRESS": "تهران، خیابان آزادی، پلاک ۱۰",
    "BILLING_SELLER_PHONE": "02166554433",
    "BILLING_TAX_MEMORY_ID": "def5gh",
}


@pytest.fixture
def db(tmp_path, monkeypatch) -> str:
    monkeypatch.setenv("BILLING_TEST_MODE", "1")
    monkeypatch.setenv("BILLING_TEST_CLOCK_START", T0.isoformat())
    return f"sqlite:///{tmp_path}/staff-cli.sqlite"


def billing(*argv: str, stdin: str | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.ExitStack() as stack:
        stack.enter_context(contextlib.redirect_stdout(out))
        stack.enter_context(contextlib.redirect_stderr(err))
        if stdin is not None:
            stack.enter_context(_stdin(stdin))
        try:
            code = cli.main(list(argv))
        except SystemExit as usage:  # argparse refused the command line
            code = int(usage.code or 0)
    return code, out.getvalue(), err.getvalue()


@contextlib.contextmanager
def _stdin(text: str):
    saved = sys.stdin
    sys.stdin = io.StringIO(text)
    try:
        yield
    finally:
        sys.stdin = saved


def create(db: str, name: str, role: str, *extra: str) -> tuple[UUID, str]:
    """`billing staff create`: the member's id and the token on the last line."""
    code, out, err = billing("staff", "create", "--name", name, "--role", role, *extra, "--db", db)
    assert code == 0, err
    lines = out.strip().splitlines()
    staff_id = UUID(lines[0].rsplit(": ", 1)[1])
    return staff_id, lines[-1]


def events_of(db: str, aggregate_id: UUID) -> list:
    runtime = open_runtime(database_url=db)
    found = list(runtime.app.events.get(aggregate_id))
    runtime.close()
    return found


def test_create_prints_the_members_token_on_its_last_line_and_list_shows_them(db):
    staff_id, token = create(db, "مریم کریمی", "finance", "--email", "maryam@example.ir")
    assert token.startswith("bt_")
    runtime = open_runtime(database_url=db)
    who = runtime.tokens.principal(token, T0)
    runtime.close()
    assert who.role.value == "finance" and who.owner.kind is ActorKind.STAFF
    assert who.owner.id == str(staff_id) and who.owner.name == "مریم کریمی"
    code, out, _ = billing("staff", "list", "--format", "json", "--db", db)
    assert code == 0
    (member,) = json.loads(out)
    assert member == {
        "id": str(staff_id),
        "name": "مریم کریمی",
        "role": "finance",
        "email": "maryam@example.ir",
        "state": "active",
        "added_at": member["added_at"],
        "disabled_at": None,
        "password_set": False,
    }
    code, out, _ = billing("staff", "list", "--db", db)
    assert "مریم کریمی <maryam@example.ir>" in out and "active" in out
    (added,) = events_of(db, staff_id)
    assert recorded_actor(added).kind is ActorKind.OPERATOR  # no --as: the console's operator


def test_as_a_staff_member_the_events_record_them(db):
    admin_id, _ = create(db, "Admin Ahmadi", "admin")
    sara_id, sara_token = create(db, "Sara", "finance", "--as", str(admin_id))
    code, out, err = billing(
        "staff", "disable", str(sara_id), "--reason", "left", "--as", str(admin_id), "--db", db
    )
    assert code == 0, err
    assert "disabled: their tokens no longer work" in out
    added, disabled = events_of(db, sara_id)
    for event in (added, disabled):
        assert vars(event)["actor"] == {
            "kind": "staff",
            "id": str(admin_id),
            "name": "Admin Ahmadi",
            "role": "admin",
        }
    assert type(disabled) is StaffMember.StaffMemberDisabled
    runtime = open_runtime(database_url=db)
    assert runtime.tokens.refusal(sara_token, T0) == "owner_disabled"
    runtime.close()


def test_an_official_invoice_issued_as_a_finance_member_names_them(db, monkeypatch):
    for name, value in SELLER_ENV.items():
        monkeypatch.setenv(name, value)
    runtime = open_runtime(database_url=db)
    plan = a_plan("business", 2_500_000)
    runtime.app.define_plan(plan, T0)
    customer = runtime.app.register_customer(a_company(), T0)
    invoice_id = runtime.app.get_subscription(
        ordered(runtime.app, customer=customer, plan=plan)
    ).invoice_ids[0]
    runtime.app.seller = None  # paid before the seller was configured: not issued yet
    runtime.app.record_payment("BANK-1", 2_750_000, T0, invoice_id=invoice_id)
    runtime.close()
    finance_id, _ = create(db, "Sara", "finance")
    support_id, _ = create(db, "Reza", "support")
    code, _, err = billing(
        "invoice", "official", str(invoice_id), "--as", str(support_id), "--db", db
    )
    assert code == 1
    assert "Reza is support, who may not issue official invoices" in err
    code, out, err = billing(
        "invoice", "official", str(invoice_id), "--as", str(finance_id), "--db", db
    )
    assert code == 0, err
    issued = [e for e in events_of(db, invoice_id) if type(e).__name__ == "OfficialInvoiceIssued"]
    assert recorded_actor(issued[-1]).id == str(finance_id)


def test_as_an_unknown_or_disabled_member_is_refused_and_nothing_is_recorded(db):
    admin_id, _ = create(db, "Admin", "admin")
    gone_id, _ = create(db, "Gone", "admin")
    billing("staff", "disable", str(gone_id), "--reason", "left", "--db", db)
    runtime = open_runtime(database_url=db)
    before = runtime.app.recorder.max_notification_id()
    runtime.close()
    nobody = "00000000-0000-4000-8000-000000000000"
    code, _, err = billing(
        "staff", "create", "--name", "X", "--role", "admin", "--as", nobody, "--db", db
    )
    assert code == 4 and "no such staff member" in err and "[staff_not_found]" in err
    code, _, err = billing(
        "staff", "create", "--name", "X", "--role", "admin", "--as", str(gone_id), "--db", db
    )
    assert code == 1 and "Gone was disabled" in err and "leave out --as" in err
    code, _, err = billing("staff", "create", "--name", "X", "--role", "owner", "--db", db)
    assert code == 2 and "invalid choice" in err
    runtime = open_runtime(database_url=db)
    assert runtime.app.recorder.max_notification_id() == before
    runtime.close()


def test_a_password_is_read_from_standard_input_or_refused_saying_how(db):
    staff_id, _ = create(db, "Maryam", "finance", "--email", "maryam@example.ir")
    code, _, err = billing(
        "staff", "set-password", str(staff_id), "--password-stdin", "--db", db, stdin="short\n"
    )
    assert code == 2 and "at least 12 characters; this one has 5" in err
    code, _, err = billing("staff", "set-password", str(staff_id), "--db", db, stdin="")
    assert code == 2 and "--password-stdin" in err  # no terminal to ask at
    code, out, err = billing(
        "staff",
        "set-password",
        str(staff_id),
        "--password-stdin",
        "--db",
        db,
        stdin="a long and quiet river\n",
    )
    assert code == 0, err
    runtime = open_runtime(database_url=db)
    assert runtime.credentials.verify_password("maryam@example.ir", "a long and quiet river")
    assert runtime.credentials.verify_password(staff_id, "short") is None
    runtime.close()
    assert type(events_of(db, staff_id)[-1]) is StaffMember.StaffPasswordSet


def test_tokens_are_listed_without_their_text_and_revoked_by_id(db):
    code, out, err = billing(
        "tokens",
        "create",
        "--role",
        "finance",
        "--client",
        "portal",
        "--scope",
        "payments",
        "--expires-at",
        "2027-01-01T00:00:00Z",
        "--db",
        db,
    )
    assert code == 0, err
    token = out.strip().splitlines()[-1]
    code, out, _ = billing("tokens", "list", "--format", "json", "--db", db)
    (listed,) = json.loads(out)
    assert token not in out
    assert listed["owner"]["kind"] == "client" and listed["owner"]["name"] == "portal"
    assert listed["scopes"] == ["payments"] and listed["expires_at"] == "2027-01-01T00:00:00Z"
    assert listed["state"] == "active"
    code, out, _ = billing("tokens", "revoke", listed["id"], "--db", db)
    assert code == 0 and "revoked" in out
    code, out, _ = billing("tokens", "list", "--db", db)
    assert listed["id"] in out and "revoked" in out and token not in out
    code, _, err = billing("tokens", "revoke", "tok_000000000000", "--db", db)
    assert code == 4 and "[token_not_found]" in err
    runtime = open_runtime(database_url=db)
    assert runtime.tokens.refusal(token, T0) == "revoked"
    runtime.close()


def test_a_further_token_for_a_member_expires_and_keeps_their_role(db):
    staff_id, _ = create(db, "Sara", "support")
    code, out, err = billing(
        "staff",
        "token",
        str(staff_id),
        "--expires-at",
        "2026-04-05T05:30:00Z",
        "--scope",
        "read",
        "--db",
        db,
    )
    assert code == 0, err
    token = out.strip().splitlines()[-1]
    runtime = open_runtime(database_url=db)
    who = runtime.tokens.principal(token, T0)
    assert who.role.value == "support" and who.owner.id == str(staff_id)
    assert {s.value for s in who.scopes} == {"read"}
    assert runtime.tokens.refusal(token, T0 + timedelta(days=2)) == "expired"
    runtime.close()
    code, _, err = billing("staff", "token", "00000000-0000-4000-8000-000000000000", "--db", db)
    assert code == 4 and "[staff_not_found]" in err
