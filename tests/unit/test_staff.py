"""The staff member's record and the password rule (domain/staff.py): pure, no store."""

from __future__ import annotations

import uuid

import pytest

from domain.errors import InvalidInput, InvalidPassword, StaffDisabled, TimeWentBackwards
from domain.staff import MIN_PASSWORD_LENGTH, StaffMember, StaffRole, check_password
from tests.builders import DAY, T0


def a_member(**details) -> StaffMember:
    values = {"name": "مریم کریمی", "role": "finance", "email": "Maryam@Example.ir"} | details
    return StaffMember.add(uuid.uuid4(), values["name"], values["role"], values["email"], T0)


def test_a_member_is_added_with_a_clean_name_a_role_and_a_lower_case_address():
    member = a_member(name="  مریم\u200b  کریمی\u202e ")
    assert member.name == "مریم کریمی"  # spaces collapsed, bidi controls dropped
    assert member.role is StaffRole.FINANCE
    assert member.email == "maryam@example.ir"
    assert member.active
    (added,) = member.collect_events()
    assert type(added) is StaffMember.StaffMemberAdded
    assert (added.name, added.role, added.email) == ("مریم کریمی", "finance", "maryam@example.ir")


@pytest.mark.parametrize(
    ("details", "field", "says"),
    [
        ({"name": "Ali\x00"}, "name", "control character U+0000"),
        ({"name": "   "}, "name", "name is required"),
        ({"role": "owner"}, "role", "choose admin, finance or support"),
        ({"email": "not-an-address"}, "email", "is not an e-mail address"),
    ],
)
def test_a_member_with_a_bad_detail_is_refused_naming_the_field(details, field, says):
    with pytest.raises(InvalidInput) as refused:
        a_member(**details)
    assert refused.value.details["field"] == field
    assert says in refused.value.message


def test_an_address_is_optional():
    assert a_member(email=None).email is None
    assert a_member(email="  ").email is None


def test_disabling_records_the_reason_once():
    member = a_member()
    member.disable("left the company", T0 + DAY)
    member.disable("again", T0 + 2 * DAY)
    events = member.collect_events()
    disabled = [e for e in events if type(e) is StaffMember.StaffMemberDisabled]
    assert [e.reason for e in disabled] == ["left the company"]
    assert member.disabled_at == T0 + DAY and not member.active


def test_a_disabled_member_gets_no_password_and_says_how_to_go_on():
    member = a_member()
    member.disable("left", T0 + DAY)
    with pytest.raises(StaffDisabled, match="Add a new staff member"):
        member.note_password_set(T0 + 2 * DAY)


def test_a_staff_command_cannot_rewrite_the_past():
    member = a_member()
    member.disable("left", T0 + DAY)
    with pytest.raises(TimeWentBackwards):
        member.disable("again", T0)


def test_the_password_event_holds_no_secret():
    member = a_member()
    member.note_password_set(T0 + DAY)
    event = member.collect_events()[-1]
    assert type(event) is StaffMember.StaffPasswordSet
    own = set(vars(event)) - {
        "originator_id",
        "originator_version",
        "timestamp",
        "originator_topic",
    }
    assert own == set()


def test_a_password_has_at_least_twelve_characters_and_the_message_never_repeats_it():
    with pytest.raises(InvalidPassword) as short:
        check_password("hunter2hunt")
    assert f"at least {MIN_PASSWORD_LENGTH} characters" in short.value.message
    assert "this one has 11" in short.value.message
    assert "hunter2" not in short.value.message
    assert short.value.code == "invalid_password"
    assert check_password("correct horse battery") == "correct horse battery"


def test_a_password_with_a_control_character_or_too_long_is_refused():
    with pytest.raises(InvalidPassword, match=r"control character \(U\+0009\) at position 8"):
        check_password("correct\thorse battery")
    with pytest.raises(InvalidPassword, match="at most 256"):
        check_password("x" * 257)
    with pytest.raises(InvalidPassword, match="must be text"):
        check_password(None)


def test_a_password_is_kept_in_one_unicode_form():
    # "é" typed as one character or as e + combining accent is the same password
    assert check_password("caf\u00e9 au lait 2026") == check_password("cafe\u0301 au lait 2026")
