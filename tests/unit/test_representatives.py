"""Representatives and the customers assigned to them: the rules, as worked examples
(domain/representative.py, Customer.assign_representative, service_layer/representatives.py)."""

from __future__ import annotations

import uuid

import pytest

from domain.actor import Actor, ActorKind, recorded_actor
from domain.customer import Customer
from domain.errors import (
    CustomerNotFound,
    InvalidInput,
    InvalidRepresentative,
    RepresentativeIdTaken,
    RepresentativeNotFound,
    RepresentativeUnchanged,
    TimeWentBackwards,
)
from domain.representative import Representative, RepresentativeDetails
from presentation.events import words_for
from tests.builders import DAY, T0, a_person, in_memory_app

ADMIN = Actor(ActorKind.STAFF, id="staff-1", name="Maryam Karimi", role="admin")


def test_details_pass_the_input_policy_and_optional_ways_to_reach_may_be_left_out():
    details = RepresentativeDetails(" Ali\u202e  Rezaei ", "۰۹۱۲ ۱۲۳-۴۵۶۷", "  ")
    assert details == RepresentativeDetails("Ali Rezaei", "09121234567", None)
    assert RepresentativeDetails("علی رضایی").to_dict() == {
        "name": "علی رضایی",
        "mobile": None,
        "email": None,
    }


@pytest.mark.parametrize(
    ("details", "field", "says"),
    [
        ({"name": ""}, "name", "name is required"),
        ({"name": "Ali\x00"}, "name", "U+0000"),
        ({"name": "A" * 201}, "name", "at most 200"),
        ({"name": "Ali", "mobile": "12345"}, "mobile", "not an Iranian mobile number"),
        ({"name": "Ali", "email": "ali-at-example"}, "email", "not an e-mail address"),
    ],
)
def test_unacceptable_details_are_refused_naming_the_field(details, field, says):
    with pytest.raises(InvalidRepresentative) as refused:
        RepresentativeDetails(**details)
    assert refused.value.code == "invalid_representative"
    assert refused.value.details["field"] == field
    assert says in refused.value.message


def test_changing_details_records_only_a_change_and_never_back_in_time():
    rep = Representative.add(uuid.uuid4(), RepresentativeDetails("Ali"), T0)
    rep.change_details(RepresentativeDetails("Ali"), T0 + DAY)
    assert rep.version == 1  # the same details: nothing to record
    rep.change_details(RepresentativeDetails("Ali Rezaei", email="ali@example.ir"), T0 + DAY)
    assert (rep.version, rep.name, rep.details.email) == (2, "Ali Rezaei", "ali@example.ir")
    with pytest.raises(TimeWentBackwards):
        rep.change_details(RepresentativeDetails("Ali R"), T0)


def test_a_customer_is_assigned_then_moved_and_each_event_names_both_sides():
    first, second = uuid.uuid4(), uuid.uuid4()
    customer = Customer.register(a_person(), None, T0)
    customer.assign_representative(first, "  came through the Shiraz office ", T0 + DAY)
    customer.assign_representative(second, "first left the company", T0 + 2 * DAY)
    assert customer.representative_id == second
    assigned, moved = [e for e in customer.collect_events()][1:]
    assert (assigned.previous_representative_id, assigned.representative_id) == (None, first)
    assert assigned.reason == "came through the Shiraz office"
    assert (moved.previous_representative_id, moved.representative_id) == (first, second)
    words = words_for(Customer.RepresentativeAssigned, vars(moved))
    assert words.english == (
        f"moved from representative {str(first)[:8]} to {str(second)[:8]}: first left the company"
    )
    assert "منتقل شد" in words.persian


def test_naming_the_representative_the_customer_already_has_is_refused():
    rep = uuid.uuid4()
    customer = Customer.register(a_person(), rep, T0)
    with pytest.raises(RepresentativeUnchanged) as refused:
        customer.assign_representative(rep, "again", T0 + DAY)
    assert "already represented by" in refused.value.message
    assert customer.version == 1
    with pytest.raises(InvalidInput) as blank:
        customer.assign_representative(uuid.uuid4(), "  ", T0 + DAY)
    assert blank.value.details["field"] == "reason"


# --- the commands --------------------------------------------------------------------------------


def test_a_customer_names_only_a_registered_representative():
    app = in_memory_app()
    stranger = uuid.uuid4()
    with pytest.raises(RepresentativeNotFound) as refused:
        app.register_customer(a_person(), T0, representative_id=stranger)
    assert refused.value.code == "representative_not_found"
    assert (
        str(stranger) in refused.value.message and "POST /representatives" in refused.value.message
    )
    assert app.recorder.max_notification_id() in (None, 0)  # nothing was recorded
    rep = app.add_representative(RepresentativeDetails("Ali"), T0)
    customer = app.register_customer(a_person(), T0, representative_id=rep)
    assert app.get_customer(customer).representative_id == rep


def test_adding_again_under_the_same_id_is_a_retry_and_other_details_are_refused():
    app = in_memory_app()
    rep = app.add_representative(RepresentativeDetails("Ali"), T0)
    assert app.add_representative(RepresentativeDetails("Ali"), T0, representative_id=rep) == rep
    assert len(list(app.events.get(rep))) == 1
    with pytest.raises(RepresentativeIdTaken, match="already added, as 'Ali'"):
        app.add_representative(RepresentativeDetails("Reza"), T0, representative_id=rep)
    customer = app.register_customer(a_person(), T0)
    with pytest.raises(RepresentativeIdTaken, match="something else"):
        app.add_representative(RepresentativeDetails("Reza"), T0, representative_id=customer)
    with pytest.raises(RepresentativeNotFound):
        app.get_representative(customer)  # a customer's id names no representative


def test_a_representative_named_before_they_were_kept_is_added_under_that_id():
    """An older store's customers name representative ids that were never registered: they
    still load, and adding the representative under the same id keeps those customers."""
    app = in_memory_app()
    legacy = uuid.uuid4()
    old = Customer.register(a_person(), legacy, T0)  # as recorded by the code of before
    app.save(old)
    assert app.get_customer(old.id).representative_id == legacy
    with pytest.raises(RepresentativeNotFound):
        app.get_representative(legacy)
    app.add_representative(RepresentativeDetails("Ali"), T0 + DAY, representative_id=legacy)
    assert app.get_representative(legacy).name == "Ali"
    assert app.register_customer(a_person(), T0 + DAY, representative_id=legacy)


def test_a_move_checks_both_sides_records_who_did_it_and_refuses_without_writing():
    app = in_memory_app()
    first = app.add_representative(RepresentativeDetails("Ali"), T0)
    second = app.add_representative(RepresentativeDetails("Reza"), T0)
    customer = app.register_customer(a_person(), T0, representative_id=first)
    before = app.recorder.max_notification_id()
    with pytest.raises(RepresentativeNotFound):
        app.assign_representative(customer, uuid.uuid4(), "typo", T0 + DAY)
    with pytest.raises(CustomerNotFound):
        app.assign_representative(uuid.uuid4(), second, "typo", T0 + DAY)
    with pytest.raises(RepresentativeUnchanged):
        app.assign_representative(customer, first, "again", T0 + DAY)
    assert app.recorder.max_notification_id() == before
    app.acting(ADMIN).assign_representative(customer, second, "region change", T0 + DAY)
    moved = list(app.events.get(customer))[-1]
    assert isinstance(moved, Customer.RepresentativeAssigned)
    assert vars(moved)["actor"] == ADMIN.to_dict()
    assert recorded_actor(moved) == ADMIN
    assert app.get_customer(customer).representative_id == second


def test_as_of_a_moment_the_audit_says_who_represented_the_customer_then():
    from service_layer.audit import describe_as_of

    app = in_memory_app()
    first = app.add_representative(RepresentativeDetails("Ali", "09121234567"), T0)
    second = app.add_representative(RepresentativeDetails("Reza"), T0)
    customer = app.register_customer(a_person(), T0, representative_id=first)
    app.assign_representative(customer, second, "region change", T0 + 2 * DAY)
    assert describe_as_of(app, customer, T0 + DAY)["representative_id"] == str(first)
    assert describe_as_of(app, customer, T0 + 3 * DAY)["representative_id"] == str(second)
    rep = describe_as_of(app, first, T0 + DAY)
    assert (rep["aggregate"], rep["name"], rep["mobile"]) == (
        "Representative",
        "Ali",
        "09121234567",
    )
