"""The hash chain on PostgreSQL, where a save takes the previous link from what its own process
committed just before, without reading it (adapters/chain.py, ``_previous_link``), and reads
it whenever anything came in between: another process's save, or a save rolled back after it
took notification ids. Whichever way, every link follows the one before."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import IntegrityError
from psycopg.sql import SQL

from adapters.chain import stored_events, verify_stored_chain
from bootstrap import build_application
from tests.builders import DAY, T0, ordered, random_ref
from tests.stores import postgres_schema

pytestmark = pytest.mark.postgres


def test_every_link_follows_the_one_before_whichever_process_saved_last():
    with postgres_schema() as url:
        first = build_application(database_url=url)
        second = build_application(database_url=url)
        try:
            mine = ordered(first)
            theirs = ordered(second)  # saved after the first process's last save
            at = T0 + DAY
            first.record_payment(random_ref(), 1_000, at, subscription_id=mine)
            # The first process's next save follows its own: no link is read (a read would
            # fail here).
            reading = first.recorder._select_last_link
            first.recorder._select_last_link = SQL("SELECT 1 / 0 AS link")
            first.record_payment(random_ref(), 1_000, at, subscription_id=mine)
            first.recorder._select_last_link = reading
            for _ in range(3):  # interleaved: each save comes after the other process's
                second.record_payment(random_ref(), 1_000, at, subscription_id=theirs)
                first.record_payment(random_ref(), 1_000, at, subscription_id=mine)
            # A save refused after taking notification ids (an event already stored) leaves a
            # gap in the ids: the next save reads the last link again.
            stored = first.recorder.select_events(mine, limit=1)
            with pytest.raises(IntegrityError):
                first.recorder.insert_events(stored)
            first.record_payment(random_ref(), 1_000, at, subscription_id=mine)
            checked, findings = verify_stored_chain(first)
            assert findings == []
            assert checked == len(list(stored_events(first)))  # every event, past the gap
        finally:
            first.close()
            second.close()
