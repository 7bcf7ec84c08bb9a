"""Health (``/office/health``): the scheduler's last tick, the outbox's backlog and failures by
channel, and how far the read models are behind the log (docs/BACKOFFICE.md, "Health").

What ``/metrics`` and ``/readyz`` read (``api/routers/health.py``, ``scheduler.py``), in
Persian, under the same permission as ``/metrics`` (``READ_METRICS``):

- **Scheduler**: this process's scheduler (running or not, its interval, its last tick, how
  long it took, its counters), and, read from the store so it holds whichever process ticks,
  the steps already due and not yet taken (``rm_due_actions``): a scheduler that runs keeps
  it near zero, so its oldest due moment says how long ticks have been missing.
- **Outbox**: per channel, deliveries pending, delivered, failed and skipped, and the age of
  the oldest pending one; the latest failures (given up, or being retried) with their error.
- **Read models**: the last recorded event, each read model's position, the lag (the same
  figure ``/readyz`` compares with ``BILLING_READINESS_MAX_LAG``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.backoffice.render import render
from api.backoffice.session import SessionDep
from api.context import ContextDep
from api.permissions import READ_METRICS
from api.routers.health import read_model_lag
from projections.model import moment, parse_moment
from projections.outbox import CHANNELS, STATUSES

router = APIRouter(prefix="/office/health", include_in_schema=False)

#: The failures listed on the page, newest first.
FAILURES_SHOWN = 20

CHANNEL_FA = {
    "email": "ایمیل",
    "sms": "پیامک",
    "panel": "پنل مشتری",
    "platform": "سکوی میزبانی",
    "webhook": "وب‌هوک",
}
STATUS_FA = {
    "pending": "در صف",
    "delivered": "رسیده",
    "failed": "ناموفق",
    "skipped": "رد شده",
}


def _seconds(delta: float) -> str:
    """A duration as a person reads it: seconds, minutes, hours or days (Latin digits)."""
    seconds = int(delta)
    if seconds < 120:
        return f"{seconds} ثانیه"
    if seconds < 7200:
        return f"{seconds // 60} دقیقه"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} ساعت"
    return f"{seconds // 86400} روز"


def scheduler_state(ctx: ContextDep, now: datetime) -> dict[str, Any]:
    runtime = ctx.runtime
    state: dict[str, Any] = {"here": runtime.built("scheduler"), "running": runtime.running}
    if state["here"]:
        m = runtime.metrics
        state |= {
            "interval": runtime.interval,
            "last_tick_at": m.last_tick_at,
            "last_tick_seconds": m.last_tick_seconds,
            "ticks": m.ticks,
            "steps": m.steps,
            "tick_errors": m.tick_errors,
            "step_errors": m.step_errors,
            "delivery_errors": m.delivery_errors,
        }
    due = ctx.read_models.query(
        "SELECT COUNT(*) AS n, MIN(due_at) AS oldest FROM {rm_due_actions} WHERE due_at <= ?",
        (moment(now),),
    )[0]
    oldest = parse_moment(due["oldest"]) if due["oldest"] else None
    state["due_now"] = int(due["n"] or 0)
    state["oldest_due"] = oldest
    state["oldest_due_for"] = _seconds((now - oldest).total_seconds()) if oldest else None
    return state


def outbox_state(ctx: ContextDep, now: datetime) -> dict[str, Any]:
    store = ctx.runtime.outbox
    counts = store.counts()
    oldest = store.oldest_pending()
    channels: list[dict[str, Any]] = [
        {
            "channel": channel,
            "label": CHANNEL_FA.get(channel, channel),
            "counts": {status: counts.get((channel, status), 0) for status in STATUSES},
            "oldest_pending": oldest.get(channel),
            "waiting_for": (
                _seconds((now - oldest[channel]).total_seconds()) if channel in oldest else None
            ),
        }
        for channel in [*CHANNELS, *sorted({c for c, _ in counts} - set(CHANNELS))]
    ]
    return {
        "channels": channels,
        "statuses": [(s, STATUS_FA[s]) for s in STATUSES],
        "pending": sum(c["counts"]["pending"] for c in channels),
        "failed_count": store.failure_count(),
        "failures": [
            f | {"label": CHANNEL_FA.get(f["channel"], f["channel"])}
            for f in store.latest_failures(FAILURES_SHOWN)
        ],
    }


def read_model_state(ctx: ContextDep) -> dict[str, Any]:
    lag = read_model_lag(ctx)
    last = ctx.app.recorder.max_notification_id() or 0
    positions = ctx.read_models.positions()
    limit = ctx.runtime.settings.readiness_max_lag
    return {
        "lag": lag,
        "last": last,
        "limit": limit,
        "ready": lag <= limit,
        "models": [
            {"name": name, "position": position, "lag": max(last - position, 0)}
            for name, position in sorted(positions.items())
        ],
    }


@router.get("")
def health_page(request: Request, session: SessionDep, ctx: ContextDep) -> Response:
    READ_METRICS.check(session.principal)
    now = ctx.now()
    # The read models first, before anything on this page folds new events into them.
    read_models = read_model_state(ctx)
    return render(
        request,
        session,
        "health.html.j2",
        title="سلامت سامانه",
        nav="health",
        now=now,
        test_mode=ctx.test_mode,
        read_models=read_models,
        scheduler=scheduler_state(ctx, now),
        outbox=outbox_state(ctx, now),
    )
