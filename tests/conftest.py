"""The test tiers (docs/TESTING.md): `make test` runs everything; `make test-fast` runs what
needs neither PostgreSQL nor a browser nor minutes (``-m "not postgres and not slow"``).

Two markers say why a test is left out of the fast tier:

- ``postgres``: it needs the machine's PostgreSQL. `make test-fast` also sets
  ``BILLING_TEST_POSTGRES=off``, and then any test that reaches PostgreSQL without the mark
  fails at once, before it connects (``tests.stores.require_postgres``, and psycopg's
  ``connect`` below), so a forgotten mark cannot slip a PostgreSQL test into the fast tier.
- ``slow``: it runs subprocesses, drives a browser or generates long random runs. Every test
  in a folder of ``SLOW_FOLDERS`` gets it here, so new files there need no mark of their own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.stores import POSTGRES_OFF_MESSAGE, postgres_off

#: Folders (under tests/) whose every test is slow: the page tests drive a real Chromium.
SLOW_FOLDERS = ("pages",)
TESTS = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    slow = [TESTS / folder for folder in SLOW_FOLDERS]
    for item in items:
        if any(folder in Path(item.path).parents for folder in slow):
            item.add_marker(pytest.mark.slow)


def pytest_configure(config: pytest.Config) -> None:
    if postgres_off():
        _refuse_postgres_connections()


def _refuse_postgres_connections() -> None:
    """Make every psycopg connection in this process fail (eventsourcing's pool included)."""
    import psycopg

    def refuse(*args: object, **kwargs: object):
        pytest.fail(POSTGRES_OFF_MESSAGE)

    psycopg.connect = refuse
    psycopg.Connection.connect = classmethod(refuse)  # type: ignore[method-assign]
