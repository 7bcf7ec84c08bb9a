"""Several engine processes on one PostgreSQL database (docs/DEPLOY.md)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from signal import SIGTERM
from uuid import UUID

import httpx
import psycopg
import pytest

from tests.scale_out import BILLING, ApiProcess, SchedulerProcess, free_port, fresh_database

pytestmark = [pytest.mark.postgres, pytest.mark.slow]  # processes on PostgreSQL

#: Small pools: these tests share the server (max_connections 100) with the rest of the suite.
#: A gateway off loopback: no process starts the sandbox gateway of its own.
SMALL = {
    "postgres_pool_size": "2",
    "test_mode": "1",
    "tick_interval": "0.5",
    "gateway_url": "https://sandbox.gateway.invalid/pg/v4",
}


def test_processes_starting_together_on_a_new_database_all_come_up(tmp_path):
    """Four API processes and two schedulers started at once on an empty database:
    each creates the tables it needs under the store's table lock, in turn, and all serve."""
    with fresh_database() as url:
        apis = [ApiProcess(url, tmp_path / f"api{i}.log", **SMALL) for i in range(4)]
        schedulers = [SchedulerProcess(url, tmp_path / f"s{i}.log", **SMALL) for i in range(2)]
        processes = [*apis, *schedulers]
        try:
            for process in processes:
                process.start()
            for process in processes:
                process.wait_ready()
        finally:
            codes = [process.stop() for process in processes]
        # uvicorn ends on SIGTERM by raising it again once it has shut down cleanly
        assert codes == [-SIGTERM] * 4 + [0, 0], [p.log.read_text() for p in processes]


def test_the_table_lock_is_reentrant_within_a_thread_and_excludes_other_sessions():
    """A runtime's start holds the table lock around parts that take it again (the event store,
    the read models): within one thread that takes nothing more, where a second session of the
    same process would wait on the first for ever; another session still waits its turn."""
    from concurrent.futures import ThreadPoolExecutor
    from concurrent.futures import TimeoutError as Pending

    from adapters.persistence import CREATE_TABLES_LOCK, parse_database_url, tables_created_once

    with fresh_database() as url:
        database = parse_database_url(url)

        def nested() -> str:
            with tables_created_once(database), tables_created_once(database):
                return "entered twice"

        with ThreadPoolExecutor(1) as pool:
            assert pool.submit(nested).result(timeout=30) == "entered twice"

        with psycopg.connect(url, autocommit=True) as other:
            other.execute("SELECT pg_advisory_lock(%s)", (CREATE_TABLES_LOCK,))
            with ThreadPoolExecutor(1) as pool:
                waiting = pool.submit(nested)
                with pytest.raises(Pending):
                    waiting.result(timeout=2)  # the other session holds it
                other.execute("SELECT pg_advisory_unlock(%s)", (CREATE_TABLES_LOCK,))
                assert waiting.result(timeout=30) == "entered twice"


def worker_pids(supervisor: int) -> set[int]:
    """The uvicorn workers a `serve --workers` process started (its spawned children)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue  # it ended meanwhile
        if int(fields[1]) == supervisor and b"spawn_main" in cmdline:
            found.add(int(stat.parent.name))
    return found


def test_serve_with_workers_answers_from_each_worker_and_ticks_in_one_process(tmp_path):
    """`billing serve --workers 2`: two worker processes answer on the one port, each with its
    own readiness and metrics; the scheduler ticks in the supervisor only (its metrics on
    --metrics-port); a worker killed with SIGKILL is replaced and the port keeps answering;
    SIGHUP replaces the workers one by one without a request refused."""
    with fresh_database() as url:
        metrics_port = free_port()
        serve = ApiProcess(url, tmp_path / "serve.log", **SMALL)
        serve.args = ["serve", "--port", str(serve.port), "--workers", "2",
                      "--metrics-port", str(metrics_port)]  # fmt: skip
        try:
            serve.start().wait_ready()
            deadline = time.monotonic() + 60
            while len(workers := worker_pids(serve.pid)) < 2:
                assert time.monotonic() < deadline, "two workers never ran"
                time.sleep(0.2)
            token = subprocess.run(
                [BILLING, "tokens", "create", "--role", "admin", "--db", url],
                capture_output=True, text=True, check=True, env=serve.env,
            ).stdout.split()[-1]  # fmt: skip
            admin = {"Authorization": f"Bearer {token}"}
            for _ in range(10):
                assert httpx.get(f"{serve.base}/readyz").json()["status"] == "ready"
                text = httpx.get(f"{serve.base}/metrics", headers=admin).text
                assert "billing_scheduler_ticks_total 0" in text  # no worker ticks
            ticks = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
            assert "billing_scheduler_ticks_total 0" not in ticks  # the supervisor does

            killed = min(workers)
            os.kill(killed, signal.SIGKILL)
            while (now := worker_pids(serve.pid)) == workers or len(now) < 2:
                assert time.monotonic() < deadline + 60, "the killed worker was not replaced"
                time.sleep(0.2)
            assert killed not in now
            serve.wait_ready()

            # SIGHUP (systemctl reload): each worker replaced, the port answering throughout.
            os.kill(serve.pid, signal.SIGHUP)
            deadline = time.monotonic() + 120
            while worker_pids(serve.pid) & now:
                assert time.monotonic() < deadline, "the workers were not replaced"
                assert httpx.get(f"{serve.base}/readyz").status_code == 200
                time.sleep(0.2)
            assert len(worker_pids(serve.pid)) == 2
        finally:
            code = serve.stop()
        assert code == 0, serve.log.read_text()


# --- two API processes and two schedulers under load, one of each killed ---------------------


class Client:
    """The load balancer and the caller in one: a request goes to the next API process, and
    on no answer (a process killed), a 5xx or 409 in progress it is sent again, with the same
    Idempotency-Key, to the next one, until it is answered."""

    def __init__(self, apis: list[ApiProcess]) -> None:
        self.apis, self.turn = apis, 0

    def send(self, path: str, body: dict, headers: dict, timeout: float = 120) -> httpx.Response:
        deadline = time.monotonic() + timeout
        while True:
            api = self.apis[self.turn % len(self.apis)]
            self.turn += 1
            try:
                answer = httpx.post(f"{api.base}{path}", json=body, headers=headers, timeout=30)
                if answer.status_code < 500 and answer.status_code != 409:
                    return answer
                if answer.status_code == 409 and "in_progress" not in answer.text:
                    return answer  # a billing rule's refusal is an answer
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"POST {path} never answered"
            time.sleep(0.2)


def test_two_apis_and_two_schedulers_under_load_with_one_of_each_killed_do_everything_once(
    tmp_path,
):
    from adapters.fakes import FakePlatform, SmtpSink
    from bootstrap import open_runtime
    from domain.invoice import Invoice
    from tests.builders import DAY, T0, a_person, a_plan
    from tests.processes import assert_each_time_based_event_once, events, settled
    from tests.property.invariants import (
        Ledger,
        check_balances,
        check_read_models,
        check_read_models_rebuild,
    )

    with fresh_database() as url, SmtpSink() as smtp, FakePlatform() as platform:
        outside = {
            **SMALL,
            "test_clock_start": T0.isoformat(),
            "smtp_host": "127.0.0.1",
            "smtp_port": str(smtp.port),
            "platform_url": platform.url,
            "platform_secret": platform.secret,
            "delivery_timeout": "2",
            "delivery_lease": "6",
            "tick_interval": "0.3",
        }
        here = open_runtime(database_url=url, test_mode=True, test_clock_start=T0,
                            postgres_pool_size=1)  # fmt: skip
        app, clock = here.app, here.clock
        app.define_plan(a_plan(), T0)
        app.define_plan(a_plan("lean", 700_000, grace_days=0), T0)
        customers = [app.register_customer(a_person(f"Customer {i}"), T0) for i in range(4)]
        admin = {"Authorization": f"Bearer {here.tokens.create('admin', T0)}"}
        finance = {"Authorization": f"Bearer {here.tokens.create('finance', T0)}"}

        apis = [ApiProcess(url, tmp_path / f"api{i}.log", **outside) for i in range(2)]
        schedulers = [SchedulerProcess(url, tmp_path / f"s{i}.log", **outside) for i in range(2)]
        processes = [*apis, *schedulers]
        client = Client(apis)
        sent: dict[str, int] = {}  # payment reference → amount
        subscriptions: list[str] = []
        try:
            for process in processes:
                process.start()
            for process in processes:
                process.wait_ready()

            def order(n: int) -> None:
                body = {"customer_id": str(customers[n % 4]),
                        "plan_id": "lean" if n % 3 == 0 else "basic", "period": "monthly"}  # fmt: skip
                key = admin | {"Idempotency-Key": f"order-{n}"}
                placed = client.send("/subscriptions", body, key)
                assert placed.status_code == 201, placed.text
                if n % 2:  # the caller never saw the answer: the same request again
                    again = client.send("/subscriptions", body, key)
                    assert again.json()["id"] == placed.json()["id"]
                subscriptions.append(placed.json()["id"])

            def pay(n: int, subscription_id: str) -> None:
                invoice = str(Invoice.create_id(subscription_id, 1))
                reference, amount = f"BANK-{n}", 900_000 + n
                body = {"reference": reference, "amount": amount}
                paid = client.send(f"/invoices/{invoice}/payments", body,
                                   finance | {"Idempotency-Key": f"pay-{n}"})  # fmt: skip
                assert paid.status_code == 200, paid.text
                sent[reference] = amount
                if n % 2:  # retried with its key, and the same reference sent again by a
                    # second caller (another key): each counts once
                    client.send(f"/invoices/{invoice}/payments", body,
                                finance | {"Idempotency-Key": f"pay-{n}"})  # fmt: skip
                    dup = client.send(f"/invoices/{invoice}/payments", body,
                                      finance | {"Idempotency-Key": f"pay-{n}-dup"})  # fmt: skip
                    assert dup.status_code in (200, 409), dup.text

            for n in range(8):
                order(n)
            clock.advance(5 * DAY)
            for n in range(8, 16):
                order(n)
                if n == 11:  # mid-load: one API and one scheduler die without a word
                    apis[0].kill()
                    schedulers[0].kill()
                if n < 12:
                    pay(n, subscriptions[n - 8])
            clock.advance(20 * DAY)
            apis[0].start()
            schedulers[0].start()
            for n in range(12, 16):
                pay(n, subscriptions[n])
            apis[0].wait_ready()
            schedulers[0].wait_ready()
            for _ in range(6):  # reminders, grace, suspensions, warnings, collections
                clock.advance(10 * DAY)
                settled(here.read_models, clock, timeout=120)
            deadline = time.monotonic() + 120
            while pending := here.read_models.query(
                "SELECT delivery_id FROM {outbox} WHERE status = 'pending'"
            ):
                assert time.monotonic() < deadline, f"{len(pending)} deliveries never went out"
                clock.advance(DAY)  # a killed dispatcher's lease runs out by this clock
                time.sleep(0.5)
        finally:
            codes = [process.stop() for process in processes]
        assert codes == [-SIGTERM, -SIGTERM, 0, 0], [p.log.read_text() for p in processes]

        # Every payment reference recorded once, each lifecycle step and notice once.
        recorded = events(app)
        received = [e for e in recorded if type(e).__name__ == "PaymentReceived"]
        assert sorted(e.reference for e in received) == sorted(sent)
        assert {e.reference: e.amount for e in received} == sent
        assert_each_time_based_event_once(app)
        names = {type(e).__name__ for e in recorded}
        assert {"NoticeSent", "SiteSuspended", "SiteCollected", "SubscriptionRenewed"} <= names
        statuses = {app.status_of(UUID(s)).value for s in subscriptions}
        assert "collected" in statuses, statuses  # the unpaid ones ran their whole course
        # Each payment went to the invoice it named, once: what the first invoice holds is
        # what was sent (up to its total; the rest is the customer's credit). Whether a paid
        # site is collected later depends on how many days the clock ran past its renewal.
        paid_by = {f"BANK-{n}": subscriptions[n - 8 if n < 12 else n] for n in range(8, 16)}
        for reference, subscription_id in paid_by.items():
            first = app.get_invoice(Invoice.create_id(subscription_id, 1))
            assert first.paid.rials == min(sent[reference], first.total.rials), reference

        # The outbox sent each delivery: the fakes got each (a retry after a kill may send
        # a message twice; the platform applies a change once per delivery id).
        rows = here.read_models.query("SELECT delivery_id, channel, status FROM {outbox}")
        assert rows and {r["status"] for r in rows} <= {"delivered", "skipped"}
        assert {r["channel"] for r in rows} >= {"email", "platform"}
        got_mail = {m["Message-ID"].strip("<>").split("@")[0] for m in smtp.messages}
        for r in rows:
            if r["channel"] == "email" and r["status"] == "delivered":
                assert r["delivery_id"] in got_mail
            if r["channel"] == "platform" and r["status"] == "delivered":
                assert r["delivery_id"] in platform.seen

        verified = subprocess.run([BILLING, "audit", "verify", "--db", url],
                                  capture_output=True, text=True, env=apis[0].env)  # fmt: skip
        assert verified.returncode == 0, verified.stdout + verified.stderr

        ledger = Ledger()
        ledger.fold(recorded)
        for sub in subscriptions:
            life = app.lifecycle_of(UUID(sub), all_invoices=True)
            check_balances(ledger, life, app.get_customer(life.subscription.customer_id))
        check_read_models(ledger, here.read_models)
        check_read_models_rebuild(here.read_models)
        here.close()
