"""The payment gateway: Zarinpal's v4 REST protocol (and the sandbox that speaks it).

request → authority → the customer is sent to StartPay/{authority} → the gateway sends the
customer back to our callback with ``?Authority=…&Status=OK|NOK`` → we **verify** with the
amount we asked for (from our records, never from the callback) → code 100 (verified now) or
101 (verified before) with the gateway's reference id. ``unVerified.json`` lists payments that
were made but not verified, for reconciliation.

What the gateway tells about the customer's card (``card_pan``, ``card_hash``) is dropped here,
in the adapter: it never reaches the engine, its events, its read models or its logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx

#: Zarinpal's error codes, as a person would want them explained.
ERRORS = {
    -9: "the gateway refused the request's data (validation error)",
    -10: "the merchant id or this server's IP address is not accepted by the gateway",
    -11: "the merchant account is not active at the gateway",
    -12: "too many attempts in a short time; try again in a few minutes",
    -15: "the merchant account is suspended at the gateway",
    -16: "the merchant account's level does not allow this",
    -30: "the merchant may not use floating wages",
    -50: "the amount does not match the payment that was started",
    -51: "the payment failed or was cancelled at the gateway",
    -52: "the gateway had an unexpected error; contact its support",
    -53: "the payment belongs to another merchant",
    -54: "the gateway does not know this authority",
    -55: "the transaction was not found",
    -63: "the gateway no longer reverses this payment (its reverse window has closed)",
}


#: Verify codes that settle an attempt: the gateway says the payment was not made (or not
#: for this amount, merchant or authority). Any other error (-52 unexpected, -12 too many
#: attempts, an account or IP problem) says nothing about the customer's money, so the attempt
#: stays open and reconciliation asks again.
FINAL_VERIFY_ERRORS = frozenset({-50, -51, -53, -54, -55})


class GatewayError(Exception):
    """The gateway answered with an error code."""

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(f"gateway error {code}: {ERRORS.get(code, message or 'unknown error')}")
        self.code = code
        self.explanation = ERRORS.get(code, message or "unknown error")

    @property
    def is_final(self) -> bool:
        """Whether a verify that answered this means the payment did not happen."""
        return self.code in FINAL_VERIFY_ERRORS


class GatewayTimeout(Exception):
    """The gateway did not answer in time (the outcome is unknown, not a failure)."""


@dataclass(frozen=True)
class Started:
    authority: str
    payment_url: str


@dataclass(frozen=True)
class Verification:
    code: int  # 100: verified now; 101: verified before
    ref_id: str


@dataclass(frozen=True)
class Unverified:
    authority: str
    amount: int


class Gateway(Protocol):
    name: str
    minimum: int

    def request(
        self,
        amount: int,
        description: str,
        *,
        order_id: str,
        mobile: str | None = None,
        email: str | None = None,
    ) -> Started: ...
    def verify(self, authority: str, amount: int) -> Verification: ...
    def unverified(self) -> list[Unverified]: ...
    def reverse(self, authority: str) -> None: ...
    def payment_url(self, authority: str) -> str: ...


class ZarinpalGateway:
    """The v4 REST API at ``base_url`` (https://payment.zarinpal.com, or the sandbox)."""

    name = "zarinpal"

    def __init__(
        self,
        base_url: str,
        merchant_id: str,
        callback_url: str,
        *,
        timeout: float = 10.0,
        minimum: int = 10_000,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.merchant_id = merchant_id
        self.callback_url = callback_url
        self.timeout = timeout
        self.minimum = minimum  # rials: the gateway refuses less
        self._client = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            answer = self._client.post(path, json=body, headers={"Accept": "application/json"})
        except httpx.TimeoutException as error:
            raise GatewayTimeout(f"{path}: no answer within {self.timeout:g}s") from error
        except httpx.HTTPError as error:
            raise GatewayTimeout(f"{path}: {error}") from error
        try:
            payload = answer.json()
        except ValueError:
            raise GatewayError(-52, f"unreadable answer ({answer.status_code})") from None
        errors = payload.get("errors")
        if errors:
            raise GatewayError(int(errors.get("code", -52)), str(errors.get("message", "")))
        data = payload.get("data") or {}
        if not isinstance(data, dict):
            raise GatewayError(-52, "unexpected answer")
        return data

    def request(
        self,
        amount: int,
        description: str,
        *,
        order_id: str,
        mobile: str | None = None,
        email: str | None = None,
    ) -> Started:
        metadata = {
            "order_id": order_id,
            **({"mobile": mobile} if mobile else {}),
            **({"email": email} if email else {}),
        }
        data = self._post(
            "/pg/v4/payment/request.json",
            {
                "merchant_id": self.merchant_id,
                "amount": amount,
                "currency": "IRR",
                "callback_url": self.callback_url,
                "description": description,
                "metadata": metadata,
            },
        )
        if int(data.get("code", 0)) != 100:
            raise GatewayError(int(data.get("code", -52)), str(data.get("message", "")))
        authority = str(data["authority"])
        return Started(authority, self.payment_url(authority))

    def payment_url(self, authority: str) -> str:
        """Where the customer pays an attempt the gateway started."""
        return f"{self.base_url}/pg/StartPay/{authority}"

    def verify(self, authority: str, amount: int) -> Verification:
        data = self._post(
            "/pg/v4/payment/verify.json",
            {"merchant_id": self.merchant_id, "amount": amount, "authority": authority},
        )
        code = int(data.get("code", 0))
        if code not in (100, 101):
            raise GatewayError(code, str(data.get("message", "")))
        # card_pan and card_hash are in `data` too: deliberately not read.
        return Verification(code, str(data["ref_id"]))

    def unverified(self) -> list[Unverified]:
        data = self._post("/pg/v4/payment/unVerified.json", {"merchant_id": self.merchant_id})
        return [
            Unverified(str(a["authority"]), int(a["amount"])) for a in data.get("authorities", [])
        ]

    def reverse(self, authority: str) -> None:
        """Give a verified payment back to the payer's card (the whole of it); raises
        GatewayError when the gateway refuses, GatewayTimeout when it does not answer."""
        data = self._post(
            "/pg/v4/payment/reverse.json",
            {"merchant_id": self.merchant_id, "authority": authority},
        )
        code = int(data.get("code", 0))
        if code != 100:
            raise GatewayError(code, str(data.get("message", "")))

    def close(self) -> None:
        self._client.close()
