"""The scheduler: ticks that ask the domain what is due and execute it.

A tick is one call of :meth:`BillingApplication.advance` at the clock's current time. The
domain decides what is due (a pure function of state, policy and now); the tick only asks and
executes. The job never overlaps itself (``max_instances=1``) and missed runs collapse into one
(``coalesce``): a slow tick delays the next, it never piles up. Several schedulers against one
PostgreSQL are safe because every step is idempotent and guarded by optimistic concurrency and
deterministic ids (see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from adapters.clock import Clock
from service_layer.application import BillingApplication, Executed

log = logging.getLogger("billing.scheduler")

JOB_ID = "lifecycle-tick"


def tick(app: BillingApplication, clock: Clock) -> list[Executed]:
    """Execute everything due at the clock's now; returns what was executed."""
    now = clock.now()
    executed = app.advance(now)
    for done in executed:
        log.info(
            "%s %s for subscription %s (due %s, recorded %s)",
            done.step.describe(),
            done.step.invoice_id or "",
            done.subscription_id,
            done.step.due_at.isoformat(),
            done.recorded_at.isoformat(),
        )
    return executed


def build_scheduler(
    app: BillingApplication,
    clock: Clock,
    *,
    interval_seconds: float = 60.0,
    blocking: bool = False,
) -> BaseScheduler:
    """A scheduler with one job: the lifecycle tick, first run at once."""
    scheduler: BaseScheduler = (BlockingScheduler if blocking else BackgroundScheduler)(
        timezone=UTC
    )
    scheduler.add_job(
        tick,
        "interval",
        seconds=interval_seconds,
        args=[app, clock],
        id=JOB_ID,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
        next_run_time=datetime.now(UTC),
    )
    return scheduler
