"""What a token's scopes let it do, within what its role may (docs/API.md, "Scopes").

A token without scopes may do all its role may. With ``read`` it may only read: any request
but GET or HEAD is refused (403 ``read_only_token``). With ``payments`` it may read and use
the payment routes below, and nothing else (403 ``outside_token_scope``): a machine client that
takes payments for the portal needs no more. The role still decides within the scope: a
customer's ``payments`` token starts payments for its own invoices, a finance ``payments``
token decides receipts, and neither voids an invoice or places a hold.
"""

from __future__ import annotations

from fastapi import Request

from adapters.tokens import Principal, Scope
from api.errors import ApiError

READS = frozenset({"GET", "HEAD"})

#: The payment routes, by method and path template: paying an invoice online, recording a
#: payment received, asking to pay offline and finance's decision on it, registering a bank
#: receipt and finance's decision on it. Holds, voids, plan changes and cancellations are not
#: payments. (A test checks that each is a route the API serves.)
PAYMENT_ROUTES = frozenset(
    {
        ("POST", "/invoices/{invoice_id}/payment-link"),
        ("POST", "/invoices/{invoice_id}/payments"),
        ("POST", "/invoices/{invoice_id}/offline-requests"),
        ("POST", "/offline-requests/{request_id}/approve"),
        ("POST", "/offline-requests/{request_id}/reject"),
        ("POST", "/invoices/{invoice_id}/receipts"),
        ("POST", "/receipts/{receipt_id}/confirm"),
        ("POST", "/receipts/{receipt_id}/reject"),
    }
)


def route_of(request: Request) -> str:
    """The path template of the route serving ``request`` (its path if none matched)."""
    return getattr(request.scope.get("route"), "path", request.url.path)


def check_scopes(request: Request, who: Principal) -> None:
    """Refuse (403) what the token's scopes leave out; a token without scopes passes."""
    if not who.scopes or request.method in READS:
        return
    route = route_of(request)
    if Scope.PAYMENTS in who.scopes and (request.method, route) in PAYMENT_ROUTES:
        return
    if Scope.PAYMENTS not in who.scopes:
        raise ApiError(
            403,
            "read_only_token",
            f"This token may only read (scope read), so it may not {request.method} {route}. "
            "Use a token without that scope, or ask an admin for one.",
        )
    raise ApiError(
        403,
        "outside_token_scope",
        f"This token's scope is payments: it may read and use the payment routes, not "
        f"{request.method} {route} (docs/API.md, 'Scopes'). Use a token without that scope.",
    )
