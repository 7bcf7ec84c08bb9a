"""The credentials of the staff: what authentication reads about a person (docs/SECURITY.md).

Table ``staff_access``, in the datastore of the API tokens (the read models' database), one row
per staff member: name, role, e-mail, when they were disabled, and their password's argon2id
hash. It is the authority for authentication: a staff token's request joins it
(``adapters/tokens.py``), so a disabled member's tokens stop at once in every process sharing
the store, and :meth:`StaffAccess.verify_password` reads it for the coming web sign-in.

It is written only by the staff commands (``service_layer/staff.py``), which also record the
member's events, in the order that leaves the safer state if the second write fails: a
member is disabled here before the event says so, a password replaced here before the event
says it was. It is not an event itself: a hash must be replaceable and erasable, and the log
is neither. Nothing here ever holds a password, only its hash.
"""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from eventsourcing.persistence import IntegrityError

from domain.errors import InvalidInput, StaffConflict
from domain.staff import check_password, staff_email

TABLE = "staff_access"
#: A key of PostgreSQL's advisory locks, held while this table and the tokens' are created or
#: migrated: processes opening one store together do it once, one after the other.
TABLES_LOCK = 0x62696C6C_746F6B


def stored_moment(moment: datetime) -> str:
    """A moment as these tables keep it: UTC, fixed width, so that text order is time order."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def create_staff_access_table(sql: Any) -> None:
    """The table, if it is not there yet (the token store creates it too: its query joins it)."""
    if sql.dialect == "postgres":
        sql.execute("SELECT pg_advisory_xact_lock(?)", (TABLES_LOCK,))
    sql.execute(
        f"CREATE TABLE IF NOT EXISTS {sql.table(TABLE)} ("
        "staff_id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, email TEXT UNIQUE, "
        "added_at TEXT NOT NULL, disabled_at TEXT, password_hash TEXT, password_set_at TEXT, "
        "CHECK (role IN ('admin', 'finance', 'support')))"
    )


@dataclass(frozen=True)
class StaffAccount:
    """A staff member as authentication sees them (never the hash)."""

    id: UUID
    name: str
    role: str
    email: str | None
    added_at: datetime
    disabled_at: datetime | None
    password_set_at: datetime | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    @property
    def state(self) -> str:
        return "active" if self.active else "disabled"

    @classmethod
    def of(cls, row: dict[str, Any]) -> StaffAccount:
        def moment(value: str | None) -> datetime | None:
            return datetime.fromisoformat(value) if value else None

        return cls(
            id=UUID(row["staff_id"]),
            name=row["name"],
            role=row["role"],
            email=row["email"],
            added_at=datetime.fromisoformat(row["added_at"]),
            disabled_at=moment(row["disabled_at"]),
            password_set_at=moment(row["password_set_at"]),
        )


_COLUMNS = "staff_id, name, role, email, added_at, disabled_at, password_set_at"


class StaffAccess:
    """The ``staff_access`` table (see the module's docstring)."""

    def __init__(self, read_models: Any, hasher: PasswordHasher | None = None) -> None:
        self.view = read_models.view
        #: argon2id with the library's defaults (RFC 9106's second recommendation: 64 MiB,
        #: three passes): about 50 ms a hash, costly for whoever tries guesses offline.
        self.hasher = hasher or PasswordHasher()
        self._dummy_lock = threading.Lock()
        self._dummy: str | None = None
        with self.view.datastore.transaction(commit=True) as cursor:
            create_staff_access_table(self.view.sql(cursor))

    # --- written by the staff commands --------------------------------------------------------

    def record(
        self, staff_id: UUID, name: str, role: str, email: str | None, added_at: datetime
    ) -> None:
        """Insert the member, or bring name, role and e-mail up to date; the password and the
        disabled moment are left as they are. Another member's e-mail: :class:`StaffConflict`."""
        try:
            with self.view.datastore.transaction(commit=True) as cursor:
                sql = self.view.sql(cursor)
                sql.execute(
                    f"INSERT INTO {sql.table(TABLE)} (staff_id, name, role, email, added_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (staff_id) DO UPDATE SET "
                    "name = excluded.name, role = excluded.role, email = excluded.email",
                    (str(staff_id), name, role, email, stored_moment(added_at)),
                )
        except IntegrityError:
            raise StaffConflict(
                f"Another staff member signs in with {email}; give this one another address.",
                field="email",
            ) from None

    def disable(self, staff_id: UUID, now: datetime) -> None:
        """From ``now`` on the member's tokens and password no longer work (the first disabling
        moment is kept)."""
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self.view.sql(cursor)
            sql.execute(
                f"UPDATE {sql.table(TABLE)} SET disabled_at = ? "
                "WHERE staff_id = ? AND disabled_at IS NULL",
                (stored_moment(now), str(staff_id)),
            )

    def set_password(self, staff_id: UUID, password: str, now: datetime) -> None:
        """Keep the argon2id hash of ``password`` (checked by the policy first) in place of
        the member's old one."""
        digest = self.hasher.hash(check_password(password))
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self.view.sql(cursor)
            sql.execute(
                f"UPDATE {sql.table(TABLE)} SET password_hash = ?, password_set_at = ? "
                "WHERE staff_id = ?",
                (digest, stored_moment(now), str(staff_id)),
            )

    # --- read -----------------------------------------------------------------------------------

    def get(self, staff_id: UUID) -> StaffAccount | None:
        rows = self._select("staff_id = ?", (str(staff_id),))
        return StaffAccount.of(rows[0]) if rows else None

    def holder_of(self, email: str) -> UUID | None:
        """The member who signs in with this e-mail address, if any."""
        rows = self._select("email = ?", (staff_email(email),))
        return UUID(rows[0]["staff_id"]) if rows else None

    def members(
        self, *, after: tuple[str, str] | None = None, limit: int = 10_000
    ) -> list[StaffAccount]:
        """Every member in the order they were added; ``after``: the (added_at as stored, id)
        of the last one of a previous page."""
        params: tuple[str, ...] = ()
        where = "1 = 1"
        if after is not None:
            where = "(added_at > ? OR (added_at = ? AND staff_id > ?))"
            params = (after[0], after[0], after[1])
        rows = self._select(where, params, f"ORDER BY added_at, staff_id LIMIT {int(limit)}")
        return [StaffAccount.of(r) for r in rows]

    def verify_password(self, staff_id_or_email: str | UUID, password: str) -> StaffAccount | None:
        """The member, if ``password`` is theirs and they are active; otherwise None, after the
        same work (an unknown name costs a hash too, so timing does not tell who exists). A hash
        made with weaker parameters than today's is replaced on a successful check."""
        row = self._signing_in(staff_id_or_email)
        digest = row.get("password_hash") if row else None
        try:
            if not isinstance(password, str) or not digest:
                self.hasher.verify(self._dummy_hash(), "not the password")
                return None
            self.hasher.verify(digest, _normalised(password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        assert row is not None  # a digest was found
        if row["disabled_at"] is not None:
            return None
        if self.hasher.check_needs_rehash(digest):
            self._rehash(row["staff_id"], digest, _normalised(password))
        return StaffAccount.of(row)

    def _signing_in(self, who: str | UUID) -> dict[str, Any] | None:
        try:
            staff_id = who if isinstance(who, UUID) else UUID(str(who).strip())
        except ValueError:
            try:
                email = staff_email(who)
            except InvalidInput:  # not an id and not an address: nobody signs in with it
                return None
            if email is None:
                return None
            rows = self._select("email = ?", (email,), columns="*")
        else:
            rows = self._select("staff_id = ?", (str(staff_id),), columns="*")
        return rows[0] if rows else None

    def _rehash(self, staff_id: str, old: str, password: str) -> None:
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self.view.sql(cursor)
            sql.execute(
                f"UPDATE {sql.table(TABLE)} SET password_hash = ? "
                "WHERE staff_id = ? AND password_hash = ?",
                (self.hasher.hash(password), staff_id, old),
            )

    def _dummy_hash(self) -> str:
        with self._dummy_lock:
            if self._dummy is None:
                self._dummy = self.hasher.hash("a password nobody has")
            return self._dummy

    def _select(
        self, where: str, params: tuple[Any, ...], order: str = "", *, columns: str = _COLUMNS
    ) -> list[dict[str, Any]]:
        with self.view.datastore.transaction(commit=False) as cursor:
            sql = self.view.sql(cursor)
            return sql.execute(
                f"SELECT {columns} FROM {sql.table(TABLE)} WHERE {where} {order}", params
            ).rows()


def _normalised(password: str) -> str:
    """As :func:`domain.staff.check_password` kept it when it was set (NFC)."""
    return unicodedata.normalize("NFC", password)
