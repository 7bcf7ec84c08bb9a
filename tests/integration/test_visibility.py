"""One rule of who may see what (projections/visibility.py): the SQL that filters the lists
keeps exactly the rows the Python rule lets each viewer see, for every role, also after
customers were moved from one representative to another (what hangs off a customer follows
the customer's representative of the moment)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from uuid import UUID

import pytest

from bootstrap import build_application, build_read_models
from domain.representative import RepresentativeDetails
from projections.visibility import (
    OPERATOR,
    may_see_customer,
    may_see_invoice,
    may_see_subscription,
    visible_rows,
)
from tests.builders import HOUR, T0, a_company, a_plan


@dataclass(frozen=True)
class Who:
    role: str
    subject: UUID | None = None


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('visibility')}/v.sqlite"
    app = build_application(database_url=url)
    app.define_plan(a_plan("basic"), T0)
    reps = [
        app.add_representative(RepresentativeDetails(name), T0) for name in ("Ali", "Reza", "Sina")
    ]
    customers = [
        app.register_customer(a_company("A"), T0, representative_id=reps[0]),
        app.register_customer(a_company("B"), T0, representative_id=reps[1]),
        app.register_customer(a_company("C"), T0),  # chose no representative
        app.register_customer(a_company("D"), T0, representative_id=reps[0]),  # moved below
        app.register_customer(a_company("E"), T0),  # assigned below
    ]
    subscriptions = [app.start_subscription(c, "basic", "monthly", T0) for c in customers]
    for sub in subscriptions:
        invoice = app.get_subscription(sub).invoice_ids[0]
        app.request_offline_payment(invoice, "transfer", T0)
    app.assign_representative(customers[3], reps[1], "Ali left the region", T0 + HOUR)
    app.assign_representative(customers[4], reps[2], "first representative", T0 + HOUR)
    read_models = build_read_models(app, database_url=url)
    read_models.catch_up()
    viewers = [OPERATOR, Who("admin"), Who("finance"), Who("representative", uuid.uuid4())]
    viewers += [Who("customer", c) for c in customers] + [Who("representative", r) for r in reps]
    yield app, read_models, viewers
    read_models.stop()
    app.close()


def _ids(read_models, who, table: str, column: str) -> set[str]:
    where, params = visible_rows(who, table)
    sql = f"SELECT {column} FROM {{{table}}}" + (f" WHERE {' AND '.join(where)}" if where else "")
    return {row[column] for row in read_models.query(sql, params)}


def test_the_lists_keep_exactly_what_the_rule_lets_each_viewer_see(world):
    app, read_models, viewers = world
    all_customers = _ids(read_models, OPERATOR, "rm_customer_accounts", "customer_id")
    all_subscriptions = _ids(read_models, OPERATOR, "rm_subscriptions", "subscription_id")
    assert len(all_customers) == len(all_subscriptions) == 5
    for who in viewers:
        customers = {c for c in all_customers if may_see_customer(who, app.get_customer(UUID(c)))}
        assert _ids(read_models, who, "rm_customer_accounts", "customer_id") == customers, who
        subscriptions = {
            s
            for s in all_subscriptions
            if may_see_subscription(who, app.get_subscription(UUID(s)), app.get_customer)
        }
        assert _ids(read_models, who, "rm_subscriptions", "subscription_id") == subscriptions
        offline = read_models.query("SELECT item_id, invoice_id FROM {rm_offline_payments}")
        seen = {
            row["item_id"]
            for row in offline
            if may_see_invoice(who, app.get_invoice(UUID(row["invoice_id"])), app.get_customer)
        }
        assert _ids(read_models, who, "rm_offline_payments", "item_id") == seen, who


def test_a_customer_sees_only_their_own_and_a_stranger_nothing(world):
    app, read_models, viewers = world
    customer = next(w for w in viewers if w.role == "customer")
    assert _ids(read_models, customer, "rm_customer_accounts", "customer_id") == {
        str(customer.subject)
    }
    stranger = Who("representative", uuid.uuid4())
    assert _ids(read_models, stranger, "rm_subscriptions", "subscription_id") == set()
    assert (
        _ids(read_models, Who("auditor", uuid.uuid4()), "rm_subscriptions", "subscription_id")
        == set()
    )


def test_a_moved_customer_and_all_of_theirs_go_with_them_to_the_new_representative(world):
    app, read_models, viewers = world
    ali, reza, sina = (w for w in viewers[-3:])
    moved = {
        str(c)
        for c in _ids(read_models, OPERATOR, "rm_customer_accounts", "customer_id")
        if app.get_customer(UUID(c)).profile.name == "D"
    }
    (customer,) = moved
    subscription = {
        r["subscription_id"]
        for r in read_models.query(
            "SELECT subscription_id FROM {rm_subscriptions} WHERE customer_id = ?", [customer]
        )
    }
    for table, column, theirs in (
        ("rm_customer_accounts", "customer_id", moved),
        ("rm_subscriptions", "subscription_id", subscription),
    ):
        assert theirs <= _ids(read_models, reza, table, column)
        assert not theirs & _ids(read_models, ali, table, column)
        assert not theirs & _ids(read_models, sina, table, column)
    sub = app.get_subscription(UUID(next(iter(subscription))))
    assert sub.representative_id == ali.subject  # the order's record is kept as it was
    assert may_see_subscription(reza, sub, app.get_customer)
    assert not may_see_subscription(ali, sub, app.get_customer)
    invoice = app.get_invoice(sub.invoice_ids[0])
    assert may_see_invoice(reza, invoice, app.get_customer)
    assert not may_see_invoice(ali, invoice, app.get_customer)
    # Sina had no customer until E was assigned to them: E's account and site are theirs now.
    assert len(_ids(read_models, sina, "rm_subscriptions", "subscription_id")) == 1
