"""The hosting platform, told to create, suspend, restore or remove a website or to put it on
another plan (``plan``: the plan in force, which sets the site's plan-dependent limits; a
create carries it too), and asked what state each site is in (for the site reconciliation).

Each request is signed with HMAC-SHA256 over ``timestamp.method.path.body`` with a shared
secret. A change carries an ``Idempotency-Key`` (the outbox delivery id), so a retry after a
crash or a timeout is applied once by the platform. Answers are classified:

- 2xx: done;
- a timeout, a connection error, 5xx, 408, 409, 425, 429, and 401/403 (our signature or the
  clocks, which an operator can mend): retried until the platform accepts;
- any other 4xx (400, 404, 422 …): the platform will never accept this request: failed, visible
  in ``billing outbox failed``; the site reconciliation brings the site to the engine's state.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from urllib.parse import urlencode

from adapters.notify.channels import Delivery, PermanentFailure, TemporaryFailure

#: A site's state on the platform, for each state of the engine's site.
PLATFORM_STATE = {
    "up": "active",
    "suspended": "suspended",
    "collected": "removed",
    "removed": "removed",
}
RETRIED = {401, 403, 408, 409, 425, 429}


def signature(secret: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    message = f"{timestamp}.{method}.{path}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class PlatformClient:
    def __init__(self, base_url: str, secret: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self.timeout = timeout

    def _headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        timestamp = str(int(time.time()))
        return {
            "Content-Type": "application/json",
            "X-Billing-Timestamp": timestamp,
            "X-Billing-Signature": signature(self.secret, timestamp, method, path, body),
        }

    def deliver(self, delivery: Delivery) -> None:
        import httpx

        action = delivery.payload["action"]
        path = f"/v1/sites/{delivery.payload['site']}/{action}"
        fields = {
            "site": delivery.payload["site"],
            "subscription_id": delivery.subscription_id,
            "action": action,
            "because": delivery.payload.get("event"),
        }
        if "plan" in delivery.payload:  # create and plan: the plan in force sets the limits
            fields |= {"plan": delivery.payload["plan"], "period": delivery.payload["period"]}
        body = json.dumps(fields, sort_keys=True).encode()
        headers = self._headers("POST", path, body) | {"Idempotency-Key": delivery.delivery_id}
        try:
            answer = httpx.post(
                self.base_url + path, content=body, headers=headers, timeout=self.timeout
            )
        except httpx.HTTPError as error:
            raise TemporaryFailure(f"hosting platform unreachable: {error}") from None
        if 200 <= answer.status_code < 300:
            return
        text = f"hosting platform answered {answer.status_code}: {answer.text[:200]}"
        if 400 <= answer.status_code < 500 and answer.status_code not in RETRIED:
            raise PermanentFailure(text)
        raise TemporaryFailure(text)

    def sites(self, page: int = 500) -> Iterator[tuple[str, str, str | None]]:
        """Every site the platform knows, its state and its plan in force (None when the
        platform does not say): ``GET /v1/sites?after=&limit=``."""
        import httpx

        after = ""
        while True:
            path = "/v1/sites?" + urlencode({"after": after, "limit": page})
            try:
                answer = httpx.get(
                    self.base_url + path,
                    headers=self._headers("GET", path, b""),
                    timeout=self.timeout,
                )
                answer.raise_for_status()
                items = answer.json()["items"]
            except (httpx.HTTPError, ValueError, KeyError) as error:
                raise TemporaryFailure(f"hosting platform: cannot list sites: {error}") from None
            for item in items:
                yield item["site"], item["state"], item.get("plan")
            if len(items) < page:
                return
            after = items[-1]["site"]
