"""How read model values are written: moments as fixed-width UTC text, rows as column tuples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from projections.model import Table, moment, parse_moment

ZONES = st.sampled_from(
    [UTC, timezone(timedelta(0)), timezone(timedelta(hours=3, minutes=30)), ZoneInfo("Asia/Tehran")]
)


@given(
    at=st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),
    zone=ZONES,
)
def test_a_moment_is_its_utc_instant_in_fixed_width_text(at, zone):
    aware = at.replace(tzinfo=zone)
    text = moment(aware)
    assert text == aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert len(text) == 27
    assert parse_moment(text) == aware


def test_no_moment_is_written_as_null():
    assert moment(None) is None


def test_a_row_is_written_in_column_order_and_keyed_by_its_key_columns():
    one = Table("t1", columns=(("a", "TEXT"), ("b", "INTEGER")), key=("a",))
    two = Table("t2", columns=(("a", "TEXT"), ("b", "INTEGER"), ("c", "TEXT")), key=("c", "a"))
    row = {"c": "z", "b": 2, "a": "x"}
    assert one.values(row) == ("x", 2)
    assert one.key_of(row) == ("x",)
    assert two.values(row) == ("x", 2, "z")
    assert two.key_of(row) == ("z", "x")
