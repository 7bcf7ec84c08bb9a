"""Claiming a page of due subscriptions at once (adapters/claims.py): what one scheduler holds,
another cannot claim until the first lets go; SQLite (no claims) gives every id."""

from __future__ import annotations

from uuid import uuid4

import pytest

from adapters.claims import AdvisoryClaims, NoClaims, claims_for
from adapters.persistence import parse_database_url
from tests.stores import postgres_schema


@pytest.mark.postgres
def test_a_page_claimed_by_one_scheduler_is_not_claimed_by_another_until_it_lets_go():
    with postgres_schema() as url:
        database = parse_database_url(url)
        first, second = claims_for(database), claims_for(database)
        assert isinstance(first, AdvisoryClaims)
        a, b, c = (str(uuid4()) for _ in range(3))
        try:
            with first.claim_all([a, b]) as held:
                assert held == {a, b}
                with second.claim_all([a, b, c]) as also:
                    assert also == {c}  # a and b are the first scheduler's
                with second.claim(a) as mine:
                    assert not mine  # the one-at-a-time claim agrees
            with second.claim_all([a, b, c]) as now:
                assert now == {a, b, c}  # let go at the end of the first's page
            with first.claim_all([]) as none:
                assert none == set()
        finally:
            first.close()
            second.close()


def test_without_claims_every_subscription_is_ones_own():
    ids = [uuid4(), uuid4()]
    with NoClaims().claim_all(ids) as held:
        assert held == {str(i) for i in ids}
