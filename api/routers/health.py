"""Health (no token: load balancers ask it) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from adapters.tokens import Role
from api.context import ContextDep, PrincipalDep, require
from projections.store import UnstorableText
from service_layer.timeline import iso

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness, the store in use, and whether test mode is on")
def healthz(ctx: ContextDep) -> dict:
    return {
        "status": "ok",
        "persistence": ctx.app.describe()["persistence"],
        "test_mode": ctx.test_mode,
        "now": iso(ctx.now()),
        "scheduler": "running" if ctx.engine.running else "stopped",
    }


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    summary="Prometheus metrics (finance or admin token)",
)
def metrics(ctx: ContextDep, who: PrincipalDep) -> str:
    require(who, Role.ADMIN, Role.FINANCE, action="read the metrics")
    m = ctx.engine.metrics
    lines = [
        "# HELP billing_events_total Events stored.",
        "# TYPE billing_events_total counter",
        f"billing_events_total {ctx.app.recorder.max_notification_id() or 0}",
        "# HELP billing_scheduler_ticks_total Scheduler ticks run by this process.",
        "# TYPE billing_scheduler_ticks_total counter",
        f"billing_scheduler_ticks_total {m.ticks}",
        "# HELP billing_scheduler_steps_total Lifecycle steps executed by this process.",
        "# TYPE billing_scheduler_steps_total counter",
        f"billing_scheduler_steps_total {m.steps}",
        "# HELP billing_scheduler_tick_errors_total Ticks that failed.",
        "# TYPE billing_scheduler_tick_errors_total counter",
        f"billing_scheduler_tick_errors_total {m.tick_errors}",
        "# HELP billing_scheduler_step_errors_total Due subscriptions a tick could not advance "
        "(the tick went on with the others).",
        "# TYPE billing_scheduler_step_errors_total counter",
        f"billing_scheduler_step_errors_total {m.step_errors}",
        "# HELP billing_scheduler_last_tick_seconds Duration of the last tick.",
        "# TYPE billing_scheduler_last_tick_seconds gauge",
        f"billing_scheduler_last_tick_seconds {m.last_tick_seconds:.6f}",
        "# HELP billing_outbox_deliveries Outbox deliveries by channel and status.",
        "# TYPE billing_outbox_deliveries gauge",
    ]
    for (channel, status), count in sorted(ctx.engine.dispatcher.store.counts().items()):
        lines.append(f'billing_outbox_deliveries{{channel="{channel}",status="{status}"}} {count}')
    lines += [
        "# HELP billing_outbox_failed_deliveries Deliveries that gave up or are being retried.",
        "# TYPE billing_outbox_failed_deliveries gauge",
        f"billing_outbox_failed_deliveries {len(ctx.engine.dispatcher.store.failed_deliveries(limit=10_000))}",
        "# HELP billing_read_model_position Last event folded into each read model.",
        "# TYPE billing_read_model_position gauge",
    ]
    for name, position in ctx.read_models.positions().items():
        lines.append(f'billing_read_model_position{{read_model="{name}"}} {position}')
    lines += [
        "# HELP billing_read_model_unstorable_text_total Values of stored events a read model "
        "could not hold as recorded (NUL, half a surrogate pair), stored with U+FFFD.",
        "# TYPE billing_read_model_unstorable_text_total counter",
        f"billing_read_model_unstorable_text_total {UnstorableText.count}",
    ]
    return "\n".join(lines) + "\n"
