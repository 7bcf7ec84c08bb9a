"""Scheduler processes against one PostgreSQL: two at once never double anything, and one
killed with SIGKILL mid-tick, once restarted, ends where an uninterrupted run ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from bootstrap import build_engine
from tests.builders import DAY, T0
from tests.processes import assert_each_time_based_event_once, populate, settled
from tests.stores import postgres_schema

pytestmark = [pytest.mark.postgres, pytest.mark.slow]  # scheduler processes
BILLING = str(Path(sys.executable).parent / "billing")


def scheduler_process(url: str, log: Path) -> subprocess.Popen:
    """A `billing scheduler` process in test mode; its log goes to a file (a pipe nobody reads
    would fill up and block it)."""
    env = {
        **os.environ,
        "BILLING_TEST_MODE": "1",
        "BILLING_DATABASE_URL": url,
        "BILLING_TICK_INTERVAL": "0.1",
    }
    return subprocess.Popen([BILLING, "scheduler"], env=env, stderr=log.open("a"), text=True)


def test_two_scheduler_processes_with_1000_subscriptions_do_everything_exactly_once(tmp_path):
    with postgres_schema() as url:
        app, read_models, clock, subs = populate(url, 1000)
        logs = [tmp_path / "first.log", tmp_path / "second.log"]
        processes = [scheduler_process(url, log) for log in logs]
        try:
            for _ in range(70):
                clock.advance(DAY)
                settled(read_models, clock)
        finally:
            for p in processes:
                p.send_signal(signal.SIGTERM)
            for p in processes:
                p.wait(timeout=60)
        logs = [log.read_text() for log in logs]
        assert [p.returncode for p in processes] == [0, 0], logs
        assert all(" for " in log for log in logs), "each scheduler did part of the work"
        assert_each_time_based_event_once(app)
        statuses = Counter(app.status_of(s).value for s in subs)
        assert statuses == {"collected": 1000}
        app.close()


def shapes(app, subs) -> list:
    from service_layer.timeline import timeline

    return [
        [
            (e.event, e.data.get("kind"), e.data.get("number"), e.due_at, e.recorded_at)
            for e in timeline(app, s)
        ]
        for s in subs
    ]


def test_a_scheduler_killed_mid_tick_ends_where_an_uninterrupted_run_ends(tmp_path):
    log = tmp_path / "scheduler.log"
    with postgres_schema() as killed_url, postgres_schema() as reference_url:
        results = []
        for url, kill in ((killed_url, True), (reference_url, False)):
            app, read_models, clock, subs = populate(url, 150)
            clock.advance_to(T0 + 45 * DAY)
            start = app.recorder.max_notification_id()
            process = scheduler_process(url, log)
            if kill:
                deadline = time.monotonic() + 120
                while app.recorder.max_notification_id() < start + 200:  # well into the first tick
                    assert time.monotonic() < deadline, "the scheduler never started working"
                    time.sleep(0.02)
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=30)
                assert process.returncode == -signal.SIGKILL
                read_models.catch_up()
                assert read_models.due_subscriptions(clock.now(), 1), "the kill came after the tick"
                process = scheduler_process(url, log)  # restarted
            settled(read_models, clock)
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
            assert_each_time_based_event_once(app)
            results.append(shapes(app, subs))
            app.close()
        assert results[0] == results[1]


def test_the_stored_test_clock_is_shared_and_never_goes_back(tmp_path):
    url = f"sqlite:///{tmp_path}/c.sqlite"
    engine = build_engine(database_url=url, test_mode=True)
    from adapters.clock import StoredClock as Clock

    assert isinstance(engine.clock, Clock)
    engine.clock.advance_to(T0 + 500 * DAY)
    other = build_engine(database_url=url, test_mode=True)
    assert other.clock.now() == T0 + 500 * DAY
    with pytest.raises(Exception, match="cannot go back"):
        other.clock.advance_to(T0)
    engine.close()
    other.close()
