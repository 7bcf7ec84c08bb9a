"""The representatives read model (projections/representative_views.py) equals a rebuild from
the events, on SQLite and PostgreSQL, and lists each representative with the customers they
serve now: after moves, and for an id customers named before representatives were kept."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from bootstrap import build_application, build_read_models
from domain.customer import Customer
from domain.representative import RepresentativeDetails
from projections.representative_views import representative, representatives
from projections.visibility import OPERATOR
from tests.builders import HOUR, T0, a_person
from tests.integration.test_visibility import Who
from tests.stores import postgres_schema


@contextmanager
def sqlite_store(tmp_path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path}/reps.sqlite"


@contextmanager
def postgres_store(tmp_path) -> Iterator[str]:
    with postgres_schema() as url:
        yield url


def _store(app):
    """Two representatives, one id named only by a customer of before, and moves."""
    ali = app.add_representative(RepresentativeDetails("Ali", "09121234567"), T0)
    reza = app.add_representative(RepresentativeDetails("Reza"), T0)
    legacy = uuid.uuid4()
    app.save(Customer.register(a_person("Old customer"), legacy, T0))  # as older code recorded
    first = app.register_customer(a_person("First"), T0, representative_id=ali)
    second = app.register_customer(a_person("Second"), T0, representative_id=ali)
    third = app.register_customer(a_person("Third"), T0)
    app.assign_representative(second, reza, "Ali has too many", T0 + HOUR)
    app.assign_representative(third, ali, "walked in at Ali's office", T0 + HOUR)
    app.change_representative(
        reza, RepresentativeDetails("Reza Karimi", email="reza@example.ir"), T0 + HOUR
    )
    return ali, reza, legacy, (first, second, third)


def _counts(read_models, who=OPERATOR) -> dict[str, tuple[bool, str | None, int]]:
    return {
        r["representative_id"]: (r["registered"], r["name"], r["customers"])
        for r in representatives(read_models, who, limit=200)
    }


@pytest.mark.parametrize(
    "store", [sqlite_store, pytest.param(postgres_store, marks=pytest.mark.postgres)]
)
def test_the_list_counts_customers_now_and_equals_a_rebuild(store, tmp_path):
    with store(tmp_path) as url:
        app = build_application(database_url=url)
        read_models = build_read_models(app, database_url=url)
        ali, reza, legacy, _ = _store(app)
        read_models.catch_up()
        assert _counts(read_models) == {
            str(ali): (True, "Ali", 2),
            str(reza): (True, "Reza Karimi", 1),
            str(legacy): (False, None, 1),
        }
        row = representative(read_models, OPERATOR, reza)
        assert row is not None and row["email"] == "reza@example.ir" and row["added_at"]
        live = read_models.query("SELECT * FROM {rm_representatives} ORDER BY representative_id")
        read_models.rebuild(["representatives"])
        rebuilt = read_models.query("SELECT * FROM {rm_representatives} ORDER BY representative_id")
        assert rebuilt == live and len(live) == 2
        assert read_models.verify()[1] == []

        # The id of before, added under itself, keeps its customer and gets its name.
        app.add_representative(
            RepresentativeDetails("Sina"), T0 + 2 * HOUR, representative_id=legacy
        )
        read_models.catch_up()
        assert _counts(read_models)[str(legacy)] == (True, "Sina", 1)
        assert read_models.verify()[1] == []
        read_models.stop()
        app.close()


def test_who_sees_which_representatives(tmp_path):
    url = f"sqlite:///{tmp_path}/who.sqlite"
    app = build_application(database_url=url)
    read_models = build_read_models(app, database_url=url)
    ali, reza, legacy, customers = _store(app)
    read_models.catch_up()
    assert set(_counts(read_models, Who("finance"))) == {str(ali), str(reza), str(legacy)}
    assert set(_counts(read_models, Who("representative", reza))) == {str(reza)}
    assert set(_counts(read_models, Who("representative", legacy))) == {str(legacy)}
    assert _counts(read_models, Who("customer", customers[0])) == {}
    assert representative(read_models, Who("representative", reza), ali) is None
    assert representative(read_models, OPERATOR, uuid.uuid4()) is None
    # Paged by id, in order, nothing repeated or left out.
    ids = sorted(_counts(read_models))
    assert [r["representative_id"] for r in representatives(read_models, OPERATOR, limit=2)] == (
        ids[:2]
    )
    assert [
        r["representative_id"] for r in representatives(read_models, OPERATOR, after=ids[1])
    ] == ids[2:]
    read_models.stop()
    app.close()
