"""Who may see what: the one rule of the read side, for a single aggregate (Python) and for
the lists read from the read models (SQL), used by every API route and by the CLI.

- ``admin``, ``finance`` and ``support`` see everything; so does the operator at the console
  (the CLI, :data:`OPERATOR`).
- A ``customer`` sees their own customer record and what hangs off it: their subscriptions,
  invoices, offline payment requests and receipts.
- A ``representative`` sees the customers assigned to them now and what hangs off those
  customers: their subscriptions, invoices, offline payment requests and receipts, and
  themselves among the representatives.

What hangs off a customer follows the customer's representative of the moment
(``Customer.representative_id``), never a copy of it: a subscription's own
``representative_id`` records who represented the customer when the site was ordered and is
not read here. So when a customer is moved (``Customer.RepresentativeAssigned``) the new
representative sees the customer and everything of theirs at once, and the previous one
nothing, with nothing else to update (docs/API.md, "Representatives").

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
from domain.errors import (
    CustomerNotFound,
    InvoiceNotFound,
    RepresentativeNotFound,
    SubscriptionNotFound,
)
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


#: Loads a customer by id (``app.get_customer``): what a representative's view of a
#: subscription or an invoice is decided by.
CustomerLoader = Callable[[UUID], Customer]


def may_see_subscription(who: Viewer, sub: Subscription, customer: CustomerLoader) -> bool:
    """``customer`` loads the subscription's customer: only a representative needs it (the
    customer's representative of the moment decides)."""
    return _owns(who, sub.customer_id, customer)


def may_see_invoice(who: Viewer, invoice: Invoice, customer: CustomerLoader) -> bool:
    """``customer`` loads the invoice's customer: only a representative needs it."""
    return _owns(who, invoice.customer_id, customer)


def may_see_representative(who: Viewer, representative_id: UUID) -> bool:
    """Admin and finance see every representative; a representative only themselves."""
    if sees_all(who):
        return True
    return _represents(who, representative_id)


def _owns(who: Viewer, customer_id: UUID, customer: CustomerLoader) -> bool:
    """Whether ``who`` sees what hangs off the customer ``customer_id``."""
    if sees_all(who):
        return True
    if who.role == "customer":
        return customer_id == who.subject
    if who.role == "representative":
        return _represents(who, customer(customer_id).representative_id)
    return False  # a role this module does not know sees nothing


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
    _check_subscription(who, sub, app.get_customer)
    return sub


def visible_lifecycle(app: Any, who: Viewer, subscription_id: UUID) -> Lifecycle:
    """The subscription with its open invoices, loaded once, if the caller may see it (its
    customer is loaded, once, only for a representative)."""
    life = app.lifecycle_of(subscription_id)
    _check_subscription(who, life.subscription, lambda _: life.customer)
    return life


def visible_invoice(app: Any, who: Viewer, invoice_id: UUID) -> Invoice:
    invoice = app.get_invoice(invoice_id)
    if not may_see_invoice(who, invoice, app.get_customer):
        raise InvoiceNotFound(f"There is no invoice {invoice_id}.", invoice_id=str(invoice_id))
    return invoice


def visible_representative(who: Viewer, representative_id: UUID) -> None:
    """Refuse, as "not found", a representative the caller may not see (whether one exists
    by that id is the read model's to say)."""
    if not may_see_representative(who, representative_id):
        raise RepresentativeNotFound(
            f"There is no representative {representative_id}.",
            representative_id=str(representative_id),
        )


def _check_subscription(who: Viewer, sub: Subscription, customer: CustomerLoader) -> None:
    if not may_see_subscription(who, sub, customer):
        raise SubscriptionNotFound(
            f"There is no subscription {sub.id}.", subscription_id=str(sub.id)
        )


# --- lists from the read models ------------------------------------------------------------------

#: The customers a representative serves now, by the customer accounts read model: every
#: other list reaches a representative through its rows' customer.
_THEIR_CUSTOMERS = (
    "customer_id IN (SELECT customer_id FROM {rm_customer_accounts} WHERE representative_id = ?)"
)
#: How each read model's rows reach a representative: a customer account names its
#: representative; a subscription or an offline payment belongs to a customer who does.
_REPRESENTED = {
    "rm_customer_accounts": "representative_id = ?",
    "rm_subscriptions": _THEIR_CUSTOMERS,
    "rm_offline_payments": _THEIR_CUSTOMERS,
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


def owned_rows(
    who: Viewer, customer: str = "customer_id", representative: str = "representative_id"
) -> tuple[list[str], list[str]]:
    """:func:`visible_rows` for a query that joins each row with its customer's account:
    ``customer`` names the row's customer column, ``representative`` the joined account's
    representative column (the customer's representative of the moment), so a
    representative's rows need no subquery. The API's single-statement reads use it
    (projections/reads.py)."""
    if sees_all(who):
        return [], []
    if who.role == "customer":
        return [f"{customer} = ?"], [str(who.subject)]
    if who.role == "representative":
        return [f"{representative} = ?"], [str(who.subject)]
    return ["1 = 0"], []  # a role this module does not know sees nothing


def visible_representative_rows(who: Viewer) -> tuple[list[str], list[str]]:
    """:func:`visible_rows` for the list of representatives (rows keyed by
    ``representative_id``): every one for admin and finance, themselves for a representative."""
    if sees_all(who):
        return [], []
    if who.role == "representative":
        return ["representative_id = ?"], [str(who.subject)]
    return ["1 = 0"], []  # customers and unknown roles see no representative
