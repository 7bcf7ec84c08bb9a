"""The hash chain's last link kept in memory between saves (adapters/chain.py) on PostgreSQL:
used only when the next insert's first notification id follows it, read from the table
otherwise, and never kept from an insert that did not commit. Whatever the interleaving,
`verify_stored_chain` (what `billing audit verify` runs) finds nothing."""

from __future__ import annotations

import pytest

from adapters.chain import stored_events, verify_stored_chain
from bootstrap import build_application
from tests.builders import DAY, T0, a_person, ordered
from tests.stores import postgres_schema

pytestmark = pytest.mark.postgres


def chain_is_whole(app) -> None:
    checked, findings = verify_stored_chain(app)
    assert findings == []
    assert checked == len(list(stored_events(app)))  # every event (ids may have gaps)


def test_consecutive_saves_reuse_the_kept_link_and_another_process_s_insert_makes_it_read():
    with postgres_schema() as url:
        mine = build_application(database_url=url)
        other = build_application(database_url=url)  # another process on the same database
        try:
            ordered(mine)
            reads, reuses = mine.recorder.link_reads, mine.recorder.link_reuses
            mine.register_customer(a_person("Reza"), T0)  # right after its own last insert
            assert (mine.recorder.link_reads, mine.recorder.link_reuses) == (reads, reuses + 1)

            other.register_customer(a_person("Mina"), T0 + DAY)  # between two of mine
            mine.register_customer(a_person("Ali"), T0 + DAY)
            # The kept link was not the chain's last any more: read from the table.
            assert (mine.recorder.link_reads, mine.recorder.link_reuses) == (reads + 1, reuses + 1)
            chain_is_whole(mine)

            # And in turn: each process's kept link goes stale whenever the other inserted.
            for day in range(2, 6):
                other.register_customer(a_person(f"B{day}"), T0 + day * DAY)
                mine.register_customer(a_person(f"A{day}"), T0 + day * DAY)
            chain_is_whole(other)
        finally:
            mine.close()
            other.close()


def test_an_insert_that_did_not_commit_leaves_the_kept_link_as_it_was():
    with postgres_schema() as url:
        app = build_application(database_url=url)
        try:
            ordered(app)
            kept = app.recorder._last_link
            assert kept is not None and kept[0] == app.recorder.max_notification_id()

            # A save whose links were computed and written, then rolled back (its ids are used
            # up): what it computed must never become the kept link.
            recorder = app.recorder
            original = recorder._fetch_ids_after_insert_events
            stored_before = recorder.max_notification_id()

            def then_fail(curs, stored_events, **kwargs):
                ids = original(curs, stored_events, **kwargs)
                assert recorder._pending_link.value is not None  # computed…
                curs.execute("SELECT 1/0")  # fails the transaction: nothing of it commits
                return ids

            recorder._fetch_ids_after_insert_events = then_fail
            with pytest.raises(Exception, match="division by zero"):
                app.register_customer(a_person("Lost"), T0)
            del recorder._fetch_ids_after_insert_events
            assert recorder.max_notification_id() == stored_before  # rolled back
            assert recorder._last_link == kept  # …and not kept

            reads = recorder.link_reads
            app.register_customer(a_person("Kept"), T0)  # its first id is past the lost ones
            assert recorder.link_reads == reads + 1
            assert recorder._last_link[0] == recorder.max_notification_id()
            chain_is_whole(app)
        finally:
            app.close()
