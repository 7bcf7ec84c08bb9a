"""Where the integration tests keep their events: a fresh SQLite file or a fresh PostgreSQL schema.

PostgreSQL is the machine's real server (BILLING_TEST_POSTGRES_URL, default
postgresql://postgres@127.0.0.1:5432/billing_test). Under CI (CI=true) a missing PostgreSQL
fails the test instead of skipping it, so a green CI run always includes PostgreSQL. With
BILLING_TEST_POSTGRES=off (`make test-fast`) any test that asks for PostgreSQL fails at once:
it lacks the ``postgres`` mark that keeps it out of the fast tier (tests/conftest.py).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

POSTGRES_URL = os.environ.get(
    "BILLING_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/billing_test"
)


POSTGRES_OFF_MESSAGE = (
    "this test uses PostgreSQL, which BILLING_TEST_POSTGRES=off (make test-fast) forbids: "
    "mark it @pytest.mark.postgres (or the parameter, pytest.param(..., marks=...)) so that "
    "only `make test` runs it"
)


def postgres_off() -> bool:
    return os.environ.get("BILLING_TEST_POSTGRES", "").lower() == "off"


def _connect(dbname: str):
    parts = urlsplit(POSTGRES_URL)
    return psycopg.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password or None,
        dbname=dbname,
        autocommit=True,
        connect_timeout=5,
    )


def require_postgres() -> None:
    """Make sure the test database exists; skip (or, under CI, fail) when PostgreSQL is down."""
    if postgres_off():
        pytest.fail(POSTGRES_OFF_MESSAGE)
    dbname = urlsplit(POSTGRES_URL).path.lstrip("/")
    try:
        with _connect("postgres") as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)
            ).fetchone()
            if not exists:
                # Another test process may create it first.
                with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                    conn.execute(
                        psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(dbname))
                    )
    except psycopg.OperationalError as error:
        message = f"PostgreSQL at {POSTGRES_URL} is not reachable: {str(error).strip()}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message + " (under CI a missing PostgreSQL fails the run)")
        pytest.skip(message)


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A database URL naming a fresh schema, dropped afterwards."""
    require_postgres()
    schema = f"test_{uuid.uuid4().hex[:12]}"
    parts = urlsplit(POSTGRES_URL)
    url = urlunsplit((parts.scheme, parts.netloc, parts.path, f"schema={schema}", ""))
    try:
        yield url
    finally:
        with _connect(parts.path.lstrip("/")) as conn:
            conn.execute(
                psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    psycopg.sql.Identifier(schema)
                )
            )
