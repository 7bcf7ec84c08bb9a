"""Webhooks you can run (docs/WEBHOOKS.md): a whole lifecycle on the simulated clock, ticked by
the scheduler's Engine, delivered to a real receiver on loopback that verifies every delivery
with the Standard Webhooks reference library; the events feed over HTTP beside it."""

from __future__ import annotations

import base64
from collections import Counter, defaultdict
from uuid import UUID

import pytest

from adapters.clock import SimulatedClock
from app import create_app
from bootstrap import build_engine
from domain.subscription import SiteState
from service_layer.integration_events import EVENT_TYPES
from tests.api.server import bearer, served
from tests.builders import DAY, SELLER, T0, a_company, a_person, a_plan
from tests.stores import postgres_schema
from tests.webhook_receiver import WebhookReceiver

LOOPBACK = {"webhook_allowed_hosts": "127.0.0.1"}


def _engine(url: str, clock: SimulatedClock, **settings):
    engine = build_engine(database_url=url, clock=clock, **LOOPBACK, **settings)
    engine.app.seller = SELLER
    return engine


def _subject(app, payload: dict) -> str:
    """What an event's order is kept within: its subscription (its customer, for one)."""
    data = payload["data"]
    if payload["type"].startswith("subscription.") or payload["type"] == "customer.created":
        return data["id"]
    if payload["type"] == "official_invoice.issued":
        return str(app.get_invoice(UUID(data["invoice_id"])).subscription_id)
    return data["subscription_id"]


def _days(engine, clock: SimulatedClock, n: int) -> None:
    for _ in range(n):
        clock.advance(DAY)
        engine.tick()


def _until(engine, clock, subscription_id, state: SiteState, limit: int = 400) -> None:
    for _ in range(limit):
        if engine.app.get_subscription(subscription_id).site_state is state:
            return
        _days(engine, clock, 1)
    raise AssertionError(f"{subscription_id} never became {state}")


def _open_invoices(app, subscription_id) -> list[UUID]:
    return list(app.get_subscription(subscription_id).open_invoice_ids)


def _pay_all(app, subscription_id, now, prefix: str) -> None:
    for n, invoice_id in enumerate(_open_invoices(app, subscription_id)):
        balance = app.get_invoice(invoice_id).balance.rials
        app.record_payment(f"{prefix}-{n}", balance, now, invoice_id=invoice_id)


def _whole_life(engine, clock, receiver: WebhookReceiver | None = None, restart=None):
    """Every kind of event: an order, reminders, grace, suspension, payment, restore, the
    official invoice, offline requests and receipts, a void, a plan change, a cancellation and a
    collection. The receiver answers 500 through the suspension; ``restart`` is called halfway
    and returns the engine to go on with."""
    app = engine.app
    app.define_plan(a_plan("basic"), T0)
    app.define_plan(a_plan("pro", monthly_price=2_000_000), T0)
    company = app.register_customer(a_company(), T0)
    person = app.register_customer(a_person(), T0)
    other = app.register_customer(a_company("Kian Co"), T0)
    paid = app.start_subscription(company, "basic", "monthly", T0)
    kept = app.start_subscription(other, "basic", "monthly", T0)
    lost = app.start_subscription(person, "basic", "monthly", T0)
    engine.tick()
    if receiver is not None:
        receiver.state.answer = 500  # the portal is down while the sites are suspended
    _until(engine, clock, paid, SiteState.SUSPENDED)
    if restart is not None:
        engine = restart(engine)
        app = engine.app
    if receiver is not None:
        receiver.state.answer = 204
    _pay_all(app, paid, clock.now(), "bank")  # paid, restored, official invoices issued
    engine.tick()
    # The next renewal of the paid site is paid offline: asked, approved, a receipt rejected,
    # another confirmed.
    while not _open_invoices(app, paid):
        _days(engine, clock, 1)
    invoice = _open_invoices(app, paid)[0]
    request = app.request_offline_payment(invoice, "our company pays by transfer", clock.now())
    app.decide_offline_payment(invoice, request, clock.now(), approve=True, reason="ok")
    balance = app.get_invoice(invoice).balance.rials
    wrong = app.register_receipt(
        invoice, bank="017", tracking_number="111222", amount=balance, paid_on="1405/02/20",
        now=clock.now(),
    )  # fmt: skip
    app.decide_receipt(invoice, wrong, clock.now(), confirm=False, reason="unreadable slip")
    right = app.register_receipt(
        invoice, bank="017", tracking_number="333444", amount=balance, paid_on="1405/02/21",
        now=clock.now(),
    )  # fmt: skip
    app.decide_receipt(invoice, right, clock.now(), confirm=True)
    app.change_plan(paid, "pro", clock.now())
    # The kept site: an offline request refused, its invoice voided, then cancelled.
    first = _open_invoices(app, kept)[0]
    refused = app.request_offline_payment(first, "transfer please", clock.now())
    app.decide_offline_payment(first, refused, clock.now(), approve=False, reason="pay online")
    for invoice_id in _open_invoices(app, kept):
        app.void_invoice(invoice_id, "a goodwill gesture", clock.now())
    app.cancel_subscription(kept, clock.now())
    # The lost site is never paid: it is collected.
    _until(engine, clock, lost, SiteState.COLLECTED)
    engine.tick()
    return engine


def _drain(engine, clock, receiver, rounds: int = 40) -> None:
    """Tick until the webhook channel has nothing pending (retries come due as time passes)."""
    for _ in range(rounds):
        engine.tick()
        pending = engine.outbox.counts().get(("webhook", "pending"), 0)
        if not pending:
            return
        clock.advance(DAY / 24)
    raise AssertionError(f"webhooks still pending: {engine.outbox.counts()}")


def _feed_over_http(engine, token: str, limit: int = 7) -> list[dict]:
    """The whole feed, a page at a time, as a portal catching up reads it."""
    items: list[dict] = []
    cursor = None
    with served(create_app(engine)) as http:
        while True:
            params = {"limit": limit} | ({"after": cursor} if cursor else {})
            page = http.get("/events", params=params, headers=bearer(token))
            assert page.status_code == 200, page.text
            body = page.json()
            items += body["items"]
            cursor = body["next_cursor"]
            if not body["has_more"]:
                return items


def _check_every_delivery(engine, receiver: WebhookReceiver, endpoint: dict) -> None:
    accepted = receiver.accepted()
    assert receiver.refused_signatures() == []
    ids = Counter(r.id for r in accepted)
    assert [i for i, n in ids.items() if n > 1] == [], "an event was accepted twice"
    token = engine.tokens.create("admin", T0)
    # The endpoint was created before the first event: it receives every one the feed lists.
    assert endpoint["after_position"] == 0
    after = _feed_over_http(engine, token)
    # Every event recorded after the endpoint was created arrived, once, with the feed's id,
    # type, timestamp and data (the same body).
    assert {r.id for r in accepted} == {i["id"] for i in after}
    by_id = {r.id: r.payload for r in accepted}
    for item in after:
        assert by_id[item["id"]] == {k: item[k] for k in ("type", "timestamp", "data")}
    # In the feed's order within each subscription.
    sent, logged = defaultdict(list), defaultdict(list)
    for r in accepted:
        sent[_subject(engine.app, r.payload)].append(r.id)
    for item in after:
        logged[_subject(engine.app, item)].append(item["id"])
    assert sent == logged
    # Each timestamp header is of its attempt, and each event names who caused it.
    assert all(r.timestamp.isdigit() for r in accepted)
    assert all("kind" in r.payload["data"]["actor"] for r in accepted)


def test_a_whole_life_arrives_signed_once_per_event_in_the_feeds_order(tmp_path):
    """Each type arrives, verified by the reference library; the receiver's 500s during the
    suspension lose nothing and repeat nothing it accepted; the feed has the same ids, order
    and bodies."""
    clock = SimulatedClock(T0)
    with WebhookReceiver() as receiver:
        engine = _engine(f"sqlite:///{tmp_path}/life.sqlite", clock)
        endpoint = engine.webhooks.create(receiver.hook_url, ["*"], "the portal", T0)
        receiver.state.secret = endpoint["secret"]
        engine = _whole_life(engine, clock, receiver)
        _drain(engine, clock, receiver)
        types = {r.type for r in receiver.accepted()}
        assert set(EVENT_TYPES) - types == set(), "every type arrived"
        retried = [r.id for r in receiver.state.requests if r.answered == 500]
        assert retried, "the receiver refused some while it was down"
        _check_every_delivery(engine, receiver, endpoint)
        counts = engine.outbox.counts()
        assert counts.get(("webhook", "failed"), 0) == 0
        assert counts[("webhook", "delivered")] == len(receiver.accepted())
        engine.close()


@pytest.mark.slow  # a second whole life, about 12 s
def test_a_scheduler_restart_in_the_middle_loses_nothing(tmp_path):
    """The scheduler stops while deliveries wait for their retry (the receiver is down), and a
    new one is built on the same store: every event still arrives once, in order."""
    clock = SimulatedClock(T0)
    url = f"sqlite:///{tmp_path}/restart.sqlite"
    with WebhookReceiver() as receiver:
        engine = _engine(url, clock)
        endpoint = engine.webhooks.create(receiver.hook_url, ["*"], "", T0)
        receiver.state.secret = endpoint["secret"]

        def restart(old):
            pending = old.outbox.counts().get(("webhook", "pending"), 0)
            assert pending, "deliveries are waiting when the scheduler stops"
            old.close()
            return _engine(url, clock)

        engine = _whole_life(engine, clock, receiver, restart=restart)
        _drain(engine, clock, receiver)
        _check_every_delivery(engine, receiver, endpoint)
        engine.close()


def test_an_endpoint_receives_only_its_types_and_only_events_after_it_was_added(tmp_path):
    clock = SimulatedClock(T0)
    with WebhookReceiver() as receiver:
        engine = _engine(f"sqlite:///{tmp_path}/types.sqlite", clock)
        app = engine.app
        app.define_plan(a_plan(), T0)
        before = app.register_customer(a_person(), T0)
        engine.tick()
        endpoint = engine.webhooks.create(
            receiver.hook_url, ["invoice.issued", "customer.created"], "", T0
        )
        receiver.state.secret = endpoint["secret"]
        after = app.register_customer(a_person("Reza"), T0)
        app.start_subscription(before, "basic", "monthly", T0)
        _drain(engine, clock, receiver)
        got = {r.type: r.payload["data"] for r in receiver.accepted()}
        assert sorted(got) == ["customer.created", "invoice.issued"]
        # The customer registered before it is not sent; the one after it is.
        assert got["customer.created"]["id"] == str(after)
        assert got["invoice.issued"]["customer_id"] == str(before)
        engine.close()


def test_a_delivery_gives_up_after_its_attempts_and_is_visible(tmp_path):
    """A receiver that never accepts: the delivery is retried with backoff, then failed, and
    shows in the outbox's failures, the metrics and the deliveries list."""
    clock = SimulatedClock(T0)
    with WebhookReceiver() as receiver:
        engine = _engine(f"sqlite:///{tmp_path}/gives-up.sqlite", clock, webhook_max_attempts=3)
        endpoint = engine.webhooks.create(receiver.hook_url, ["customer.created"], "", T0)
        receiver.state.secret = endpoint["secret"]
        receiver.state.answer = 500
        engine.app.register_customer(a_person(), T0)
        for _ in range(10):
            engine.tick()
            clock.advance(DAY / 24)
        assert engine.outbox.counts()[("webhook", "failed")] == 1
        assert len(receiver.state.requests) == 3
        assert len({r.id for r in receiver.state.requests}) == 1  # one webhook-id throughout
        failed = engine.outbox.failed_deliveries()
        assert [f["channel"] for f in failed] == ["webhook"]
        assert "gave up after 3 attempts" in failed[0]["last_error"]
        metrics = engine.metrics_text()
        assert 'billing_outbox_deliveries{channel="webhook",status="failed"} 1' in metrics
        (row,) = engine.webhooks.deliveries(endpoint["id"])
        assert (row["status"], row["attempts"], row["last_status_code"]) == ("failed", 3, 500)
        assert '"note":"received"' in row["last_response"].replace(" ", "")
        engine.close()


def test_secrets_are_whsec_and_32_random_bytes(tmp_path):
    engine = _engine(f"sqlite:///{tmp_path}/secret.sqlite", SimulatedClock(T0))
    a = engine.webhooks.create("http://127.0.0.1:9/a", ["*"], "", T0)
    b = engine.webhooks.create("http://127.0.0.1:9/b", ["*"], "", T0)
    for endpoint in (a, b):
        assert endpoint["secret"].startswith("whsec_")
        assert len(base64.b64decode(endpoint["secret"].removeprefix("whsec_"))) == 32
    assert a["secret"] != b["secret"]
    assert all("secret" not in e for e in engine.webhooks.all())
    engine.close()


@pytest.mark.postgres
@pytest.mark.slow
def test_a_whole_life_on_postgres():
    """The same life on PostgreSQL: the outbox's constraints, order and claims hold there."""
    clock = SimulatedClock(T0)
    with postgres_schema() as url, WebhookReceiver() as receiver:
        engine = _engine(url, clock)
        endpoint = engine.webhooks.create(receiver.hook_url, ["*"], "", T0)
        receiver.state.secret = endpoint["secret"]
        engine = _whole_life(engine, clock, receiver)
        _drain(engine, clock, receiver)
        assert set(EVENT_TYPES) <= {r.type for r in receiver.accepted()}
        _check_every_delivery(engine, receiver, endpoint)
        engine.close()


def test_an_outbox_made_before_webhooks_takes_them_and_keeps_its_rows(tmp_path):
    """The outbox is never rebuilt: a store whose outbox was created before the webhook channel
    existed gets the wider channel constraint in place, its undelivered rows kept."""
    import sqlite3

    from projections.outbox import OUTBOX

    path = tmp_path / "before.sqlite"
    created = OUTBOX.create()[0]
    assert ", 'webhook'" in created
    with sqlite3.connect(path) as conn:
        conn.execute(created.replace(", 'webhook'", ""))
        row = {name: None for name in OUTBOX.column_names} | {
            "delivery_id": "kept/1/email", "channel": "email", "kind": "invoice_issued",
            "subscription_id": "s", "customer_id": "c", "recipient": "a@b.ir", "subject": "s",
            "body": "b", "payload": "{}", "created_at": "2026-04-04T05:30:00.000000Z",
            "status": "pending", "attempts": 0, "next_attempt_at": "2026-04-04T05:30:00.000000Z",
            "sequence": 4,
        }  # fmt: skip
        conn.execute(OUTBOX.insert(), OUTBOX.values(row))
    clock = SimulatedClock(T0)
    with WebhookReceiver() as receiver:
        engine = _engine(f"sqlite:///{path}", clock)
        endpoint = engine.webhooks.create(receiver.hook_url, ["customer.created"], "", T0)
        receiver.state.secret = endpoint["secret"]
        engine.app.register_customer(a_person(), T0)
        engine.tick()
        assert [r.type for r in receiver.accepted()] == ["customer.created"]
        kept = engine.read_models.query(
            "SELECT status FROM {outbox} WHERE delivery_id = ?", ("kept/1/email",)
        )
        assert kept == [{"status": "skipped"}]  # still there: e-mail is not configured here
        engine.close()


@pytest.mark.postgres
def test_a_postgres_outbox_made_before_webhooks_gets_the_wider_check():
    import psycopg

    from projections.outbox import OUTBOX
    from tests.stores import POSTGRES_URL

    with postgres_schema() as url:
        schema = url.rsplit("schema=", 1)[1]
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            conn.execute(OUTBOX.create(f"{schema}.outbox")[0].replace(", 'webhook'", ""))
        clock = SimulatedClock(T0)
        with WebhookReceiver() as receiver:
            engine = _engine(url, clock)
            endpoint = engine.webhooks.create(receiver.hook_url, ["customer.created"], "", T0)
            receiver.state.secret = endpoint["secret"]
            engine.app.register_customer(a_person(), T0)
            engine.tick()
            assert [r.type for r in receiver.accepted()] == ["customer.created"]
            engine.close()
