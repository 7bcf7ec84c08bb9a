"""Webhooks per the Standard Webhooks specification (docs/WEBHOOKS.md): the endpoints a portal
registers, the checks on their URLs, and the sender of the outbox's ``webhook`` channel.

- **Endpoints** are kept in table ``webhook_endpoints`` beside the read models (like the API
  tokens). The secret (``whsec_`` + base64 of 32 random bytes) is needed to sign, so it is
  stored as is, and shown only when it is made (creation, rotation).
- **Which events.** An endpoint receives the integration events recorded after it was created
  (``after_position``: the log's last notification id then), of the types it names (or ``*``).
- **URLs.** http or https; the host must be named in ``BILLING_WEBHOOK_ALLOWED_HOSTS``, or
  resolve only to public addresses (no loopback, private, link-local, reserved, multicast or
  unspecified address), checked when the endpoint is registered and again before every send
  (a name may be pointed elsewhere later).
- **Signing.** ``webhook-id`` (the event id, the same on every attempt), ``webhook-timestamp``
  (this attempt, unix seconds, real time: receivers refuse stale ones) and
  ``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` keyed with the
  base64-decoded secret.
- **Answers.** 2xx: delivered. Anything else, a timeout or a connection error: retried by the
  outbox with its backoff, up to ``BILLING_WEBHOOK_MAX_ATTEMPTS`` (about three days). Each
  attempt's status code and the start of the answer are kept (table ``webhook_attempts``) for
  ``GET /webhook-endpoints/{id}/deliveries``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from adapters.clock import Clock, SystemClock
from adapters.notify.channels import Delivery, PermanentFailure, TemporaryFailure
from domain.errors import (
    WebhookDeliveryNotFound,
    WebhookEndpointDisabled,
    WebhookEndpointNotFound,
    WebhookUrlRefused,
)
from projections.model import moment

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
#: How much of an answer is kept for people to read.
EXCERPT = 200


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """``v1,`` + base64(HMAC-SHA256(key=the secret's bytes, msg="id.timestamp.body"))."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


# --- which URLs ---------------------------------------------------------------------------------

Resolver = Callable[[str], list[str]]


def resolve(host: str) -> list[str]:
    """Every address ``host`` resolves to (an address resolves to itself)."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def parse_allowed(hosts: str) -> frozenset[str]:
    return frozenset(h.strip().lower().strip("[]") for h in hosts.split(",") if h.strip())


def check_url(url: str, allowed: frozenset[str], resolver: Resolver = resolve) -> str:
    """The URL when it may receive webhooks; else WebhookUrlRefused saying why."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookUrlRefused(
            f"{url!r} is not an http(s) URL with a host; give e.g. https://portal.example/hooks.",
            field="url",
        )
    if parts.username or parts.password:
        raise WebhookUrlRefused("A webhook URL carries no user name or password.", field="url")
    host = parts.hostname.lower()
    if host in allowed:
        return url.strip()
    try:
        addresses = resolver(host)
    except (OSError, UnicodeError):
        raise WebhookUrlRefused(
            f"The host {host!r} does not resolve; give a host this engine can reach.", field="url"
        ) from None
    private = [a for a in addresses if not _public(a)]
    if private or not addresses:
        raise WebhookUrlRefused(
            f"The host {host!r} resolves to {', '.join(private) or 'nothing'}: loopback, "
            "private, link-local and reserved addresses receive no webhooks unless named in "
            "BILLING_WEBHOOK_ALLOWED_HOSTS.",
            field="url",
        )
    return url.strip()


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


# --- the endpoints ------------------------------------------------------------------------------


class WebhookEndpoints:
    """The endpoints, in the read models' datastore."""

    TABLE = "webhook_endpoints"
    ATTEMPTS = "webhook_attempts"

    def __init__(self, read_models: Any, app: Any, allowed_hosts: str = "") -> None:
        self.read_models = read_models
        self.view = read_models.view
        self.app = app
        self.allowed = parse_allowed(allowed_hosts)
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self.view.sql(cursor)
            sql.execute(
                f"CREATE TABLE IF NOT EXISTS {sql.table(self.TABLE)} ("
                "endpoint_id TEXT PRIMARY KEY, url TEXT NOT NULL, events TEXT NOT NULL, "
                "description TEXT NOT NULL, secret TEXT NOT NULL, enabled INTEGER NOT NULL, "
                "created_at TEXT NOT NULL, after_position BIGINT NOT NULL, "
                "disabled_at TEXT, CHECK (enabled IN (0, 1)))"
            )
            sql.execute(
                f"CREATE TABLE IF NOT EXISTS {sql.table(self.ATTEMPTS)} ("
                "delivery_id TEXT NOT NULL, attempt_id TEXT NOT NULL, at TEXT NOT NULL, "
                "status_code INTEGER, excerpt TEXT NOT NULL, PRIMARY KEY (delivery_id, attempt_id))"
            )

    def _sql(self, cursor: Any) -> Any:
        return self.view.sql(cursor)

    def create(
        self, url: str, events: Iterable[str], description: str, now: datetime
    ) -> dict[str, Any]:
        """A new endpoint, enabled, with its secret (returned this once)."""
        url = check_url(url, self.allowed)
        row = {
            "endpoint_id": "we_" + uuid.uuid4().hex,
            "url": url,
            "events": json.dumps(list(events)),
            "description": description,
            "secret": new_secret(),
            "enabled": 1,
            "created_at": moment(now),
            "after_position": self.app.recorder.max_notification_id() or 0,
        }
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self._sql(cursor)
            sql.execute(
                f"INSERT INTO {sql.table(self.TABLE)} ({', '.join(row)}) "
                f"VALUES ({', '.join('?' for _ in row)})",
                tuple(row.values()),
            )
        return _endpoint(row, with_secret=True)

    def _rows(self, where: str = "", params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        statement = f"SELECT * FROM {{table}} {where} ORDER BY created_at, endpoint_id"
        if self.view.dialect == "postgres":
            # One statement on an autocommit connection: one round trip where a transaction
            # around it took three. Every batch the read models fold reads the enabled
            # endpoints, and every write waits for its fold (docs/BENCHMARKS.md, "Issue 22:
            # payments on PostgreSQL in the open loop").
            with self.view.datastore.get_connection() as conn, conn.cursor() as cursor:
                sql = self._sql(cursor)
                return sql.execute(statement.format(table=sql.table(self.TABLE)), params).rows()
        with self.view.datastore.transaction(commit=False) as cursor:
            sql = self._sql(cursor)
            return sql.execute(statement.format(table=sql.table(self.TABLE)), params).rows()

    def all(self) -> list[dict[str, Any]]:
        return [_endpoint(r) for r in self._rows()]

    def get(self, endpoint_id: str, *, with_secret: bool = False) -> dict[str, Any]:
        rows = self._rows("WHERE endpoint_id = ?", (endpoint_id,))
        if not rows:
            raise WebhookEndpointNotFound(f"There is no webhook endpoint {endpoint_id!r}.")
        return _endpoint(rows[0], with_secret=with_secret)

    def subscribed(self, event_type: str | None, position: int) -> list[dict[str, Any]]:
        """The enabled endpoints that receive an event of this type (any type: None) recorded
        at this position of the log (endpoints created before it was recorded)."""
        rows = self._rows("WHERE enabled = 1 AND after_position < ?", (position,))
        return receiving(map(_endpoint, rows), event_type, position)

    def enabled(self) -> list[dict[str, Any]]:
        """The enabled endpoints, read once: a batch of the read models' fold asks
        :func:`receiving` about each of its events instead of the database."""
        return [_endpoint(r) for r in self._rows("WHERE enabled = 1")]

    def disable(self, endpoint_id: str, now: datetime) -> dict[str, Any]:
        """Disable it, and skip what it still had to receive, in one transaction."""
        self.get(endpoint_id)
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self._sql(cursor)
            sql.execute(
                f"UPDATE {sql.table(self.TABLE)} SET enabled = 0, disabled_at = ? "
                "WHERE endpoint_id = ? AND enabled = 1",
                (moment(now), endpoint_id),
            )
            sql.execute(
                f"UPDATE {sql.table('outbox')} SET status = 'skipped', "
                "last_error = 'the endpoint was disabled', lease_owner = NULL, leased_until = NULL "
                "WHERE channel = 'webhook' AND recipient = ? AND status = 'pending'",
                (endpoint_id,),
            )
        return self.get(endpoint_id)

    def rotate(self, endpoint_id: str) -> dict[str, Any]:
        """A new secret, returned this once; every send from now on is signed with it."""
        if not self.get(endpoint_id)["enabled"]:
            raise WebhookEndpointDisabled(
                f"Webhook endpoint {endpoint_id} is disabled; register a new one instead."
            )
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self._sql(cursor)
            sql.execute(
                f"UPDATE {sql.table(self.TABLE)} SET secret = ? WHERE endpoint_id = ?",
                (new_secret(), endpoint_id),
            )
        return self.get(endpoint_id, with_secret=True)

    # --- its deliveries ----------------------------------------------------------------------

    def deliveries(
        self, endpoint_id: str, *, after: int = 0, limit: int = 50, only: str | None = None
    ) -> list[dict[str, Any]]:
        """Each event's delivery to this endpoint (or the one named ``only``), oldest first,
        with its last attempt."""
        self.get(endpoint_id)
        with self.view.datastore.transaction(commit=False) as cursor:
            sql = self._sql(cursor)
            attempts = sql.table(self.ATTEMPTS)

            def last(column: str) -> str:
                return (
                    f"(SELECT a.{column} FROM {attempts} a WHERE a.delivery_id = o.delivery_id "
                    "ORDER BY a.at DESC, a.attempt_id DESC LIMIT 1)"
                )

            return sql.execute(
                "SELECT o.delivery_id, o.kind, o.subject, o.status, o.attempts, o.sequence, "
                "o.next_attempt_at, o.created_at, o.delivered_at, o.last_error, "
                f"{last('status_code')} AS last_status_code, {last('excerpt')} AS last_response, "
                f"{last('at')} AS last_attempt_at FROM {sql.table('outbox')} o "
                "WHERE o.channel = 'webhook' AND o.recipient = ? AND o.sequence > ? "
                + ("AND o.delivery_id = ? " if only is not None else "")
                + f"ORDER BY o.sequence LIMIT {int(limit)}",
                (endpoint_id, after, *([only] if only is not None else [])),
            ).rows()

    def resend(self, endpoint_id: str, delivery_id: str, now: datetime) -> None:
        """Send this delivery again (a new round of attempts), with the same webhook-id."""
        if not self.get(endpoint_id)["enabled"]:
            raise WebhookEndpointDisabled(
                f"Webhook endpoint {endpoint_id} is disabled: it is sent nothing."
            )
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self._sql(cursor)
            found = sql.execute(
                f"UPDATE {sql.table('outbox')} SET status = 'pending', attempts = 0, "
                "next_attempt_at = ?, delivered_at = NULL, lease_owner = NULL, leased_until = NULL "
                "WHERE channel = 'webhook' AND recipient = ? AND delivery_id = ? "
                "RETURNING delivery_id",
                (moment(now), endpoint_id, delivery_id),
            ).rows()
        if not found:
            raise WebhookDeliveryNotFound(
                f"Webhook endpoint {endpoint_id} has no delivery {delivery_id!r}."
            )

    def record_attempt(self, delivery_id: str, at: datetime, status: int | None, text: str) -> None:
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self._sql(cursor)
            sql.execute(
                f"INSERT INTO {sql.table(self.ATTEMPTS)} "
                "(delivery_id, attempt_id, at, status_code, excerpt) VALUES (?, ?, ?, ?, ?)",
                (delivery_id, uuid.uuid4().hex, moment(at), status, text[:EXCERPT]),
            )


def receiving(
    endpoints: Iterable[dict[str, Any]], event_type: str | None, position: int
) -> list[dict[str, Any]]:
    """Of these enabled endpoints, those that receive an event of this type (any type: None)
    recorded at this position of the log (endpoints created before it was recorded)."""
    return [
        e
        for e in endpoints
        if e["after_position"] < position
        and (event_type is None or event_type in e["events"] or "*" in e["events"])
    ]


def _endpoint(row: dict[str, Any], *, with_secret: bool = False) -> dict[str, Any]:
    shown = {
        "id": row["endpoint_id"],
        "url": row["url"],
        "events": json.loads(row["events"]),
        "description": row["description"],
        "enabled": bool(row["enabled"]),
        "created_at": row["created_at"],
        "after_position": row["after_position"],
    }
    return shown | {"secret": row["secret"]} if with_secret else shown


# --- sending ------------------------------------------------------------------------------------


class WebhookSender:
    """The outbox's ``webhook`` channel: POST the event's body, signed, to its endpoint."""

    def __init__(
        self,
        endpoints: WebhookEndpoints,
        *,
        timeout: float = 10.0,
        clock: Clock | None = None,
        resolver: Resolver = resolve,
    ) -> None:
        self.endpoints = endpoints
        self.timeout = timeout
        #: The attempts' moments for people (the engine's clock); signatures use real time.
        self.clock = clock or SystemClock()
        self.resolver = resolver

    def deliver(self, delivery: Delivery) -> None:
        import httpx

        endpoint = self.endpoints.get(delivery.recipient, with_secret=True)
        if not endpoint["enabled"]:
            raise PermanentFailure("the endpoint was disabled")
        try:
            check_url(endpoint["url"], self.endpoints.allowed, self.resolver)
        except Exception as refused:
            self._record(delivery, None, str(refused))
            raise TemporaryFailure(f"webhook endpoint refused: {refused}") from None
        timestamp = int(time.time())
        msg_id = delivery.subject  # the integration event's id
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "billing-webhooks/1",
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(endpoint["secret"], msg_id, timestamp, delivery.body),
        }
        try:
            answer = httpx.post(
                endpoint["url"],
                content=delivery.body.encode(),
                headers=headers,
                timeout=self.timeout,
                follow_redirects=False,
            )
        except httpx.HTTPError as error:
            self._record(delivery, None, f"{type(error).__name__}: {error}")
            raise TemporaryFailure(f"webhook endpoint unreachable: {error}") from None
        self._record(delivery, answer.status_code, answer.text)
        if not 200 <= answer.status_code < 300:
            raise TemporaryFailure(
                f"webhook endpoint answered {answer.status_code}: {answer.text[:EXCERPT]}"
            )

    def _record(self, delivery: Delivery, status: int | None, text: str) -> None:
        self.endpoints.record_attempt(delivery.delivery_id, self.clock.now(), status, text)
