"""What every route needs: the runtime the composition root built (application, clock, read
models, outbox, stores, documents, payments), and who is calling. Built once by
``app.create_app``, never at import time."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from adapters.idempotency import IdempotencyStore
from adapters.tokens import Principal, Role, TokenStore
from api.errors import forbidden, unauthorized

if TYPE_CHECKING:
    from bootstrap import Runtime
    from projections.runner import ReadModels
    from service_layer.application import BillingApplication


@dataclass
class Context:
    runtime: Runtime
    _read_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def app(self) -> BillingApplication:
        return self.runtime.app

    def app_for(self, who: Principal) -> BillingApplication:
        """The application, its commands recorded as caused by the caller's actor."""
        return self.runtime.app.acting(who.actor)

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
