"""The scheduler process starts and stops cleanly; the API answers its health check."""

import signal
import subprocess
import sys
import time
from pathlib import Path

from fastapi.testclient import TestClient

from app import create_app


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
