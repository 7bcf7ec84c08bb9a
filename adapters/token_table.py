"""The table of the API tokens, ``api_tokens``, and how a table made by older code is brought
up to date in place when the token store opens it (``adapters/tokens.py``).

The first table had a token's hash, role, subject, label and when it was created and revoked.
Since then each token has a public id, an owner (kind, id and name), an expiry, scopes and
when it was last used: columns added with ``ALTER TABLE ADD COLUMN``, so a store keeps its
tokens and every one of them keeps working. A token from before is owned as it was made: a
customer's or a representative's by its subject, any other by a machine client named by its
label. The first table's CHECK also named four roles and ``support`` came later: PostgreSQL
swaps the constraint; SQLite, which cannot alter one, copies the table into one declared anew,
in the same transaction. Processes opening one PostgreSQL store together migrate it once (an
advisory lock).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from adapters.credentials import TABLES_LOCK, create_staff_access_table

log = logging.getLogger("adapters.tokens")


def new_token_id() -> str:
    """A token's public id: ``tok_`` and 12 hex digits."""
    return "tok_" + secrets.token_hex(6)


def legacy_owner_kind(role: str) -> str:
    """Whom a token made before owners were kept belongs to: its subject's kind, or a client."""
    return role if role in _PARTY_ROLES else "client"


def open_token_table(sql: Any, cursor: Any) -> None:
    """Create the table (and ``staff_access``, which a staff token's request joins), or bring
    one made by older code up to date."""
    if sql.dialect == "postgres":  # held until the transaction ends (taken again below: a no-op)
        sql.execute("SELECT pg_advisory_xact_lock(?)", (TABLES_LOCK,))
    create_staff_access_table(sql)
    table = sql.table(TABLE)
    sql.execute(_create_statement(table))
    _migrate(sql, cursor, table)


TABLE = "api_tokens"
#: Every role a token may have (``adapters.tokens.Role``; a unit test keeps the two equal).
ROLES = ("customer", "representative", "finance", "admin", "support")
_PARTY_ROLES = ("customer", "representative")
_ROLES = ", ".join(f"'{role}'" for role in ROLES)
#: The columns added since the first version of the table, each with its type.
_ADDED = (
    ("token_id", "TEXT"),
    ("owner_kind", "TEXT"),
    ("owner_id", "TEXT"),
    ("owner_name", "TEXT"),
    ("expires_at", "TEXT"),
    ("scopes", "TEXT"),
    ("last_used_at", "TEXT"),
)
_ROLE_CHECK = "api_tokens_role_known"


def _create_statement(table: str) -> str:
    added = ", ".join(f"{column} {kind}" for column, kind in _ADDED)
    return (
        f"CREATE TABLE IF NOT EXISTS {table} ("
        "token_hash TEXT PRIMARY KEY, role TEXT NOT NULL, subject TEXT, label TEXT, "
        f"created_at TEXT NOT NULL, revoked_at TEXT, {added}, "
        f"CONSTRAINT {_ROLE_CHECK} CHECK (role IN ({_ROLES})), "
        "CHECK ((role IN ('customer', 'representative')) = (subject IS NOT NULL)))"
    )


def _migrate(sql: Any, cursor: Any, table: str) -> None:
    """Columns added, every role allowed, older tokens given an id and an owner."""
    sql.execute(f"SELECT * FROM {table} WHERE 1 = 0")
    present = {d[0] for d in getattr(cursor, "sqlite_cursor", cursor).description}
    for column, kind in _ADDED:
        if column not in present:
            log.warning("%s: adding column %s", TABLE, column)
            sql.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
    _allow_every_role(sql, table)
    legacy = sql.execute(
        f"SELECT token_hash, role, subject, label FROM {table} WHERE token_id IS NULL"
    ).rows()
    for row in legacy:
        token_id = new_token_id()
        kind = legacy_owner_kind(row["role"])
        sql.execute(
            f"UPDATE {table} SET token_id = ?, owner_kind = ?, owner_id = ?, owner_name = ? "
            "WHERE token_hash = ?",
            (
                token_id,
                kind,
                row["subject"] if row["role"] in _PARTY_ROLES else token_id,
                None if row["role"] in _PARTY_ROLES else (row["label"] or None),
                row["token_hash"],
            ),
        )
    if legacy:
        log.warning("%s: %d older token(s) given a public id", TABLE, len(legacy))
    sql.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {TABLE}_token_id ON {table} (token_id)")
    sql.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_owner ON {table} (owner_kind, owner_id)")


def _allow_every_role(sql: Any, table: str) -> None:
    """The first table's CHECK named four roles; ``support`` came later. PostgreSQL swaps
    the constraint; SQLite, which cannot alter a constraint, copies the table into one
    declared anew, in the same transaction (sqlite.org/lang_altertable.html, section 7)."""
    if sql.dialect == "postgres":
        known = sql.execute(
            "SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass(?) AND conname = ?",
            (table, _ROLE_CHECK),
        ).rows()
        if not known:
            log.warning("%s: allowing the roles %s", TABLE, _ROLES)
            sql.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {TABLE}_role_check")
            sql.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT {_ROLE_CHECK} CHECK (role IN ({_ROLES}))"
            )
        return
    declared = sql.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)
    ).scalar()
    if _ROLE_CHECK in (declared or ""):
        return
    log.warning("%s: allowing the roles %s (the table is copied)", TABLE, _ROLES)
    columns = "token_hash, role, subject, label, created_at, revoked_at, " + ", ".join(
        column for column, _ in _ADDED
    )
    sql.execute(f"DROP TABLE IF EXISTS {TABLE}_migrating")
    sql.execute(_create_statement(f"{TABLE}_migrating"))
    sql.execute(f"INSERT INTO {TABLE}_migrating ({columns}) SELECT {columns} FROM {table}")
    sql.execute(f"DROP TABLE {table}")
    sql.execute(f"ALTER TABLE {TABLE}_migrating RENAME TO {TABLE}")
