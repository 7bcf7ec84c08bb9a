"""Webhook endpoints and the events feed over HTTP (docs/WEBHOOKS.md, docs/API.md): what an
admin registers, rotates, disables and resends, which URLs are refused, and how a portal pages
through the feed. Deliveries go to a real receiver on loopback that verifies them with the
standardwebhooks reference library."""

from __future__ import annotations

import pytest

from adapters.webhooks import check_url, parse_allowed
from app import create_app
from bootstrap import build_engine
from domain.errors import WebhookUrlRefused
from service_layer.integration_events import EVENT_TYPES
from tests.api.server import bearer, served
from tests.builders import T0, a_person, a_plan
from tests.webhook_receiver import WebhookReceiver


@pytest.fixture
def engine(tmp_path):
    engine = build_engine(
        database_url=f"sqlite:///{tmp_path}/hooks.sqlite",
        test_mode=True,
        test_clock_start=T0,
        webhook_allowed_hosts="127.0.0.1",
    )
    yield engine
    engine.close()


def _tokens(engine) -> dict[str, str]:
    return {role: engine.tokens.create(role, T0) for role in ("admin", "finance")}


def test_an_endpoint_is_registered_rotated_resent_and_disabled(engine):
    tokens = _tokens(engine)
    admin = bearer(tokens["admin"])
    app = engine.app
    app.define_plan(a_plan(), T0)
    with WebhookReceiver() as receiver, served(create_app(engine)) as http:
        made = http.post(
            "/webhook-endpoints",
            json={"url": receiver.hook_url, "events": ["customer.created"], "description": "p"},
            headers=admin,
        )
        assert made.status_code == 201, made.text
        endpoint = made.json()
        assert endpoint["secret"].startswith("whsec_") and endpoint["enabled"] is True
        assert set(endpoint) == {
            "id", "url", "events", "description", "secret", "enabled", "created_at",
        }  # fmt: skip
        listed = http.get("/webhook-endpoints", headers=admin).json()["items"]
        assert [e["id"] for e in listed] == [endpoint["id"]]
        assert listed[0]["secret"] is None  # shown once

        receiver.state.secret = endpoint["secret"]
        app.register_customer(a_person(), T0)
        engine.tick()
        (first,) = receiver.accepted()
        assert first.type == "customer.created"

        rotated = http.post(f"/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=admin)
        assert rotated.status_code == 200
        new_secret = rotated.json()["secret"]
        assert new_secret.startswith("whsec_") and new_secret != endpoint["secret"]
        app.register_customer(a_person("Reza"), T0)
        engine.tick()  # signed with the new secret: the receiver still holding the old refuses
        refused = receiver.refused_signatures()
        assert len(refused) == 1
        # The receiver still holding the old secret could not verify it: the old one is dead.
        assert refused[0].answered == 401 and refused[0].type == "customer.created"
        receiver.state.secret = new_secret
        engine.tick()  # retried later: not yet due on the engine's clock
        deliveries = http.get(f"/webhook-endpoints/{endpoint['id']}/deliveries", headers=admin)
        assert deliveries.status_code == 200
        items = deliveries.json()["items"]
        assert [d["status"] for d in items] == ["delivered", "pending"]
        assert items[0]["last_status_code"] == 204 and items[0]["attempts"] == 1
        assert items[1]["last_status_code"] == 401 and items[1]["next_attempt_at"]
        assert '"note"' in items[1]["last_response"]

        again = http.post(
            f"/webhook-endpoints/{endpoint['id']}/deliveries/{items[0]['id']}/resend",
            headers=admin,
        )
        assert again.status_code == 200 and again.json()["status"] == "pending"
        moved = http.post("/admin/clock/advance", json={"days": 0.01}, headers=admin)
        assert moved.status_code == 200  # the refused one's retry comes due
        engine.tick()
        ids = [r.id for r in receiver.accepted()]
        assert ids.count(first.id) == 2  # resent with the same webhook-id
        assert len(set(ids)) == 2  # and the second customer's, retried with the new secret
        for received in receiver.accepted()[1:]:
            assert received.verified

        off = http.post(f"/webhook-endpoints/{endpoint['id']}/disable", headers=admin)
        assert off.status_code == 200 and off.json()["enabled"] is False
        app.register_customer(a_person("Nima"), T0)
        engine.tick()
        assert len(receiver.state.requests) == 4  # nothing more
        refused_again = http.post(
            f"/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=admin
        )
        assert refused_again.json()["code"] == "webhook_endpoint_disabled"


def test_refusals_have_stable_codes(engine):
    admin = bearer(_tokens(engine)["admin"])
    with served(create_app(engine)) as http:

        def create(**body):
            return http.post("/webhook-endpoints", json={"events": ["*"]} | body, headers=admin)

        unknown = create(url="http://127.0.0.1:9/h", events=["invoice.payed"])
        assert unknown.status_code == 422
        assert unknown.json()["code"] == "invalid_event_type"
        assert "invoice.paid" in unknown.json()["detail"]  # the valid ones are listed
        for url in ("ftp://127.0.0.1/h", "http://localhost:9/h", "http://10.1.2.3/h",
                    "http://169.254.169.254/latest", "http://[::1]:9/h", "http://u:p@127.0.0.1/"):  # fmt: skip
            refused = create(url=url)
            assert refused.status_code == 422, url
            assert refused.json()["code"] == "webhook_url_refused", url
        missing = http.post("/webhook-endpoints/we_nothing/disable", headers=admin)
        assert (missing.status_code, missing.json()["code"]) == (404, "webhook_endpoint_not_found")
        endpoint = create(url="http://127.0.0.1:9/h").json()
        no_delivery = http.post(
            f"/webhook-endpoints/{endpoint['id']}/deliveries/nothing/resend", headers=admin
        )
        assert no_delivery.json()["code"] == "webhook_delivery_not_found"
        bad_types = http.get("/events?types=invoice.paid,nope", headers=admin)
        assert (bad_types.status_code, bad_types.json()["code"]) == (422, "invalid_event_type")
        assert bad_types.json()["field"] == "types"
        bad_cursor = http.get("/events?after=not-a-cursor", headers=admin)
        assert (bad_cursor.status_code, bad_cursor.json()["code"]) == (422, "invalid_input")


def test_which_hosts_may_receive_webhooks():
    none = parse_allowed("")
    for url in ("http://127.0.0.1/h", "http://localhost/h", "https://192.168.1.10/h",
                "http://172.16.0.1/h", "http://[fe80::1]/h", "http://0.0.0.0/h",
                "http://[::ffff:127.0.0.1]/h"):  # fmt: skip
        with pytest.raises(WebhookUrlRefused):
            check_url(url, none)
    assert check_url("https://93.184.216.34/hooks", none) == "https://93.184.216.34/hooks"
    allowed = parse_allowed("127.0.0.1, Hooks.Internal")
    assert check_url("http://127.0.0.1:8080/h", allowed)
    assert check_url("http://hooks.internal/h", allowed)  # named: not resolved


def test_the_feed_pages_by_cursor_filters_by_type_and_catches_up(engine):
    tokens = _tokens(engine)
    app = engine.app
    app.define_plan(a_plan(), T0)
    customers = [app.register_customer(a_person(f"P{n}"), T0) for n in range(3)]
    for customer in customers:
        app.start_subscription(customer, "basic", "monthly", T0)
    with served(create_app(engine)) as http:
        finance = bearer(tokens["finance"])
        whole = http.get("/events?limit=200", headers=finance).json()
        assert not whole["has_more"]
        assert [e["type"] for e in whole["items"]][:3] == ["customer.created"] * 3
        assert {e["type"] for e in whole["items"]} <= set(EVENT_TYPES)
        paged, cursor = [], None
        while True:
            params = {"limit": 2} | ({"after": cursor} if cursor else {})
            page = http.get("/events", params=params, headers=finance).json()
            paged += page["items"]
            cursor = page["next_cursor"]
            if not page["has_more"]:
                break
        assert paged == whole["items"]
        only = http.get("/events?types=invoice.issued", headers=finance).json()["items"]
        assert [e["type"] for e in only] == ["invoice.issued"] * 3
        # A portal that was down keeps its cursor and later gets only what came since.
        app.register_customer(a_person("Late"), T0)
        later = http.get("/events", params={"after": cursor}, headers=finance).json()
        assert [e["type"] for e in later["items"]] == ["customer.created"]
        assert later["items"][0]["data"]["name"] == "Late"
        assert later["items"][0]["data"]["actor"]["kind"] in ("unknown", "operator", "client")
        customer = bearer(engine.tokens.create("customer", T0, subject=customers[0]))
        assert http.get("/events", headers=customer).status_code == 403
        assert http.get("/webhook-endpoints", headers=finance).status_code == 403
