"""A subscription two finance staff members decide about, for the tests of who did what
(docs/AUDIT.md, "Actors"): the timeline, ``explain`` and the actions report, in memory, on
SQLite through the CLI, and over HTTP.

The staff members act through ``app.acting(...)``, as the commands of a signed-in staff member
will; the customer through its own actor, as its token's requests do; time through the
scheduler.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.actor import Actor, ActorKind
from service_layer.application import BillingApplication
from tests.builders import DAY, T0, a_company, a_plan

MARYAM = Actor(ActorKind.STAFF, id="staff-maryam", name="مریم کریمی", role="finance")
ALI = Actor(ActorKind.STAFF, id="staff-ali", name="علی رضایی", role="finance")

#: When each step of the history is recorded (T0 is 1405/01/15 09:00 in Tehran).
REQUESTED = T0 + DAY  # the customer asks to pay offline (1405/01/16)
APPROVED = T0 + 2 * DAY  # Maryam approves (1405/01/17)
REGISTERED = T0 + 3 * DAY  # the customer registers the bank receipt (1405/01/18)
CONFIRMED = T0 + 4 * DAY  # Ali confirms it, which pays the first invoice (1405/01/19)
RENEWED_BY = T0 + 31 * DAY  # the scheduler has renewed the subscription (period 2)
VOIDED = T0 + 32 * DAY  # Maryam voids the renewal invoice (1405/02/16)
HELD = T0 + 33 * DAY  # Ali places an enforcement hold (1405/02/17)
HOLD_UNTIL = T0 + 90 * DAY
AFTER = T0 + 34 * DAY  # a moment after all of it (1405/02/18)


@dataclass(frozen=True)
class DecidedHistory:
    subscription: UUID
    customer: UUID
    first_invoice: UUID
    renewal: UUID

    @property
    def customer_actor(self) -> Actor:
        return Actor(ActorKind.CUSTOMER, id=str(self.customer), role="customer")


def decided_history(app: BillingApplication, at: datetime = T0) -> DecidedHistory:
    """A company orders at ``at`` (T0); it asks to pay offline and Maryam approves; it
    registers a bank receipt and Ali confirms it; the scheduler renews the subscription;
    Maryam voids the renewal invoice; Ali places an enforcement hold."""
    app.define_plan(a_plan(), at)
    customer_id = app.register_customer(a_company(), at)
    subscription = app.start_subscription(customer_id, "basic", "monthly", at)
    first = app.get_subscription(subscription).invoice_ids[0]
    customer = Actor(ActorKind.CUSTOMER, id=str(customer_id), role="customer")
    request = app.acting(customer).request_offline_payment(
        first, "our treasury pays by transfer", REQUESTED
    )
    app.acting(MARYAM).decide_offline_payment(first, request, APPROVED, approve=True)
    receipt = app.acting(customer).register_receipt(
        first,
        bank="012",
        tracking_number="555001",
        amount=1_100_000,
        paid_on="1405/01/18",
        now=REGISTERED,
    )
    app.acting(ALI).decide_receipt(first, receipt, CONFIRMED, confirm=True)
    app.advance(RENEWED_BY, on_time=True)
    renewal = app.get_subscription(subscription).invoice_ids[1]
    app.acting(MARYAM).void_invoice(renewal, "billed twice", VOIDED)
    app.acting(ALI).place_hold(subscription, "the customer disputes the plan", HOLD_UNTIL, HELD)
    return DecidedHistory(subscription, customer_id, first, renewal)
