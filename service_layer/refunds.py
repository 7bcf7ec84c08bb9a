"""Refunds: money given back to a customer, always out of the customer's credit
(docs/PAYMENTS.md, "Refunds").

- ``refund_credit``: finance transferred part of a customer's credit back outside the engine
  (a bank transfer, named by its bank reference).
- ``refund_payment``: the same, naming the payment the money came from, either as a bank
  transfer or through the gateway's reversal of a verified gateway payment (the gateway call
  itself is :meth:`service_layer.payments.OnlinePayments.reverse`, which checks with
  ``check_payment_refund`` first and records with ``refund_payment`` after the gateway agreed).

The rule: a refund comes out of credit only. Money that paid an invoice is the invoice's until
finance voids it (the void moves it to credit, and for an invoice with an official document
issues the cancelling document in the same save); so a refund never reopens an invoice, aging
never sees it, and revenue counts it once, as ``refunded``. Each refund is ``CreditRefunded``
on the customer, with its actor, and the customer is told (``refund_sent``) on an invoice of
theirs: the invoice the payment paid, or their latest invoice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from domain.base import NoticeKind, check_moment
from domain.customer import Customer, Refund, RefundVia
from domain.errors import InvalidInput, RefundRefused
from domain.invoice import Invoice
from domain.money import Money
from domain.payment import Payment
from domain.text import identifier
from service_layer.catch_up import catch_up
from service_layer.unit_of_work import CommandRunner, UnitOfWork, at_the_latest_change

#: How long after a gateway payment the gateway still reverses it (Zarinpal: 30 minutes).
REVERSE_WINDOW = timedelta(minutes=30)
GATEWAY_PREFIX = "gateway:"


@dataclass(frozen=True)
class RefundOutcome:
    customer_id: UUID
    amount: int
    via: str
    bank_reference: str
    payment_reference: str | None
    credit: int  # the customer's credit after it
    recorded: bool  # False: a retry of a refund already recorded


@dataclass(frozen=True)
class PaymentRefund:
    """What a payment refund would record, as checked before anything is sent or saved."""

    payment: Payment
    amount: Money
    bank_reference: str
    via: RefundVia

    @property
    def authority(self) -> str:
        return self.payment.reference.removeprefix(GATEWAY_PREFIX)


def reverse_reference(payment_reference: str) -> str:
    """The bank reference a gateway reversal is recorded under: one per gateway payment."""
    return f"reverse:{payment_reference.removeprefix(GATEWAY_PREFIX)}"


class RefundCommands(CommandRunner):
    @at_the_latest_change
    def refund_credit(
        self,
        customer_id: UUID,
        amount: int,
        reason: str,
        bank_reference: str,
        now: datetime,
        *,
        notice_invoice_id: UUID,
    ) -> RefundOutcome:
        """Finance transferred ``amount`` rials of the customer's credit back (bank reference
        ``bank_reference``); the notice goes on ``notice_invoice_id``, an invoice of theirs."""
        now = check_moment(now)
        money = _amount(amount)

        def command(uow: UnitOfWork) -> RefundOutcome:
            customer = uow.customer(customer_id)
            invoice = _their_invoice(uow, customer, notice_invoice_id)
            # As every command: what fell due before now is done first, at its moment.
            catch_up(uow, invoice.subscription_id, now, self.vat)
            return _refund(
                customer,
                invoice,
                money,
                reason,
                bank_reference,
                RefundVia.TRANSFER,
                None,
                None,
                now,
            )

        return self._run(command)

    def check_payment_refund(
        self,
        invoice_id: UUID,
        payment_reference: str,
        amount: int | None,
        via: RefundVia,
        now: datetime,
        *,
        bank_reference: str | None = None,
    ) -> PaymentRefund:
        """The refund ``refund_payment`` would record now, or its refusal; saves nothing."""
        uow = UnitOfWork(self)
        invoice = uow.invoice(invoice_id)
        return _payment_refund(
            uow, invoice, payment_reference, amount, via, check_moment(now), bank_reference
        )

    @at_the_latest_change
    def refund_payment(
        self,
        invoice_id: UUID,
        payment_reference: str,
        amount: int | None,
        reason: str,
        via: RefundVia,
        now: datetime,
        *,
        bank_reference: str | None = None,
    ) -> RefundOutcome:
        """Refund (part of) a payment that paid ``invoice_id``: at most what is left of it and
        of the customer's credit. ``via`` gateway: the whole payment, within the gateway's
        window, recorded once the gateway reversed it (OnlinePayments.reverse)."""
        now = check_moment(now)

        def command(uow: UnitOfWork) -> RefundOutcome:
            invoice = uow.invoice(invoice_id)
            catch_up(uow, invoice.subscription_id, now, self.vat)
            customer = uow.customer(invoice.customer_id)
            retried = _retried(customer, payment_reference, amount, via, bank_reference)
            if retried is not None:  # recorded before: answered again, nothing recorded
                return _outcome(
                    customer,
                    retried.amount,
                    retried.bank_reference,
                    via,
                    retried.payment_reference,
                    recorded=False,
                )
            plan = _payment_refund(
                uow, invoice, payment_reference, amount, via, now, bank_reference
            )
            limit = plan.payment.amount - customer.refunded_of(plan.payment.reference)
            return _refund(
                customer,
                invoice,
                plan.amount,
                reason,
                plan.bank_reference,
                via,
                plan.payment.reference,
                limit,
                now,
            )

        return self._run(command)


def _amount(amount: int | None) -> Money:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidInput(
            f"amount must be a positive whole number of rials; got {amount!r}.", field="amount"
        )
    return Money(amount)


def _retried(
    customer: Customer,
    payment_reference: str,
    amount: int | None,
    via: RefundVia,
    bank_reference: str | None,
) -> Refund | None:
    """The refund of this payment already recorded under this bank reference (a gateway
    reversal's own, or the transfer's), when the request asks for the same (an amount left
    out asks for what was refunded then)."""
    if via is RefundVia.GATEWAY:
        bank = reverse_reference(payment_reference)
    elif bank_reference:
        bank = identifier(bank_reference, "bank_reference", max_length=100)
    else:
        return None
    earlier = customer.refunds.get(bank)
    if (
        earlier is None
        or earlier.via is not via
        or earlier.payment_reference != payment_reference.strip()
        or (amount is not None and earlier.amount != Money(amount))
    ):
        return None
    return earlier


def _their_invoice(uow: UnitOfWork, customer: Customer, invoice_id: UUID) -> Invoice:
    invoice = uow.invoice(invoice_id)
    if invoice.customer_id != customer.id:
        raise InvalidInput(
            f"Invoice {invoice_id} is not customer {customer.id}'s.", field="invoice_id"
        )
    return invoice


def _payment_refund(
    uow: UnitOfWork,
    invoice: Invoice,
    payment_reference: str,
    amount: int | None,
    via: RefundVia,
    now: datetime,
    bank_reference: str | None,
) -> PaymentRefund:
    reference = identifier(payment_reference, "payment_reference", max_length=200)
    payment = uow.find(Payment.create_id(reference), Payment)
    if (
        payment is None
        or payment.customer_id != invoice.customer_id
        or (payment.invoice_id != invoice.id and reference not in invoice.references())
    ):
        raise RefundRefused(
            f"No payment {reference} was received for invoice {invoice.id}. Name a reference "
            "the invoice's payments show.",
            reason="unknown_payment",
            field="payment_reference",
        )
    customer = uow.customer(invoice.customer_id)
    left = payment.amount - customer.refunded_of(payment.reference)
    money = left if amount is None else _amount(amount)
    if via is RefundVia.GATEWAY:
        if payment.method != "gateway" or not payment.reference.startswith(GATEWAY_PREFIX):
            raise RefundRefused(
                f"Payment {reference} was not made through the gateway, so the gateway cannot "
                'reverse it; transfer the money and record it with via "transfer".',
                reason="not_a_gateway_payment",
            )
        if now > payment.received_at + REVERSE_WINDOW:
            raise RefundRefused(
                f"The gateway reverses a payment only within {REVERSE_WINDOW.seconds // 60} "
                f"minutes of it; payment {reference} was received at "
                f"{payment.received_at.isoformat()}. Transfer the money and record it with via "
                '"transfer" and the transfer\'s bank reference.',
                reason="reverse_window_closed",
            )
        if money != payment.amount or left != payment.amount:
            raise RefundRefused(
                f"The gateway reverses a whole payment ({payment.amount}), never part of it or "
                "a payment already partly refunded; transfer the money instead.",
                reason="partial_reverse",
            )
        bank = reverse_reference(payment.reference)
    else:
        if not bank_reference:
            raise InvalidInput(
                "bank_reference is required for a refund by transfer: the reference of the "
                "transfer finance made.",
                field="bank_reference",
            )
        bank = identifier(bank_reference, "bank_reference", max_length=100)
    refundable = left.min(customer.credit)
    if money > refundable and bank not in customer.refunds:
        raise RefundRefused(
            f"A refund of {money} of payment {reference} is more than is refundable "
            f"({refundable}): {left} of the payment is not yet refunded and the customer's "
            f"credit is {customer.credit}. Money that paid an invoice becomes credit only when "
            f"the invoice is voided (POST /invoices/{invoice.id}/void); void it first, or "
            "refund less.",
            reason="over_refundable",
            refundable=refundable.rials,
            credit=customer.credit.rials,
        )
    return PaymentRefund(payment, money, bank, via)


def _refund(
    customer: Customer,
    invoice: Invoice,
    amount: Money,
    reason: str,
    bank_reference: str,
    via: RefundVia,
    payment_reference: str | None,
    limit: Money | None,
    now: datetime,
) -> RefundOutcome:
    bank_reference = identifier(bank_reference, "bank_reference", max_length=100)
    recorded = customer.refund(
        amount,
        reason,
        bank_reference,
        via,
        now,
        payment_reference=payment_reference,
        refundable=limit,
    )
    refund = customer.refunds[bank_reference] if recorded else None
    if refund is not None:
        invoice.send_notice(
            NoticeKind.REFUND_SENT,
            now,
            facts={
                "amount": refund.amount.rials,
                "via": refund.via.value,
                "bank_reference": refund.bank_reference,
                "reason": refund.reason,
                "credit": customer.credit.rials,
                "payment_reference": payment_reference,
            },
        )
    return _outcome(customer, amount, bank_reference, via, payment_reference, recorded=recorded)


def _outcome(
    customer: Customer,
    amount: Money,
    bank_reference: str,
    via: RefundVia,
    payment_reference: str | None,
    *,
    recorded: bool,
) -> RefundOutcome:
    return RefundOutcome(
        customer.id,
        amount.rials,
        via.value,
        bank_reference,
        payment_reference,
        customer.credit.rials,
        recorded,
    )
