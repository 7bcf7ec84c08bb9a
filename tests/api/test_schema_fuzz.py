"""Schemathesis generates requests from the app's own OpenAPI document: no input may produce a
server error, and every answer must match the documented schema, status and content type."""

from __future__ import annotations

import tempfile

import schemathesis
from hypothesis import HealthCheck, settings

from app import create_app
from bootstrap import build_engine
from tests.builders import T0, a_person, a_plan

_folder = tempfile.mkdtemp(prefix="billing-fuzz-")
_engine = build_engine(
    database_url=f"sqlite:///{_folder}/fuzz.sqlite", test_mode=True, test_clock_start=T0
)
_api = create_app(_engine)
_context = _api.state.context
_context.app.define_plan(a_plan("basic"), T0)
_customer = _context.app.register_customer(a_person(), T0)
_context.app.start_subscription(_customer, "basic", "monthly", T0)
ADMIN = _context.tokens.create("admin", T0)

schema = schemathesis.openapi.from_asgi("/openapi.json", _api)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_breaks_the_api_or_its_schema(case):
    # Every default check but "schema-valid input is accepted": billing rules rightly refuse
    # some well-formed requests (a plan with no collection warnings, paying a voided invoice).
    case.call_and_validate(
        headers={"Authorization": f"Bearer {ADMIN}"},
        excluded_checks=[schemathesis.checks.positive_data_acceptance],
    )
