"""The payment routes answer "not found" only for what is not there or not the caller's: a
store that cannot be reached is 503 store_unavailable (retry later), and a fault of ours is
500, never a 404 that tells a customer their receipt or invoice does not exist."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
from eventsourcing.persistence import OperationalError
from fastapi.testclient import TestClient

from app import create_app
from bootstrap import build_runtime
from domain.representative import RepresentativeDetails
from tests.api.server import bearer, served
from tests.builders import T0, a_company, a_pdf_slip, a_plan
from tests.outage import Proxy
from tests.stores import postgres_schema


class Shop:
    """A customer with a representative, an invoice with an approved offline request, and a
    receipt with its scan."""

    def __init__(self, runtime) -> None:
        self.runtime = runtime
        self.api = create_app(runtime)
        app = runtime.app
        app.define_plan(a_plan("basic"), T0)
        self.rep = app.add_representative(RepresentativeDetails("Ali Rezaei"), T0)
        self.customer = app.register_customer(a_company("Pars"), T0, representative_id=self.rep)
        subscription = app.start_subscription(self.customer, "basic", "monthly", T0)
        self.invoice = app.get_subscription(subscription).invoice_ids[0]
        request = app.request_offline_payment(self.invoice, "transfer", T0)
        app.decide_offline_payment(self.invoice, request, T0, approve=True)
        self.receipt = app.register_receipt(
            self.invoice,
            bank="017",
            tracking_number="900100",
            amount=1000,
            paid_on="1405/01/20",
            now=T0,
            scan_hash=runtime.scans.put(a_pdf_slip()),
        )
        tokens = self.api.state.context.tokens
        self.tokens = {
            "customer": bearer(tokens.create("customer", T0, subject=self.customer)),
            "representative": bearer(tokens.create("representative", T0, subject=self.rep)),
        }

    def requests(self):
        receipt = {"bank": "017", "tracking_number": "900200", "amount": 1000,
                   "paid_on": "1405/01/21"}  # fmt: skip
        return [
            ("GET", f"/receipts/{self.receipt}/scan", None),
            ("GET", "/offline-payments", None),
            ("POST", f"/invoices/{self.invoice}/payment-link", None),
            ("POST", f"/invoices/{self.invoice}/offline-requests", {"reason": "transfer"}),
            ("POST", f"/invoices/{self.invoice}/receipts", receipt),
            (
                "GET",
                "/payments/callback?Authority=A0000000000000000000000000000000001&Status=OK",
                None,
            ),
        ]


@pytest.fixture
def shop(tmp_path):
    runtime = build_runtime(
        database_url=f"sqlite:///{tmp_path}/pay.sqlite", test_mode=True, test_clock_start=T0
    )
    yield Shop(runtime)
    runtime.close()


@pytest.mark.parametrize("role", ["customer", "representative"])
def test_a_store_error_while_checking_who_may_see_a_receipt_is_503_not_404(shop, role, monkeypatch):
    client = TestClient(shop.api, raise_server_exceptions=False)
    scan = f"/receipts/{shop.receipt}/scan"
    assert client.get(scan, headers=shop.tokens[role]).status_code == 200

    def unreachable(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(shop.runtime.app, "get_invoice", unreachable)
    monkeypatch.setattr(shop.runtime.app, "get_customer", unreachable)
    answer = client.get(scan, headers=shop.tokens[role])
    assert answer.status_code == 503, answer.text
    assert answer.json()["code"] == "store_unavailable"
    assert answer.headers["Retry-After"] == "5"


def test_a_fault_while_checking_who_may_see_a_receipt_is_500_not_404(shop, monkeypatch):
    client = TestClient(shop.api, raise_server_exceptions=False)

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(shop.runtime.app, "get_invoice", broken)
    answer = client.get(f"/receipts/{shop.receipt}/scan", headers=shop.tokens["customer"])
    assert answer.status_code == 500 and answer.json()["code"] == "internal_error"


def test_another_partys_receipt_is_still_404(shop):
    client = TestClient(shop.api)
    stranger = bearer(shop.api.state.context.tokens.create("customer", T0, subject=uuid.uuid4()))
    agent = bearer(shop.api.state.context.tokens.create("representative", T0, subject=uuid.uuid4()))
    for token in (stranger, agent):
        answer = client.get(f"/receipts/{shop.receipt}/scan", headers=token)
        assert answer.status_code == 404 and answer.json()["code"] == "receipt_not_found"


def _through(proxy: Proxy, url: str) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username or 'postgres'}@127.0.0.1:{proxy.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


@pytest.mark.postgres
def test_a_database_outage_on_the_payment_routes_is_503_store_unavailable():
    with postgres_schema() as url:
        proxy = Proxy(urlsplit(url).port or 5432)
        runtime = build_runtime(
            database_url=_through(proxy, url),
            test_mode=True,
            test_clock_start=T0,
            postgres_pool_timeout=2,
            postgres_connect_timeout=1,
        )
        shop = Shop(runtime)
        with served(shop.api) as client:
            proxy.outage()
            checks = [("customer", request) for request in shop.requests()]
            checks.append(("representative", shop.requests()[0]))  # loads the customer too
            for role, (method, path, body) in checks:
                answer = client.request(method, path, json=body, headers=shop.tokens[role])
                assert answer.status_code == 503, (role, method, path, answer.text)
                assert answer.json()["code"] == "store_unavailable"
            proxy.restore()
        runtime.close()
        proxy.close()
