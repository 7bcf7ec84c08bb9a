"""A stored event the read side cannot hold is one visible problem, never an outage
(docs/SECURITY.md, docs/AUDIT.md).

An event holding a NUL was stored directly, as an older version of the engine could: PostgreSQL
refuses NUL in a text column, and before this rule every read that caught the read models up
answered 500, and `projections rebuild` and `audit verify` crashed. Now the value is stored
with U+FFFD in its place, the event is named and counted, and every read route answers.
"""

from __future__ import annotations

import contextlib
import re
from contextlib import nullcontext

import pytest

import cli
from adapters.chain import has_chain, verify_stored_chain
from app import create_app
from bootstrap import build_engine
from domain.customer import BillingProfile
from tests.api.server import bearer, served
from tests.builders import T0, a_person, a_plan
from tests.stores import postgres_schema

SARA = "Sara\x00"  # what an older version recorded as the name


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    store = (
        postgres_schema()
        if request.param == "postgres"
        else nullcontext(f"sqlite:///{tmp_path}/nul.sqlite")
    )
    with store as url:
        yield url


def _store_directly(app, customer_id):
    """Record BillingProfileChanged with a NUL in the name, bypassing the input policy."""
    customer = app.get_customer(customer_id)
    profile = customer.profile.to_dict() | {"name": SARA}
    customer._profile_changed(profile, T0)
    app.save(customer)
    return customer.version


def test_every_read_route_answers_after_an_event_with_a_nul_was_stored(database_url):
    engine = build_engine(database_url=database_url, test_mode=True, test_clock_start=T0)
    api = create_app(engine)
    app = engine.app
    app.define_plan(a_plan(), T0)
    customer = app.register_customer(a_person(), T0)
    subscription = app.start_subscription(customer, "basic", "monthly", T0)
    invoice = app.get_subscription(subscription).invoice_ids[0]
    version = _store_directly(app, customer)
    assert app.get_customer(customer).profile.name == SARA  # the event is as recorded
    token = api.state.context.tokens.create("admin", T0)
    ids = {"customer_id": customer, "subscription_id": subscription, "invoice_id": invoice}

    with served(api) as http:
        ticked = http.post("/admin/tick", headers=bearer(token))
        assert ticked.status_code == 200, ticked.text
        answered = []
        for path, operations in api.openapi()["paths"].items():
            if "get" not in operations or path == "/payments/callback":
                continue
            url = _filled(path, ids)
            got = http.get(url, headers=bearer(token))
            assert got.status_code < 500, f"GET {url}: {got.status_code} {got.text}"
            answered.append(url)
        assert len(answered) >= 20
        shown = http.get(f"/customers/{customer}", headers=bearer(token)).json()
        # The answer is the read model's value: PostgreSQL holds U+FFFD in the NUL's place,
        # SQLite the NUL itself (JSON escapes it).
        held = SARA.replace("\x00", "\ufffd") if database_url.startswith("postgres") else SARA
        assert shown["name"] == held
        listed = http.get("/customers", headers=bearer(token)).json()["items"]
        assert [c["id"] for c in listed] == [str(customer)]
        metrics = http.get("/metrics", headers=bearer(token)).text
        count = re.search(r"billing_read_model_unstorable_text_total (\d+)", metrics)
        if "postgres" in database_url:  # SQLite holds NUL; PostgreSQL cannot
            assert count and int(count.group(1)) > 0
        row = api.state.context.read_models.query(
            "SELECT name FROM {rm_customer_accounts} WHERE customer_id = ?", (str(customer),)
        )[0]
        assert row["name"] in (SARA, "Sara\ufffd")
    if has_chain(app):
        assert verify_stored_chain(app)[1] == []  # nothing was rewritten
    engine.close()

    for command in (["projections", "rebuild"], ["audit", "verify"]):
        out = _run(command + ["--db", database_url])
        assert out.code == 0, out.text
        assert f"BillingProfileChanged v{version} of {customer}" in out.text, out.text


def _filled(path: str, ids: dict) -> str:
    url = path
    for name, value in ids.items():
        url = url.replace("{" + name + "}", str(value))
    url = url.replace("{aggregate_id}", str(ids["subscription_id"]))
    url = url.replace("{receipt_id}", str(ids["invoice_id"])).replace("{plan_id}", "basic")
    if "/as-of" in url:
        url += "?at=2026-04-05T00:00:00Z"
    return url


class _Output:
    def __init__(self, code: int, text: str) -> None:
        self.code, self.text = code, text


def _run(argv: list[str]) -> _Output:
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = cli.main(argv)
    return _Output(code, out.getvalue())


def test_the_input_policy_keeps_a_nul_out_of_new_events(tmp_path):
    engine = build_engine(database_url=f"sqlite:///{tmp_path}/policy.sqlite")
    before = engine.app.recorder.max_notification_id()
    with pytest.raises(Exception, match="U\\+0000"):
        BillingProfile(name=SARA, kind="person", email="s@example.ir", mobile="09121234567")
    assert engine.app.recorder.max_notification_id() == before
    engine.close()
