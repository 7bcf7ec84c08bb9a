"""Paying online through the gateway, exactly once.

- ``create_link``: the amount is the invoice's open balance as recorded, sent to the gateway;
  the attempt (its authority and amount) is recorded before the customer leaves.
- ``callback``: the gateway sends the customer back with ``Authority`` and ``Status``. Nothing
  else in the callback is trusted: NOK records no payment; OK is verified with the gateway for
  the amount the attempt was opened with, and only a verified payment is recorded, once per
  authority however many times the callback arrives (the payment's id is derived from it).
- A verify that times out, or answers a transient error (-52, -12, …: anything but "this
  payment was not made"), leaves the attempt unconfirmed: ``reconcile`` (run by the scheduler)
  verifies unconfirmed attempts again, and every attempt the gateway lists as paid but
  unverified, even one marked failed (a NOK callback after the customer did pay).
- Failures in ``reconcile``: the gateway's own errors are its answers (above). An attempt the
  engine refuses to record (a domain error) or fails on for another reason is logged and
  counted in ``Reconciliation.errors``, nothing of it is saved, and the other attempts go on.
  A store that cannot be reached (``STORE_FAILURES``) is never skipped: it ends the round with
  its own error, since every other attempt would fail the same way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from adapters.gateway import Gateway, GatewayError, GatewayTimeout
from domain.actor import GATEWAY, UNKNOWN, Actor
from domain.customer import RefundVia
from domain.errors import (
    BelowGatewayMinimum,
    BillingError,
    GatewayUnavailable,
    NothingToPay,
    PaymentLinkNotFound,
    RefundRefused,
)
from domain.payment import GatewayPayment, GatewayStatus
from domain.text import multiline_text
from service_layer.refunds import RefundOutcome, reverse_reference
from service_layer.unit_of_work import STORE_FAILURES

log = logging.getLogger("billing.payments")


@dataclass(frozen=True)
class PaymentLink:
    url: str
    authority: str
    amount: int


@dataclass(frozen=True)
class CallbackResult:
    status: str  # paid | cancelled | pending | failed
    authority: str
    invoice_id: UUID
    amount: int
    ref_id: str | None = None
    restored: bool = False
    message: str = ""


@dataclass
class Reconciliation:
    checked: int = 0
    recorded: int = 0
    failed: int = 0
    still_unknown: int = 0
    #: Attempts that could not be settled this round (each logged; nothing of it saved).
    errors: int = 0


class OnlinePayments:
    def __init__(
        self,
        app: Any,
        gateway: Gateway,
        clock: Any,
        read_models: Any = None,
        *,
        reuse_for: timedelta = timedelta(minutes=15),
    ) -> None:
        # What the gateway's callback and the reconciliation record is the gateway's doing.
        self.app = app.acting(GATEWAY)
        self.gateway = gateway
        self.clock = clock
        self.read_models = read_models
        #: How long an unpaid attempt is offered again by ``create_link(reuse=True)``.
        self.reuse_for = reuse_for

    def create_link(
        self, invoice_id: UUID, by: Actor = UNKNOWN, *, reuse: bool = False
    ) -> PaymentLink:
        """A gateway attempt for the invoice's open balance, recorded as started by ``by``.

        With ``reuse`` (the invoice page's "pay online"), the latest attempt for this invoice
        that is still pending, for the same amount, and opened less than ``reuse_for`` ago is
        given again instead of opening another: clicking twice makes one attempt."""
        now = self.clock.now()
        invoice = self.app.current_invoice(invoice_id, now)  # judged up to date, nothing saved
        invoice.check_payable()
        balance = invoice.balance
        if not invoice.is_open:
            raise NothingToPay(
                f"Invoice {invoice_id} is paid in full ({invoice.paid.format()} of "
                f"{invoice.total.format()}); there is nothing left to pay, so no payment link "
                "is made.",
                invoice_id=str(invoice_id),
            )
        if balance.rials < self.gateway.minimum:
            raise BelowGatewayMinimum(
                f"Invoice {invoice_id} has {balance.format()} left to pay, below the gateway's minimum of "
                f"{self.gateway.minimum:,} rials. It can be paid offline, or together with the next invoice.",
                amount=balance.rials,
            )
        if reuse and (open_attempt := self.open_attempt(invoice_id, balance.rials, now)):
            return PaymentLink(
                self.gateway.payment_url(open_attempt.authority),
                open_attempt.authority,
                open_attempt.amount.rials,
            )
        customer = self.app.get_customer(invoice.customer_id)
        try:
            started = self.gateway.request(
                balance.rials,
                f"Invoice {str(invoice_id)[:8]}, period {invoice.period_no}",
                order_id=str(invoice_id),
                mobile=customer.profile.mobile,
                email=customer.profile.email,
            )
        except (GatewayError, GatewayTimeout) as error:
            raise GatewayUnavailable(
                f"The payment gateway could not start the payment ({error}). Nothing was charged; try again in a "
                "few minutes."
            ) from None
        self.app.acting(by).open_payment_link(
            invoice_id, started.authority, balance, self.gateway.name, now
        )
        return PaymentLink(started.payment_url, started.authority, balance.rials)

    def open_attempt(self, invoice_id: UUID, amount: int, now: datetime) -> GatewayPayment | None:
        """The latest attempt for ``invoice_id`` still pending (the customer never came back),
        for ``amount`` rials, opened within ``reuse_for`` of ``now``; else None."""
        if self.read_models is None:
            return None
        self.read_models.catch_up()
        rows = self.read_models.query(
            "SELECT authority FROM {rm_gateway_payments} WHERE invoice_id = ? AND status = ? "
            "AND amount = ? ORDER BY created_at DESC LIMIT 1",
            (str(invoice_id), GatewayStatus.PENDING.value, amount),
        )
        if not rows:
            return None
        attempt: GatewayPayment = self.app.gateway_payment(rows[0]["authority"])
        fresh = timedelta(0) <= now - attempt.created_on <= self.reuse_for
        if attempt.status is GatewayStatus.PENDING and attempt.amount.rials == amount and fresh:
            return attempt
        return None

    def callback(self, authority: str, status: str) -> CallbackResult:
        attempt: GatewayPayment = self.app.gateway_payment(authority)
        if attempt.status is GatewayStatus.VERIFIED:
            return self._result("paid", attempt, message="This payment was already recorded.")
        if status != "OK":
            self.app.record_gateway_outcome(
                authority, self.clock.now(), failed="the customer cancelled at the gateway (NOK)"
            )
            return self._result(
                "cancelled",
                self.app.gateway_payment(authority),
                message="The payment was cancelled; nothing was charged.",
            )
        return self._verify(attempt)

    def _verify(self, attempt: GatewayPayment) -> CallbackResult:
        authority = attempt.authority
        try:
            verification = self.gateway.verify(authority, attempt.amount.rials)
        except GatewayTimeout as error:
            self.app.record_gateway_outcome(authority, self.clock.now(), unconfirmed=str(error))
            return self._result(
                "pending",
                attempt,
                message="The gateway has not confirmed the payment yet; it will be recorded as soon as it does.",
            )
        except GatewayError as error:
            if not error.is_final:
                # A transient error says nothing about the money: keep the attempt open for
                # reconciliation, exactly like a timeout.
                self.app.record_gateway_outcome(authority, self.clock.now(), unconfirmed=str(error))
                return self._result(
                    "pending",
                    attempt,
                    message=f"The gateway could not confirm the payment yet ({error.explanation}); "
                    "it will be recorded as soon as it does.",
                )
            self.app.record_gateway_outcome(
                authority, self.clock.now(), failed=error.explanation, code=error.code
            )
            return self._result(
                "failed", attempt, message=f"The payment was not completed: {error.explanation}."
            )
        after, outcome = self.app.record_gateway_outcome(
            authority, self.clock.now(), verified_ref_id=verification.ref_id, code=verification.code
        )
        if outcome is not None and not outcome.allocations:
            return self._result(
                "paid",
                self.app.gateway_payment(authority),
                message="The payment was received, but nothing was left to pay on this invoice "
                "(it was paid another way, voided, or the site was collected): the whole amount "
                "is kept as your credit, for your next invoice or a refund from finance.",
            )
        return self._result(
            "paid",
            self.app.gateway_payment(authority),
            restored=bool(outcome and outcome.restored),
            message="The payment was recorded.",
        )

    def reverse(
        self, invoice_id: UUID, payment_reference: str, reason: str, by: Actor = UNKNOWN
    ) -> RefundOutcome:
        """Refund a gateway payment through the gateway's reversal (docs/PAYMENTS.md,
        "Refunds"): checked first (the whole payment, within the window, out of the customer's
        credit), then the gateway's reverse call, then the refund recorded as ``by``'s. A refund
        already recorded is answered again without calling the gateway. When the gateway does
        not answer, nothing is recorded and the call may be repeated: the gateway answers a
        second reversal of the same payment as done."""
        now = self.clock.now()
        reason = multiline_text(reason, "reason", max_length=500)  # checked before money moves
        app = self.app.acting(by)
        customer = app.get_customer(app.get_invoice(invoice_id).customer_id)
        if reverse_reference(payment_reference) not in customer.refunds:  # else a retry
            plan = app.check_payment_refund(
                invoice_id, payment_reference, None, RefundVia.GATEWAY, now
            )
            try:
                self.gateway.reverse(plan.authority)
            except GatewayTimeout as error:
                raise GatewayUnavailable(
                    f"The payment gateway did not answer the reversal ({error}); nothing was "
                    "recorded. Ask again: a payment the gateway already reversed is answered "
                    "as reversed and recorded then."
                ) from None
            except GatewayError as error:
                raise RefundRefused(
                    f"The gateway refused to reverse payment {payment_reference}: "
                    f"{error.explanation}. Nothing was recorded; transfer the money and record "
                    'it with via "transfer".',
                    reason="gateway_refused",
                    gateway_code=error.code,
                ) from None
        return app.refund_payment(
            invoice_id, payment_reference, None, reason, RefundVia.GATEWAY, now
        )

    def _result(
        self, status: str, attempt: GatewayPayment, *, restored: bool = False, message: str = ""
    ) -> CallbackResult:
        return CallbackResult(
            status,
            attempt.authority,
            attempt.invoice_id,
            attempt.amount.rials,
            attempt.ref_id,
            restored,
            message,
        )

    def reconcile(self) -> Reconciliation:
        """Settle attempts whose verification never answered, and payments the gateway holds
        that nobody verified (the customer closed the page before the callback).

        One attempt that cannot be settled (the engine refuses to record it, or anything else
        goes wrong with it) is logged and counted in ``errors``, nothing of it is saved, and
        the others go on. A store that cannot be reached raises (``STORE_FAILURES``): it is no
        attempt's fault, and every other attempt would fail the same way."""
        report = Reconciliation()
        known: dict[str, None] = {}
        listed: set[str] = set()  # the gateway says these were paid and never verified
        try:
            for item in self.gateway.unverified():
                known[item.authority] = None
                listed.add(item.authority)
        except (GatewayError, GatewayTimeout) as error:
            log.warning(
                "reconciliation: the gateway's list of unverified payments is not available: %s",
                error,
            )
        if self.read_models is not None:
            self.read_models.catch_up()
            for row in self.read_models.query(
                "SELECT authority FROM {rm_gateway_payments} WHERE status = 'unconfirmed' ORDER BY created_at"
            ):
                known[row["authority"]] = None
        for authority in known:
            try:
                attempt = self.app.gateway_payment(authority)
            except PaymentLinkNotFound:  # a payment this engine did not start: not ours to record
                continue
            if attempt.status is GatewayStatus.VERIFIED:
                continue
            if attempt.status is GatewayStatus.FAILED and authority not in listed:
                # Failed (a NOK callback, an old error) and the gateway does not hold the money.
                # One it lists as paid is verified even so: the customer did pay.
                continue
            report.checked += 1
            try:
                result = self._verify(attempt)
            except STORE_FAILURES:
                raise  # the store itself: every other attempt would fail the same way
            except BillingError as refused:
                report.errors += 1
                log.warning(
                    "reconciliation: gateway payment %s was not settled (%s): %s",
                    authority,
                    refused.code,
                    refused.message,
                )
                continue
            except Exception:
                report.errors += 1
                log.exception(
                    "reconciliation: settling gateway payment %s failed",
                    authority,
                )
                continue
            if result.status == "paid":
                report.recorded += 1
            elif result.status == "failed":
                report.failed += 1
            else:
                report.still_unknown += 1
        return report
