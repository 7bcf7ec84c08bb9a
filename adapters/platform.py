"""The hosting platform, told to create, suspend, restore or remove a website.

Each request is signed with HMAC-SHA256 over ``timestamp.method.path.body`` with a shared
secret and carries an ``Idempotency-Key`` (the outbox delivery id), so a retry after a crash
or a timeout is applied once by the platform. Any answer but 2xx is retried until the platform
accepts: a site change is never lost.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from adapters.notify.channels import Delivery, TemporaryFailure


def signature(secret: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    message = f"{timestamp}.{method}.{path}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class PlatformClient:
    def __init__(self, base_url: str, secret: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self.timeout = timeout

    def deliver(self, delivery: Delivery) -> None:
        import httpx

        action = delivery.payload["action"]
        path = f"/v1/sites/{delivery.payload['site']}/{action}"
        body = json.dumps(
            {
                "site": delivery.payload["site"],
                "subscription_id": delivery.subscription_id,
                "action": action,
                "because": delivery.payload.get("event"),
            },
            sort_keys=True,
        ).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": delivery.delivery_id,
            "X-Billing-Timestamp": timestamp,
            "X-Billing-Signature": signature(self.secret, timestamp, "POST", path, body),
        }
        try:
            answer = httpx.post(
                self.base_url + path, content=body, headers=headers, timeout=self.timeout
            )
        except httpx.HTTPError as error:
            raise TemporaryFailure(f"hosting platform unreachable: {error}") from None
        if not 200 <= answer.status_code < 300:
            raise TemporaryFailure(
                f"hosting platform answered {answer.status_code}: {answer.text[:200]}"
            )
