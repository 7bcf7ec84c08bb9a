"""The fault test: two scheduler processes on one PostgreSQL, a slow SMTP server, a hosting
platform that answers 500 and then recovers, and a scheduler killed with SIGKILL while it
sends. Afterwards every site's state on the platform is the engine's, every notice was
delivered, and a kill left at most one duplicate per send it had in flight (each channel
sends with up to ``BILLING_DELIVERY_WORKERS`` runs at once), each with its original
Message-ID (docs/OPERATIONS.md: what a duplicate looks like)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from adapters.fakes import FakePlatform, FakeSmsProvider, SmtpSink
from adapters.platform import PLATFORM_STATE
from bootstrap import build_application, build_read_models
from domain import lifecycle
from tests.builders import DAY
from tests.processes import populate, settled
from tests.stores import postgres_schema

pytestmark = [pytest.mark.postgres, pytest.mark.slow]  # scheduler processes
BILLING = str(Path(sys.executable).parent / "billing")
WORKERS = 2  # e-mails one scheduler may have in flight at the moment it is killed


def scheduler(url: str, log: Path, smtp, sms, platform) -> subprocess.Popen:
    env = {
        **os.environ,
        "BILLING_TEST_MODE": "1",
        "BILLING_DATABASE_URL": url,
        "BILLING_TICK_INTERVAL": "0.2",
        "BILLING_DELIVERY_INTERVAL": "0.2",
        "BILLING_DELIVERY_TIMEOUT": "2",
        "BILLING_DELIVERY_LEASE": "6",
        "BILLING_DELIVERY_WORKERS": str(WORKERS),
        "BILLING_SMTP_HOST": "127.0.0.1",
        "BILLING_SMTP_PORT": str(smtp.port),
        "BILLING_SMS_BASE_URL": sms.url,
        "BILLING_SMS_API_KEY": sms.api_key,
        "BILLING_PLATFORM_URL": platform.url,
        "BILLING_PLATFORM_SECRET": platform.secret,
        "BILLING_PLATFORM_RECONCILE_INTERVAL": "3",
    }
    return subprocess.Popen([BILLING, "scheduler"], env=env, stderr=log.open("a"), text=True)


def outbox_drained(read_models, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        read_models.catch_up()
        pending = read_models.query(
            "SELECT channel, COUNT(*) AS n FROM {outbox} WHERE status = 'pending' GROUP BY channel"
        )
        if not pending:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"deliveries still pending: {pending}")
        time.sleep(0.3)


def test_two_schedulers_slow_smtp_a_failing_platform_and_a_kill_mid_send(tmp_path):
    with (
        postgres_schema() as url,
        SmtpSink() as smtp,
        FakeSmsProvider() as sms,
        FakePlatform() as platform,
    ):
        # The outbox exists from the start (a new store), so every notice is to be sent.
        build_read_models(build_application(database_url=url), database_url=url)
        app, read_models, clock, subs = populate(url, 12)
        smtp.delay = 0.15  # slow: a scheduler is usually in the middle of a send
        logs = [tmp_path / "a.log", tmp_path / "b.log"]
        processes = [scheduler(url, log, smtp, sms, platform) for log in logs]
        kills = 0
        try:
            for day in range(1, 41):
                clock.advance(DAY)
                settled(read_models, clock)
                if day == 25:
                    platform.fail_with = 500  # down while the sites are suspended
                if day == 27:  # the reminders are going out: kill one scheduler mid-send
                    before, waited = len(smtp.messages), time.monotonic() + 30
                    while len(smtp.messages) == before and time.monotonic() < waited:
                        time.sleep(0.01)
                    processes[0].send_signal(signal.SIGKILL)
                    processes[0].wait()
                    kills += 1
                    processes[0] = scheduler(url, logs[0], smtp, sms, platform)
                if day == 36:  # half the customers pay: their sites are restored
                    for subscription in subs[::2]:
                        life = app.lifecycle_of(subscription)
                        due = lifecycle.amount_due(life.subscription, life.invoices)
                        if due.is_positive:
                            app.record_payment(
                                f"fault-{subscription}",
                                due,
                                clock.now(),
                                subscription_id=subscription,
                            )
                if day == 38:
                    platform.fail_with = None  # the platform recovers
            outbox_drained(read_models)
            time.sleep(4)  # a site reconciliation runs (every 3 s) with nothing left to send
            outbox_drained(read_models)
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                process.wait(timeout=60)

        assert {r.action for r in platform.state.applied} >= {"create", "suspend", "restore"}
        rows = read_models.query("SELECT site, site_state FROM {rm_subscriptions}")
        drift = [
            (r["site"], r["site_state"], platform.state.sites.get(r["site"]))
            for r in rows
            if platform.state.sites.get(r["site"]) != PLATFORM_STATE[r["site_state"]]
        ]
        assert drift == [], drift

        statuses = read_models.query(
            "SELECT channel, status, COUNT(*) AS n FROM {outbox} "
            "WHERE channel IN ('email', 'sms', 'panel') GROUP BY channel, status"
        )
        assert {(r["channel"], r["status"]) for r in statuses} == {
            ("email", "delivered"),
            ("sms", "delivered"),
            ("panel", "delivered"),
        }, statuses
        emails = read_models.query("SELECT delivery_id FROM {outbox} WHERE channel = 'email'")
        expected = {f"<{r['delivery_id']}@saman360.example>" for r in emails}
        received = Counter(m["Message-ID"] for m in smtp.messages)
        assert set(received) == expected  # every notice, under its own Message-ID
        repeats = sum(n - 1 for n in received.values())
        assert repeats <= kills * WORKERS, received.most_common(3)
        assert max(received.values()) <= 1 + kills, received.most_common(3)
        assert len(sms.by_localid) == len(emails)  # the provider dropped any repeated local id
