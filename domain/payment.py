"""The Payment aggregate: one received payment, claimed once by its reference.

Its id is derived from the payment reference (the gateway's reference id, or the bank's
tracking number), so recording the same payment twice, even from two processes at once,
collides on the id: the second attempt records nothing. How the money was applied is recorded
on the invoices (PaymentRecorded) and, for any excess, on the customer (CreditAdded), all in
the same atomic save.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import event

from domain.base import BillingAggregate, deterministic_id
from domain.money import Money


class Payment(BillingAggregate):
    @staticmethod
    def create_id(reference: str) -> UUID:
        return deterministic_id("payment", reference)

    @event("PaymentReceived")
    def __init__(
        self,
        reference: str,
        amount: int,
        method: str,
        customer_id: UUID,
        subscription_id: UUID,
        invoice_id: UUID | None,
        timestamp: datetime,
    ) -> None:
        self.reference = reference
        self.amount = Money(amount)
        self.method = method
        self.customer_id = customer_id
        self.subscription_id = subscription_id
        self.invoice_id = invoice_id
        self.received_at = timestamp
