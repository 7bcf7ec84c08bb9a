"""What the benchmarks share: where a run keeps its events, and how a run describes itself.

Every benchmark (lifecycle.py, replay.py, tick.py, api.py) writes to a store of its own:

- **SQLite**: files in a fresh temporary directory, removed at the end;
- **PostgreSQL**: fresh schemas ``bench_<random>`` (and ``bench_<random>_<part>`` for a second
  part, such as lifecycle.py's baseline) in the database of ``--postgres-url``, created through
  the ``postgres`` maintenance database if it is missing, dropped at the end.

A script names its stores with ``--stores`` (default: both). An unreachable PostgreSQL is
reported on stderr and skipped, or, when ``--stores`` names it, exits with status 1.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project

from adapters.persistence import parse_database_url

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/billing_bench"
STORES = ("sqlite", "postgres")


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- stores ----------------------------------------------------------------------------------


@dataclass
class Store:
    """One store's database URLs (one per part: the engine's, a baseline's), its version, and
    how to remove it afterwards."""

    name: str
    urls: dict[str, str]
    version: str
    cleanup: Callable[[], None]

    @property
    def url(self) -> str:
        """The first part's URL (the only one for most benchmarks)."""
        return next(iter(self.urls.values()))


def sqlite_store(prefix: str = "billing-bench-", parts: tuple[str, ...] = ("db",)) -> Store:
    """A fresh temporary directory with one SQLite file per part (``<part>.sqlite``)."""
    directory = tempfile.mkdtemp(prefix=prefix)
    return Store(
        name="sqlite",
        # absolute paths: sqlite:////tmp/…
        urls={part: f"sqlite:///{directory}/{part}.sqlite" for part in parts},
        version=sqlite3.sqlite_version,
        cleanup=lambda: shutil.rmtree(directory, ignore_errors=True),
    )


def connect(url: str, dbname: str | None = None):
    """An autocommit psycopg connection to the server of ``url`` (to ``dbname`` if given)."""
    import psycopg

    env = parse_database_url(url).env
    return psycopg.connect(
        host=env["POSTGRES_HOST"],
        port=int(env["POSTGRES_PORT"]),
        dbname=dbname or env["POSTGRES_DBNAME"],
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"] or None,
        connect_timeout=5,
        autocommit=True,
    )


def with_schema(url: str, schema: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "schema"] + [("schema", schema)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def postgres_version(url: str) -> str:
    """The server's version (``SHOW server_version``), through the maintenance database.

    Raises psycopg.OperationalError when the server cannot be reached.
    """
    with connect(url, dbname="postgres") as maintenance:
        return maintenance.execute("SHOW server_version").fetchone()[0].split()[0]


def postgres_store(url: str, parts: tuple[str, ...] = ("db",)) -> Store:
    """Fresh schemas in the database of ``url`` (``bench_<tag>`` for the first part,
    ``bench_<tag>_<part>`` for the others), creating the database if it is missing.

    Raises psycopg.OperationalError when the server cannot be reached.
    """
    from psycopg import sql

    dbname = parse_database_url(url).env["POSTGRES_DBNAME"]
    with connect(url, dbname="postgres") as maintenance:
        exists = maintenance.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)
        ).fetchone()
        if not exists:
            progress(f"creating database {dbname}")
            maintenance.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        version = maintenance.execute("SHOW server_version").fetchone()[0].split()[0]
    tag = f"bench_{secrets.token_hex(4)}"
    schemas = {part: tag if i == 0 else f"{tag}_{part}" for i, part in enumerate(parts)}

    def drop_schemas() -> None:
        with connect(url) as connection:
            for schema in schemas.values():
                connection.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                )

    return Store(
        name="postgres",
        urls={part: with_schema(url, schema) for part, schema in schemas.items()},
        version=version,
        cleanup=drop_schemas,
    )


def unreachable(url: str, error: Exception, *, explicit: bool) -> None:
    """Report an unreachable PostgreSQL; exit with status 1 if the store was asked for by name."""
    where = parse_database_url(url).display
    progress(f"PostgreSQL is unreachable at {where}: {str(error).strip()}")
    if explicit:
        progress("--stores names postgres, so this is an error.")
        sys.exit(1)
    progress("skipping the postgres store.")


def open_store(
    name: str, args: argparse.Namespace, *, prefix: str, parts: tuple[str, ...]
) -> Store | None:
    """The store ``name`` for this run, or None when PostgreSQL is unreachable and optional."""
    if name == "sqlite":
        return sqlite_store(prefix, parts)
    import psycopg

    try:
        return postgres_store(args.postgres_url, parts)
    except psycopg.OperationalError as error:
        unreachable(args.postgres_url, error, explicit=args.explicit_stores)
        return None


def open_stores(
    args: argparse.Namespace, *, prefix: str = "billing-bench-", parts: tuple[str, ...] = ("db",)
) -> list[Store]:
    """Every store of ``--stores``, opened before any work, so that an unreachable server is
    reported first; on exit, the ones already opened are removed."""
    stores: list[Store] = []
    try:
        for name in args.stores:
            store = open_store(name, args, prefix=prefix, parts=parts)
            if store is not None:
                stores.append(store)
    except SystemExit:
        for store in stores:
            store.cleanup()
        raise
    return stores


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stores",
        default=None,
        help="comma-separated: sqlite,postgres (default both; postgres skipped if unreachable)",
    )
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)


def check_store_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``args.stores`` becomes a list of names; ``args.explicit_stores`` says if it was given."""
    args.explicit_stores = args.stores is not None
    args.stores = [s.strip() for s in (args.stores or ",".join(STORES)).split(",") if s.strip()]
    unknown = set(args.stores) - set(STORES)
    if unknown:
        parser.error(f"unknown store(s): {', '.join(sorted(unknown))}; use sqlite, postgres")


# --- the run's description -------------------------------------------------------------------


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {mem_kb / 1024**2:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        memory = ""
    return f"{model}, {os.cpu_count()} CPUs{memory}, Python {platform.python_version()}"


def code_version() -> str:
    """The commit, and a digest of uncommitted changes to tracked files, if any."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        diff = subprocess.run(["git", "diff", "HEAD"], cwd=root, capture_output=True).stdout
    except OSError:
        return "unknown"
    return f"{commit}+{hashlib.sha1(diff).hexdigest()[:8]}" if diff else commit
