"""Who did it, over HTTP: the timeline's items carry the actor and its words, ``explain`` names
who decided, and ``GET /audit/actions`` lists what each actor did, in pages, refusing a filter
it cannot read with a stable problem code (docs/API.md, docs/AUDIT.md "Actors").

The two finance staff members act through ``app.acting`` on the served store (today's tokens
make a ``client`` actor for finance and admin, and a ``customer`` actor for a customer, which
the last test shows)."""

from __future__ import annotations

import uuid

import pytest

from app import create_app
from bootstrap import build_engine
from tests.api.server import bearer, served
from tests.audit_history import AFTER, APPROVED, CONFIRMED, decided_history
from tests.builders import T0

MARYAM_JSON = {"kind": "staff", "id": "staff-maryam", "name": "مریم کریمی", "role": "finance"}
ALI_JSON = {"kind": "staff", "id": "staff-ali", "name": "علی رضایی", "role": "finance"}


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    path = tmp_path_factory.mktemp("actors") / "actors.sqlite"
    engine = build_engine(database_url=f"sqlite:///{path}", test_mode=True, test_clock_start=T0)
    api = create_app(engine)
    ctx = api.state.context
    history = decided_history(ctx.app)
    tokens = {role: bearer(ctx.tokens.create(role, T0)) for role in ("finance", "admin")}
    tokens["representative"] = bearer(ctx.tokens.create("representative", T0, subject=uuid.uuid4()))
    tokens["customer"] = bearer(ctx.tokens.create("customer", T0, subject=history.customer))
    with served(api) as http:
        yield http, history, tokens
    engine.close()


def _all_pages(http, headers, **query) -> list[dict]:
    items, cursor, pages = [], None, 0
    while True:
        params = dict(query, **({"cursor": cursor} if cursor else {}))
        answer = http.get("/audit/actions", params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        items += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert pages < 100


def test_the_timeline_items_say_who(shop):
    http, h, tokens = shop
    answer = http.get(f"/audit/{h.subscription}/timeline", headers=tokens["finance"])
    items = answer.json()["items"]
    approved = next(i for i in items if i["event"] == "OfflinePaymentApproved")
    assert approved["actor"] == MARYAM_JSON
    assert (approved["by"], approved["by_fa"]) == ("مریم کریمی (finance)", "مریم کریمی (مالی)")
    assert "آفلاین" in approved["what_fa"]
    confirmed = next(i for i in items if i["event"] == "ReceiptConfirmed")
    assert confirmed["actor"] == ALI_JSON and confirmed["by"] == "علی رضایی (finance)"
    renewed = next(i for i in items if i["event"] == "SubscriptionRenewed")
    assert renewed["actor"]["kind"] == "scheduler" and renewed["by"] == "the scheduler"
    voided = next(i for i in items if i["event"] == "InvoiceVoided")
    held = next(i for i in items if i["event"] == "EnforcementHoldPlaced")
    assert (voided["actor"], held["actor"]) == (MARYAM_JSON, ALI_JSON)


def test_explain_names_who_decided(shop):
    http, h, tokens = shop
    said = http.get(
        f"/audit/{h.subscription}/explain",
        params={"at": AFTER.isoformat()},
        headers=tokens["admin"],
    ).json()
    assert "offline approved by مریم کریمی, finance, 1405/01/17" in said["english"]
    assert "confirmed by علی رضایی, finance, 1405/01/19" in said["english"]
    assert "voided by مریم کریمی, finance, 1405/02/16: billed twice" in said["english"]
    assert "placed by علی رضایی, finance, 1405/02/17" in said["english"]
    assert "توسط علی رضایی (مالی)" in said["persian"]
    first = http.get(
        f"/audit/{h.first_invoice}/explain",
        params={"at": AFTER.isoformat()},
        headers=tokens["finance"],
    ).json()
    assert "Paying offline was approved by مریم کریمی, finance, 1405/01/17" in first["english"]


def test_the_actions_of_one_person_and_of_a_kind(shop):
    http, h, tokens = shop
    maryams = _all_pages(http, tokens["finance"], actor="staff-maryam")
    assert [i["event"] for i in maryams] == [
        "OfflinePaymentApproved",
        "NoticeSent",
        "InvoiceVoided",
        "NoticeSent",
        "InvoicesClosed",
    ]
    assert all(i["actor"] == MARYAM_JSON for i in maryams)
    first = maryams[0]
    assert first["recorded_at"] == "2026-04-06T05:30:00Z"
    assert first["recorded_at_jalali"] == "1405/01/17 09:00"
    assert (first["aggregate"], first["aggregate_id"]) == ("Invoice", str(h.first_invoice))
    assert first["by"] == "مریم کریمی (finance)" and first["what"] and first["what_fa"]

    staff = _all_pages(http, tokens["admin"], actor="staff", limit=3)
    assert len(staff) == 12 and {i["actor"]["id"] for i in staff} == {"staff-maryam", "staff-ali"}
    positions = [i["position"] for i in staff]
    assert positions == sorted(set(positions))
    scheduled = _all_pages(http, tokens["finance"], actor="scheduler")
    assert [i["event"] for i in scheduled] == ["SubscriptionRenewed", "InvoiceIssued", "NoticeSent"]

    between = _all_pages(
        http, tokens["finance"], **{"from": APPROVED.isoformat(), "to": CONFIRMED.isoformat()}
    )
    assert between[0]["event"] == "OfflinePaymentApproved"
    assert between[-1]["recorded_at"] == "2026-04-08T05:30:00Z"
    assert {i["actor"]["kind"] for i in between} == {"staff", "customer"}


def test_a_page_holds_at_most_limit_items_and_its_cursor_goes_on(shop):
    http, _, tokens = shop
    page = http.get("/audit/actions", params={"limit": 2}, headers=tokens["finance"]).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    following = http.get(
        "/audit/actions",
        params={"limit": 2, "cursor": page["next_cursor"]},
        headers=tokens["finance"],
    ).json()
    assert following["items"][0]["position"] > page["items"][-1]["position"]


@pytest.mark.parametrize(
    ("query", "code", "field"),
    [
        ({"actor": "robot:7"}, "invalid_actor_filter", "actor"),
        ({"actor": ""}, "invalid_actor_filter", "actor"),
        ({"actor": "scheduler:1"}, "invalid_actor_filter", "actor"),
        ({"from": "last week"}, "invalid_time", "from"),
        ({"to": "2026-05-01T00:00:00"}, "invalid_time", "to"),
        (
            {"from": "2026-06-01T00:00:00Z", "to": "2026-05-01T00:00:00Z"},
            "invalid_time_range",
            "from",
        ),
        ({"cursor": "not-ours"}, "invalid_input", "cursor"),
        ({"cursor": "ImEi"}, "invalid_input", "cursor"),  # a cursor of another list ("a")
    ],
)
def test_a_filter_it_cannot_read_is_a_problem_with_a_stable_code(shop, query, code, field):
    http, _, tokens = shop
    answer = http.get("/audit/actions", params=query, headers=tokens["finance"])
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert (problem["code"], problem["field"]) == (code, field)
    assert problem["detail"]


def test_only_finance_and_admin_read_what_people_did(shop):
    http, _, tokens = shop
    for role in ("customer", "representative"):
        answer = http.get("/audit/actions", headers=tokens[role])
        assert answer.status_code == 403 and answer.json()["code"] == "forbidden"
    assert http.get("/audit/actions").status_code == 401


def test_what_a_token_does_over_http_is_recorded_as_its_actor(shop):
    """Today's tokens: a finance token is a machine client, a customer's is that customer."""
    http, h, tokens = shop
    advanced = http.post(
        "/admin/clock/advance", json={"to": AFTER.isoformat()}, headers=tokens["admin"]
    )
    assert advanced.status_code == 200, advanced.text
    lifted = http.post(
        f"/subscriptions/{h.subscription}/enforcement-hold/lift",
        json={"reason": "settled with the customer"},
        headers=tokens["finance"],
    )
    assert lifted.status_code == 200, lifted.text
    cancelled = http.post(f"/subscriptions/{h.subscription}/cancel", headers=tokens["customer"])
    assert cancelled.status_code == 200, cancelled.text

    clients = _all_pages(http, tokens["finance"], actor="client")
    ended = next(i for i in clients if i["event"] == "EnforcementHoldEnded")
    actor = ended["actor"]
    assert (actor["kind"], actor["name"], actor["role"]) == ("client", "finance token", "finance")
    assert actor["id"].startswith("tok_")  # the token's public id: which client it was
    assert ended["by"] == "a machine client (finance token)"
    customers = _all_pages(http, tokens["finance"], actor=str(h.customer))
    assert "SubscriptionCancelled" in [i["event"] for i in customers]
    assert all(i["actor"]["kind"] == "customer" for i in customers)
    said = http.get(f"/audit/{h.subscription}/explain", headers=tokens["finance"]).json()
    assert "the enforcement hold lifted by a machine client (finance token)" in said["english"]
    assert "by the customer:" in said["english"]  # "It was cancelled on … by the customer: …"
