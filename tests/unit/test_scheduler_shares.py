"""Several schedulers share the due work (docs/SCHEDULER.md, "Several schedulers"): scheduler i
of M advances the due subscriptions whose id modulo M is i, and takes over another share's
only once it has been due longer than the takeover time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from adapters.settings import Settings
from projections.model import moment
from scheduler import Engine

NOW = datetime(2026, 5, 5, 20, 30, tzinfo=UTC)


def scheduler(partition: str, takeover: float = 300.0) -> SimpleNamespace:
    index, _, count = partition.partition("/")
    return SimpleNamespace(partition=(int(index), int(count)), takeover=timedelta(seconds=takeover))


def takes(partition: str, subscription_id: str, due_at: datetime) -> bool:
    return Engine._in_share(scheduler(partition), subscription_id, moment(due_at), NOW)  # type: ignore[arg-type]


def test_two_schedulers_split_what_is_due_now_between_them_without_overlap():
    ids = [str(uuid.uuid4()) for _ in range(1_000)]
    first = {i for i in ids if takes("0/2", i, NOW)}
    second = {i for i in ids if takes("1/2", i, NOW)}
    assert first.isdisjoint(second) and first | second == set(ids)
    assert 400 < len(first) < 600  # ids are random: about half each


def test_one_scheduler_takes_everything():
    assert all(takes("0/1", str(uuid.uuid4()), NOW) for _ in range(100))


def test_another_share_due_longer_than_the_takeover_is_taken_over():
    theirs = next(i for i in (str(uuid.uuid4()) for _ in range(100)) if not takes("0/2", i, NOW))
    assert not takes("0/2", theirs, NOW - timedelta(seconds=299))
    assert takes("0/2", theirs, NOW - timedelta(seconds=300))


@pytest.mark.parametrize("value", ["2/2", "1", "a/2", "-1/2", "0/0"])
def test_a_partition_that_is_not_i_of_m_is_refused(value):
    with pytest.raises(ValidationError, match="i/M"):
        Settings(scheduler_partition=value)
