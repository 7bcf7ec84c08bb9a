"""The scheduler executes what the domain says is due; the API answers its health check."""

import signal
import subprocess
import sys
import time
from pathlib import Path

from fastapi.testclient import TestClient

from adapters.clock import SimulatedClock
from app import create_app
from domain.subscription import SubscriptionStatus
from scheduler import build_scheduler, tick
from tests.builders import DAY, T0, in_memory_app, ordered


def test_a_tick_executes_what_is_due_at_the_clocks_now_and_nothing_twice():
    app = in_memory_app()
    sub_id = ordered(app)
    clock = SimulatedClock(T0 + 31 * DAY)
    first = tick(app, clock)
    assert [e.step.step.value for e in first][:3] == [
        "send_payment_reminder",
        "send_payment_reminder",
        "start_grace",
    ]
    assert tick(app, clock) == []
    assert app.status_of(sub_id) is SubscriptionStatus.GRACE


def test_the_background_scheduler_ticks_and_stops_cleanly():
    app = in_memory_app()
    sub_id = ordered(app)
    clock = SimulatedClock(T0 + 40 * DAY)
    scheduler = build_scheduler(app, clock, interval_seconds=0.05)
    job = scheduler.get_job("lifecycle-tick")
    assert job.max_instances == 1 and job.coalesce
    scheduler.start()
    try:
        deadline = time.monotonic() + 30
        while app.status_of(sub_id) is not SubscriptionStatus.GRACE and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.shutdown(wait=True)
    # A late first tick: the missed notices went out, the suspension waits 24 h after them.
    assert app.status_of(sub_id) is SubscriptionStatus.GRACE
    assert app.next_step_of(sub_id).due_at == T0 + 41 * DAY
    assert not scheduler.running


def test_billing_scheduler_runs_as_a_process_and_stops_on_sigterm(tmp_path):
    billing = str(Path(sys.executable).parent / "billing")
    process = subprocess.Popen(
        [billing, "scheduler", "--interval", "1", "--db", str(tmp_path / "s.sqlite")],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(2)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "scheduler ticking every 1s" in err


def test_health_check_names_the_store():
    client = TestClient(create_app(in_memory_app()))
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"
    assert answer.json()["persistence"] == "eventsourcing.popo"
