"""Paying online: the gateway attempts a payment link opens, and what the gateway said about
each (docs/PAYMENTS.md, "Paying online, step by step"). Talking to the gateway itself is
``service_layer/payments.py``'s part."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from domain.base import check_moment
from domain.errors import PaymentLinkNotFound
from domain.lifecycle import PaymentOutcome
from domain.money import Money
from domain.payment import GatewayPayment, GatewayStatus
from service_layer.catch_up import catch_up
from service_layer.money_received import Received, Unpayable, receive_money
from service_layer.unit_of_work import CommandRunner, UnitOfWork, at_the_latest_change


class PaymentLinkCommands(CommandRunner):
    @at_the_latest_change
    def open_payment_link(
        self, invoice_id: UUID, authority: str, amount: Money, gateway: str, now: datetime
    ) -> UUID:
        """Record that the customer was sent to the gateway for ``amount`` under ``authority``."""
        now = check_moment(now)

        def command(uow: UnitOfWork) -> UUID:
            invoice = uow.invoice(invoice_id)
            attempt = GatewayPayment(
                authority=authority,
                invoice_id=invoice.id,
                subscription_id=invoice.subscription_id,
                amount=amount.rials,
                gateway=gateway,
                timestamp=now,
            )
            uow.add(attempt)
            return attempt.id

        return self._run(command)

    def gateway_payment(self, authority: str) -> GatewayPayment:
        try:
            return self.repository.get(GatewayPayment.create_id(authority))
        except AggregateNotFoundError:
            raise PaymentLinkNotFound(
                f"No payment was started with authority {authority!r}; start again from the invoice's payment link.",
                authority=authority,
            ) from None

    @at_the_latest_change
    def record_gateway_outcome(
        self,
        authority: str,
        now: datetime,
        *,
        verified_ref_id: str | None = None,
        code: int | None = None,
        failed: str | None = None,
        unconfirmed: str | None = None,
    ) -> tuple[GatewayPayment, PaymentOutcome | None]:
        """What the gateway said about an attempt: verified (the payment is recorded once, for the
        amount the attempt was opened with), failed, or not known yet."""
        now = check_moment(now)

        def command(uow: UnitOfWork) -> tuple[GatewayPayment, PaymentOutcome | None]:
            attempt_id = GatewayPayment.create_id(authority)
            attempt = uow.get(
                attempt_id,
                GatewayPayment,
                lambda: PaymentLinkNotFound(f"Unknown authority {authority!r}."),
            )
            if verified_ref_id is None:
                if failed is not None:
                    attempt.failed(failed, code, now)
                elif unconfirmed is not None:
                    attempt.unconfirmed(unconfirmed, now)
                return attempt, None
            if attempt.status is GatewayStatus.VERIFIED:
                return attempt, None  # a replayed callback: counted once already
            attempt.verified(verified_ref_id, code or 100, now)
            invoice = uow.invoice(attempt.invoice_id)
            life = catch_up(uow, attempt.subscription_id, now, self.vat)
            # Verified after a void or the collection, the gateway took the money all the
            # same: it is kept as the customer's credit (never dropped), for finance to refund
            # or apply.
            received = Received(attempt.reference, attempt.amount, "gateway")
            keep = Unpayable.CREDIT
            outcome = receive_money(uow, life, received, named=invoice, now=now, unpayable=keep)
            return attempt, outcome

        return self._run(command)
