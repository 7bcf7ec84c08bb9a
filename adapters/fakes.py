"""Local stand-ins for the outside world, real servers on loopback: an SMTP sink, a
Kavenegar-shaped SMS provider and a hosting platform. The tests use them, and so can the
portal team (`billing fake-platform`); each speaks the same protocol as the real thing and is
checked by the same contract tests as the real adapter.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from adapters.platform import signature


class _Server:
    """An HTTP server on loopback in a background thread."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int = 0) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.fake = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}"

    def start(self):
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))


# --- SMS ---------------------------------------------------------------------------------------


@dataclass
class SentSms:
    receptor: str
    message: str
    sender: str
    localid: str


class _SmsHandler(_Handler):
    def do_POST(self) -> None:
        fake: FakeSmsProvider = self.server.fake  # type: ignore[attr-defined]
        parts = self.path.strip("/").split("/")  # v1/{key}/sms/send.json
        form = {k: v[0] for k, v in parse_qs(self._body().decode()).items()}
        if len(parts) != 4 or parts[2:] != ["sms", "send.json"]:
            return self._answer(404, {"return": {"status": 404, "message": "not found"}})
        if parts[1] != fake.api_key:
            return self._answer(403, {"return": {"status": 403, "message": "API key is not valid"}})
        if fake.failing:
            return self._answer(502, {"return": {"status": 502, "message": "provider down"}})
        if not form.get("receptor", "").startswith("09"):
            return self._answer(411, {"return": {"status": 411, "message": "invalid receptor"}})
        with fake.lock:
            localid = form.get("localid", "")
            if localid and localid in fake.by_localid:  # the provider drops a repeat
                sms = fake.by_localid[localid]
            else:
                sms = SentSms(
                    form["receptor"], form.get("message", ""), form.get("sender", ""), localid
                )
                fake.sent.append(sms)
                if localid:
                    fake.by_localid[localid] = sms
        self._answer(
            200,
            {
                "return": {"status": 200, "message": "تایید شد"},
                "entries": [
                    {
                        "messageid": len(fake.sent),
                        "message": sms.message,
                        "status": 1,
                        "receptor": sms.receptor,
                    }
                ],
            },
        )


class FakeSmsProvider(_Server):
    def __init__(self, api_key: str = "test-key", port: int = 0) -> None:
        super().__init__(_SmsHandler, port)
        self.api_key = api_key
        self.sent: list[SentSms] = []
        self.by_localid: dict[str, SentSms] = {}
        self.failing = False
        self.lock = threading.Lock()


# --- hosting platform --------------------------------------------------------------------------


@dataclass
class PlatformRequest:
    site: str
    action: str
    idempotency_key: str
    body: dict[str, Any]


@dataclass
class FakePlatformState:
    applied: list[PlatformRequest] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    sites: dict[str, str] = field(default_factory=dict)
    #: Each site's plan in force, as the last create or plan request said.
    plans: dict[str, str] = field(default_factory=dict)


class _PlatformHandler(_Handler):
    def _signed(self, method: str, body: bytes) -> bool:
        fake: FakePlatform = self.server.fake  # type: ignore[attr-defined]
        timestamp = self.headers.get("X-Billing-Timestamp", "")
        given = self.headers.get("X-Billing-Signature", "")
        expected = signature(fake.secret, timestamp, method, self.path, body)
        fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) < 300
        if not (fresh and hmac.compare_digest(given, expected)):
            fake.state.rejected.append(self.path)
            self._answer(401, {"error": "bad signature"})
            return False
        return True

    def do_GET(self) -> None:
        """``GET /v1/sites?after=&limit=``: every site, its state and its plan, by name."""
        fake: FakePlatform = self.server.fake  # type: ignore[attr-defined]
        if fake.down:
            return self._answer(503, {"error": "the platform is down"})
        if not self._signed("GET", b""):
            return None
        path, _, query = self.path.partition("?")
        if path != "/v1/sites":
            return self._answer(404, {"error": "unknown path"})
        asked = {k: v[0] for k, v in parse_qs(query).items()}
        after, limit = asked.get("after", ""), int(asked.get("limit", "500"))
        with fake.lock:
            names = sorted(n for n in fake.state.sites if n > after)[:limit]
            items = [
                {"site": n, "state": fake.state.sites[n], "plan": fake.state.plans.get(n)}
                for n in names
            ]
        return self._answer(200, {"items": items})

    def do_POST(self) -> None:
        fake: FakePlatform = self.server.fake  # type: ignore[attr-defined]
        body = self._body()
        if fake.delay:
            time.sleep(fake.delay)  # a slow (or, with a long delay, hanging) platform
        if fake.down:
            return self._answer(503, {"error": "the platform is down"})
        if fake.fail_with:
            return self._answer(fake.fail_with, {"error": "injected failure"})
        if not self._signed("POST", body):
            return None
        parts = self.path.strip("/").split("/")  # v1/sites/{site}/{action}
        if len(parts) != 4 or parts[:2] != ["v1", "sites"] or parts[3] not in fake.ACTIONS:
            return self._answer(404, {"error": "unknown path"})
        key = self.headers.get("Idempotency-Key", "")
        with fake.lock:
            if key in fake.seen:  # applied once; a retry gets the same answer
                return self._answer(200, fake.seen[key])
            site, action = parts[2], parts[3]
            request = json.loads(body or b"{}")
            fake.state.applied.append(PlatformRequest(site, action, key, request))
            if "plan" in request:  # the plan in force (create, plan): its limits apply
                fake.state.plans[site] = request["plan"]
            if action in fake.STATES:
                fake.state.sites[site] = fake.STATES[action]
            answer = {"site": site, "state": fake.state.sites.get(site, "unknown")}
            fake.seen[key] = answer
        self._answer(200, answer)


class FakePlatform(_Server):
    STATES = {
        "create": "active",
        "suspend": "suspended",
        "restore": "active",
        "remove": "removed",
    }
    #: ``plan`` changes a site's plan (its limits), not its state.
    ACTIONS = (*STATES, "plan")

    def __init__(self, secret: str = "test-secret", port: int = 0) -> None:
        super().__init__(_PlatformHandler, port)
        self.secret = secret
        self.state = FakePlatformState()
        self.seen: dict[str, dict[str, Any]] = {}
        self.down = False
        #: Answer every change with this status (e.g. 500), until set back to None.
        self.fail_with: int | None = None
        #: Seconds to wait before answering a change.
        self.delay = 0.0
        self.lock = threading.Lock()


# --- SMTP ---------------------------------------------------------------------------------------


class SmtpSink:
    """A real SMTP server on loopback (aiosmtpd) that keeps what it receives. With a
    ``tls_context`` it offers STARTTLS with that certificate and refuses mail without it."""

    def __init__(self, port: int = 0, *, tls_context: Any = None) -> None:
        from aiosmtpd.controller import Controller

        sink = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, options):
                if sink.refuse_recipients:
                    return sink.refuse_recipients  # e.g. "451 4.2.0 try again later"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):
                if sink.delay:
                    await asyncio.sleep(sink.delay)  # a slow server
                message = message_from_bytes(envelope.content, policy=policy.default)
                with sink.lock:
                    sink.messages.append(message)
                return "250 OK"

        self.messages: list[Any] = []
        #: An SMTP reply to give every recipient instead of accepting it.
        self.refuse_recipients: str | None = None
        #: Seconds to take over each message.
        self.delay = 0.0
        self.lock = threading.Lock()
        if not port:
            import socket

            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
        tls = {"tls_context": tls_context, "require_starttls": True} if tls_context else {}
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port, **tls)

    @property
    def port(self) -> int:
        return self.controller.port

    def start(self):
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
