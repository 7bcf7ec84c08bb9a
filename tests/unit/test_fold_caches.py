"""What a rebuild's fold works out once and keeps equals what it would work out each time."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta, timezone

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


def test_a_lifecycle_plans_once_per_state_and_again_after_every_change(monkeypatch):
    from domain import lifecycle
    from service_layer.catch_up import run_due
    from tests.builders import DAY, T0, in_memory_app, ordered

    app = in_memory_app()
    sub_id = ordered(app)
    calls: list[int] = []
    planned_steps = lifecycle.planned_steps

    def counted(sub, invoices, policy):
        calls.append(sub.version)
        return planned_steps(sub, invoices, policy)

    monkeypatch.setattr(lifecycle, "planned_steps", counted)
    life = app.lifecycle_of(sub_id)
    first = life.next_step()
    assert life.next_step() == first and life.due_steps(T0) == [] and len(calls) == 1
    # A reminder, then grace: every step changes the state, and the plan is worked out again.
    done = run_due(life, T0 + 31 * DAY, app.vat, on_time=True)
    assert done and len(calls) == len(done) + 1
    assert life.next_step() is not None and len(calls) == len(done) + 1  # the last state's
    sub = life.subscription
    assert life.planned() == planned_steps(sub, life.invoices, sub.plan.policy)


def test_a_copy_for_the_fold_is_equal_and_shares_nothing_that_changes():
    import copy

    from projections.model import copy_of
    from tests.builders import DAY, T0, in_memory_app, ordered, run_clock

    app = in_memory_app()
    sub_id = ordered(app)
    run_clock(app, T0, T0 + 40 * DAY, step=DAY)
    sub = app.repository.get(sub_id)
    for aggregate in [sub, app.repository.get(sub.all_invoice_ids[0])]:
        copied = copy_of(aggregate)
        assert copied is not aggregate and type(copied) is type(aggregate)
        assert vars(copied) == vars(copy.deepcopy(aggregate))
        for name, value in vars(aggregate).items():
            if isinstance(value, list | dict | set):
                assert getattr(copied, name) is not value, name
    copied = copy_of(sub)
    copied.notices.append("changed")
    assert "changed" not in sub.notices


def test_the_notices_cached_words_equal_the_words_worked_out_each_time():
    from adapters.notify.render import persian_moment, persian_rials

    moment = datetime(2026, 5, 4, 5, 30, tzinfo=UTC)
    for value in (moment, moment.isoformat(), moment.astimezone(timezone(timedelta(hours=3)))):
        assert persian_moment(value) == persian_moment.__wrapped__(value)
    assert persian_moment(moment) == persian_moment(moment.astimezone(UTC))
    for value in (0, 1_250_000, None):
        assert persian_rials(value) == persian_rials.__wrapped__(value)
