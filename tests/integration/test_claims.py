"""Several schedulers claim a due page at once (adapters/claims.py): one statement tries every
subscription's advisory lock, and a subscription another scheduler holds is left to it until
it lets go; on SQLite (one writer) every subscription is this scheduler's."""

from __future__ import annotations

import uuid

import pytest

from adapters.claims import AdvisoryClaims, NoClaims
from adapters.persistence import parse_database_url
from tests.stores import POSTGRES_URL, require_postgres


@pytest.mark.postgres
def test_a_page_claimed_by_one_scheduler_is_skipped_by_another_until_released():
    require_postgres()
    a, b, c = (str(uuid.uuid4()) for _ in range(3))
    first = AdvisoryClaims(parse_database_url(POSTGRES_URL))
    second = AdvisoryClaims(parse_database_url(POSTGRES_URL))
    try:
        with first.claim_all([a, b]) as held:
            assert held == {a, b}
            with second.claim_all([b, c]) as theirs:
                assert theirs == {c}
        with second.claim_all([a, b, c]) as theirs:  # released on leaving
            assert theirs == {a, b, c}
        with first.claim_all([]) as none:
            assert none == set()
    finally:
        first.close()
        second.close()


@pytest.mark.postgres
def test_a_page_is_released_when_its_work_fails():
    require_postgres()
    a = str(uuid.uuid4())
    first = AdvisoryClaims(parse_database_url(POSTGRES_URL))
    second = AdvisoryClaims(parse_database_url(POSTGRES_URL))
    try:
        with pytest.raises(RuntimeError), first.claim_all([a]):
            raise RuntimeError("the page's work failed")
        with second.claim_all([a]) as theirs:
            assert theirs == {a}
    finally:
        first.close()
        second.close()


def test_without_postgres_every_subscription_of_the_page_is_this_schedulers():
    ids = [str(uuid.uuid4()) for _ in range(3)]
    with NoClaims().claim_all(ids) as held:
        assert held == set(ids)
