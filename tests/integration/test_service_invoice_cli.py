"""`billing invoice create` (side-service invoices, docs/API.md) and `billing reports revenue
--by-line --group-by representative` (docs/AUDIT.md): what they print and their exit codes."""

from __future__ import annotations

import csv
import io
from uuid import UUID

import pytest

from bootstrap import open_runtime
from domain.actor import ActorKind, recorded_actor
from domain.representative import RepresentativeDetails
from tests.builders import T0, a_company, a_plan
from tests.integration.test_staff_cli import billing


@pytest.fixture
def db(tmp_path, monkeypatch) -> str:
    monkeypatch.setenv("BILLING_TEST_MODE", "1")
    monkeypatch.setenv("BILLING_TEST_CLOCK_START", T0.isoformat())
    return f"sqlite:///{tmp_path}/service-cli.sqlite"


def a_customer_with_a_site(db: str) -> tuple[UUID, UUID, UUID]:
    runtime = open_runtime(database_url=db)
    app = runtime.app
    app.define_plan(a_plan(), T0)
    rep = app.add_representative(RepresentativeDetails("Reza"), T0)
    customer = app.register_customer(a_company(), T0, representative_id=rep)
    subscription = app.start_subscription(customer, "basic", "yearly", T0)
    runtime.close()
    return rep, customer, subscription


def test_finance_bills_side_services_at_the_console(db):
    rep, customer, subscription = a_customer_with_a_site(db)
    code, out, err = billing(
        "invoice", "create", str(customer),
        "--line", "ثبت دامنه", "1,500,000", "1",
        "--line", "SEO", "2000000", "3",
        "--due-days", "10", "--db", db,
    )  # fmt: skip
    assert code == 0, err
    assert "8,250,000 rials (VAT 750,000)" in out and f"on subscription {subscription}" in out
    invoice_id = UUID(out.split()[2])
    runtime = open_runtime(database_url=db)
    invoice = runtime.app.get_invoice(invoice_id)
    assert invoice.kind.value == "service" and invoice.representative_id == rep
    issued = next(iter(runtime.app.events.get(invoice_id)))
    assert recorded_actor(issued).kind is ActorKind.OPERATOR
    runtime.close()

    code, out, _ = billing(
        "reports", "revenue", "--by-line", "--group-by", "representative",
        "--format", "csv", "--db", db,
    )  # fmt: skip
    assert code == 0
    rows = {row["line"]: row for row in csv.DictReader(io.StringIO(out))}
    assert rows["services"]["invoiced"] == "8250000"
    assert rows["services"]["representative_id"] == str(rep)
    assert int(rows["all"]["invoiced"]) == int(rows["hosting"]["invoiced"]) + 8_250_000


def test_a_bad_line_or_an_unknown_customer_exits_non_zero_with_the_reason(db):
    _, customer, _ = a_customer_with_a_site(db)
    code, _, err = billing(
        "invoice", "create", str(customer), "--line", "SEO", "1000", "0",
        "--due-days", "10", "--db", db,
    )  # fmt: skip
    assert code == 2 and "lines[0].quantity" in err and "[invalid_input]" in err
    code, _, err = billing(
        "invoice", "create", "00000000-0000-4000-8000-000000000000",
        "--line", "SEO", "1000", "1", "--due-days", "10", "--db", db,
    )  # fmt: skip
    assert code == 4 and "customer_not_found" in err
