"""What a rebuild's fold works out once and keeps equals what it would work out each time."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta

from domain.jalali import JalaliDate
from projections.model import jalali_month
from tests.builders import a_person


def test_the_jalali_month_of_a_moment_is_its_tehran_day_s_month_across_a_month_s_end():
    # 1404/12/29 → 1405/01/01 (Nowruz) falls at 20:30 UTC on 2026-03-20 (00:00 in Tehran).
    start = datetime(2026, 3, 20, 18, 0, tzinfo=UTC)
    for minutes in range(0, 6 * 60, 5):
        moment = start + timedelta(minutes=minutes)
        assert jalali_month(moment) == JalaliDate.of(moment).isoformat()[:7]
    assert jalali_month(datetime(2026, 3, 20, 20, 29, tzinfo=UTC)) == "1404/12"
    assert jalali_month(datetime(2026, 3, 20, 20, 30, tzinfo=UTC)) == "1405/01"


def test_a_billing_profile_as_a_dict_is_every_field_with_its_kind_as_text():
    profile = a_person()
    expected = asdict(profile) | {"kind": profile.kind.value}
    assert profile.to_dict() == expected
