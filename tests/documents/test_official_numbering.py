"""Official invoice numbers under concurrency: workers paying at the same moment on the real
PostgreSQL still get consecutive numbers, with no gap and no duplicate."""

from __future__ import annotations

import threading

import pytest

from bootstrap import build_application
from domain.official import OfficialNumberClaim
from tests.builders import DAY, SELLER, T0, a_company, a_plan, ordered
from tests.stores import postgres_schema

WORKERS = 6
EACH = 5


@pytest.mark.postgres
def test_parallel_payments_get_consecutive_numbers_without_gaps_or_duplicates():
    with postgres_schema() as url:
        setup = build_application(database_url=url, seller_name=None)
        setup.seller = SELLER
        setup.define_plan(a_plan(), T0)
        invoices = []
        for i in range(WORKERS * EACH):
            customer = setup.register_customer(a_company(f"Co {i}"), T0)
            sub_id = ordered(setup, customer=customer)
            invoices.append(setup.get_subscription(sub_id).invoice_ids[0])

        # Each worker is its own application with its own connections, as separate API
        # processes would be; they start together and pay at the same moment.
        apps = []
        for _ in range(WORKERS):
            app = build_application(database_url=url)
            app.seller = SELLER
            apps.append(app)
        start = threading.Barrier(WORKERS)
        failures: list[BaseException] = []

        def work(app, mine):
            start.wait()
            try:
                for invoice_id in mine:
                    app.record_payment(
                        f"pay-{invoice_id}", 1_100_000, T0 + DAY, invoice_id=invoice_id
                    )
            except BaseException as error:  # reported below, with the others
                failures.append(error)

        threads = [
            threading.Thread(target=work, args=(app, invoices[w::WORKERS]))
            for w, app in enumerate(apps)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failures, failures

        numbers = sorted(setup.get_invoice(i).official.number for i in invoices)
        assert numbers == list(range(1, WORKERS * EACH + 1))
        # Each number was claimed exactly once, by the invoice that prints it.
        for invoice_id in invoices:
            number = setup.get_invoice(invoice_id).official.number
            claim = setup.repository.get(OfficialNumberClaim.create_id(1405, number))
            assert claim.invoice_id == invoice_id
        assert not setup.recorder.select_events(
            OfficialNumberClaim.create_id(1405, WORKERS * EACH + 1), limit=1
        )
        for app in [setup, *apps]:
            app.close()
