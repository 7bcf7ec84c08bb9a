"""What every route needs: the runtime the composition root built (application, clock, read
models, outbox, stores, documents, payments), and who is calling. Built once by
``app.create_app``, never at import time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from adapters.credentials import StaffAccess
from adapters.idempotency import IdempotencyStore
from adapters.tokens import Principal, Role, TokenStore
from api import permissions as _permissions
from api.errors import forbidden, unauthorized
from api.scopes import check_scopes

if TYPE_CHECKING:
    from bootstrap import Runtime
    from projections.reads import Reads
    from projections.runner import ReadModels
    from service_layer.application import BillingApplication


@dataclass
class Context:
    runtime: Runtime
    _reads: Reads | None = None

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
    def credentials(self) -> StaffAccess:
        return self.runtime.credentials

    @property
    def idempotency(self) -> IdempotencyStore:
        return self.runtime.idempotency

    @property
    def test_mode(self) -> bool:
        return self.runtime.test_mode

    def now(self) -> datetime:
        return self.runtime.clock.now()

    @property
    def reads(self) -> Reads:
        """The GETs' single-statement reads."""
        if self._reads is None:
            from projections.reads import Reads

            self._reads = Reads(self.read_models)
        return self._reads

    def fresh_read_models(self) -> ReadModels:
        """The read models, as fresh as every write answered so far: a write folds its own
        events before it answers (``ReadModels.fold_written``), so a read never waits for a
        fold (docs/ARCHITECTURE.md, "Reads never wait")."""
        return self.read_models


async def context(request: Request) -> Context:
    # async: it does no I/O, and FastAPI runs a plain ``def`` dependency in the thread pool.
    return request.app.state.context


ContextDep = Annotated[Context, Depends(context)]


#: What a refused token's holder is told, by the reason the token store gives.
_REFUSED = {
    "unknown": "This token is not known. Ask an admin for one (POST /admin/tokens, "
    "billing tokens create).",
    "revoked": "This token was revoked. Ask an admin for a new one.",
    "expired": "This token has expired. Ask an admin for a new one.",
    "owner_disabled": "The staff member this token belongs to was disabled, so it no longer works.",
}


def authenticate(ctx: Context, authorization: str) -> Principal:
    """The caller an ``Authorization`` header names, or 401 saying why not (an unknown,
    revoked or expired token, a disabled staff member's)."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized()
    now = ctx.now()
    found = ctx.tokens.principal(token.strip(), now)
    if found is None:
        reason = ctx.tokens.refusal(token.strip(), now)
        raise unauthorized(_REFUSED[reason], reason=reason)
    return found


def principal(request: Request) -> Principal:
    # The context from the app's state rather than as a dependency of its own: every
    # dependency costs FastAPI a resolution per request, and this one is on every request.
    found = authenticate(request.app.state.context, request.headers.get("Authorization", ""))
    check_scopes(request, found)
    request.state.principal = found
    return found


PrincipalDep = Annotated[Principal, Depends(principal)]


#: Who reads every party's records, the audit trail, the reports and the metrics.
READERS = _permissions.READERS


def require(who: Principal, *roles: Role, action: str) -> None:
    if who.role not in roles:
        raise forbidden(action)
