"""`billing subscription change-plan` on a store: an upgrade at once prints its proration
invoice, a downgrade is scheduled for the renewal, and a downgrade asked at once is refused
with its code and exit status 1 (docs/LIFECYCLE.md, "Plan changes and cancellation")."""

from __future__ import annotations

import contextlib
import io
from datetime import UTC, datetime

import cli
from bootstrap import build_application
from domain.invoice import InvoiceKind
from tests.builders import a_person, a_plan


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_change_plan_at_the_console(tmp_path):
    url = f"sqlite:///{tmp_path}/cli.sqlite"
    now = datetime.now(UTC)  # the console acts on the system clock
    app = build_application(database_url=url)
    for plan, price in (("basic", 1_000_000), ("pro", 3_000_000)):
        app.define_plan(a_plan(plan, monthly_price=price), now)
    customer = app.register_customer(a_person(), now)
    sub_id = app.start_subscription(customer, "pro", "monthly", now)
    app.close()

    code, out, err = _run(
        "subscription", "change-plan", str(sub_id), "basic", "--when", "now", "--db", url
    )
    assert code == 1 and out == ""
    assert "[immediate_plan_change_refused]" in err and "not an upgrade" in err

    code, out, err = _run("subscription", "change-plan", str(sub_id), "basic", "--db", url)
    assert code == 0, err
    assert "moves to basic (monthly) at the renewal, period 2" in out

    code, out, err = _run(
        "subscription",
        "change-plan",
        str(sub_id),
        "basic",
        "--when",
        "renewal",
        "--period",
        "yearly",
        "--db",
        url,
    )
    assert code == 0, err
    assert "moves to basic (yearly) at the renewal" in out

    app = build_application(database_url=url)
    sub = app.get_subscription(sub_id)
    assert sub.plan.id == "pro" and sub.pending_change[0].id == "basic"
    assert [app.get_invoice(i).kind for i in sub.invoice_ids] == [InvoiceKind.FIRST]
    app.close()


def test_an_upgrade_at_the_console_prints_its_proration_invoice(tmp_path):
    url = f"sqlite:///{tmp_path}/cli.sqlite"
    now = datetime.now(UTC)
    app = build_application(database_url=url)
    for plan, price in (("basic", 1_000_000), ("pro", 3_000_000)):
        app.define_plan(a_plan(plan, monthly_price=price), now)
    sub_id = app.start_subscription(app.register_customer(a_person(), now), "basic", "monthly", now)
    app.close()

    code, out, err = _run("subscription", "change-plan", str(sub_id), "pro", "--db", url)
    assert code == 0, err
    assert "is on pro (monthly) from now; proration invoice" in out
    assert "Upgrade from Basic (monthly) to Pro (monthly)" in out

    app = build_application(database_url=url)
    sub = app.get_subscription(sub_id)
    proration = app.get_invoice(sub.invoice_ids[-1])
    assert sub.plan.id == "pro" and proration.kind is InvoiceKind.PRORATION
    assert str(proration.id) in out
    app.close()
