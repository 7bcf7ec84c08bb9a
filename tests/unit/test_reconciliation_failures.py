"""Reconciliation when something fails (docs/PAYMENTS.md, "Verify timeouts and
reconciliation"): a store outage is never taken for "not our payment", and one attempt the
engine refuses does not hold up the others."""

import logging

import pytest
from eventsourcing.persistence import OperationalError

from adapters.clock import SimulatedClock
from adapters.gateway import Unverified, Verification
from domain.payment import GatewayStatus
from service_layer.payments import OnlinePayments
from tests.builders import DAY, T0, in_memory_app, ordered


class GatewayHoldingPayments:
    """A gateway whose customers paid the given authorities and nobody verified them yet."""

    name = "fake"
    minimum = 10_000

    def __init__(self, *authorities: str) -> None:
        self.authorities = list(authorities)

    def unverified(self) -> list[Unverified]:
        return [Unverified(a, 0) for a in self.authorities]

    def verify(self, authority: str, amount: int) -> Verification:
        return Verification(100, f"ref-{authority}")


def a_payment_link(app, authority: str, opened_at):
    """A subscription ordered at T0 whose first invoice's payment link is opened at ``opened_at``."""
    sub_id = ordered(app)
    invoice = app.get_invoice(app.get_subscription(sub_id).invoice_ids[0])
    app.open_payment_link(invoice.id, authority, invoice.balance, "fake", opened_at)
    return sub_id


def test_a_store_outage_is_not_taken_for_a_payment_this_engine_did_not_start(monkeypatch):
    app = in_memory_app()
    a_payment_link(app, "A1", T0 + DAY)
    payments = OnlinePayments(app, GatewayHoldingPayments("A1"), SimulatedClock(T0 + 2 * DAY))

    def unavailable(authority):
        raise OperationalError("database is unavailable")

    monkeypatch.setattr(app, "gateway_payment", unavailable)
    with pytest.raises(OperationalError):
        payments.reconcile()


def test_a_store_outage_while_recording_a_verified_payment_ends_the_round(monkeypatch):
    app = in_memory_app()
    a_payment_link(app, "A1", T0 + DAY)
    payments = OnlinePayments(app, GatewayHoldingPayments("A1"), SimulatedClock(T0 + 2 * DAY))

    def unavailable(*args, **kwargs):
        raise OperationalError("database is unavailable")

    monkeypatch.setattr(app, "record_gateway_outcome", unavailable)
    with pytest.raises(OperationalError):
        payments.reconcile()


def test_a_payment_this_engine_did_not_start_is_not_checked():
    app = in_memory_app()
    payments = OnlinePayments(app, GatewayHoldingPayments("NOT-OURS"), SimulatedClock(T0))
    report = payments.reconcile()
    assert (report.checked, report.errors) == (0, 0)


def test_an_attempt_the_engine_refuses_is_logged_and_counted_and_the_others_are_reconciled(
    caplog,
):
    app = in_memory_app()
    # The link of A1 was opened after the reconciliation's moment (a clock far behind): the
    # engine refuses to record it then (time_went_backwards). A2's is recorded all the same.
    a_payment_link(app, "A1", T0 + 10 * DAY)
    a_payment_link(app, "A2", T0 + DAY)
    payments = OnlinePayments(app, GatewayHoldingPayments("A1", "A2"), SimulatedClock(T0 + 5 * DAY))
    with caplog.at_level(logging.WARNING, logger="billing.payments"):
        report = payments.reconcile()
    assert (report.checked, report.recorded, report.errors) == (2, 1, 1)
    assert app.gateway_payment("A1").status is GatewayStatus.PENDING
    assert app.gateway_payment("A2").status is GatewayStatus.VERIFIED
    assert "A1" in caplog.text and "time_went_backwards" in caplog.text


class FailingReconciliation:
    """Online payments whose reconciliation round fails with ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def reconcile(self):
        raise self.error


def an_engine_reconciling_with(payments):
    from bootstrap import build_engine

    engine = build_engine(database_url="memory:", clock=SimulatedClock(T0))
    engine.scheduler.payments = payments
    engine.scheduler.reconcile_interval = 0.0  # every tick reconciles
    return engine.scheduler


def test_the_scheduler_counts_a_failed_gateway_round_and_ticks_on():
    scheduler = an_engine_reconciling_with(FailingReconciliation(ConnectionError("gateway down")))
    scheduler.tick()
    scheduler.tick()
    assert scheduler.metrics.payment_reconcile_errors == 2
    assert scheduler.metrics.tick_errors == 0
    assert "billing_gateway_reconcile_errors_total 2" in scheduler.metrics_text()


def test_a_store_outage_in_the_reconciliation_fails_the_tick_and_is_counted_as_one():
    failing = FailingReconciliation(OperationalError("database is unavailable"))
    scheduler = an_engine_reconciling_with(failing)
    with pytest.raises(OperationalError):
        scheduler.tick()
    assert scheduler.metrics.tick_errors == 1
    assert scheduler.metrics.payment_reconcile_errors == 0
