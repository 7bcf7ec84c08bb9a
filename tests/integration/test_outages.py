"""What an outage and a skewed clock look like to a client (docs/OPERATIONS.md)."""

from __future__ import annotations

import http.client
import threading
import time
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

import pytest

from adapters.clock import SimulatedClock
from app import create_app
from bootstrap import build_engine
from tests.api.server import bearer, served
from tests.builders import DAY, T0, a_person, a_plan, random_ref
from tests.outage import Proxy
from tests.stores import postgres_schema


def _through(proxy: Proxy, url: str) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username or 'postgres'}@127.0.0.1:{proxy.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def _shop(engine):
    app = engine.app
    app.define_plan(a_plan(), T0)
    customer = app.register_customer(a_person(), T0)
    subscription = app.start_subscription(customer, "basic", "monthly", T0)
    return customer, app.get_subscription(subscription).invoice_ids[0]


@pytest.mark.postgres
def test_a_database_outage_is_503_at_once_keeps_the_connection_and_heals_when_it_ends():
    """Before: clients waited up to 28 s, then got 500 internal_error (no Retry-After), each
    500 closed the keep-alive connection, dead pooled connections gave more 500s after the
    database came back, and /healthz never looked at the store."""
    with postgres_schema() as url:
        proxy = Proxy(urlsplit(url).port or 5432)
        engine = build_engine(
            database_url=_through(proxy, url),
            test_mode=True,
            test_clock_start=T0,
            postgres_pool_timeout=2,
            postgres_connect_timeout=1,
        )
        api = create_app(engine)
        customer, invoice = _shop(engine)
        token = bearer(api.state.context.tokens.create("finance", T0))
        with served(api) as client:
            host, port = client.base_url.host, client.base_url.port
            connection = http.client.HTTPConnection(host, port, timeout=30)

            def get(path: str, headers: dict | None = None):
                connection.request("GET", path, headers={**token, **(headers or {})})
                answer = connection.getresponse()
                return answer, answer.read()

            answer, _ = get(f"/invoices/{invoice}")
            assert answer.status == 200
            socket_before = connection.sock

            proxy.outage()
            started = time.monotonic()
            answer, body = get(f"/invoices/{invoice}")
            assert time.monotonic() - started < 8  # not 28 s
            assert answer.status == 503 and b'"store_unavailable"' in body
            assert answer.getheader("Retry-After") == "5"
            assert answer.getheader("Connection") != "close"
            answer, body = get("/readyz")
            assert answer.status == 503 and b"store_unavailable" in body
            answer, _ = get("/healthz")
            assert answer.status == 200  # alive: the load balancer reads /readyz
            key = {"Idempotency-Key": "pay-during-outage", "Content-Type": "application/json"}
            payment = b'{"reference": "BANK-77", "amount": 1000}'
            connection.request(
                "POST", f"/invoices/{invoice}/payments", body=payment, headers={**token, **key}
            )
            answer = connection.getresponse()
            answer.read()
            assert answer.status == 503
            assert connection.sock is socket_before  # the same keep-alive connection all along

            proxy.restore()
            healed = time.monotonic() + 15
            while get("/readyz")[0].status != 200:
                assert time.monotonic() < healed, "not ready 15 s after the database came back"
                time.sleep(0.2)
            for _ in range(20):  # no dead pooled connection is handed out afterwards
                answer, _ = get(f"/invoices/{invoice}")
                assert answer.status == 200
            connection.request(
                "POST", f"/invoices/{invoice}/payments", body=payment, headers={**token, **key}
            )
            answer = connection.getresponse()
            answer.read()
            assert answer.status == 200  # the 503 was not kept for the key
            connection.close()
        engine.close()
        proxy.close()


def test_a_command_stamped_a_little_before_the_last_change_is_recorded_at_it(tmp_path):
    clock = SimulatedClock(T0 + DAY)
    engine = build_engine(database_url=f"sqlite:///{tmp_path}/skew.sqlite", clock=clock)
    api = create_app(engine)
    _, invoice = _shop(engine)
    ahead = T0 + DAY + timedelta(seconds=60)
    engine.app.record_payment(random_ref(), 1_000, ahead, invoice_id=invoice)  # another machine
    token = bearer(api.state.context.tokens.create("finance", T0))
    with served(api) as http_client:
        answer = http_client.post(
            f"/invoices/{invoice}/payments",
            json={"reference": "late-1", "amount": 1_000},
            headers=token,
        )
        assert answer.status_code == 200, answer.text
    settlements = engine.app.get_invoice(invoice).settlements
    assert settlements[-1].reference == "late-1" and settlements[-1].recorded_at == ahead
    engine.close()


def test_beyond_the_tolerance_it_is_refused_and_a_retry_with_the_same_key_may_pass(tmp_path):
    """Before, the 409 time_went_backwards was kept for the Idempotency-Key: a retry got it
    forever."""
    clock = SimulatedClock(T0 + DAY)
    engine = build_engine(
        database_url=f"sqlite:///{tmp_path}/skew.sqlite", clock=clock, clock_skew_tolerance=120
    )
    api = create_app(engine)
    _, invoice = _shop(engine)
    engine.app.record_payment(
        random_ref(), 1_000, T0 + DAY + timedelta(minutes=5), invoice_id=invoice
    )
    token = bearer(api.state.context.tokens.create("finance", T0))
    request = {"reference": "skewed", "amount": 1_000}
    key = {"Idempotency-Key": "skewed-payment"}
    with served(api) as http_client:
        refused = http_client.post(
            f"/invoices/{invoice}/payments", json=request, headers=token | key
        )
        assert refused.status_code == 409 and refused.json()["code"] == "time_went_backwards"
        assert "300 s behind" in refused.json()["detail"] and "NTP" in refused.json()["detail"]
        assert refused.headers["Retry-After"] == "5"
        clock.advance(timedelta(minutes=6))  # this machine's clock mended
        again = http_client.post(f"/invoices/{invoice}/payments", json=request, headers=token | key)
        assert again.status_code == 200, again.text
        assert "idempotent-replayed" not in again.headers
    engine.close()


@pytest.mark.slow
def test_payments_during_a_test_clock_advance_do_not_fail(tmp_path):
    """Before, a payment sent while the test clock stepped through a month got 409."""
    engine = build_engine(
        database_url=f"sqlite:///{tmp_path}/advance.sqlite", test_mode=True, test_clock_start=T0
    )
    api = create_app(engine)
    _, invoice = _shop(engine)
    for _ in range(20):  # more sites: the advance takes a while
        engine.app.start_subscription(
            engine.app.register_customer(a_person(), T0), "basic", "monthly", T0
        )
    admin = bearer(api.state.context.tokens.create("admin", T0))
    answers: list[str] = []
    with served(api) as http_client:
        advancing = threading.Thread(
            target=lambda: http_client.post(
                "/admin/clock/advance", json={"days": 60}, headers=admin
            )
        )
        advancing.start()
        while advancing.is_alive() and len(answers) < 20:
            paid = http_client.post(
                f"/invoices/{invoice}/payments",
                json={"reference": random_ref(), "amount": 1_000},
                headers=admin,
            )
            answers.append(str(paid.status_code) + " " + paid.json().get("code", ""))
        advancing.join()
    assert answers
    assert not [a for a in answers if "time_went_backwards" in a or a.startswith("5")], answers
    engine.close()
