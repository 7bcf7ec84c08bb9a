"""One contract for the gateway adapter, run against the sandbox over HTTP and against Zarinpal
v4's published request/response examples (replayed by an httpx transport)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from adapters.gateway import GatewayError, ZarinpalGateway
from adapters.sandbox_gateway import SandboxGateway

EXAMPLES = json.loads(
    (Path(__file__).parents[1] / "data" / "zarinpal_v4_examples.json").read_text()
)
MERCHANT = "00000000-0000-0000-0000-000000000000"
AMOUNT = 50_500


class Recorded:
    """Answers like Zarinpal did in its published examples: the real protocol's shapes."""

    def __init__(self) -> None:
        self.authority = EXAMPLES["request_success"]["data"]["authority"]
        self.state = "none"  # none → started → paid → verified
        self.requests: list[dict] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content or b"{}")
        self.requests.append({"path": request.url.path, **body})
        path = request.url.path
        if body.get("merchant_id") != MERCHANT:
            return httpx.Response(200, json=EXAMPLES["request_bad_merchant"])
        if path == "/pg/v4/payment/request.json":
            if body.get("amount", 0) < 10_000:
                return httpx.Response(422, json=EXAMPLES["request_validation_error"])
            self.state = "started"
            return httpx.Response(200, json=EXAMPLES["request_success"])
        if path == "/pg/v4/payment/verify.json":
            if body.get("authority") != self.authority:
                return httpx.Response(200, json=EXAMPLES["verify_unknown_authority"])
            if body.get("amount") != AMOUNT:
                return httpx.Response(200, json=EXAMPLES["verify_wrong_amount"])
            if self.state == "started":
                return httpx.Response(200, json=EXAMPLES["verify_not_paid"])
            answer = EXAMPLES["verify_success" if self.state == "paid" else "verify_again"]
            self.state = "verified"
            return httpx.Response(200, json=answer)
        if path == "/pg/v4/payment/reverse.json" and self.state == "verified":
            return httpx.Response(200, json=EXAMPLES["reverse_success"])
        if path == "/pg/v4/payment/unVerified.json":
            listed = (
                EXAMPLES["unverified"]
                if self.state == "paid"
                else {"data": {"code": 100, "authorities": []}, "errors": []}
            )
            return httpx.Response(200, json=listed)
        return httpx.Response(404)

    def pay(self, authority: str) -> None:
        assert authority == self.authority
        self.state = "paid"


@pytest.fixture(params=["sandbox", "recorded"])
def gateway(request) -> Iterator[tuple[ZarinpalGateway, Callable[[str], None]]]:
    """The adapter, and how the customer pays at the gateway."""
    if request.param == "sandbox":
        with SandboxGateway(MERCHANT) as sandbox:
            yield ZarinpalGateway(sandbox.url, MERCHANT, "http://127.0.0.1/cb"), sandbox.settle
    else:
        recorded = Recorded()
        transport = httpx.MockTransport(recorded.handle)
        yield (
            ZarinpalGateway(
                "https://payment.zarinpal.com", MERCHANT, "http://127.0.0.1/cb", transport=transport
            ),
            recorded.pay,
        )


def test_a_request_gives_an_authority_and_where_to_send_the_customer(gateway):
    adapter, _ = gateway
    started = adapter.request(AMOUNT, "Invoice 1", order_id="inv-1", mobile="09121234567")
    assert started.authority.startswith("A") and len(started.authority) == 36
    assert started.payment_url.endswith(f"/pg/StartPay/{started.authority}")


def test_an_amount_below_the_minimum_is_refused_with_its_code(gateway):
    adapter, _ = gateway
    with pytest.raises(GatewayError) as error:
        adapter.request(500, "too little", order_id="x")
    assert error.value.code == -9


def test_a_paid_payment_verifies_once_then_reports_verified_before(gateway):
    adapter, pay = gateway
    started = adapter.request(AMOUNT, "Invoice 1", order_id="inv-1")
    pay(started.authority)
    first = adapter.verify(started.authority, AMOUNT)
    second = adapter.verify(started.authority, AMOUNT)
    assert (first.code, second.code) == (100, 101)
    assert first.ref_id == second.ref_id and first.ref_id
    assert not hasattr(first, "card_pan") and "5995" not in repr(
        first
    )  # card data dropped in the adapter


def test_verify_refuses_an_unpaid_payment_a_wrong_amount_and_an_unknown_authority(gateway):
    adapter, pay = gateway
    started = adapter.request(AMOUNT, "Invoice 1", order_id="inv-1")
    with pytest.raises(GatewayError) as unpaid:
        adapter.verify(started.authority, AMOUNT)
    assert unpaid.value.code == -51
    pay(started.authority)
    with pytest.raises(GatewayError) as wrong:
        adapter.verify(started.authority, AMOUNT + 1)
    assert wrong.value.code == -50
    with pytest.raises(GatewayError) as unknown:
        adapter.verify("A" + "0" * 34 + "9", AMOUNT)
    assert unknown.value.code == -54
    assert "does not know this authority" in unknown.value.explanation
    assert unpaid.value.is_final and wrong.value.is_final and unknown.value.is_final


@pytest.mark.parametrize("code", [-52, -12, -10])
def test_a_transient_verify_error_is_not_final_and_the_payment_stays_listed(code):
    """An error that says nothing about the customer's money leaves the payment paid and
    unverified at the gateway, for reconciliation to verify later."""
    with SandboxGateway(MERCHANT) as sandbox:
        adapter = ZarinpalGateway(sandbox.url, MERCHANT, "http://127.0.0.1/cb")
        started = adapter.request(AMOUNT, "Invoice 1", order_id="inv-1")
        sandbox.settle(started.authority)
        sandbox.faults = {"verify": code}
        with pytest.raises(GatewayError) as error:
            adapter.verify(started.authority, AMOUNT)
        assert error.value.code == code and not error.value.is_final
        sandbox.faults = {}
        assert [u.authority for u in adapter.unverified()] == [started.authority]
        assert adapter.verify(started.authority, AMOUNT).code == 100


def test_paid_but_unverified_payments_are_listed_for_reconciliation(gateway):
    adapter, pay = gateway
    started = adapter.request(AMOUNT, "Invoice 1", order_id="inv-1")
    assert adapter.unverified() == []
    pay(started.authority)
    assert [(u.authority, u.amount) for u in adapter.unverified()] == [(started.authority, AMOUNT)]
    adapter.verify(started.authority, AMOUNT)
    assert adapter.unverified() == []


def test_a_wrong_merchant_id_is_refused(gateway):
    adapter, _ = gateway
    adapter.merchant_id = "11111111-1111-1111-1111-111111111111"
    with pytest.raises(GatewayError) as error:
        adapter.request(AMOUNT, "x", order_id="x")
    assert error.value.code == -10


def test_a_verified_payment_is_reversed(gateway):
    adapter, pay = gateway
    started = adapter.request(AMOUNT, "Invoice 1", order_id="inv-1")
    pay(started.authority)
    adapter.verify(started.authority, AMOUNT)
    adapter.reverse(started.authority)  # code 100, "Reversed": no error


def test_the_sandbox_reverses_only_a_verified_payment_within_its_window():
    from datetime import timedelta

    with SandboxGateway(MERCHANT) as sandbox:
        adapter = ZarinpalGateway(sandbox.url, MERCHANT, "http://127.0.0.1/cb")
        started = adapter.request(AMOUNT, "Invoice 1", order_id="inv-1")
        sandbox.settle(started.authority)
        with pytest.raises(GatewayError) as unverified:
            adapter.reverse(started.authority)
        assert unverified.value.code == -51
        adapter.verify(started.authority, AMOUNT)
        paid_at = sandbox.payments[started.authority].paid_at
        sandbox.now = lambda: paid_at + timedelta(minutes=31)
        with pytest.raises(GatewayError) as late:
            adapter.reverse(started.authority)
        assert late.value.code == -63 and "window has closed" in late.value.explanation
        sandbox.now = lambda: paid_at + timedelta(minutes=29)
        adapter.reverse(started.authority)
        adapter.reverse(started.authority)  # a second reversal is answered as done
        assert sandbox.reversals == 2 and sandbox.payments[started.authority].status == "reversed"
