"""The portal's HTTP API (FastAPI).

This first version serves the health check only; the resources of DESIGN.md §9 (plans,
customers, subscriptions, invoices, payments, audit, reports) arrive with the HTTP API issue.
The application is built from the one composition root, never at import time.
"""

from __future__ import annotations

from fastapi import FastAPI

from service_layer.application import BillingApplication


def create_app(application: BillingApplication | None = None) -> FastAPI:
    if application is None:
        from bootstrap import build_application

        application = build_application()
    api = FastAPI(title="Billing lifecycle engine", version="0.1.0")
    api.state.billing = application

    @api.get("/healthz", tags=["health"])
    def healthz() -> dict[str, object]:
        """Liveness and the store in use."""
        return {
            "status": "ok",
            "persistence": application.describe()["persistence"],
            "events": application.recorder.max_notification_id() or 0,
        }

    return api
