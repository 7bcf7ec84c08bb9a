"""A sandbox payment gateway on loopback that speaks Zarinpal's v4 protocol.

`billing sandbox-gateway [--port 8010]` runs it; the demo, the API's test mode and the tests
use it. It shows a payment page with Pay and Cancel, sends the customer back to the callback
with ``Status=OK`` or ``NOK``, verifies once (100, then 101 for the same authority), lists paid
but unverified payments, reverses a verified payment within ``reverse_window`` of its payment
(``reverse.json``: 100 "Reversed", again 100 for one already reversed, -63 once the window has
closed, -51 for one not verified), and can be told to fail: ``POST /sandbox/faults`` with
``{"verify": "timeout" | <negative code>, "request": …, "unverified": …}`` (or set ``faults``).
Like the real gateway, its verify answer carries a masked card number: the engine must drop it.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode

from adapters.fakes import _Handler, _Server
from domain.jalali import TEHRAN, to_persian_digits

MINIMUM = 10_000  # rials
#: The one card the sandbox's customers pay with (Shaparak's published test card format).
TEST_CARD = "5022291012345995"


@dataclass
class SandboxPayment:
    authority: str
    amount: int
    callback_url: str
    description: str
    status: str = "created"  # created | paid | cancelled | verified | reversed
    ref_id: int | None = None
    paid_at: datetime | None = None


class _GatewayHandler(_Handler):
    def _fake(self) -> SandboxGateway:
        return self.server.fake  # type: ignore[attr-defined]

    def _json(self) -> dict[str, Any]:
        try:
            return json.loads(self._body() or b"{}")
        except ValueError:
            return {}

    def _error(self, code: int, message: str) -> None:
        self._answer(
            200 if code != -9 else 422,
            {"data": [], "errors": {"code": code, "message": message, "validations": []}},
        )

    def _fault(self, name: str) -> bool:
        """Apply an injected fault; True when the answer was already sent (or withheld)."""
        fault = self._fake().faults.get(name)
        if fault is None:
            return False
        if fault == "timeout":
            time.sleep(self._fake().timeout_delay)
            return False  # answer late: the client has given up by now
        self._error(int(fault), "injected fault")
        return True

    def do_GET(self) -> None:
        fake = self._fake()
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts[:2] == ["pg", "StartPay"] and len(parts) == 3:
            payment = fake.payments.get(parts[2])
            if payment is None:
                return self._page(404, "پرداخت پیدا نشد", "<p>این پرداخت شناخته نیست.</p>")
            amount = to_persian_digits(f"{payment.amount:,}".replace(",", "٬"))
            body = (
                f"<p>مبلغ: <b>{amount}</b> ریال</p><p>{html.escape(payment.description)}</p>"
                f'<form method="post" action="/pg/StartPay/{payment.authority}/pay"><button>پرداخت</button></form>'
                f'<form method="post" action="/pg/StartPay/{payment.authority}/cancel"><button>انصراف</button></form>'
            )
            return self._page(200, "درگاه آزمایشی", body)
        self._answer(404, {"error": "not found"})

    def _page(self, status: int, title: str, body: str) -> None:
        page = (
            f'<!DOCTYPE html><html lang="fa" dir="rtl"><head><meta charset="utf-8"><title>{title}</title></head>'
            f"<body><h1>{title}</h1>{body}</body></html>"
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def do_POST(self) -> None:
        fake = self._fake()
        path = self.path.split("?")[0]
        if path.startswith("/pg/StartPay/"):
            _, _, authority, choice = path.strip("/").split("/")
            payment = fake.payments.get(authority)
            if payment is None:
                return self._answer(404, {"error": "unknown authority"})
            ok = choice == "pay" and fake.settle(authority)
            if choice != "pay":
                payment.status = "cancelled"
            target = payment.callback_url + ("&" if "?" in payment.callback_url else "?")
            target += urlencode({"Authority": authority, "Status": "OK" if ok else "NOK"})
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if path == "/sandbox/faults":
            fake.faults = {k: v for k, v in self._json().items() if v is not None}
            return self._answer(200, {"faults": fake.faults})
        body = self._json()
        if body.get("merchant_id") != fake.merchant_id:
            return self._error(-10, "merchant id is not valid")
        if path == "/pg/v4/payment/request.json":
            if self._fault("request"):
                return
            amount = body.get("amount")
            if not isinstance(amount, int) or amount < MINIMUM or not body.get("callback_url"):
                return self._error(
                    -9, f"The input params invalid: amount must be at least {MINIMUM} rials."
                )
            authority = fake.new_authority()
            fake.payments[authority] = SandboxPayment(
                authority, amount, body["callback_url"], str(body.get("description", ""))
            )
            return self._answer(
                200,
                {
                    "data": {
                        "code": 100,
                        "message": "Success",
                        "authority": authority,
                        "fee_type": "Merchant",
                        "fee": 0,
                    },
                    "errors": [],
                },
            )
        if path == "/pg/v4/payment/verify.json":
            if self._fault("verify"):
                return
            with fake.lock:
                payment = fake.payments.get(str(body.get("authority", "")))
                if payment is None:
                    return self._error(-54, "Invalid authority.")
                if body.get("amount") != payment.amount:
                    return self._error(-50, "Session is not valid, amounts values is not the same.")
                if payment.status in ("created", "cancelled"):
                    return self._error(-51, "Session is not valid, session is not active paid try.")
                code = 101 if payment.status == "verified" else 100
                payment.status = "verified"
            fake.verifications += 1
            return self._answer(
                200,
                {
                    "data": {
                        "code": code,
                        "message": "Verified" if code == 100 else "Verified before",
                        # Zarinpal's card hash is the SHA-256 of the card number: stable per
                        # card, so a payer can be recognised without the number.
                        "card_hash": hashlib.sha256(TEST_CARD.encode()).hexdigest().upper(),
                        "card_pan": TEST_CARD[:6] + "******" + TEST_CARD[-4:],
                        "ref_id": payment.ref_id,
                        "fee_type": "Merchant",
                        "fee": 0,
                    },
                    "errors": [],
                },
            )
        if path == "/pg/v4/payment/reverse.json":
            if self._fault("reverse"):
                return
            with fake.lock:
                payment = fake.payments.get(str(body.get("authority", "")))
                if payment is None:
                    return self._error(-54, "Invalid authority.")
                if payment.status not in ("verified", "reversed"):
                    return self._error(-51, "Session is not valid, session is not verified.")
                paid_at = payment.paid_at or datetime.now(UTC)
                if payment.status == "verified" and fake.now() > paid_at + fake.reverse_window:
                    return self._error(-63, "Session can not be reversed with bank.")
                payment.status = "reversed"
            fake.reversals += 1
            return self._answer(200, {"data": {"code": 100, "message": "Reversed"}, "errors": []})
        if path == "/pg/v4/payment/unVerified.json":
            if self._fault("unverified"):
                return
            listed = [
                {
                    "authority": p.authority,
                    "amount": p.amount,
                    "callback_url": p.callback_url,
                    "referer": "",
                    # Zarinpal's format: the moment the customer paid, Tehran time.
                    "date": p.paid_at.astimezone(TEHRAN).strftime("%Y-%m-%d %H:%M:%S")
                    if p.paid_at
                    else "",
                }
                for p in fake.payments.values()
                if p.status == "paid"
            ]
            return self._answer(
                200,
                {"data": {"code": 100, "message": "Success", "authorities": listed}, "errors": []},
            )
        self._answer(404, {"error": "not found"})


class SandboxGateway(_Server):
    def __init__(
        self, merchant_id: str = "00000000-0000-0000-0000-000000000000", port: int = 0
    ) -> None:
        super().__init__(_GatewayHandler, port)
        self.merchant_id = merchant_id
        self.payments: dict[str, SandboxPayment] = {}
        self.faults: dict[str, Any] = {}
        self.timeout_delay = 2.0
        self.verifications = 0
        self.reversals = 0
        #: How long after a payment it may be reversed, and the sandbox's clock (tests move it).
        self.reverse_window = timedelta(minutes=30)
        self.now = lambda: datetime.now(UTC)
        self.lock = threading.Lock()
        self._numbers = itertools.count(1)
        self._refs = itertools.count(100_001)

    def new_authority(self) -> str:
        return f"A{next(self._numbers):035d}"

    def settle(self, authority: str) -> bool:
        """The customer paid at the gateway (what pressing Pay does)."""
        payment = self.payments.get(authority)
        if payment is None or payment.status != "created":
            return payment is not None and payment.status in ("paid", "verified")
        payment.status = "paid"
        payment.ref_id = next(self._refs)
        payment.paid_at = self.now()
        return True


def callback_query(url: str) -> dict[str, str]:
    """The query of a callback URL as a dict (tests follow the redirect by hand)."""
    return {k: v[0] for k, v in parse_qs(url.split("?", 1)[1]).items()}


__all__ = ["BaseHTTPRequestHandler", "SandboxGateway", "callback_query"]
