"""Money received: the one path every payment takes once its money is known to be there (a
payment finance records, a verified gateway payment, a confirmed bank receipt), and the
command that records a payment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from uuid import UUID

from domain import lifecycle
from domain.base import NoticeKind, check_moment, iso
from domain.errors import (
    InvalidInput,
    InvalidReference,
    NothingToPay,
    PaymentReferenceConflict,
    SubscriptionCollected,
)
from domain.invoice import Invoice
from domain.lifecycle import PaymentOutcome
from domain.money import Money
from domain.payment import Payment
from domain.subscription import SiteState, Subscription
from domain.text import identifier
from service_layer.catch_up import Lifecycle, catch_up, load_lifecycle
from service_layer.unit_of_work import CommandRunner, UnitOfWork, at_the_latest_change, no_invoice


class Unpayable(Enum):
    """What becomes of money for a collected subscription or a voided invoice, which it can no
    longer pay (collected is final)."""

    #: Refused (``subscription_collected``, ``invoice_not_payable``) and nothing recorded: a
    #: payment finance records (``POST /invoices/{id}/payments``, the CLI).
    REFUSE = "refuse"
    #: Kept whole as the customer's credit, never dropped: a gateway payment verified too late.
    #: The gateway took the money; the verified attempt (``GatewayPayment``) is its record, so
    #: no ``Payment`` is created.
    CREDIT = "credit"
    #: Recorded as a ``Payment`` and kept whole as the customer's credit: a bank receipt
    #: confirmed too late (the money is in the bank).
    RECORD_AS_CREDIT = "record_as_credit"


@dataclass(frozen=True)
class Received:
    """Money that arrived: its reference (the gateway's id, the bank's tracking number), the
    amount, and how it came (``manual``, ``gateway``, ``bank_receipt``)."""

    reference: str
    amount: Money
    method: str


def receive_money(
    uow: UnitOfWork,
    life: Lifecycle,
    received: Received,
    *,
    named: Invoice | None,
    now: datetime,
    unpayable: Unpayable,
) -> PaymentOutcome:
    """Apply money received for ``life``'s subscription (already caught up to ``now``): the one
    path of a manual payment, a verified gateway payment and a confirmed bank receipt.

    The rule is docs/PAYMENTS.md, "Paying online, step by step" (step 5, and the paragraph
    after step 6) and "Paying offline: requests and bank receipts" (confirm); in short
    (docs/LIFECYCLE.md, "Payments"):

    - the subscription is collected, or the named invoice voided: the money cannot pay it, and
      ``unpayable`` says whether it is refused or kept whole as credit, in which case the
      customer is told so on the named invoice (``payment_kept_as_credit``);
    - otherwise a ``Payment`` (``PaymentReceived``) is created and
      :func:`domain.lifecycle.settle_payment` applies it: the named invoice first, the
      subscription's other open invoices oldest first, the rest to credit, and the site is
      restored when nothing keeps it suspended.

    A payment that names no invoice needs an open invoice to pay (``nothing_to_pay``). The
    caller decides beforehand whether the reference was already counted (a retry). Credit
    applied to an invoice when it is issued is not money received (no payment, nothing to
    restore): that is :func:`domain.lifecycle.use_credit`.
    """
    sub = life.subscription
    if sub.site_state is SiteState.COLLECTED or (named is not None and named.is_void):
        if unpayable is Unpayable.REFUSE:
            if named is not None:
                named.check_payable()
            raise SubscriptionCollected(
                f"Subscription {sub.id} was collected on {iso(sub.collected_at)} and its "
                "invoices voided; a payment for it cannot be recorded.",
            )
        if named is None:  # both ways of keeping money come from an invoice's link or receipt
            raise TypeError("Money kept as credit names the invoice it was paid for.")
        if unpayable is Unpayable.RECORD_AS_CREDIT:
            uow.add(_payment(life, received, named, now))
        life.customer.add_credit(received.amount, received.reference, now)
        # The customer is told where the money went, on the invoice it was for: nothing more
        # is recorded on a collected subscription (collected is final).
        named.send_notice(
            NoticeKind.PAYMENT_KEPT_AS_CREDIT,
            now,
            facts={
                "reference": received.reference,
                "amount": received.amount.rials,
                "cause": "collected" if sub.site_state is SiteState.COLLECTED else "void",
                "credit": life.customer.credit.rials,
            },
        )
        return PaymentOutcome(received.reference, received.amount, (), received.amount, False, ())
    if named is None and not lifecycle.open_invoices(sub, life.invoices):
        raise NothingToPay(
            f"Subscription {sub.id} has no open invoice. Name an invoice to pay, or nothing "
            "is owed.",
        )
    payment = _payment(life, received, named, now)
    uow.add(payment)
    if named is not None:
        life.invoices.setdefault(named.id, named)
    return lifecycle.settle_payment(
        payment_id=payment.id,
        reference=received.reference,
        amount=received.amount,
        method=received.method,
        named=named,
        sub=sub,
        invoices=life.invoices,
        customer=life.customer,
        now=now,
    )


def _payment(life: Lifecycle, received: Received, named: Invoice | None, now: datetime) -> Payment:
    return Payment(
        reference=received.reference,
        amount=received.amount.rials,
        method=received.method,
        customer_id=life.subscription.customer_id,
        subscription_id=life.subscription.id,
        invoice_id=named.id if named is not None else None,
        timestamp=now,
    )


def preload_payment(
    uow: UnitOfWork, payment_id: UUID, invoice_id: UUID | None, subscription_id: UUID | None
) -> bool:
    """Load, in one query, what recording a payment reads: the payment of its reference (there
    when the reference was already counted), the named invoice, and, when the aggregate cache
    holds them, the invoice's subscription, the invoices it had open and its customer (an
    invoice's subscription and a subscription's customer never change, so a cached copy,
    however old, names them). What is not found this way is loaded as before, one query each
    (:func:`service_layer.catch_up.load_lifecycle`). On PostgreSQL the four queries a payment
    made here were each a round trip while the requests queued behind it waited for the
    interpreter (docs/BENCHMARKS.md, "Issue 22: payments on PostgreSQL in the open loop").

    Returns False for a unit of work without a cache (nothing is loaded: it replays what it
    reads), where whether the payment exists is asked of the store itself."""
    if uow.cache is None:
        return False
    wanted = [payment_id]
    if invoice_id is not None:
        wanted.append(invoice_id)
        invoice = uow.cached(invoice_id)
        if subscription_id is None and isinstance(invoice, Invoice):
            subscription_id = invoice.subscription_id
    if subscription_id is not None:
        wanted.append(subscription_id)
        sub = uow.cached(subscription_id)
        if isinstance(sub, Subscription):
            wanted += [*sub.open_invoice_ids, sub.customer_id]
    uow.load(wanted)
    return True


class MoneyReceivedCommands(CommandRunner):
    @at_the_latest_change
    def record_payment(
        self,
        reference: str,
        amount: int | Money,
        now: datetime,
        *,
        invoice_id: UUID | None = None,
        subscription_id: UUID | None = None,
        method: str = "manual",
    ) -> PaymentOutcome:
        """Record a verified payment once. The same reference again is a no-op that returns
        the first outcome; the same reference with another amount or invoice is refused."""
        now = check_moment(now)
        money = amount if isinstance(amount, Money) else Money.positive(amount)
        if not money.is_positive:
            Money.positive(money.rials)
        try:
            reference = identifier(reference, "reference", max_length=200)
        except InvalidInput as error:
            raise InvalidReference(
                f"{error.message} A payment needs its reference (the gateway's reference id or "
                "the bank's tracking number), 1-200 characters.",
                field="reference",
            ) from None

        def command(uow: UnitOfWork) -> PaymentOutcome:
            payment_id = Payment.create_id(reference)
            if preload_payment(uow, payment_id, invoice_id, subscription_id):
                recorded = payment_id in uow.aggregates
            else:
                recorded = self.is_recorded(payment_id)
            if recorded:
                return self._replayed_payment(uow, payment_id, money, invoice_id, subscription_id)
            named = None
            target_sub = subscription_id
            if invoice_id is not None:
                named = uow.invoice(invoice_id)
                if subscription_id is not None and named.subscription_id != subscription_id:
                    raise no_invoice(invoice_id)
                target_sub = named.subscription_id
            if target_sub is None:
                raise InvalidReference(
                    "Say what the payment is for: an invoice_id or a subscription_id.",
                    field="invoice_id",
                )
            life = catch_up(uow, target_sub, now, self.vat)
            received = Received(reference, money, method)
            return receive_money(
                uow, life, received, named=named, now=now, unpayable=Unpayable.REFUSE
            )

        return self._run(command)

    def _replayed_payment(
        self,
        uow: UnitOfWork,
        payment_id: UUID,
        amount: Money,
        invoice_id: UUID | None,
        subscription_id: UUID | None,
    ) -> PaymentOutcome:
        payment = uow.get(payment_id, Payment, lambda: KeyError(payment_id))
        same_target = (invoice_id is None or invoice_id == payment.invoice_id) and (
            subscription_id is None or subscription_id == payment.subscription_id
        )
        if payment.amount != amount or not same_target:
            raise PaymentReferenceConflict(
                f"Payment reference {payment.reference!r} was already recorded for {payment.amount} "
                f"on {payment.received_at.isoformat()}, for another amount or invoice. A reference "
                "identifies one payment; check the reference.",
                reference=payment.reference,
            )
        life = load_lifecycle(uow, payment.subscription_id, all_invoices=True)
        allocations = tuple(
            lifecycle.Allocation(inv.id, s.amount)
            for inv in life.invoices.values()
            for s in inv.settlements
            if s.reference == payment.reference
        )
        applied = sum((a.amount for a in allocations), Money(0))
        return PaymentOutcome(
            payment.reference, payment.amount, allocations, payment.amount - applied, False, ()
        )

    def payment_exists(self, reference: str) -> bool:
        return self.is_recorded(Payment.create_id(reference))
