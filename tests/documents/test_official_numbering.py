"""Official invoice numbers under concurrency: workers paying at the same moment on the real
PostgreSQL still get consecutive numbers, with no gap and no duplicate, and, since one writer at
a time chooses and saves a number (adapters/series_lock.py), none of them ever loses a race
for a number and runs again."""

from __future__ import annotations

import logging
import threading

import pytest

from bootstrap import build_application
from domain.official import OfficialNumberClaim
from tests.builders import DAY, SELLER, T0, a_company, a_plan, ordered
from tests.stores import postgres_schema

WORKERS = 6
EACH = 5


@pytest.mark.postgres
def test_parallel_payments_get_consecutive_numbers_without_gaps_or_duplicates(caplog):
    caplog.set_level(logging.INFO, logger="service_layer.application")
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
        # Each worker pays its own invoices: the only thing they share is the series, and the
        # series lock lets no two of them choose the same number, so nothing ran twice.
        assert not conflicts_logged(caplog)

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


@pytest.mark.postgres
def test_voids_racing_payments_take_numbers_of_the_same_gapless_series(caplog):
    """Half the workers void paid invoices (each void issues a cancelling document) while the
    others pay new ones: originals and corrections together are numbered 1..n, each number
    claimed once by the invoice that prints it."""
    caplog.set_level(logging.INFO, logger="service_layer.application")
    with postgres_schema() as url:
        setup = build_application(database_url=url, seller_name=None)
        setup.seller = SELLER
        setup.define_plan(a_plan(), T0)
        paid, unpaid = [], []
        for i in range(WORKERS * EACH):
            customer = setup.register_customer(a_company(f"Co {i}"), T0)
            invoice_id = setup.get_subscription(ordered(setup, customer=customer)).invoice_ids[0]
            if i % 2:
                setup.record_payment(
                    f"pay-{invoice_id}", 1_100_000, T0 + DAY, invoice_id=invoice_id
                )
                paid.append(invoice_id)
            else:
                unpaid.append(invoice_id)
        apps = []
        for _ in range(WORKERS):
            app = build_application(database_url=url)
            app.seller = SELLER
            apps.append(app)
        start = threading.Barrier(WORKERS)
        failures: list[BaseException] = []

        def work(app, w):
            start.wait()
            try:
                if w % 2:
                    for invoice_id in paid[w // 2 :: WORKERS // 2]:
                        app.void_invoice(invoice_id, "cancelled", T0 + 2 * DAY)
                else:
                    for invoice_id in unpaid[w // 2 :: WORKERS // 2]:
                        app.record_payment(
                            f"pay-{invoice_id}", 1_100_000, T0 + 2 * DAY, invoice_id=invoice_id
                        )
            except BaseException as error:  # reported below, with the others
                failures.append(error)

        threads = [threading.Thread(target=work, args=(app, w)) for w, app in enumerate(apps)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failures, failures
        assert not conflicts_logged(caplog)

        printed = {}
        for invoice_id in paid + unpaid:
            invoice = setup.get_invoice(invoice_id)
            printed[invoice.official.number] = invoice_id
            for correction in invoice.corrections:
                printed[correction.number] = invoice_id
        total = len(paid) * 2 + len(unpaid)
        assert sorted(printed) == list(range(1, total + 1))
        for number, invoice_id in printed.items():
            claim = setup.repository.get(OfficialNumberClaim.create_id(1405, number))
            assert claim.invoice_id == invoice_id
        for invoice_id in paid:
            [cancelling] = setup.get_invoice(invoice_id).corrections
            assert cancelling.original_number == setup.get_invoice(invoice_id).official.number_text
        for app in [setup, *apps]:
            app.close()


def conflicts_logged(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "write conflict" in r.getMessage()]
