"""Random histories against the reference model, on every store (docs/LIFECYCLE.md).

- in memory: the engine moving the clock as each step says, beside one moving it hour by
  hour (one jump and many small steps must record the same events);
- on SQLite, beside the in-memory engine moving hour by hour;
- on PostgreSQL, beside SQLite (the same history records the same events on both).
"""

import pytest
from hypothesis.stateful import run_state_machine_as_test

from tests.property.machine import InMemory, OnPostgresAndSqlite, OnSqlite, profile_settings
from tests.stores import require_postgres


@pytest.mark.slow
def test_random_histories_in_memory_follow_the_model_and_keep_every_invariant():
    run_state_machine_as_test(InMemory, settings=profile_settings(1.0))


@pytest.mark.slow
def test_random_histories_on_sqlite_follow_the_model_and_keep_every_invariant():
    run_state_machine_as_test(OnSqlite, settings=profile_settings(0.15))


@pytest.mark.postgres
@pytest.mark.slow
def test_random_histories_on_postgres_record_the_same_events_as_on_sqlite():
    require_postgres()
    run_state_machine_as_test(OnPostgresAndSqlite, settings=profile_settings(0.05))
