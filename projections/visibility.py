"""Who may see what: the one rule of the read side, for a single aggregate (Python) and for
the lists read from the read models (SQL), used by every API route and by the CLI.

- ``admin``, ``finance`` and ``support`` see everything; so does the operator at the console
  (the CLI, :data:`OPERATOR`).
- A ``customer`` sees their own customer record and what hangs off it: their subscriptions,
  invoices, offline payment requests and receipts.
- A ``representative`` sees the customers who chose them and the subscriptions that name them,
  with those subscriptions' invoices and offline payments.

Anything else does not exist for the caller: the API answers 404 exactly as for an id that
does not exist, so ids cannot be probed (docs/API.md). Only "not there" and "not yours" become
that answer; any other error (the store cannot be reached, a fault) propagates unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

from domain.customer import Customer
from domain.errors import CustomerNotFound, InvoiceNotFound, SubscriptionNotFound
from domain.invoice import Invoice
from domain.subscription import Subscription

if TYPE_CHECKING:
    from service_layer.application import Lifecycle


class Viewer(Protocol):
    """Who is looking: a role (``customer``, ``representative``, ``finance``, ``admin``,
    ``support``) and, for a customer or a representative, whom they are (an API token's
    principal is one)."""

    @property
    def role(self) -> str: ...

    @property
    def subject(self) -> UUID | None: ...


@dataclass(frozen=True)
class Operator:
    role: str = "admin"
    subject: UUID | None = None


#: The operator at the console: the CLI's commands see everything.
OPERATOR = Operator()

#: The roles that see every customer, subscription and invoice.
SEES_ALL = frozenset({"admin", "finance", "support"})


def sees_all(who: Viewer) -> bool:
    return who.role in SEES_ALL


# --- one aggregate -------------------------------------------------------------------------------


def may_see_customer(who: Viewer, customer: Customer) -> bool:
    if sees_all(who):
        return True
    if who.role == "customer":
        return customer.id == who.subject
    return _represents(who, customer.representative_id)


def may_see_subscription(who: Viewer, sub: Subscription) -> bool:
    if sees_all(who):
        return True
    if who.role == "customer":
        return sub.customer_id == who.subject
    return _represents(who, sub.representative_id)


def may_see_invoice(
    who: Viewer, invoice: Invoice, subscription: Callable[[UUID], Subscription]
) -> bool:
    """``subscription`` loads the invoice's subscription: only a representative needs it (an
    invoice names its subscription's customer, both fixed; only the subscription names the
    representative)."""
    if sees_all(who):
        return True
    if who.role == "customer":
        return invoice.customer_id == who.subject
    return may_see_subscription(who, subscription(invoice.subscription_id))


def _represents(who: Viewer, representative_id: UUID | None) -> bool:
    return (
        who.role == "representative"
        and representative_id is not None
        and representative_id == who.subject
    )


# --- loading what the caller may see, or "not found" ---------------------------------------------


def visible_customer(app: Any, who: Viewer, customer_id: UUID) -> Customer:
    customer = app.get_customer(customer_id)
    if not may_see_customer(who, customer):
        raise CustomerNotFound(f"There is no customer {customer_id}.", customer_id=str(customer_id))
    return customer


def visible_subscription(app: Any, who: Viewer, subscription_id: UUID) -> Subscription:
    sub = app.get_subscription(subscription_id)
    _check_subscription(who, sub)
    return sub


def visible_lifecycle(app: Any, who: Viewer, subscription_id: UUID) -> Lifecycle:
    """The subscription with its open invoices, loaded once, if the caller may see it."""
    life = app.lifecycle_of(subscription_id)
    _check_subscription(who, life.subscription)
    return life


def visible_invoice(app: Any, who: Viewer, invoice_id: UUID) -> Invoice:
    invoice = app.get_invoice(invoice_id)
    if not may_see_invoice(who, invoice, app.get_subscription):
        raise InvoiceNotFound(f"There is no invoice {invoice_id}.", invoice_id=str(invoice_id))
    return invoice


def _check_subscription(who: Viewer, sub: Subscription) -> None:
    if not may_see_subscription(who, sub):
        raise SubscriptionNotFound(
            f"There is no subscription {sub.id}.", subscription_id=str(sub.id)
        )


# --- lists from the read models ------------------------------------------------------------------

#: How each read model's rows reach a representative: the customer accounts and subscriptions
#: name them; an offline payment belongs to a subscription that does.
_REPRESENTED = {
    "rm_customer_accounts": "representative_id = ?",
    "rm_subscriptions": "representative_id = ?",
    "rm_offline_payments": (
        "subscription_id IN (SELECT subscription_id FROM {rm_subscriptions} "
        "WHERE representative_id = ?)"
    ),
}


def visible_rows(who: Viewer, table: str) -> tuple[list[str], list[str]]:
    """The conditions (to join with AND) and their parameters that keep, of ``table``'s rows,
    those ``who`` may see: none for admin, finance and support. Every such table has ``customer_id``."""
    if table not in _REPRESENTED:
        raise KeyError(f"no visibility rule for the read model {table!r}")
    if sees_all(who):
        return [], []
    if who.role == "customer":
        return ["customer_id = ?"], [str(who.subject)]
    if who.role == "representative":
        return [_REPRESENTED[table]], [str(who.subject)]
    return ["1 = 0"], []  # a role this module does not know sees nothing
