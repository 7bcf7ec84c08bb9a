"""Paying offline (organisations): a request finance approves or rejects, the bank receipts the
customer registers, and finance's decision on each receipt (docs/PAYMENTS.md, "Paying offline:
requests and bank receipts")."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from domain.banks import bank_of
from domain.base import NoticeKind, check_moment
from domain.customer import CustomerKind
from domain.errors import OfflineRequestRefused, TrackingNumberUsed
from domain.invoice import Invoice, Receipt
from domain.lifecycle import PaymentOutcome
from domain.money import Money
from domain.payment import BankTransfer, Payment, TrackingNumber
from domain.plans import MIN_LEAD
from domain.text import tracking_number as normalised_tracking_number
from service_layer.catch_up import catch_up, restore_if_nothing_keeps_it
from service_layer.money_received import Received, Unpayable, receive_money
from service_layer.unit_of_work import CommandRunner, UnitOfWork, at_the_latest_change


class OfflinePaymentCommands(CommandRunner):
    @at_the_latest_change
    def request_offline_payment(
        self, invoice_id: UUID, reason: str, now: datetime, *, request_id: UUID | None = None
    ) -> UUID:
        now = check_moment(now)
        request_id = request_id or uuid4()

        def command(uow: UnitOfWork) -> UUID:
            invoice = uow.invoice(invoice_id)
            if request_id in invoice.offline_requests:
                return request_id  # a retry
            life = catch_up(uow, invoice.subscription_id, now, self.vat)
            if life.customer.profile.kind is not CustomerKind.LEGAL:
                raise OfflineRequestRefused(
                    "Paying by bank transfer on approval is for organisations (legal entities); "
                    "a person pays online with the payment link "
                    f"(POST /invoices/{invoice_id}/payment-link).",
                    reason="not_a_legal_entity",
                )
            invoice.request_offline_payment(request_id, reason, now)

            return request_id

        return self._run(command)

    @at_the_latest_change
    def decide_offline_payment(
        self,
        invoice_id: UUID,
        request_id: UUID,
        now: datetime,
        *,
        approve: bool,
        reason: str = "",
        extension_days: int = 7,
    ) -> None:
        """Finance approves (the deadline moves by ``extension_days``) or rejects, with a reason;
        the customer is told either way."""
        now = check_moment(now)

        def command(uow: UnitOfWork) -> None:
            invoice = uow.invoice(invoice_id)
            life = catch_up(uow, invoice.subscription_id, now, self.vat)
            life.invoices[invoice.id] = invoice
            if approve:
                invoice.approve_offline_payment(request_id, extension_days, reason, now)
                if invoice.is_open:  # a paid or voided invoice's grace no longer counts
                    life.subscription.withdraw_grace(invoice.id, invoice.deadline, now)
                kind, facts = (
                    NoticeKind.OFFLINE_APPROVED,
                    {"deadline": invoice.deadline.isoformat(), "note": reason},
                )
            else:
                invoice.reject_offline_payment(request_id, reason, now)
                kind, facts = (
                    NoticeKind.OFFLINE_REJECTED,
                    {"reason": reason, "deadline": invoice.deadline.isoformat()},
                )
            invoice.send_notice(kind, now, facts={**facts, "amount_due": invoice.balance.rials})
            if approve:  # the new deadline may leave nothing keeping a suspended site suspended
                restore_if_nothing_keeps_it(
                    life, now, f"offline:{request_id}", "offline payment approved"
                )

        self._run(command)

    @at_the_latest_change
    def register_receipt(
        self,
        invoice_id: UUID,
        *,
        bank: str,
        tracking_number: str,
        amount: int | Money,
        paid_on: str,
        now: datetime,
        scan_hash: str | None = None,
        receipt_id: UUID | None = None,
    ) -> UUID:
        """The customer registers the bank receipt of an approved offline payment. ``bank`` is
        a bank's code (:mod:`domain.banks`); a transfer counts once per bank, by its tracking
        number however it was typed, and the same number and amount at another bank is
        accepted but flagged to finance as a possible duplicate."""
        now = check_moment(now)
        money = amount if isinstance(amount, Money) else Money.positive(amount)
        receipt_id = receipt_id or uuid4()
        bank_code = bank_of(bank).code
        tracking = normalised_tracking_number(tracking_number)

        def command(uow: UnitOfWork) -> UUID:
            invoice = uow.invoice(invoice_id)
            if receipt_id in invoice.receipts:
                return receipt_id  # a retry
            transfer = uow.find(BankTransfer.create_id(tracking), BankTransfer)
            duplicates: list[UUID] = []
            if transfer is not None:
                transfer.check_free(bank_code)  # a transfer counts once while its receipt stands
                duplicates = transfer.possible_duplicates(bank_code, money)
            catch_up(uow, invoice.subscription_id, now, self.vat)
            invoice.register_receipt(
                receipt_id,
                bank=bank_code,
                tracking_number=tracking,
                amount=money,
                paid_on=paid_on,
                scan_hash=scan_hash,
                now=now,
                possible_duplicates=duplicates,
            )
            if transfer is not None:
                transfer.claim(bank_code, money, invoice.id, receipt_id, now)
            else:
                uow.add(
                    BankTransfer(
                        tracking_number=tracking,
                        bank=bank_code,
                        amount=money.rials,
                        invoice_id=invoice.id,
                        receipt_id=receipt_id,
                        timestamp=now,
                    )
                )
            return receipt_id

        return self._run(command)

    @at_the_latest_change
    def decide_receipt(
        self, invoice_id: UUID, receipt_id: UUID, now: datetime, *, confirm: bool, reason: str = ""
    ) -> PaymentOutcome | None:
        """Finance confirms a receipt (the payment is recorded, the site restored if nothing is
        left overdue) or rejects it with a reason (the customer is told, nothing is paid)."""
        now = check_moment(now)

        def command(uow: UnitOfWork) -> PaymentOutcome | None:
            invoice = uow.invoice(invoice_id)
            life = catch_up(uow, invoice.subscription_id, now, self.vat)
            if not confirm:
                invoice.reject_receipt(receipt_id, reason, now)
                rejected = invoice.receipts[receipt_id]
                # The customer may register the same number again, a detail corrected.
                _release_claim(uow, rejected, rejected.decision or reason, now)
                policy = life.subscription.plan.policy
                invoice.send_notice(
                    NoticeKind.RECEIPT_REJECTED,
                    now,
                    facts={
                        "reason": reason,
                        "amount_due": invoice.balance.rials,
                        "action_not_before": (now + MIN_LEAD).isoformat(),
                        "deadline": invoice.deadline.isoformat(),
                        "grace_days": policy.grace_days,
                    },
                )
                return None
            if self.four_eyes.enabled:
                approved = invoice.approved_offline
                self.four_eyes.check_second_person(
                    self.recorded_by(
                        invoice.id,
                        Invoice.OfflinePaymentApproved,
                        lambda e: approved is not None and e.request_id == approved.request_id,
                    ),
                    self.actor,
                    "a bank receipt is not confirmed by the person who approved its offline "
                    "payment request",
                )
            receipt = invoice.confirm_receipt(receipt_id, now)
            if self.is_recorded(Payment.create_id(receipt.reference)):
                raise TrackingNumberUsed(
                    f"The payment of receipt {receipt.tracking_number} was already recorded."
                )
            # Confirmed after collection or a void, the money is in the bank all the same: it
            # is recorded, and kept as the customer's credit.
            received = Received(receipt.reference, receipt.amount, "bank_receipt")
            keep = Unpayable.RECORD_AS_CREDIT
            return receive_money(uow, life, received, named=invoice, now=now, unpayable=keep)

        return self._run(command)


def _release_claim(uow: UnitOfWork, receipt: Receipt, reason: str, now: datetime) -> None:
    """A rejected receipt's tracking number may be registered again."""
    transfer = uow.find(BankTransfer.create_id(receipt.tracking_number), BankTransfer)
    if transfer is not None and receipt.receipt_id in transfer.claims:
        transfer.release(receipt.receipt_id, reason, now)
        return
    # A receipt registered before banks were named by code claimed (bank text, number).
    legacy = uow.find(
        TrackingNumber.create_id(receipt.bank, receipt.tracking_number), TrackingNumber
    )
    if legacy is not None:
        legacy.release(receipt.receipt_id, reason, now)
