"""A served engine in test mode with the sandbox gateway, one company and its subscription: the
shop the payment and hostile-input tests run against."""

from __future__ import annotations

import httpx

from adapters.sandbox_gateway import SandboxGateway
from app import create_app
from bootstrap import build_engine
from tests.api.server import bearer, reserve, url_of
from tests.builders import T0, a_company, a_plan


class Shop:
    """A served engine in test mode with the sandbox gateway, one company and its subscription."""

    def __init__(self, database_url: str, gateway: SandboxGateway, **settings) -> None:
        self.sock = reserve()
        self.base = url_of(self.sock)
        self.engine = build_engine(
            database_url=database_url,
            test_mode=True,
            test_clock_start=T0,
            gateway_url=gateway.url,
            gateway_callback_url=f"{self.base}/payments/callback",
            **{"public_url": self.base, **settings},
        )
        self.api = create_app(self.engine)
        ctx = self.api.state.context
        app = ctx.app
        app.define_plan(a_plan("business", 2_500_000), T0)
        self.customer = app.register_customer(a_company(), T0)
        self.subscription = app.start_subscription(self.customer, "business", "monthly", T0)
        self.invoice = app.get_subscription(self.subscription).invoice_ids[0]
        tokens = ctx.tokens
        self.admin = bearer(tokens.create("admin", T0))
        self.finance = bearer(tokens.create("finance", T0))
        self.me = bearer(tokens.create("customer", T0, subject=self.customer))
        self.gateway = gateway

    def suspend(self, http: httpx.Client) -> None:
        http.post("/admin/clock/advance", json={"days": 34}, headers=self.admin)
        assert self.status(http) == "suspended"

    def mellat_receipt(self, http: httpx.Client, tracking_number: str, amount: int) -> dict:
        """The customer registers a Bank Mellat receipt for the shop's invoice."""
        registered = http.post(
            f"/invoices/{self.invoice}/receipts",
            json={
                "bank": "012",
                "tracking_number": tracking_number,
                "amount": amount,
                "paid_on": "1405/02/01",
            },
            headers=self.me,
        )
        assert registered.status_code == 201, registered.text
        return registered.json()

    def status(self, http: httpx.Client) -> str:
        return http.get(f"/subscriptions/{self.subscription}", headers=self.me).json()["status"]

    def payments(self) -> list:
        from service_layer.timeline import timeline

        return [
            e
            for e in timeline(self.api.state.context.app, self.subscription)
            if e.event == "PaymentRecorded"
        ]
