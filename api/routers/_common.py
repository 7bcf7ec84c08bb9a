"""What several routers answer the same way: a recorded payment, a subscription after a command."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from adapters.tokens import Principal, Role
from api.context import Context, require
from api.schemas import PaymentOut, SubscriptionOut
from projections.visibility import visible_subscription


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
    roles: tuple[Role, ...],
    action: str,
    command: Callable[[], object],
) -> SubscriptionOut:
    """A command on one subscription: the caller must hold one of ``roles`` (else 403 naming
    ``action``) and see the subscription (else 404); ``command`` runs; the answer is the
    subscription as it is after it."""
    require(who, *roles, action=action)
    visible_subscription(ctx.app, who, subscription_id)
    command()
    return SubscriptionOut.of_lifecycle(ctx.app.lifecycle_of(subscription_id))
