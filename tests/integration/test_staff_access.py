"""The credentials table and the token store on a real store (SQLite file and PostgreSQL): the
write order of the staff commands, passwords, and what a token may be refused for. The HTTP
side is in tests/api/test_staff_and_tokens.py."""

from __future__ import annotations

import re
import sqlite3
import uuid
from datetime import timedelta

import pytest
from eventsourcing.persistence import OperationalError

from adapters.tokens import Role, Scope, hash_token
from bootstrap import open_runtime
from domain.actor import Actor, ActorKind, recorded_actor
from domain.errors import (
    InvalidInput,
    InvalidPassword,
    InvalidTime,
    StaffConflict,
    StaffDisabled,
    StaffNotFound,
    TokenNotFound,
)
from domain.staff import StaffMember
from tests.builders import DAY, HOUR, T0
from tests.stores import postgres_schema

ADMIN = Actor(ActorKind.STAFF, id="a1", name="Admin", role="admin")


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def runtime(request, tmp_path):
    if request.param == "sqlite":
        built = open_runtime(database_url=f"sqlite:///{tmp_path}/staff.sqlite", actor=ADMIN)
        yield built
        built.close()
        return
    with postgres_schema() as url:
        built = open_runtime(database_url=url, actor=ADMIN)
        yield built
        built.close()


def staff_events(runtime, staff_id):
    return [type(e) for e in runtime.app.events.get(staff_id)]


# --- adding ------------------------------------------------------------------------------------


def test_a_member_is_recorded_by_their_actor_and_can_hold_a_token_at_once(runtime):
    staff_id = runtime.app.add_staff("مریم کریمی", "finance", T0, email="Maryam@Example.ir")
    (added,) = list(runtime.app.events.get(staff_id))
    assert recorded_actor(added) == ADMIN
    account = runtime.credentials.get(staff_id)
    assert (account.name, account.role, account.email) == (
        "مریم کریمی",
        "finance",
        "maryam@example.ir",
    )
    issued = runtime.tokens.issue_for_staff(staff_id, T0)
    who = runtime.tokens.principal(issued.token, T0)
    assert who.role is Role.FINANCE and who.subject is None
    assert who.owner == Actor(ActorKind.STAFF, id=str(staff_id), name="مریم کریمی", role="finance")
    assert who.token_id == issued.id and issued.id.startswith("tok_")


def test_adding_again_with_the_same_id_adds_nobody_twice_and_another_member_is_refused(runtime):
    staff_id = uuid.uuid4()
    runtime.app.add_staff("Ali Rezaei", "support", T0, staff_id=staff_id)
    runtime.app.add_staff("Ali Rezaei", "support", T0 + HOUR, staff_id=staff_id)
    assert staff_events(runtime, staff_id) == [StaffMember.StaffMemberAdded]
    with pytest.raises(StaffConflict, match="a new member needs a new id"):
        runtime.app.add_staff("Someone Else", "admin", T0 + HOUR, staff_id=staff_id)


def test_two_members_cannot_sign_in_with_one_address_and_nothing_is_recorded(runtime):
    runtime.app.add_staff("Ali", "support", T0, email="ali@example.ir")
    before = runtime.app.recorder.max_notification_id()
    with pytest.raises(StaffConflict, match="already signs in with ali@example.ir"):
        runtime.app.add_staff("Another Ali", "finance", T0, email="ALI@example.ir")
    assert runtime.app.recorder.max_notification_id() == before


def test_a_member_whose_credentials_were_not_written_has_no_access_until_repaired(
    runtime, monkeypatch
):
    """The add records the event first: if the credentials then fail, the member exists in
    the log but holds nothing (the safer state); the same add again writes them."""
    staff_id = uuid.uuid4()
    credentials = runtime.credentials

    def fail(*args, **kwargs):
        raise OperationalError("the store went away")

    with monkeypatch.context() as patched:
        patched.setattr(credentials, "record", fail)
        with pytest.raises(OperationalError):
            runtime.app.add_staff("Sara", "finance", T0, staff_id=staff_id)
    assert staff_events(runtime, staff_id) == [StaffMember.StaffMemberAdded]
    assert credentials.get(staff_id) is None
    with pytest.raises(StaffNotFound):
        runtime.tokens.issue_for_staff(staff_id, T0)
    runtime.app.add_staff("Sara", "finance", T0 + HOUR, staff_id=staff_id)  # the retry
    assert runtime.tokens.issue_for_staff(staff_id, T0 + HOUR).role is Role.FINANCE


# --- disabling ---------------------------------------------------------------------------------


def test_disabling_stops_every_token_of_the_member_at_once(runtime):
    staff_id = runtime.app.add_staff("Sara", "admin", T0)
    tokens = [runtime.tokens.issue_for_staff(staff_id, T0).token for _ in range(2)]
    runtime.app.disable_staff(staff_id, "left the company", T0 + HOUR)
    for token in tokens:
        assert runtime.tokens.principal(token, T0 + HOUR) is None
        assert runtime.tokens.refusal(token, T0 + HOUR) == "owner_disabled"
    assert staff_events(runtime, staff_id)[-1] is StaffMember.StaffMemberDisabled
    assert runtime.credentials.get(staff_id).state == "disabled"
    with pytest.raises(StaffDisabled, match="gets no token"):
        runtime.tokens.issue_for_staff(staff_id, T0 + DAY)
    runtime.app.disable_staff(staff_id, "again", T0 + DAY)  # changes nothing
    assert staff_events(runtime, staff_id).count(StaffMember.StaffMemberDisabled) == 1


def test_disabling_writes_the_credentials_first_so_a_failed_event_leaves_the_member_disabled(
    runtime, monkeypatch
):
    staff_id = runtime.app.add_staff("Sara", "finance", T0)
    token = runtime.tokens.issue_for_staff(staff_id, T0).token
    app = runtime.app

    def fail(*aggregates, **kwargs):
        raise OperationalError("the store went away")

    with monkeypatch.context() as patched:
        patched.setattr(app, "save", fail)
        with pytest.raises(OperationalError):
            app.disable_staff(staff_id, "left", T0 + HOUR)
    assert runtime.tokens.principal(token, T0 + HOUR) is None  # disabled all the same
    assert StaffMember.StaffMemberDisabled not in staff_events(runtime, staff_id)
    app.disable_staff(staff_id, "left", T0 + 2 * HOUR)  # the retry records what is missing
    assert staff_events(runtime, staff_id)[-1] is StaffMember.StaffMemberDisabled


def test_an_unknown_member_is_not_found_and_nothing_is_written(runtime):
    nobody = uuid.uuid4()
    with pytest.raises(StaffNotFound, match="billing staff list"):
        runtime.app.disable_staff(nobody, "left", T0)
    assert runtime.credentials.get(nobody) is None


# --- passwords ---------------------------------------------------------------------------------


def test_a_password_is_verified_by_id_or_address_and_never_stored_in_the_log(runtime):
    staff_id = runtime.app.add_staff("Maryam", "finance", T0, email="maryam@example.ir")
    runtime.app.set_staff_password(staff_id, "a long and quiet river", T0 + HOUR)
    for who in (staff_id, str(staff_id), "MARYAM@example.ir"):
        found = runtime.credentials.verify_password(who, "a long and quiet river")
        assert found is not None and found.id == staff_id, who
    assert runtime.credentials.verify_password(staff_id, "a long and quiet rivers") is None
    assert (
        runtime.credentials.verify_password("nobody@example.ir", "a long and quiet river") is None
    )
    assert runtime.credentials.verify_password("not an address", "a long and quiet river") is None
    stored = b"".join(
        n.state for n in runtime.app.recorder.select_notifications(start=1, limit=1_000)
    )
    assert b"quiet river" not in stored and b"argon2" not in stored
    assert staff_events(runtime, staff_id)[-1] is StaffMember.StaffPasswordSet
    assert runtime.credentials.get(staff_id).password_set_at == T0 + HOUR


def test_a_new_password_replaces_the_old_one_and_a_disabled_member_signs_in_no_more(runtime):
    staff_id = runtime.app.add_staff("Maryam", "finance", T0)
    runtime.app.set_staff_password(staff_id, "first password here", T0)
    runtime.app.set_staff_password(staff_id, "second password here", T0 + HOUR)
    assert runtime.credentials.verify_password(staff_id, "first password here") is None
    assert runtime.credentials.verify_password(staff_id, "second password here") is not None
    runtime.app.disable_staff(staff_id, "left", T0 + DAY)
    assert runtime.credentials.verify_password(staff_id, "second password here") is None
    with pytest.raises(StaffDisabled):
        runtime.app.set_staff_password(staff_id, "third password here", T0 + 2 * DAY)


def test_a_short_password_is_refused_and_nothing_is_written(runtime):
    staff_id = runtime.app.add_staff("Maryam", "finance", T0)
    before = runtime.app.recorder.max_notification_id()
    with pytest.raises(InvalidPassword, match="at least 12 characters; this one has 5"):
        runtime.app.set_staff_password(staff_id, "short", T0 + HOUR)
    assert runtime.app.recorder.max_notification_id() == before
    assert runtime.credentials.get(staff_id).password_set_at is None


# --- tokens ------------------------------------------------------------------------------------


def test_an_expired_or_revoked_token_is_refused_saying_which(runtime):
    expiring = runtime.tokens.issue(
        "finance", T0, owner="client", name="portal", expires_at=T0 + DAY
    )
    assert runtime.tokens.principal(expiring.token, T0 + DAY - HOUR) is not None
    assert runtime.tokens.principal(expiring.token, T0 + DAY) is None
    assert runtime.tokens.refusal(expiring.token, T0 + DAY) == "expired"
    kept = runtime.tokens.issue("admin", T0, owner="client", name="ops")
    assert runtime.tokens.revoke_id(kept.id, T0 + HOUR) is True
    assert runtime.tokens.revoke_id(kept.id, T0 + 2 * HOUR) is False  # already revoked
    assert runtime.tokens.principal(kept.token, T0 + HOUR) is None
    assert runtime.tokens.refusal(kept.token, T0 + HOUR) == "revoked"
    assert runtime.tokens.refusal("bt_never", T0) == "unknown"
    with pytest.raises(TokenNotFound, match="GET /admin/tokens"):
        runtime.tokens.revoke_id("tok_000000000000", T0)


def test_a_client_token_is_owned_by_its_client_with_its_scopes(runtime):
    issued = runtime.tokens.issue(
        "finance", T0, owner="client", name="portal", scopes=["payments", "read"]
    )
    who = runtime.tokens.principal(issued.token, T0)
    assert who.owner == Actor(ActorKind.CLIENT, id=issued.id, name="portal", role="finance")
    assert who.scopes == {Scope.PAYMENTS, Scope.READ}
    customer = uuid.uuid4()
    mine = runtime.tokens.principal(runtime.tokens.create("customer", T0, subject=customer), T0)
    assert mine.subject == customer
    assert mine.owner == Actor(ActorKind.CUSTOMER, id=str(customer), role="customer")


@pytest.mark.parametrize(
    ("kwargs", "error", "says"),
    [
        (
            {"role": "owner"},
            InvalidInput,
            "choose customer, representative, finance, admin or support",
        ),
        ({"role": "finance", "scopes": ["write"]}, InvalidInput, "choose read"),
        ({"role": "finance", "owner": "client"}, InvalidInput, "names its machine client"),
        ({"role": "finance", "owner": "staff"}, InvalidInput, "POST /staff/{id}/tokens"),
        (
            {"role": "customer", "owner": "client", "subject": uuid.uuid4()},
            InvalidInput,
            "belongs to a customer",
        ),
        ({"role": "finance", "expires_at": T0 - HOUR}, InvalidTime, "is not after now"),
        ({"role": "finance", "expires_at": T0.replace(tzinfo=None)}, InvalidTime, "time zone"),
    ],
)
def test_a_token_that_cannot_be_made_is_refused_saying_why(runtime, kwargs, error, says):
    details = dict(kwargs)
    role = details.pop("role")
    with pytest.raises(error, match=re.escape(says)):
        runtime.tokens.issue(role, T0, **details)
    assert runtime.tokens.tokens() == []


def test_last_used_is_kept_to_the_minute_so_reads_do_not_write_every_time(runtime):
    issued = runtime.tokens.issue("finance", T0, owner="client", name="portal")

    def last_used():
        (info,) = runtime.tokens.tokens()
        return info.last_used_at

    assert last_used() is None
    runtime.tokens.principal(issued.token, T0)
    assert last_used() == T0
    runtime.tokens.principal(issued.token, T0 + timedelta(seconds=59))
    assert last_used() == T0
    runtime.tokens.principal(issued.token, T0 + timedelta(seconds=61))
    assert last_used() == T0 + timedelta(seconds=61)


def test_the_list_names_owners_and_states_and_never_a_token(runtime):
    staff_id = runtime.app.add_staff("Sara", "support", T0)
    member = runtime.tokens.issue_for_staff(staff_id, T0, scopes=["read"])
    client = runtime.tokens.issue(
        "admin", T0 + HOUR, owner="client", name="ops", expires_at=T0 + DAY
    )
    runtime.app.disable_staff(staff_id, "left", T0 + 2 * HOUR)
    listed = {info.id: info for info in runtime.tokens.tokens()}
    assert listed[member.id].state(T0 + 3 * HOUR) == "owner_disabled"
    assert listed[member.id].owner.name == "Sara" and listed[member.id].role is Role.SUPPORT
    assert listed[client.id].state(T0 + 3 * HOUR) == "active"
    assert listed[client.id].state(T0 + DAY) == "expired"
    assert [i.id for i in runtime.tokens.tokens(limit=1)] == [member.id]
    page = runtime.tokens.tokens(after=listed[member.id].sort_key)
    assert [i.id for i in page] == [client.id]
    text = repr(list(listed.values()))
    assert member.token not in text and hash_token(member.token) not in text


# --- a table made by older code ----------------------------------------------------------------

OLD_TABLE = (
    "CREATE TABLE api_tokens (token_hash TEXT PRIMARY KEY, role TEXT NOT NULL, subject TEXT, "
    "label TEXT, created_at TEXT NOT NULL, revoked_at TEXT, "
    "CHECK (role IN ('customer', 'representative', 'finance', 'admin')), "
    "CHECK ((role IN ('customer', 'representative')) = (subject IS NOT NULL)))"
)


def _old_tokens(execute) -> dict[str, str]:
    execute(OLD_TABLE)
    customer = str(uuid.uuid4())
    rows = {
        "bt_old_admin": ("admin", None, "ops laptop"),
        "bt_old_finance": ("finance", None, ""),
        "bt_old_customer": ("customer", customer, "portal session"),
    }
    for token, (role, subject, label) in rows.items():
        execute(
            "INSERT INTO api_tokens VALUES (?, ?, ?, ?, '2026-01-01T00:00:00+00:00', NULL)",
            (hash_token(token), role, subject, label),
        )
    return {"customer": customer}


def _check_migrated(runtime, customer: str) -> None:
    tokens = runtime.tokens  # opened on the old table: migrated in place
    admin = tokens.principal("bt_old_admin", T0)
    assert admin.role is Role.ADMIN
    assert admin.owner.kind is ActorKind.CLIENT and admin.owner.name == "ops laptop"
    assert admin.owner.id == admin.token_id and admin.token_id.startswith("tok_")
    assert tokens.principal("bt_old_finance", T0).owner.name == "finance token"
    mine = tokens.principal("bt_old_customer", T0)
    assert str(mine.subject) == customer and mine.owner.kind is ActorKind.CUSTOMER
    support = tokens.create("support", T0, label="new role")  # the old CHECK allowed four
    assert tokens.principal(support, T0).role is Role.SUPPORT
    assert len(tokens.tokens()) == 4
    runtime.tokens.revoke_id(admin.token_id, T0)
    assert tokens.principal("bt_old_admin", T0) is None


def test_an_older_sqlite_table_is_migrated_in_place_and_its_tokens_keep_working(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as connection:
        subjects = _old_tokens(connection.execute)
    runtime = open_runtime(database_url=f"sqlite:///{path}")
    _check_migrated(runtime, subjects["customer"])
    runtime.close()
    again = open_runtime(database_url=f"sqlite:///{path}")  # opening it again changes nothing
    assert len(again.tokens.tokens()) == 4
    again.close()


@pytest.mark.postgres
def test_an_older_postgres_table_is_migrated_in_place_and_its_tokens_keep_working():
    import psycopg

    from tests.stores import POSTGRES_URL

    with postgres_schema() as url:
        schema = url.split("schema=")[1]
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            connection.execute(f"SET search_path TO {schema}")
            subjects = _old_tokens(
                lambda sql, params=(): connection.execute(sql.replace("?", "%s"), params)
            )
        runtime = open_runtime(database_url=url)
        _check_migrated(runtime, subjects["customer"])
        runtime.close()


def test_the_table_allows_exactly_the_roles_a_token_may_have():
    from adapters.token_table import ROLES

    assert set(ROLES) == {role.value for role in Role}
