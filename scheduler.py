"""The scheduler: ticks that ask the domain what is due and execute it.

A tick (:meth:`Engine.tick`):

1. folds the events recorded since the last tick into the read models, the due-actions index
   and the outbox (:mod:`projections`);
2. reads from the due-actions index the subscriptions due by now, in due order, a page at a
   time, so its cost follows what is due, not how many subscriptions exist;
3. advances each (what is due is decided by the pure lifecycle policy; each subscription in
   its own atomic save), after claiming it so that several schedulers share the work;
4. folds the new events, then sends what the outbox holds (notices, platform requests).

A late tick catches up: missed notices go out first and actions wait their 24-hour lead after
them (the domain decides that; the audit trail keeps both the due and the recorded moment).

The APScheduler job never overlaps itself (``max_instances=1``) and missed runs collapse into
one (``coalesce``): a slow tick delays the next, it never piles up.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from eventsourcing.persistence import (
    ConnectionPoolClosedError,
    ConnectionUnavailableError,
    InterfaceError,
    OperationalError,
)

from adapters.clock import Clock
from service_layer.application import BillingApplication, Executed

log = logging.getLogger("billing.scheduler")

JOB_ID = "lifecycle-tick"


#: Errors of the store rather than of one subscription: they fail the whole tick (logged once,
#: counted in tick_errors), and the next tick starts again.
STORE_FAILURES = (
    OperationalError,
    InterfaceError,
    ConnectionUnavailableError,
    ConnectionPoolClosedError,
)


@dataclass
class TickReport:
    at: datetime
    executed: list[Executed] = field(default_factory=list)
    claimed_elsewhere: int = 0
    #: Subscriptions whose step raised: the others went on; these stay due for the next tick.
    failed: list[str] = field(default_factory=list)
    delivered: int = 0
    delivery_failures: int = 0
    seconds: float = 0.0


@dataclass
class Metrics:
    ticks: int = 0
    steps: int = 0
    tick_errors: int = 0
    step_errors: int = 0
    delivered: int = 0
    delivery_failures: int = 0
    last_tick_seconds: float = 0.0
    last_tick_at: datetime | None = None


class Engine:
    """The running engine: the application, its read models and outbox, and the tick."""

    def __init__(
        self,
        *,
        app: BillingApplication,
        read_models: Any,
        dispatcher: Any,
        clock: Clock,
        claims: Any,
        batch: int = 500,
        interval: float = 60.0,
        payments: Any = None,
        scans: Any = None,
        settings: Any = None,
    ) -> None:
        self.app = app
        self.read_models = read_models
        self.dispatcher = dispatcher
        self.clock = clock
        self.claims = claims
        self.batch = batch
        self.interval = interval
        self.payments = payments
        self.scans = scans
        self.settings = settings
        self.reconcile_interval = getattr(settings, "reconcile_interval", 300.0)
        self._last_reconcile = 0.0
        self.metrics = Metrics()
        self._scheduler: BaseScheduler | None = None
        self._tick_lock = threading.Lock()

    def tick(self) -> TickReport:
        with self._tick_lock:  # one tick at a time in this process, whoever calls it
            started = time.perf_counter()
            report = TickReport(self.clock.now())
            try:
                self._reconcile_now_and_then()
                self._advance_due(report)
                deliveries = self.dispatcher.dispatch()
            except Exception:
                self.metrics.tick_errors += 1
                raise
            report.delivered = deliveries.delivered
            report.delivery_failures = deliveries.failed + deliveries.retried
            report.seconds = time.perf_counter() - started
            self._count(report)
            return report

    def _advance_due(self, report: TickReport) -> None:
        self.read_models.catch_up()
        after = None
        while True:
            page = self.read_models.due_subscriptions(report.at, self.batch, after)
            for _, subscription_id in page:
                with self.claims.claim(subscription_id) as mine:
                    if not mine:
                        report.claimed_elsewhere += 1
                        continue
                    try:
                        done = self.app.advance_subscription(UUID(subscription_id), report.at)
                    except STORE_FAILURES:
                        raise  # the store itself is failing: every other subscription would too
                    except Exception:
                        # One subscription that cannot be advanced (an event that no longer
                        # decodes, a fault of ours) must not stop everyone due after it. Nothing
                        # of it was saved, so it stays due and the next tick tries it again.
                        report.failed.append(subscription_id)
                        log.exception(
                            "advancing subscription %s failed; the other due subscriptions go "
                            "on and it is tried again next tick",
                            subscription_id,
                        )
                        continue
                    if not done:
                        log.info("due index was stale for %s; recomputed", subscription_id)
                        self.read_models.repair_due(subscription_id)
                report.executed += done
                for step in done:
                    log.info(
                        "%s for %s (due %s, recorded %s)",
                        step.step.describe(),
                        step.subscription_id,
                        step.step.due_at.isoformat(),
                        step.recorded_at.isoformat(),
                    )
            if len(page) < self.batch:
                break
            after = page[-1]
        if report.executed:
            self.read_models.catch_up()  # the due index and the outbox learn what just happened

    def _reconcile_now_and_then(self) -> None:
        """Every ``reconcile_interval`` seconds of real time, settle unconfirmed gateway payments."""
        if (
            self.payments is None
            or time.monotonic() - self._last_reconcile < self.reconcile_interval
        ):
            return
        self._last_reconcile = time.monotonic()
        try:
            found = self.payments.reconcile()
        except Exception:  # the gateway may be down: the next round tries again
            log.exception("reconciliation failed")
            return
        if found.checked:
            log.info(
                "reconciled %d gateway payment(s): %d recorded, %d failed",
                found.checked,
                found.recorded,
                found.failed,
            )

    def _count(self, report: TickReport) -> None:
        m = self.metrics
        m.ticks += 1
        m.steps += len(report.executed)
        m.step_errors += len(report.failed)
        m.delivered += report.delivered
        m.delivery_failures += report.delivery_failures
        m.last_tick_seconds = report.seconds
        m.last_tick_at = report.at

    # --- running by itself ----------------------------------------------------------------------

    def _job(self) -> None:
        try:
            self.tick()
        except Exception:  # the next tick tries again; the error must not kill the scheduler
            log.exception("tick failed")

    def start(self, *, blocking: bool = False) -> BaseScheduler:
        """Tick every ``interval`` seconds, the first tick at once."""
        kind = BlockingScheduler if blocking else BackgroundScheduler
        self._scheduler = kind(timezone=UTC)
        self._scheduler.add_job(
            self._job,
            "interval",
            seconds=self.interval,
            id=JOB_ID,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=datetime.now(UTC),
        )
        self._scheduler.start()
        return self._scheduler

    def stop(self) -> None:
        """Stop ticking; a tick under way finishes first."""
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        self._scheduler = None

    def close(self) -> None:
        self.stop()
        self.claims.close()
        self.read_models.stop()
        self.app.close()

    @property
    def running(self) -> bool:
        return self._scheduler is not None and self._scheduler.running
