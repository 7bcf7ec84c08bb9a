"""A webhook receiver on loopback that checks every delivery with the Standard Webhooks
reference library (``standardwebhooks`` from PyPI), as a portal would."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

import standardwebhooks

from adapters.fakes import _Handler, _Server


@dataclass
class Received:
    id: str
    timestamp: str
    body: bytes
    payload: dict[str, Any] | None
    verified: bool
    answered: int

    @property
    def type(self) -> str:
        return (self.payload or {}).get("type", "")


@dataclass
class ReceiverState:
    secret: str = ""
    #: What to answer a verified delivery (204: accepted; 500: "down").
    answer: int = 204
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _ReceiverHandler(_Handler):
    def do_POST(self) -> None:
        state: ReceiverState = self.server.fake.state  # type: ignore[attr-defined]
        body = self._body()
        headers = {k: v for k, v in self.headers.items()}
        try:
            payload = standardwebhooks.Webhook(state.secret).verify(body, headers)
            verified = True
        except standardwebhooks.WebhookVerificationError:
            payload, verified = json.loads(body), False
        answer = state.answer if verified else 401
        with state.lock:
            state.requests.append(
                Received(
                    self.headers.get("webhook-id", ""),
                    self.headers.get("webhook-timestamp", ""),
                    body,
                    payload,
                    verified,
                    answer,
                )
            )
        self._answer(answer, {"ok": answer < 300, "note": "received"})


class WebhookReceiver(_Server):
    def __init__(self, port: int = 0) -> None:
        super().__init__(_ReceiverHandler, port)
        self.state = ReceiverState()

    @property
    def hook_url(self) -> str:
        return self.url + "/hooks/billing"

    def accepted(self) -> list[Received]:
        """The deliveries it verified and answered 2xx, in the order they came."""
        with self.state.lock:
            return [r for r in self.state.requests if r.verified and r.answered < 300]

    def refused_signatures(self) -> list[Received]:
        with self.state.lock:
            return [r for r in self.state.requests if not r.verified]
