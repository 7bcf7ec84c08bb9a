"""The idempotency keys' table on either database (adapters/idempotency.py): a new key is ours,
the same request again waits for or replays the first answer, another request with the key is
refused, a released claim can be taken again, a stale one is taken over. On PostgreSQL the
insert of a claim, the answer and the release are each one statement on an autocommit
connection."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from adapters.idempotency import STALE_CLAIM, Claim, IdempotencyStore, StoredAnswer
from bootstrap import build_application, build_read_models
from tests.builders import T0
from tests.stores import postgres_schema


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path) -> Iterator[IdempotencyStore]:
    with (
        postgres_schema()
        if request.param == "postgres"
        else contextlib.nullcontext(f"sqlite:///{tmp_path}/keys.sqlite")
    ) as url:
        app = build_application(database_url=url)
        yield IdempotencyStore(build_read_models(app, database_url=url))
        app.close()


def test_a_key_is_claimed_once_answered_once_and_replayed(store):
    assert store.claim("token", "k1", "digest", T0) == Claim(ours=True)
    assert store.claim("token", "k1", "digest", T0) == Claim(conflict="in_progress")
    assert store.claim("token", "k1", "other", T0) == Claim(conflict="reused")
    assert store.claim("another token", "k1", "other", T0) == Claim(ours=True)
    answer = StoredAnswer(201, b'{"ok": true}', "application/json")
    store.answer("token", "k1", answer, T0)
    assert store.claim("token", "k1", "digest", T0) == Claim(answer=answer)
    store.release("token", "k1")  # an answered key is kept
    assert store.claim("token", "k1", "digest", T0) == Claim(answer=answer)


def test_a_released_or_stale_claim_is_taken_again(store):
    assert store.claim("token", "k2", "digest", T0).ours
    store.release("token", "k2")
    assert store.claim("token", "k2", "digest", T0).ours
    later = T0 + STALE_CLAIM * 2
    assert store.claim("token", "k2", "digest", later) == Claim(ours=True)
    assert store.claim("token", "k2", "digest", later) == Claim(conflict="in_progress")
