"""Every read model equals a fold of the events, survives a rebuild, and counts each event once.

The expected values are folded here, independently, straight from the stored events (their
names and fields), not with the read models' own code.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from bootstrap import build_application, build_read_models
from domain import lifecycle
from domain.jalali import JalaliDate
from projections import runner
from projections.model import moment
from projections.reports import revenue
from tests.builders import (
    DAY,
    T0,
    a_person,
    a_plan,
    in_memory_app,
    ordered,
    random_ref,
    run_clock,
)
from tests.histories import History, steps
from tests.stores import postgres_schema


def fold_events(app) -> dict:
    """What the read models must say, folded from the raw events."""
    invoices: dict[str, dict] = {}
    subs: dict[str, dict] = {}
    credit: Counter = Counter()
    notices: Counter = Counter()
    ledger: Counter = Counter()
    months: dict[str, Counter] = defaultdict(Counter)
    after = 0
    while batch := app.recorder.select_notifications(
        start=after, limit=500, inclusive_of_start=False
    ):
        after = batch[-1].id
        for notification in batch:
            e = app.mapper.to_domain_event(notification)
            aggregate, _, name = type(e).__qualname__.rpartition(".")
            key = str(e.originator_id)
            month = JalaliDate.of(e.timestamp).isoformat()[:7]
            if aggregate == "Invoice":
                if name == "InvoiceIssued":
                    total = sum(
                        li["unit_price"] * li["quantity"] - li["discount"] + li["vat"]
                        for li in e.lines
                    )
                    vat = sum(li["vat"] for li in e.lines)
                    invoices[key] = {
                        "sub": str(e.subscription_id),
                        "total": total,
                        "paid": 0,
                        "voided": 0,
                    }
                    ledger["issued"] += total
                    months[month]["invoiced"] += total
                    months[month]["vat"] += vat
                elif name in ("PaymentRecorded", "CreditApplied"):
                    invoices[key]["paid"] += e.amount
                    entry = "paid" if name == "PaymentRecorded" else "credit"
                    ledger[entry] += e.amount
                    months[month]["paid" if entry == "paid" else "credit_used"] += e.amount
                elif name == "InvoiceVoided":
                    voided = invoices[key]["total"] - invoices[key]["paid"]
                    invoices[key]["voided"] = voided
                    ledger["voided"] += voided
                    months[month]["voided"] += voided
                    if e.due_at is None:  # by finance: what was paid goes back to credit
                        months[month]["credited"] += invoices[key]["paid"]
                elif name == "NoticeSent":
                    notices[invoices[key]["sub"]] += 1
            elif aggregate == "Subscription":
                if name == "SubscriptionStarted":
                    subs[key] = {"site": "up", "grace": set(), "open": {str(e.first_invoice_id)}}
                elif name in ("SubscriptionRenewed", "PlanChanged"):  # PlanChanged: proration
                    subs[key]["open"].add(str(e.invoice_id))
                elif name == "GraceStarted":
                    subs[key]["grace"].add(str(e.invoice_id))
                elif name == "GraceWithdrawn":
                    subs[key]["grace"].discard(str(e.invoice_id))
                elif name == "InvoicesSettled":
                    subs[key]["open"] -= {str(i) for i in e.invoice_ids}
                elif name == "SiteCollected":
                    subs[key]["open"] -= {str(i) for i in e.voided_invoice_ids}
                site = {
                    "SiteSuspended": "suspended",
                    "SiteRestored": "up",
                    "SiteCollected": "collected",
                    "SubscriptionEnded": "removed",
                }
                if name in site:
                    subs[key]["site"] = site[name]
                if name == "NoticeSent":
                    notices[key] += 1
            elif aggregate == "Customer":
                if name == "CreditAdded":
                    credit[key] += e.amount
                elif name == "CreditUsed":
                    credit[key] -= e.amount
    for sub in subs.values():
        site = sub["site"]
        sub["status"] = {
            "collected": "collected",
            "removed": "cancelled",
            "suspended": "suspended",
        }.get(site) or ("grace" if sub["open"] & sub["grace"] else "active")
    return {
        "invoices": invoices,
        "subs": subs,
        "credit": credit,
        "notices": notices,
        "ledger": ledger,
        "months": months,
    }


def assert_read_models_equal_the_fold(app, read_models) -> None:
    expected = fold_events(app)
    rows = read_models.query(
        "SELECT invoice_id, total, paid, balance, voided_amount, status FROM {rm_invoices}"
    )
    assert {r["invoice_id"] for r in rows} == set(expected["invoices"])
    for r in rows:
        inv = expected["invoices"][r["invoice_id"]]
        balance = inv["total"] - inv["paid"] - inv["voided"]
        status = (
            "void"
            if inv["voided"] or (r["voided_amount"] == 0 and r["status"] == "void")
            else ("paid" if balance == 0 else "open")
        )
        assert (r["total"], r["paid"], r["balance"], r["voided_amount"]) == (
            inv["total"],
            inv["paid"],
            balance,
            inv["voided"],
        )
        assert r["status"] == status
    rows = read_models.query(
        "SELECT subscription_id, status, open_invoices FROM {rm_subscriptions}"
    )
    assert {r["subscription_id"]: (r["status"], r["open_invoices"]) for r in rows} == {
        k: (s["status"], len(s["open"])) for k, s in expected["subs"].items()
    }
    rows = read_models.query("SELECT customer_id, credit FROM {rm_customer_accounts}")
    # Every customer whose credit the events leave above zero, not only the rows there are.
    assert {r["customer_id"]: r["credit"] for r in rows if r["credit"]} == {
        customer: credit for customer, credit in expected["credit"].items() if credit
    }
    rows = read_models.query(
        "SELECT subscription_id, COUNT(*) AS n FROM {rm_notices} GROUP BY subscription_id"
    )
    assert {r["subscription_id"]: r["n"] for r in rows} == dict(expected["notices"])
    rows = read_models.query(
        "SELECT entry, SUM(amount) AS amount FROM {rm_invoice_ledger} GROUP BY entry"
    )
    assert {r["entry"]: int(r["amount"]) for r in rows if int(r["amount"])} == {
        k: v for k, v in expected["ledger"].items() if v
    }
    rows = read_models.query("SELECT * FROM {rm_revenue_by_month}")
    assert {
        r["jalali_month"]: {k: int(v) for k, v in r.items() if k != "jalali_month" and v}
        for r in rows
    } == {m: {k: v for k, v in c.items() if v} for m, c in expected["months"].items()}
    due = {
        r["subscription_id"]: (r["action"], r["due_at"])
        for r in read_models.query("SELECT * FROM {rm_due_actions}")
    }
    for sub_id in expected["subs"]:
        life = app.lifecycle_of(__import__("uuid").UUID(sub_id))
        step = lifecycle.next_step(life.subscription, life.invoices, life.subscription.plan.policy)
        assert due.get(sub_id) == ((step.step.value, moment(step.due_at)) if step else None)


def snapshot(read_models) -> dict:
    from projections.views import ALL_READ_MODELS

    return {
        m.name: sorted(map(repr, read_models.query(f"SELECT * FROM {{{m.table.name}}}")))
        for m in ALL_READ_MODELS
    }


def check_history(app, read_models, history) -> None:
    History(app).run(history)
    read_models.catch_up()
    assert_read_models_equal_the_fold(app, read_models)
    live = snapshot(read_models)
    read_models.rebuild()
    assert snapshot(read_models) == live, "a rebuild differs from the live read models"
    assert read_models.verify()[1] == []


SETTINGS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
}


@settings(max_examples=30, **SETTINGS)
@given(history=steps)
def test_read_models_equal_the_fold_of_random_histories_in_memory(history):
    app = in_memory_app()
    check_history(app, build_read_models(app, database_url="memory:"), history)


@settings(max_examples=8, **SETTINGS)
@given(history=steps)
def test_read_models_equal_the_fold_of_random_histories_on_sqlite(history):
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/h.sqlite"
        app = build_application(database_url=url)
        check_history(app, build_read_models(app, database_url=url), history)
        app.close()


@pytest.mark.postgres
@settings(max_examples=4, **SETTINGS)
@given(history=steps)
def test_read_models_equal_the_fold_of_random_histories_on_postgres(history):
    with postgres_schema() as url:
        app = build_application(database_url=url)
        check_history(app, build_read_models(app, database_url=url), history)
        app.close()


# --- exactly once ---------------------------------------------------------------------------------


def a_busy_store(url: str):
    app = build_application(database_url=url)
    History(app).run(
        [
            ("order", "basic", "monthly"),
            ("order", "lean", "quarterly"),
            ("advance", 24 * 36),
            ("pay", 0, "over"),
            ("advance", 24 * 40),
            ("pay", 1, "part"),
            ("advance", 24 * 30),
        ]
    )
    return app


def test_a_crash_inside_the_view_transaction_writes_nothing_and_the_retry_counts_once(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(runner, "BATCH", 7)  # several batches before the crash
    url = f"sqlite:///{tmp_path}/crash.sqlite"
    app = a_busy_store(url)
    read_models = build_read_models(app, database_url=url)
    view = read_models.view
    crash_at = app.recorder.max_notification_id() // 2
    original = view._write_batch
    written: list[int] = []

    def crashing(cursor, application_name, tracked, moved, changes, **options):
        original(cursor, application_name, tracked, moved, changes, **options)
        last = max(moved.values())
        if last >= crash_at:
            raise RuntimeError("the process died after writing the view rows, before commit")
        written.append(last)

    view._write_batch = crashing
    with pytest.raises(RuntimeError):
        read_models.catch_up()
    # Every batch before the crash is committed, the crashed one not at all.
    assert read_models.position() == written[-1]
    assert crash_at - 7 <= written[-1] < crash_at
    view._write_batch = original
    view.states.forget()  # a new process starts with nothing in memory
    read_models.catch_up()
    assert_read_models_equal_the_fold(app, read_models)


CRASHING_PROCESS = textwrap.dedent(
    """
    import os, sys
    import projections.runner
    from bootstrap import build_application, build_read_models
    url, stop_after = sys.argv[1], int(sys.argv[2])
    projections.runner.BATCH = 7
    app = build_application(database_url=url)
    read_models = build_read_models(app, database_url=url)
    view = read_models.view
    original = view.process_batch
    def process_batch(application_name, batch):
        done = original(application_name, batch)
        if batch[-1][1] >= stop_after:
            print(batch[-1][1], flush=True)
            os._exit(9)  # killed between the view's commit and the next batch
        return done
    view.process_batch = process_batch
    read_models.catch_up()
    """
)


@pytest.mark.slow
def test_a_process_killed_between_two_batches_resumes_after_the_last_one_it_committed(tmp_path):
    url = f"sqlite:///{tmp_path}/killed.sqlite"
    app = a_busy_store(url)
    stop_after = app.recorder.max_notification_id() // 3
    result = subprocess.run(
        [sys.executable, "-c", CRASHING_PROCESS, url, str(stop_after)],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 9, result.stderr
    committed = int(result.stdout.split()[-1])
    assert stop_after <= committed < stop_after + 7
    read_models = build_read_models(app, database_url=url)
    assert read_models.position() == committed
    read_models.catch_up()
    assert_read_models_equal_the_fold(
        app, read_models
    )  # revenue counters would show a double count


@pytest.mark.postgres
def test_the_postgres_follower_keeps_the_read_models_current_as_events_are_notified():
    with postgres_schema() as url:
        app = a_busy_store(url)
        read_models = build_read_models(app, database_url=url)
        read_models.start()
        try:
            read_models.wait(app.recorder.max_notification_id(), timeout=60)
            sub_id = ordered(app, at=T0 + 200 * DAY)
            app.advance(T0 + 201 * DAY)
            last = app.recorder.max_notification_id()
            read_models.wait(last, timeout=60)
        finally:
            read_models.stop()
        rows = read_models.query(
            "SELECT status FROM {rm_subscriptions} WHERE subscription_id = ?", (str(sub_id),)
        )
        assert rows == [{"status": "active"}]
        assert_read_models_equal_the_fold(app, read_models)
        app.close()


def test_the_sqlite_follower_polls_the_log_in_the_background(tmp_path):
    url = f"sqlite:///{tmp_path}/follow.sqlite"
    app = build_application(database_url=url)
    read_models = build_read_models(app, database_url=url)
    read_models.start(poll_interval=0.05)
    try:
        sub_id = ordered(app)
        run_clock(app, T0, T0 + 34 * DAY, step=DAY)
        read_models.wait(app.recorder.max_notification_id(), timeout=30)
    finally:
        read_models.stop()
    rows = read_models.query(
        "SELECT status FROM {rm_subscriptions} WHERE subscription_id = ?", (str(sub_id),)
    )
    assert rows == [{"status": "suspended"}]


def test_database_constraints_refuse_an_invoice_whose_figures_do_not_add_up(tmp_path):
    url = f"sqlite:///{tmp_path}/c.sqlite"
    app = build_application(database_url=url)
    ordered(app)
    read_models = build_read_models(app, database_url=url)
    read_models.catch_up()
    from eventsourcing.persistence import IntegrityError

    with (
        pytest.raises(IntegrityError),
        read_models.view.datastore.transaction(commit=True) as cursor,
    ):
        cursor.execute("UPDATE rm_invoices SET paid = paid + 1")
    with (
        pytest.raises(IntegrityError),
        read_models.view.datastore.transaction(commit=True) as cursor,
    ):
        cursor.execute("UPDATE rm_customer_accounts SET credit = -1")


def test_payments_and_credit_show_in_the_customer_account(tmp_path):
    app = in_memory_app()
    read_models = build_read_models(app, database_url="memory:")
    sub_id = ordered(app)
    invoice_id = app.get_subscription(sub_id).invoice_ids[0]
    app.record_payment(random_ref(), 1_500_000, T0 + DAY, invoice_id=invoice_id)
    read_models.catch_up()
    customer = str(app.get_subscription(sub_id).customer_id)
    assert read_models.query("SELECT credit FROM {rm_customer_accounts}") == [{"credit": 400_000}]
    assert read_models.query(
        "SELECT SUM(balance) AS open FROM {rm_invoices} WHERE customer_id = ?", (customer,)
    ) == [{"open": 0}]


def test_what_a_void_by_finance_moves_back_to_credit_is_not_counted_as_revenue_twice():
    """A partly paid invoice voided by finance: the 300,000 paid goes back to the customer's
    credit (``credited``) and later pays the renewal (``credit_used``). Net of voids and
    credits, the month invoiced nothing; the money came in once (``paid``)."""
    app = in_memory_app()
    read_models = build_read_models(app, database_url="memory:")
    sub_id = ordered(app)
    first = app.get_subscription(sub_id).invoice_ids[0]
    app.record_payment(random_ref(), 300_000, T0 + DAY, invoice_id=first)
    app.void_invoice(first, "ordered twice by mistake", T0 + 2 * DAY)
    run_clock(app, T0 + 2 * DAY, T0 + 32 * DAY, step=DAY)  # the renewal takes the credit
    read_models.catch_up()
    by_month = {r["jalali_month"]: r for r in revenue(read_models)}
    first_month, second_month = sorted(by_month)
    assert by_month[first_month] == {
        "jalali_month": first_month,
        "invoiced": 1_100_000,
        "vat": 100_000,
        "paid": 300_000,
        "credit_used": 0,
        "voided": 800_000,
        "credited": 300_000,
        "refunded": 0,
    }
    row = by_month[first_month]
    assert row["invoiced"] - row["voided"] - row["credited"] == 0  # nothing was sold
    assert by_month[second_month]["credit_used"] == 300_000  # not new money
    assert revenue(read_models, as_of=T0 + 40 * DAY) == list(by_month.values())  # the ledger


def test_a_read_model_table_left_by_an_older_version_is_rebuilt_when_opened(tmp_path):
    url = f"sqlite:///{tmp_path}/old.sqlite"
    app = build_application(database_url=url)
    read_models = build_read_models(app, database_url=url)
    app.define_plan(a_plan(), T0)
    app.start_subscription(
        app.register_customer(a_person(), T0),
        "basic",
        "monthly",
        T0,
    )
    read_models.catch_up()
    expected = read_models.query("SELECT * FROM {rm_revenue_by_month}")
    with read_models.view.datastore.transaction(commit=True) as cursor:  # the old layout
        cursor.execute("DROP TABLE rm_revenue_by_month")
        cursor.execute(
            "CREATE TABLE rm_revenue_by_month (jalali_month TEXT PRIMARY KEY, invoiced BIGINT, "
            "vat BIGINT, paid BIGINT, credit_used BIGINT, voided BIGINT)"
        )
        cursor.execute("INSERT INTO rm_revenue_by_month VALUES ('1300/01', 1, 1, 1, 1, 1)")
    assert build_read_models(app, database_url=url).stale_tables() == []  # rebuilt on opening
    reopened = build_read_models(app, database_url=url)
    assert reopened.query("SELECT * FROM {rm_revenue_by_month}") == expected
    assert reopened.verify()[1] == []
