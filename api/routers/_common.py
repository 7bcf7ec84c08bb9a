"""What several routers answer the same way: a recorded payment, a subscription after a command,
a token just made or listed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import Response
from pydantic import BaseModel

from adapters.tokens import IssuedToken, Principal, TokenInfo
from api.context import Context
from api.permissions import Permission
from api.schemas import OwnerOut, PaymentOut, SubscriptionOut, TokenItemOut, TokenOut
from domain.actor import Actor
from projections.visibility import visible_subscription
from service_layer.timeline import iso


def answer(model: BaseModel, status_code: int = 200) -> Response:
    """``model`` as its route's JSON answer, written at once by pydantic's serializer. Given
    the model instead, FastAPI validates it again against the route's ``response_model`` (for
    a ``def`` route in a thread-pool hop of its own) before writing the same bytes: the
    model was validated when it was built. The route keeps its ``response_model`` for the
    OpenAPI document."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")


def payment_out(outcome: Any) -> PaymentOut:
    """A payment as recorded: finance's by hand, or a confirmed receipt's."""
    return PaymentOut(
        reference=outcome.reference,
        amount=outcome.amount.rials,
        allocations=[
            {"invoice_id": str(a.invoice_id), "amount": a.amount.rials} for a in outcome.allocations
        ],
        credit=outcome.credit.rials,
        restored=outcome.restored,
    )


def subscription_command(
    ctx: Context,
    who: Principal,
    subscription_id: UUID,
    permission: Permission,
    command: Callable[[], object],
) -> SubscriptionOut:
    """A command on one subscription: the caller must hold ``permission`` (else 403 naming
    its action) and see the subscription (else 404); ``command`` runs; the answer is the
    subscription as it is after it."""
    permission.check(who)
    visible_subscription(ctx.app, who, subscription_id)
    command()
    return SubscriptionOut.of_lifecycle(ctx.app.lifecycle_of(subscription_id))


def _owner_out(owner: Actor) -> OwnerOut:
    return OwnerOut(kind=owner.kind.value, id=owner.id, name=owner.name, role=owner.role)


def token_out(issued: IssuedToken, response: Response, subject: UUID | None = None) -> TokenOut:
    """A token just made: its text is in this answer only, which no cache (nor the
    idempotency store) keeps."""
    response.headers["Cache-Control"] = "no-store"
    return TokenOut(
        token=issued.token,
        id=issued.id,
        role=issued.role.value,
        subject=subject,
        owner=_owner_out(issued.owner),
        created_at=iso(issued.created_at),
        expires_at=iso(issued.expires_at),
        scopes=sorted(issued.scopes),
    )


def token_item_out(info: TokenInfo, now: datetime) -> TokenItemOut:
    """A token as listed: never its text nor its hash."""
    return TokenItemOut(
        id=info.id,
        role=info.role.value,
        owner=_owner_out(info.owner),
        scopes=sorted(info.scopes),
        label=info.label,
        created_at=iso(info.created_at),
        expires_at=iso(info.expires_at),
        last_used_at=iso(info.last_used_at),
        revoked_at=iso(info.revoked_at),
        state=info.state(now),  # type: ignore[arg-type]
    )
