"""The invoice page's signed links, and where a payment sends the customer back to.

Every notice links to ``{public_url}/pay/{invoice_id}?t=<signature>``: the signature is
HMAC-SHA256 of the invoice id under a secret key, so the link cannot be guessed from an
invoice id, needs no login, and one link opens one invoice (docs/PAYMENTS.md, "The invoice
page"). The key is ``BILLING_LINK_SECRET``; when it is not set, one is generated on first use
and kept in the store (table ``link_secret``, in the read models' database), so every process
of one store (the API, the schedulers rendering notices) signs and checks alike.

The page's forms are protected against cross-site requests by a hidden field derived from the
same key, the invoice and a random value kept in a ``SameSite=Lax`` cookie
(:meth:`InvoiceLinks.form_token`): another site can neither read the field nor send the cookie
with a cross-site POST.

``ReturnUrls`` keeps the portal's ``return_url`` of a gateway attempt, keyed by its authority
(table ``payment_returns``): the page offers it after the gateway sends the customer back.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from domain.errors import ReturnUrlRefused


class LinkSecretStore:
    """The signing key kept in the store, generated once (the first process to ask wins)."""

    TABLE = "link_secret"

    def __init__(self, read_models: Any) -> None:
        self.view = read_models.view

    def secret(self) -> bytes:
        from eventsourcing.persistence import IntegrityError

        try:
            return self._secret()
        except IntegrityError:
            # Two processes created the table at once on PostgreSQL (CREATE TABLE IF NOT
            # EXISTS is not safe against that): the other one's table is there now.
            return self._secret()

    def _secret(self) -> bytes:
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self.view.sql(cursor)
            sql.execute(
                f"CREATE TABLE IF NOT EXISTS {sql.table(self.TABLE)} "
                "(id INTEGER PRIMARY KEY, secret TEXT NOT NULL)"
            )
            sql.execute(
                f"INSERT INTO {sql.table(self.TABLE)} (id, secret) VALUES (1, ?) "
                "ON CONFLICT (id) DO NOTHING",
                (secrets.token_hex(32),),
            )
            value = sql.execute(f"SELECT secret FROM {sql.table(self.TABLE)} WHERE id = 1").scalar()
        return bytes.fromhex(value)


class InvoiceLinks:
    """Signs and checks the invoice page's links; ``secret`` is the key or gives it (once)."""

    def __init__(self, public_url: str, secret: bytes | None = None) -> None:
        self.public_url = public_url.rstrip("/")
        self._secret = secret
        self._store: LinkSecretStore | None = None

    def bind(self, read_models: Any) -> None:
        """Without a configured key, use the one kept in ``read_models``' store."""
        if self._secret is None:
            self._store = LinkSecretStore(read_models)

    @property
    def key(self) -> bytes:
        if self._secret is None:
            if self._store is None:
                raise RuntimeError("no link key: set BILLING_LINK_SECRET or bind to a store")
            self._secret = self._store.secret()
        return self._secret

    def _mac(self, message: str) -> str:
        return hmac.new(self.key, message.encode(), hashlib.sha256).hexdigest()

    def token(self, invoice_id: UUID | str) -> str:
        return self._mac(f"invoice-page|{invoice_id}")

    def path(self, invoice_id: UUID | str) -> str:
        return f"/pay/{invoice_id}?t={self.token(invoice_id)}"

    def url(self, invoice_id: UUID | str) -> str:
        return self.public_url + self.path(invoice_id)

    def valid(self, invoice_id: UUID | str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.token(invoice_id), str(token))

    def form_token(self, invoice_id: UUID | str, cookie: str) -> str:
        """The hidden field of the page's forms: bound to the invoice and the browser's cookie."""
        return self._mac(f"invoice-form|{invoice_id}|{cookie}")

    def form_valid(self, invoice_id: UUID | str, cookie: str | None, field: str | None) -> bool:
        return bool(cookie and field) and hmac.compare_digest(
            self.form_token(invoice_id, str(cookie)), str(field)
        )


def check_return_url(value: str, allowed_hosts: str) -> str:
    """The portal's return URL, if it is http(s) on a host of ``BILLING_RETURN_URL_HOSTS``."""
    hosts = {h.strip().lower() for h in allowed_hosts.split(",") if h.strip()}
    parts = urlsplit(value)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
        raise ReturnUrlRefused(
            f"return_url must be an http(s) address of the portal, not {value!r}.",
            field="return_url",
        )
    if host not in hosts:
        allowed = ", ".join(sorted(hosts)) or "none is configured (BILLING_RETURN_URL_HOSTS)"
        raise ReturnUrlRefused(
            f"return_url leads to {host}, which is not a host payments may return to "
            f"(allowed: {allowed}).",
            field="return_url",
        )
    return value


class ReturnUrls:
    """The ``return_url`` a payment link was made with, by the attempt's authority."""

    TABLE = "payment_returns"

    def __init__(self, read_models: Any) -> None:
        self.view = read_models.view
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self.view.sql(cursor)
            sql.execute(
                f"CREATE TABLE IF NOT EXISTS {sql.table(self.TABLE)} (authority TEXT PRIMARY KEY, "
                "return_url TEXT NOT NULL, created_at TEXT NOT NULL)"
            )

    def put(self, authority: str, return_url: str, now: datetime) -> None:
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self.view.sql(cursor)
            sql.execute(
                f"INSERT INTO {sql.table(self.TABLE)} (authority, return_url, created_at) "
                "VALUES (?, ?, ?) ON CONFLICT (authority) DO NOTHING",
                (authority, return_url, now.isoformat()),
            )

    def get(self, authority: str) -> str | None:
        with self.view.datastore.transaction(commit=False) as cursor:
            sql = self.view.sql(cursor)
            rows = sql.execute(
                f"SELECT return_url FROM {sql.table(self.TABLE)} WHERE authority = ?",
                (authority,),
            ).rows()
        return rows[0]["return_url"] if rows else None
