"""Health (no token: load balancers ask it) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse

from api.context import Context, ContextDep, PrincipalDep
from api.errors import RETRY_AFTER, STORE_DOWN, problem, store_unavailable_problem
from api.permissions import READ_METRICS
from service_layer.timeline import iso

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness, the store in use, and whether test mode is on")
def healthz(ctx: ContextDep) -> dict:
    """Liveness: this process answers. It does not depend on the store (``/readyz`` does);
    in test mode the clock lives in the store, so ``now`` is null while it cannot be read."""
    try:
        now = iso(ctx.now())
    except STORE_DOWN:
        now = None
    return {
        "status": "ok",
        "persistence": ctx.app.describe()["persistence"],
        "test_mode": ctx.test_mode,
        "now": now,
        "scheduler": "running" if ctx.runtime.running else "stopped",
    }


def read_model_lag(ctx: Context) -> int:
    """How many recorded events the read models have not folded yet (the least advanced of
    them): what ``/readyz`` and the back office's health page (``/office/health``) report."""
    last = ctx.app.recorder.max_notification_id() or 0
    return max(last - ctx.read_models.position(), 0)


@router.get(
    "/readyz",
    summary="Readiness: the store answers and the read models are not far behind (no token)",
    response_class=JSONResponse,
)
def readyz(ctx: ContextDep) -> JSONResponse:
    """For a load balancer: 200 when this process can serve, 503 (with what is wrong) when the
    store cannot be reached or the read models are more than BILLING_READINESS_MAX_LAG events
    behind the log. ``/healthz`` only says the process is alive."""
    limit = ctx.runtime.settings.readiness_max_lag
    try:
        lag = read_model_lag(ctx)
    except STORE_DOWN:
        return store_unavailable_problem(store="unreachable")
    if lag > limit:
        return problem(
            503,
            "read_models_behind",
            f"The read models are {lag:,} events behind the log (more than {limit:,}): "
            "answers would be stale.",
            headers={"Retry-After": str(RETRY_AFTER)},
            store="ok",
            read_model_lag=lag,
        )
    return JSONResponse({"status": "ready", "store": "ok", "read_model_lag": lag})


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    summary="Prometheus metrics (finance or admin token)",
)
def metrics(ctx: ContextDep, who: PrincipalDep) -> str:
    READ_METRICS.check(who)
    return ctx.runtime.metrics_text()
