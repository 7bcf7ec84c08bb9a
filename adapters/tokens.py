"""API tokens: whose they are, what they may do and until when; stored hashed, shown once.

A token is ``bt_`` followed by 32 random bytes (URL-safe base64). Only its SHA-256 is kept,
so a copy of the database does not hand out access. Each token also has a **public id**
(``tok_`` and 12 hex digits) by which it is listed and revoked, and:

- an **owner**: a staff member (``staff``: the role is the member's, read from the
  credentials table at every request, and a disabled member's tokens stop at once), a named
  machine client (``client``, e.g. the portal), a customer or a representative (their
  ``subject``, as before);
- a **role**: ``customer``, ``representative``, ``finance``, ``admin`` or ``support``;
- optional **scopes**, narrower than the role: ``read`` (no request but a read) and
  ``payments`` (reads and the payment routes: ``api/scopes.py``, docs/API.md);
- optional **expiry** (``expires_at``), and when it was created, last used (kept to the
  minute, so reads do not write every time) and revoked.

:meth:`TokenStore.principal` decides in one query, joined with the credentials table, so a
revocation, an expiry or a disabled member takes effect at once in every process sharing the
store. Tables made by older code are migrated in place when the store is opened (columns
added with ``ALTER TABLE ADD COLUMN``); their tokens keep working, read as owned by a machine
client named by their label (customers' and representatives' by their subject, as before).
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from adapters.credentials import TABLE as STAFF_ACCESS
from adapters.credentials import stored_moment
from adapters.token_table import TABLE, legacy_owner_kind, new_token_id, open_token_table
from domain.actor import Actor, ActorKind
from domain.base import check_moment
from domain.errors import InvalidInput, InvalidTime, StaffDisabled, StaffNotFound, TokenNotFound
from domain.text import free_text

log = logging.getLogger(__name__)


class Role(StrEnum):
    CUSTOMER = "customer"
    REPRESENTATIVE = "representative"
    FINANCE = "finance"
    ADMIN = "admin"
    SUPPORT = "support"


class OwnerKind(StrEnum):
    STAFF = "staff"
    CLIENT = "client"
    CUSTOMER = "customer"
    REPRESENTATIVE = "representative"


class Scope(StrEnum):
    """What a token may do within its role (none: all its role may)."""

    READ = "read"
    PAYMENTS = "payments"


#: The roles that act for a party (with a subject); the others act for the whole engine.
PARTY_ROLES = (Role.CUSTOMER, Role.REPRESENTATIVE)
#: What a token's public id looks like (anything else names no token, and is not looked up).
_TOKEN_ID = re.compile(r"tok_[0-9a-f]{12}")
#: ``last_used_at`` is written at most this often per token.
LAST_USED_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a role; for customers and representatives, whom they are; the token's
    owner (recorded as the actor of what its requests cause) and its scopes."""

    role: Role
    subject: UUID | None
    token_hash: str
    #: Whom the token belongs to, as recorded on the events its requests cause.
    owner: Actor | None = None
    #: The token's public id (``tok_…``).
    token_id: str | None = None
    #: Narrower than the role when not empty (:class:`Scope`).
    scopes: frozenset[Scope] = frozenset()
    #: When the token was used before this request (to the minute, ``LAST_USED_PRECISION``):
    #: what a back-office session's idle timeout is measured from.
    last_used_at: datetime | None = None

    @property
    def actor(self) -> Actor:
        if self.owner is not None:
            return self.owner
        if self.role is Role.CUSTOMER:
            return Actor(ActorKind.CUSTOMER, id=str(self.subject), role=self.role.value)
        if self.role is Role.REPRESENTATIVE:
            return Actor(ActorKind.REPRESENTATIVE, id=str(self.subject), role=self.role.value)
        return Actor(ActorKind.CLIENT, name=f"{self.role.value} token", role=self.role.value)


@dataclass(frozen=True)
class IssuedToken:
    """A token just made: the only time its text is seen."""

    token: str
    id: str
    role: Role
    owner: Actor
    created_at: datetime
    expires_at: datetime | None
    scopes: frozenset[Scope]


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: never its text nor its hash."""

    id: str
    role: Role
    owner: Actor
    scopes: frozenset[Scope]
    label: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    #: The staff member who owns it was disabled (then it no longer works).
    owner_disabled: bool = False
    #: Its place in the list, as stored: (created_at, id), what ``tokens(after=…)`` takes.
    sort_key: tuple[str, str] = ("", "")

    def state(self, now: datetime) -> str:
        """``active``, ``revoked``, ``expired`` or ``owner_disabled``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.owner_disabled:
            return "owner_disabled"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def scopes_of(values: Iterable[str] | None) -> frozenset[Scope]:
    """Scope names as sent; an unknown one is refused naming the two there are."""
    found = set()
    for value in values or ():
        try:
            found.add(Scope(str(value).strip()))
        except ValueError:
            raise InvalidInput(
                f"There is no scope {value!r}; choose read (reads only) or payments (reads and "
                "the payment routes), or none for everything the role may do.",
                field="scopes",
            ) from None
    return frozenset(found)


def _role(value: str | Role) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InvalidInput(
            f"There is no role {value!r}; choose customer, representative, finance, admin or "
            "support.",
            field="role",
        ) from None


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class TokenStore:
    TABLE = TABLE

    def __init__(self, read_models: Any) -> None:
        self.view = read_models.view
        with self.view.datastore.transaction(commit=True) as cursor:
            open_token_table(self.view.sql(cursor), cursor)
        sql = self.view.sql(None)
        #: The lookup every request makes, in this database's own words, written once.
        self._lookup = sql._statement(
            "SELECT t.token_id, t.role, t.subject, t.label, t.owner_kind, t.owner_id, "
            "t.owner_name, t.scopes, t.last_used_at, s.name AS staff_name, "
            f"s.role AS staff_role FROM {sql.table(TABLE)} t "
            f"LEFT JOIN {sql.table(STAFF_ACCESS)} s "
            "ON t.owner_kind = 'staff' AND s.staff_id = t.owner_id "
            "WHERE t.token_hash = ? AND t.revoked_at IS NULL "
            "AND (t.expires_at IS NULL OR t.expires_at > ?) "
            "AND (t.owner_kind IS NULL OR t.owner_kind <> 'staff' "
            "OR (s.staff_id IS NOT NULL AND s.disabled_at IS NULL))"
        )

    # --- making tokens -----------------------------------------------------------------------

    def create(
        self,
        role: str | Role,
        now: datetime,
        *,
        subject: UUID | None = None,
        label: str = "",
        owner_name: str | None = None,
        expires_at: datetime | None = None,
        scopes: Iterable[str] = (),
    ) -> str:
        """A new token for a customer or representative (``subject``), or for a machine client
        named by ``label`` (or ``owner_name``); returned once, only its hash is stored."""
        return self.issue(
            role,
            now,
            subject=subject,
            name=owner_name,
            label=label,
            expires_at=expires_at,
            scopes=scopes,
        ).token

    def issue(
        self,
        role: str | Role,
        now: datetime,
        *,
        subject: UUID | None = None,
        owner: str | OwnerKind | None = None,
        name: str | None = None,
        label: str = "",
        expires_at: datetime | None = None,
        scopes: Iterable[str] = (),
    ) -> IssuedToken:
        """A token for a customer or a representative (``subject``: whom), or for a machine
        client (``owner="client"``, ``name``: which; without one, ``label`` names it). A staff
        member's token: :meth:`issue_for_staff`."""
        role = _role(role)
        kind = self._owner_kind(role, owner)
        if role in PARTY_ROLES and subject is None:
            raise InvalidInput(
                f"A {role.value} token must name its {role.value} (--{role.value} ID).",
                field="subject",
            )
        if role not in PARTY_ROLES and subject is not None:
            raise InvalidInput(
                f"A {role.value} token acts for the whole engine; it names no subject.",
                field="subject",
            )
        if kind is OwnerKind.CLIENT and owner is not None and not (name or "").strip():
            raise InvalidInput(
                "A client token names its machine client (name), e.g. portal.", field="name"
            )
        name = free_text(name, "name", max_length=200) if name and name.strip() else None
        token_id = new_token_id()
        owner_id = str(subject) if subject is not None else token_id
        return self._insert(
            role,
            now,
            kind,
            owner_id,
            name,
            subject=subject,
            label=label,
            expires_at=expires_at,
            scopes=scopes,
            token_id=token_id,
        )

    def issue_for_staff(
        self,
        staff_id: UUID,
        now: datetime,
        *,
        label: str = "",
        expires_at: datetime | None = None,
        scopes: Iterable[str] = (),
    ) -> IssuedToken:
        """A token for an active staff member; it acts in their role (as it is at each request)
        and stops working when they are disabled."""
        with self.view.datastore.transaction(commit=False) as cursor:
            sql = self.view.sql(cursor)
            rows = sql.execute(
                f"SELECT name, role, disabled_at FROM {sql.table(STAFF_ACCESS)} WHERE staff_id = ?",
                (str(staff_id),),
            ).rows()
        if not rows:
            raise StaffNotFound(
                f"There is no staff member {staff_id}. `billing staff list` (GET /staff) names "
                "them.",
                staff_id=str(staff_id),
            )
        member = rows[0]
        if member["disabled_at"] is not None:
            raise StaffDisabled(
                f"Staff member {member['name']} ({staff_id}) was disabled on "
                f"{member['disabled_at']}; a disabled member gets no token.",
                staff_id=str(staff_id),
            )
        return self._insert(
            Role(member["role"]),
            now,
            OwnerKind.STAFF,
            str(staff_id),
            member["name"],
            label=label,
            expires_at=expires_at,
            scopes=scopes,
        )

    @staticmethod
    def _owner_kind(role: Role, owner: str | OwnerKind | None) -> OwnerKind:
        natural = OwnerKind(role.value) if role in PARTY_ROLES else OwnerKind.CLIENT
        if owner is None:
            return natural
        try:
            kind = OwnerKind(owner)
        except ValueError:
            kind = None
        if kind is OwnerKind.STAFF:
            raise InvalidInput(
                "A staff member's token is made for the member: POST /staff/{id}/tokens "
                "(billing staff token ID).",
                field="owner",
            )
        if kind is not natural:
            raise InvalidInput(
                f"A {role.value} token belongs to a {natural.value}, not to {owner!r}.",
                field="owner",
            )
        return kind

    def _insert(
        self,
        role: Role,
        now: datetime,
        kind: OwnerKind,
        owner_id: str,
        owner_name: str | None,
        *,
        subject: UUID | None = None,
        label: str = "",
        expires_at: datetime | None = None,
        scopes: Iterable[str] = (),
        token_id: str | None = None,
    ) -> IssuedToken:
        now = check_moment(now)
        label = free_text(label, "label", max_length=200, min_length=0)
        granted = scopes_of(scopes)
        if expires_at is not None:
            if expires_at.tzinfo is None:
                raise InvalidTime(
                    "expires_at must carry a time zone, e.g. 2026-12-31T20:30:00Z.",
                    field="expires_at",
                )
            expires_at = check_moment(expires_at)
            if expires_at <= now:
                raise InvalidTime(
                    f"expires_at {expires_at.isoformat()} is not after now "
                    f"({now.isoformat()}); give a moment in the future.",
                    field="expires_at",
                )
        token = "bt_" + secrets.token_urlsafe(32)
        token_id = token_id or new_token_id()
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self.view.sql(cursor)
            sql.execute(
                f"INSERT INTO {sql.table(TABLE)} (token_hash, role, subject, label, created_at, "
                "token_id, owner_kind, owner_id, owner_name, expires_at, scopes) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    hash_token(token),
                    role.value,
                    str(subject) if subject else None,
                    label,
                    stored_moment(now),
                    token_id,
                    kind.value,
                    owner_id,
                    owner_name,
                    stored_moment(expires_at) if expires_at else None,
                    ",".join(sorted(granted)) or None,
                ),
            )
        owner = _owner(kind, owner_id, owner_name, role, token_id, label)
        return IssuedToken(token, token_id, role, owner, now, expires_at, granted)

    # --- who is calling ----------------------------------------------------------------------

    def principal(self, token: str, now: datetime) -> Principal | None:
        """Who holds ``token`` at ``now``: None when it is unknown, revoked, expired, or its
        staff member was disabled. One query, so the answer is the store's at this moment."""
        digest = hash_token(token)
        row = self._one_row(self._lookup, (digest, stored_moment(now)))
        if row is None:
            return None
        last = _moment(row["last_used_at"])
        if last is None or now - last >= LAST_USED_PRECISION:
            self._touch(digest, now)
        subject = UUID(row["subject"]) if row["subject"] else None
        kind = OwnerKind(row["owner_kind"] or legacy_owner_kind(row["role"]))
        role = Role(row["staff_role"] if kind is OwnerKind.STAFF else row["role"])
        name = row["staff_name"] if kind is OwnerKind.STAFF else row["owner_name"]
        owner_id = row["owner_id"] or (row["subject"] if subject else row["token_id"])
        return Principal(
            role,
            subject,
            digest,
            owner=_owner(kind, owner_id, name, role, row["token_id"], row["label"]),
            token_id=row["token_id"],
            scopes=scopes_of((row["scopes"] or "").split(",") if row["scopes"] else ()),
            last_used_at=last,
        )

    def _one_row(self, statement: str, params: tuple[Any, ...]) -> Any:
        """The first row of a single read (a mapping by column name, as the driver gives it),
        with no BEGIN and no ROLLBACK around it: the lookup every request makes is one round
        trip to PostgreSQL instead of three (one statement reads one snapshot on either
        database, as projections/reads.py's statements do)."""
        datastore = self.view.datastore
        if self.view.dialect == "postgres":
            with datastore.get_connection() as conn:  # autocommit
                return conn.execute(statement, params).fetchone()
        with datastore.get_connection(commit=False) as conn, conn.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchone()

    def refusal(self, token: str, now: datetime) -> str:
        """Why :meth:`principal` refused ``token`` (asked only after it did): ``unknown``,
        ``revoked``, ``expired`` or ``owner_disabled``."""
        with self.view.datastore.transaction(commit=False) as cursor:
            sql = self.view.sql(cursor)
            rows = sql.execute(
                "SELECT t.revoked_at, t.expires_at, s.disabled_at "
                f"FROM {sql.table(TABLE)} t LEFT JOIN {sql.table(STAFF_ACCESS)} s "
                "ON t.owner_kind = 'staff' AND s.staff_id = t.owner_id WHERE t.token_hash = ?",
                (hash_token(token),),
            ).rows()
        if not rows:
            return "unknown"
        row = rows[0]
        if row["revoked_at"] is not None:
            return "revoked"
        expires = _moment(row["expires_at"])
        if expires is not None and expires <= now:
            return "expired"
        return "owner_disabled"

    def _touch(self, digest: str, now: datetime) -> None:
        """``last_used_at`` to ``now``, unless another request did it within the minute."""
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self.view.sql(cursor)
            sql.execute(
                f"UPDATE {sql.table(TABLE)} SET last_used_at = ? WHERE token_hash = ? "
                "AND (last_used_at IS NULL OR last_used_at <= ?)",
                (stored_moment(now), digest, stored_moment(now - LAST_USED_PRECISION)),
            )

    # --- listing and revoking ----------------------------------------------------------------

    def tokens(
        self,
        *,
        after: tuple[str, str] | None = None,
        limit: int = 1_000,
        owner: tuple[OwnerKind, str] | None = None,
    ) -> list[TokenInfo]:
        """Tokens oldest first (after ``after``, a (created_at, id) of a previous page), of one
        owner if ``owner`` is given (kind, id)."""
        where, params = ["1 = 1"], []
        if after is not None:
            where.append("(t.created_at > ? OR (t.created_at = ? AND t.token_id > ?))")
            params += [after[0], after[0], after[1]]
        if owner is not None:
            where.append("t.owner_kind = ? AND t.owner_id = ?")
            params += [owner[0].value, owner[1]]
        with self.view.datastore.transaction(commit=False) as cursor:
            sql = self.view.sql(cursor)
            rows = sql.execute(
                "SELECT t.token_id, t.role, t.subject, t.label, t.owner_kind, t.owner_id, "
                "t.owner_name, t.scopes, t.created_at, t.expires_at, t.last_used_at, "
                "t.revoked_at, s.name AS staff_name, s.role AS staff_role, "
                f"s.disabled_at AS staff_disabled_at FROM {sql.table(TABLE)} t "
                f"LEFT JOIN {sql.table(STAFF_ACCESS)} s "
                "ON t.owner_kind = 'staff' AND s.staff_id = t.owner_id "
                f"WHERE {' AND '.join(where)} ORDER BY t.created_at, t.token_id LIMIT {int(limit)}",
                params,
            ).rows()
        return [_info(row) for row in rows]

    def revoke(self, token: str, now: datetime) -> bool:
        """Revoke a token by its text; False when it is unknown or already revoked."""
        return self._revoke("token_hash = ?", hash_token(token), now)

    def revoke_id(self, token_id: str, now: datetime) -> bool:
        """Revoke a token by its public id: True if it was in force until now, False if it was
        already revoked; an id that names no token is :class:`TokenNotFound`."""
        if not _TOKEN_ID.fullmatch(token_id) or not self._revoke("token_id = ?", token_id, now):
            self._known_id(token_id)
            return False
        return True

    def _known_id(self, token_id: str) -> None:
        """Nothing, if a token has this id; else :class:`TokenNotFound`."""
        known = _TOKEN_ID.fullmatch(token_id) is not None
        if known:
            with self.view.datastore.transaction(commit=False) as cursor:
                sql = self.view.sql(cursor)
                known = bool(
                    sql.execute(
                        f"SELECT 1 FROM {sql.table(TABLE)} WHERE token_id = ?", (token_id,)
                    ).rows()
                )
        if not known:
            raise TokenNotFound(
                f"There is no token {token_id!r}. GET /admin/tokens (billing tokens list) "
                "lists them by id.",
                token_id=token_id,
            )

    def _revoke(self, where: str, value: str, now: datetime) -> bool:
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self.view.sql(cursor)
            return bool(
                sql.execute(
                    f"UPDATE {sql.table(TABLE)} SET revoked_at = ? WHERE {where} "
                    "AND revoked_at IS NULL RETURNING token_hash",
                    (stored_moment(now), value),
                ).rows()
            )


def _owner(
    kind: OwnerKind,
    owner_id: str,
    name: str | None,
    role: Role,
    token_id: str | None,
    label: str | None,
) -> Actor:
    if kind is OwnerKind.STAFF:
        return Actor(ActorKind.STAFF, id=owner_id, name=name, role=role.value)
    if kind is OwnerKind.CLIENT:
        return Actor(
            ActorKind.CLIENT,
            id=token_id,
            name=name or label or f"{role.value} token",
            role=role.value,
        )
    actor_kind = ActorKind.CUSTOMER if kind is OwnerKind.CUSTOMER else ActorKind.REPRESENTATIVE
    return Actor(actor_kind, id=owner_id, name=name, role=role.value)


def _info(row: dict[str, Any]) -> TokenInfo:
    kind = OwnerKind(row["owner_kind"] or legacy_owner_kind(row["role"]))
    staff = kind is OwnerKind.STAFF
    role = Role(row["staff_role"] if staff and row["staff_role"] else row["role"])
    name = (row["staff_name"] or row["owner_name"]) if staff else row["owner_name"]
    owner_id = row["owner_id"] or row["subject"] or row["token_id"]
    created = _moment(row["created_at"])
    assert created is not None  # NOT NULL
    return TokenInfo(
        id=row["token_id"],
        role=role,
        owner=_owner(kind, owner_id, name, role, row["token_id"], row["label"]),
        scopes=scopes_of(row["scopes"].split(",") if row["scopes"] else ()),
        label=row["label"] or "",
        created_at=created,
        expires_at=_moment(row["expires_at"]),
        last_used_at=_moment(row["last_used_at"]),
        revoked_at=_moment(row["revoked_at"]),
        owner_disabled=staff
        and (row["staff_role"] is None or row["staff_disabled_at"] is not None),
        sort_key=(row["created_at"], row["token_id"]),
    )
