"""Hostile input over every route, on SQLite and on PostgreSQL (docs/SECURITY.md).

Schemathesis generates requests from the app's own OpenAPI document, and every text it puts in
a body or a query is, at random, spliced with what a hostile client sends: NUL and other
control characters, half a surrogate pair, bidirectional overrides and isolates, zero-width
characters. Whatever comes:

- no answer is a server error, and every answer matches the documented schema, status and
  content type;
- a refused request (4xx) records nothing: the event log ends where it ended before it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import create_app
from bootstrap import build_engine
from tests.builders import T0, a_company, a_person, a_plan
from tests.stores import postgres_schema

#: What a hostile client puts in text: control characters, NUL, half a surrogate pair,
#: bidirectional controls, zero-width characters, and line breaks where none belong.
pytestmark = pytest.mark.slow  # every route, 25 random requests each: about a minute
HOSTILE = (
    "\x00",
    "\x01",
    "\x08",
    "\x1b",
    "\x7f",
    "\x85",
    "\ud800",
    "\udfff",
    "\u202e",
    "\u2066",
    "\u2069",
    "\u200b",
    "\u200c",
    "\u200d",
    "\u200f",
    "\u061c",
    "\ufeff",
    "\n",
    "\r\n",
    "\t",
)


def _splice(text: str, bad: str, at: int) -> str:
    return text[:at] + bad + text[at:]


#: A URL cannot carry half a surrogate pair (it is not encodable), so queries get the rest.
HOSTILE_IN_URLS = tuple(c for c in HOSTILE if not "\ud800" <= c <= "\udfff")


def _tainted(value: object, hostile: tuple[str, ...] = HOSTILE) -> st.SearchStrategy:
    """The value, or (at random) with a hostile character spliced into each of its texts."""
    if isinstance(value, str):
        return st.one_of(
            st.just(value),
            st.builds(
                _splice, st.just(value), st.sampled_from(hostile), st.integers(0, len(value))
            ),
        )
    if isinstance(value, dict):
        return st.fixed_dictionaries({k: _tainted(v, hostile) for k, v in value.items()})
    if isinstance(value, list):
        return st.tuples(*(_tainted(v, hostile) for v in value)).map(list)
    return st.just(value)


@schemathesis.hook
def flatmap_body(context, body):
    return _tainted(body)


@schemathesis.hook
def map_case(context, case):
    """A multipart body cannot carry half a surrogate pair either (it is not encodable): its
    texts get the other hostile characters (the receipt route takes multipart too)."""
    if case.media_type == "multipart/form-data" and isinstance(case.body, dict):
        case.body = {
            name: "".join(c for c in value if not "\ud800" <= c <= "\udfff")
            if isinstance(value, str)
            else value
            for name, value in case.body.items()
        }
    return case


@schemathesis.hook
def flatmap_query(context, query):
    return _tainted(query or {}, HOSTILE_IN_URLS)


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], scope="module"
)
def engine(request, tmp_path_factory) -> Iterator:
    with (
        postgres_schema()
        if request.param == "postgres"
        else nullcontext(f"sqlite:///{tmp_path_factory.mktemp('fuzz')}/fuzz.sqlite")
    ) as url:
        engine = build_engine(database_url=url, test_mode=True, test_clock_start=T0)
        app = engine.app
        app.define_plan(a_plan("basic"), T0)
        person = app.register_customer(a_person(), T0)
        app.start_subscription(person, "basic", "monthly", T0)
        company = app.register_customer(a_company(), T0)
        subscription = app.start_subscription(company, "basic", "monthly", T0)
        invoice = app.get_subscription(subscription).invoice_ids[0]
        request_id = app.request_offline_payment(invoice, "transfer", T0)
        app.decide_offline_payment(invoice, request_id, T0, approve=True)
        yield engine
        engine.close()


@pytest.fixture(scope="module")
def api(engine):
    return create_app(engine)


@pytest.fixture(scope="module")
def admin(api) -> str:
    return api.state.context.tokens.create("admin", T0)


def _operations(api) -> list:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api)
    return [result.ok() for result in schema.get_all_operations()]


def test_no_input_breaks_the_api_and_a_refused_request_records_nothing(api, admin):
    recorder = api.state.context.app.recorder
    operations = _operations(api)
    assert len(operations) > 40  # every route, not a few

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        def call(case) -> None:
            before = recorder.max_notification_id()
            response = case.call(headers={"Authorization": f"Bearer {admin}"})
            # Every default check but "schema-valid input is accepted": billing rules rightly
            # refuse some well-formed requests (a plan with no collection warnings, paying a
            # voided invoice).
            case.validate_response(
                response, excluded_checks=[schemathesis.checks.positive_data_acceptance]
            )
            assert response.status_code < 500, response.text
            if response.status_code >= 400:
                assert recorder.max_notification_id() == before, (
                    f"{case.method} {case.formatted_path} was refused "
                    f"({response.status_code}) but recorded events"
                )

        call()
