"""The kept chain link on PostgreSQL (adapters/chain.py, docs/AUDIT.md "The hash chain"): a
process chains an insert that follows its own last one from the link it kept, without reading
it back; after another process inserted, or after its own insert was refused, it reads the
table's last link again; `audit verify` finds nothing either way."""

from __future__ import annotations

import uuid

import pytest
from eventsourcing.persistence import IntegrityError, ProgrammingError, StoredEvent
from psycopg.sql import SQL

from adapters.chain import verify_stored_chain
from bootstrap import build_application
from tests.stores import postgres_schema


def an_event(originator_id: uuid.UUID | None = None) -> StoredEvent:
    return StoredEvent(
        originator_id=originator_id or uuid.uuid4(),
        originator_version=1,
        topic="tests.integration.test_chain_link:Raw",
        state=b"{}",
    )


@pytest.mark.postgres
def test_the_kept_link_is_used_only_for_an_insert_that_follows_it_directly():
    with postgres_schema() as url:
        one, two = build_application(database_url=url), build_application(database_url=url)
        try:
            recorder = one.recorder
            [first] = recorder.insert_events([an_event()])
            assert recorder._kept is not None and recorder._kept[0] == first
            # A read of the last link would now fail: the next insert must not make one.
            reading, recorder._select_last_link = (
                recorder._select_last_link,
                SQL("SELECT no_such_column FROM event_chain"),
            )
            recorder.insert_events([an_event(), an_event()])

            two.recorder.insert_events([an_event()])  # another process inserts in between
            with pytest.raises(ProgrammingError):
                recorder.insert_events([an_event()])  # so this one reads the last link back
            recorder._select_last_link = reading
            recorder.insert_events([an_event()])

            taken = an_event()
            recorder.insert_events([taken])
            kept = recorder._kept
            with pytest.raises(IntegrityError):
                recorder.insert_events([an_event(taken.originator_id)])
            assert recorder._kept == kept  # a refused insert keeps nothing
            recorder.insert_events([an_event()])

            checked, findings = verify_stored_chain(one)
            assert findings == []
            assert checked == 7
        finally:
            one.close()
            two.close()
