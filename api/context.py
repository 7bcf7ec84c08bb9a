"""What every route needs: the runtime the composition root built (application, clock, read
models, outbox, stores, documents, payments), and who is calling. Built once by
``app.create_app``, never at import time."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

from fastapi import Depends, Request

from adapters.idempotency import IdempotencyStore
from adapters.tokens import Principal, Role, TokenStore
from api.errors import forbidden, unauthorized
from domain.customer import Customer
from domain.errors import CustomerNotFound, InvoiceNotFound, SubscriptionNotFound
from domain.invoice import Invoice
from domain.subscription import Subscription
from service_layer.application import BillingApplication, Lifecycle

if TYPE_CHECKING:
    from bootstrap import Runtime
    from projections.runner import ReadModels


@dataclass
class Context:
    runtime: Runtime
    _read_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def app(self) -> BillingApplication:
        return self.runtime.app

    @property
    def read_models(self) -> ReadModels:
        return self.runtime.read_models

    @property
    def tokens(self) -> TokenStore:
        return self.runtime.tokens

    @property
    def idempotency(self) -> IdempotencyStore:
        return self.runtime.idempotency

    @property
    def test_mode(self) -> bool:
        return self.runtime.test_mode

    def now(self) -> datetime:
        return self.runtime.clock.now()

    def fresh_read_models(self) -> ReadModels:
        """The read models, caught up with every event recorded so far (read your writes)."""
        with self._read_lock:
            self.read_models.catch_up()
        return self.read_models


async def context(request: Request) -> Context:
    # async: it does no I/O, and FastAPI runs a plain ``def`` dependency in the thread pool.
    return request.app.state.context


ContextDep = Annotated[Context, Depends(context)]


def principal(request: Request, ctx: ContextDep) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized()
    found = ctx.tokens.principal(token.strip())
    if found is None:
        raise unauthorized("This token is not known or was revoked. Ask an admin for a new one.")
    request.state.principal = found
    return found


PrincipalDep = Annotated[Principal, Depends(principal)]


def require(who: Principal, *roles: Role, action: str) -> None:
    if who.role not in roles:
        raise forbidden(action)


# --- what a caller may see: another party's resource is "not found", so ids cannot be probed ----


def may_see_customer(who: Principal, customer: Customer) -> bool:
    if who.role in (Role.ADMIN, Role.FINANCE):
        return True
    if who.role is Role.CUSTOMER:
        return customer.id == who.subject
    return customer.representative_id is not None and customer.representative_id == who.subject


def may_see_subscription(who: Principal, sub: Subscription) -> bool:
    if who.role in (Role.ADMIN, Role.FINANCE):
        return True
    if who.role is Role.CUSTOMER:
        return sub.customer_id == who.subject
    return sub.representative_id is not None and sub.representative_id == who.subject


def visible_customer(ctx: Context, who: Principal, customer_id: UUID) -> Customer:
    customer = ctx.app.get_customer(customer_id)
    if not may_see_customer(who, customer):
        raise CustomerNotFound(f"There is no customer {customer_id}.", customer_id=str(customer_id))
    return customer


def visible_subscription(ctx: Context, who: Principal, subscription_id: UUID) -> Subscription:
    sub = ctx.app.get_subscription(subscription_id)
    _check_visible(who, sub)
    return sub


def visible_lifecycle(ctx: Context, who: Principal, subscription_id: UUID) -> Lifecycle:
    """The subscription with its open invoices, loaded once, if the caller may see it."""
    life = ctx.app.lifecycle_of(subscription_id)
    _check_visible(who, life.subscription)
    return life


def _check_visible(who: Principal, sub: Subscription) -> None:
    if not may_see_subscription(who, sub):
        raise SubscriptionNotFound(
            f"There is no subscription {sub.id}.", subscription_id=str(sub.id)
        )


def visible_invoice(ctx: Context, who: Principal, invoice_id: UUID) -> Invoice:
    invoice = ctx.app.get_invoice(invoice_id)
    if who.role in (Role.ADMIN, Role.FINANCE):
        return invoice
    if who.role is Role.CUSTOMER:  # an invoice names its subscription's customer (both fixed)
        visible = invoice.customer_id == who.subject
    else:  # only the subscription names the representative
        visible = may_see_subscription(who, ctx.app.get_subscription(invoice.subscription_id))
    if not visible:
        raise InvoiceNotFound(f"There is no invoice {invoice_id}.", invoice_id=str(invoice_id))
    return invoice
