"""The scheduler process starts and stops cleanly; the API answers its health check."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app import create_app


@pytest.mark.slow
def test_billing_scheduler_runs_as_a_process_and_stops_on_sigterm(tmp_path):
    billing = str(Path(sys.executable).parent / "billing")
    process = subprocess.Popen(
        [billing, "scheduler", "--interval", "1", "--db", str(tmp_path / "s.sqlite")],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(3)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "scheduler ticking every 1s" in err


@pytest.mark.slow
def test_the_scheduler_alone_serves_its_metrics(tmp_path):
    """Before, a scheduler run apart from the API (serve --no-scheduler) showed nothing: tick
    errors, step errors, tick duration and the oldest pending delivery were invisible."""
    import socket

    import httpx

    from bootstrap import build_application
    from tests.builders import T0, a_person, a_plan

    db = tmp_path / "m.sqlite"
    app = build_application(database_url=f"sqlite:///{db}")
    app.define_plan(a_plan(), T0)
    app.start_subscription(app.register_customer(a_person(), T0), "basic", "monthly", T0)
    app.close()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    billing = str(Path(sys.executable).parent / "billing")
    process = subprocess.Popen(
        [billing, "scheduler", "--interval", "0.2", "--metrics-port", str(port), "--db", str(db)],
        stderr=subprocess.PIPE,
        text=True,
        env={"PATH": "/usr/bin:/bin", "BILLING_NOTICE_MAX_AGE_HOURS": "100000"},
    )
    try:
        deadline = time.monotonic() + 30
        text = ""
        while "billing_scheduler_ticks_total" not in text or " 0\n" in _line(text, "ticks"):
            assert time.monotonic() < deadline, "no metrics"
            time.sleep(0.2)
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            except httpx.HTTPError:
                continue
        for name in (
            "billing_scheduler_ticks_total",
            "billing_scheduler_last_tick_seconds",
            "billing_scheduler_step_errors_total",
            "billing_scheduler_tick_errors_total",
            'billing_outbox_deliveries{channel="email",status=',
            "billing_outbox_oldest_pending_seconds",
        ):
            assert name in text, name
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


def _line(text: str, name: str) -> str:
    return next((line + "\n" for line in text.splitlines() if name in line and "#" not in line), "")


@pytest.mark.slow
def test_billing_scheduler_once_runs_one_tick(tmp_path):
    billing = str(Path(sys.executable).parent / "billing")
    result = subprocess.run(
        [billing, "scheduler", "--once", "--db", str(tmp_path / "o.sqlite")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "0 step(s) executed" in result.stderr


def test_health_check_names_the_store():
    client = TestClient(create_app(database_url="memory:"))
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"
    assert answer.json()["persistence"] == "eventsourcing.popo"
