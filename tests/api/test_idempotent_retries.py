"""A retry whose first answer was lost acts once: the claim on its Idempotency-Key went stale
(adapters/idempotency.py, STALE_CLAIM), so the retry runs the command again, and the command
meets the aggregate the first run made, under the id derived from the key."""

from __future__ import annotations

import pytest

from adapters.idempotency import STALE_CLAIM
from adapters.sandbox_gateway import SandboxGateway
from tests.api.server import served
from tests.api.shop import Shop
from tests.builders import T0


@pytest.fixture
def shop(tmp_path):
    with SandboxGateway() as gateway:
        shop = Shop(f"sqlite:///{tmp_path}/retries.sqlite", gateway, gateway_timeout=1.0)
        with served(shop.api, shop.sock) as http:
            shop.http = http
            yield shop
        shop.engine.close()


def lose_the_answer(shop: Shop, key: str) -> None:
    """What a process that died between the command's commit and storing its answer leaves:
    the key claimed, no answer, and (once STALE_CLAIM has passed) a claim a retry may take."""
    store = shop.api.state.context.idempotency
    stale = (T0 - STALE_CLAIM * 2).isoformat()
    with store.view.datastore.transaction(commit=True) as cursor:
        sql = store.view.sql(cursor)
        sql.execute(
            f"UPDATE {sql.table(store.TABLE)} SET status = NULL, body = NULL, claimed_at = ? "
            "WHERE key = ?",
            (stale, key),
        )


def customers_named(shop: Shop, name: str) -> list[str]:

    app = shop.api.state.context.app
    found = []
    for notification in app.recorder.select_notifications(start=1, limit=10_000):
        event = app.mapper.to_domain_event(notification)
        if type(event).__name__ == "CustomerRegistered" and event.profile["name"] == name:
            found.append(str(event.originator_id))
    return found


def test_a_registration_retried_after_its_answer_was_lost_registers_one_customer(shop):
    body = {"name": "Nima Azadi", "kind": "person", "email": "nima@example.ir",
            "mobile": "09121112233", "national_code": "0012345679"}  # fmt: skip
    key = {"Idempotency-Key": "register-nima-1"}
    first = shop.http.post("/customers", json=body, headers=shop.admin | key)
    assert first.status_code == 201, first.text
    lose_the_answer(shop, "register-nima-1")

    retried = shop.http.post("/customers", json=body, headers=shop.admin | key)

    assert retried.status_code == 201, retried.text
    assert "Idempotent-Replayed" not in retried.headers  # it ran again, and met the first
    assert retried.json() == first.json()
    assert customers_named(shop, "Nima Azadi") == [first.json()["id"]]


def test_an_order_retried_after_its_answer_was_lost_places_one_subscription(shop):
    body = {"customer_id": str(shop.customer), "plan_id": "business", "period": "monthly"}
    key = {"Idempotency-Key": "order-again-1"}
    first = shop.http.post("/subscriptions", json=body, headers=shop.admin | key)
    assert first.status_code == 201, first.text
    lose_the_answer(shop, "order-again-1")

    retried = shop.http.post("/subscriptions", json=body, headers=shop.admin | key)

    assert retried.status_code == 201, retried.text
    assert retried.json()["id"] == first.json()["id"]
    app = shop.api.state.context.app
    started = [
        e
        for n in app.recorder.select_notifications(start=1, limit=10_000)
        if type(e := app.mapper.to_domain_event(n)).__name__ == "SubscriptionStarted"
    ]
    assert len(started) == 2  # the shop's own, and this one once
