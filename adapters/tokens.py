"""API tokens: a role and a subject, stored hashed, shown once.

A token is ``bt_`` followed by 32 random bytes (URL-safe base64). Only its SHA-256 is kept,
so a copy of the database does not hand out access. Roles: ``customer`` (subject: the
customer), ``representative`` (subject: the representative), ``finance`` and ``admin``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from domain.actor import Actor, ActorKind
from domain.errors import InvalidInput
from domain.text import free_text


class Role(StrEnum):
    CUSTOMER = "customer"
    REPRESENTATIVE = "representative"
    FINANCE = "finance"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a role, and for customers and representatives, whom they are."""

    role: Role
    subject: UUID | None
    token_hash: str
    #: Whom the token belongs to, as recorded on the events its requests cause.
    owner: Actor | None = None

    @property
    def actor(self) -> Actor:
        if self.owner is not None:
            return self.owner
        if self.role is Role.CUSTOMER:
            return Actor(ActorKind.CUSTOMER, id=str(self.subject), role=self.role.value)
        if self.role is Role.REPRESENTATIVE:
            return Actor(ActorKind.REPRESENTATIVE, id=str(self.subject), role=self.role.value)
        return Actor(ActorKind.CLIENT, name=f"{self.role.value} token", role=self.role.value)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    TABLE = "api_tokens"

    def __init__(self, read_models: Any) -> None:
        self.view = read_models.view
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self.view.sql(cursor)
            sql.execute(
                f"CREATE TABLE IF NOT EXISTS {sql.table(self.TABLE)} ("
                "token_hash TEXT PRIMARY KEY, role TEXT NOT NULL, subject TEXT, label TEXT, "
                "created_at TEXT NOT NULL, revoked_at TEXT, "
                "CHECK (role IN ('customer', 'representative', 'finance', 'admin')), "
                "CHECK ((role IN ('customer', 'representative')) = (subject IS NOT NULL)))"
            )

    def create(
        self, role: str, now: datetime, *, subject: UUID | None = None, label: str = ""
    ) -> str:
        """A new token, returned once; only its hash is stored."""
        try:
            role = Role(role)
        except ValueError:
            raise InvalidInput(
                f"There is no role {role!r}; choose customer, representative, finance or admin.",
                field="role",
            ) from None
        if role in (Role.CUSTOMER, Role.REPRESENTATIVE) and subject is None:
            raise InvalidInput(
                f"A {role.value} token must name its {role.value} (--{role.value} ID).",
                field="subject",
            )
        if role in (Role.FINANCE, Role.ADMIN) and subject is not None:
            raise InvalidInput(
                f"A {role.value} token acts for the whole engine; it names no subject.",
                field="subject",
            )
        label = free_text(label, "label", max_length=200, min_length=0)
        token = "bt_" + secrets.token_urlsafe(32)
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self.view.sql(cursor)
            sql.execute(
                f"INSERT INTO {sql.table(self.TABLE)} (token_hash, role, subject, label, created_at) VALUES (?, ?, ?, ?, ?)",
                (
                    hash_token(token),
                    role.value,
                    str(subject) if subject else None,
                    label,
                    now.isoformat(),
                ),
            )
        return token

    def principal(self, token: str) -> Principal | None:
        digest = hash_token(token)
        with self.view.datastore.transaction(commit=False) as cursor:
            sql = self.view.sql(cursor)
            rows = sql.execute(
                f"SELECT role, subject FROM {sql.table(self.TABLE)} WHERE token_hash = ? AND revoked_at IS NULL",
                (digest,),
            ).rows()
        if not rows:
            return None
        subject = rows[0]["subject"]
        return Principal(Role(rows[0]["role"]), UUID(subject) if subject else None, digest)

    def revoke(self, token: str, now: datetime) -> bool:
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self.view.sql(cursor)
            return bool(
                sql.execute(
                    f"UPDATE {sql.table(self.TABLE)} SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL "
                    "RETURNING token_hash",
                    (now.isoformat(), hash_token(token)),
                ).rows()
            )
