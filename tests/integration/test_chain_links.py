"""The hash chain on PostgreSQL, where a save reads the previous link in the same pipeline as
its insert, after the table lock (adapters/chain.py): whichever process saved last, and after
a save rolled back once it took notification ids, every link follows the one before."""

from __future__ import annotations

import threading

import pytest
from eventsourcing.persistence import IntegrityError

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
            first.record_payment(random_ref(), 1_000, at, subscription_id=mine)
            for _ in range(3):  # interleaved: each save comes after the other process's
                second.record_payment(random_ref(), 1_000, at, subscription_id=theirs)
                first.record_payment(random_ref(), 1_000, at, subscription_id=mine)
            # A save refused after taking notification ids (an event already stored) leaves a
            # gap in the ids.
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


def test_every_link_follows_the_one_before_when_threads_save_at_once():
    with postgres_schema() as url:
        app = build_application(database_url=url)
        try:
            subscriptions = [ordered(app) for _ in range(8)]
            at = T0 + DAY
            gate = threading.Barrier(len(subscriptions))
            errors: list[BaseException] = []

            def pay(subscription_id) -> None:
                try:
                    gate.wait()
                    for _ in range(5):
                        app.record_payment(random_ref(), 1_000, at, subscription_id=subscription_id)
                except BaseException as error:  # reported by the test thread
                    errors.append(error)

            threads = [threading.Thread(target=pay, args=(s,)) for s in subscriptions]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
            assert errors == []
            checked, findings = verify_stored_chain(app)
            assert findings == []
            assert checked == len(list(stored_events(app)))
        finally:
            app.close()


def test_a_save_refused_at_any_use_of_a_connection_never_breaks_the_next_saves_on_it():
    """psycopg prepares a statement on a connection at its fifth use; inside a pipeline that an
    earlier statement aborted, that preparation never reaches the server, yet psycopg took it
    as done, and from then on every save on the connection failed with "prepared statement
    … does not exist" (seen in bench/api.py's payments: a connection lost for good). Saves
    refused (a write conflict) at each of the first uses of one connection, each followed by
    good saves: every good save is recorded, and the chain holds."""
    with postgres_schema() as url:
        app = build_application(database_url=url, postgres_pool_size=1)
        try:
            mine = ordered(app)
            at = T0 + DAY
            stored = app.recorder.select_events(mine, limit=1)
            for _ in range(8):
                with pytest.raises(IntegrityError):
                    app.recorder.insert_events(stored)  # an event already stored
                app.record_payment(random_ref(), 1_000, at, subscription_id=mine)
            checked, findings = verify_stored_chain(app)
            assert findings == []
            assert checked == len(list(stored_events(app)))
        finally:
            app.close()
