"""The Payment aggregate: one received payment, claimed once by its reference.

Its id is derived from the payment reference (the gateway's reference id, or the bank's
tracking number), so recording the same payment twice, even from two processes at once,
collides on the id: the second attempt records nothing. How the money was applied is recorded
on the invoices (PaymentRecorded) and, for any excess, on the customer (CreditAdded), all in
the same atomic save.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import event

from domain.base import BillingAggregate, deterministic_id
from domain.errors import TrackingNumberUsed
from domain.money import Money


class Payment(BillingAggregate):
    class PaymentReceived(BillingAggregate.Created):
        """A payment of ``amount`` rials, claimed by its ``reference`` (its id derives from it)."""

        reference: str
        amount: int
        method: str
        customer_id: UUID
        subscription_id: UUID
        invoice_id: UUID | None

    @staticmethod
    def create_id(reference: str) -> UUID:
        return deterministic_id("payment", reference)

    @event(PaymentReceived)
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


@dataclass(frozen=True)
class TransferClaim:
    """One bank receipt that names this transfer."""

    bank: str
    amount: Money
    invoice_id: UUID
    receipt_id: UUID
    claimed_at: datetime
    released: bool = False


class BankTransfer(BillingAggregate):
    """A bank transfer, known by its tracking number however it was typed (normalised by
    :func:`domain.text.tracking_number`), with every receipt that named it.

    A tracking number counts once per bank while its receipt stands (under review or
    confirmed): registering it again at the same bank is refused. The same number at another
    bank may be another transfer (banks number independently), so it is accepted; with the
    same amount too it is flagged to finance as a possible duplicate. Rejecting a receipt
    releases its claim, so the customer can register the slip again with a detail corrected.
    """

    class BankTransferClaimed(BillingAggregate.Created):
        """The first receipt naming this tracking number: at ``bank``, for ``amount`` rials."""

        tracking_number: str
        bank: str
        amount: int
        invoice_id: UUID
        receipt_id: UUID

    class BankTransferClaimedAgain(BillingAggregate.Event):
        """Another receipt names this tracking number (another bank, or after a release)."""

        bank: str
        amount: int
        invoice_id: UUID
        receipt_id: UUID

    class BankTransferReleased(BillingAggregate.Event):
        """Receipt ``receipt_id`` was rejected: its claim no longer stands."""

        receipt_id: UUID
        reason: str

    @staticmethod
    def create_id(tracking_number: str) -> UUID:
        return deterministic_id("bank-transfer", tracking_number)

    @event(BankTransferClaimed)
    def __init__(
        self,
        tracking_number: str,
        bank: str,
        amount: int,
        invoice_id: UUID,
        receipt_id: UUID,
        timestamp: datetime,
    ) -> None:
        self.tracking_number = tracking_number
        self.claims: dict[UUID, TransferClaim] = {}
        self._add(bank, amount, invoice_id, receipt_id, timestamp)

    def _add(
        self, bank: str, amount: int, invoice_id: UUID, receipt_id: UUID, timestamp: datetime
    ) -> None:
        self.claims[receipt_id] = TransferClaim(
            bank, Money(amount), invoice_id, receipt_id, timestamp
        )

    def standing(self) -> list[TransferClaim]:
        return [c for c in self.claims.values() if not c.released]

    def check_free(self, bank: str) -> None:
        """Refuse a second standing receipt for this tracking number at this bank."""
        for held in self.standing():
            if held.bank == bank:
                raise TrackingNumberUsed(
                    f"Tracking number {self.tracking_number} of bank {bank} was already "
                    f"registered on {held.claimed_at.isoformat()} (invoice {held.invoice_id}, "
                    f"receipt {held.receipt_id}); a transfer is registered once. Check the "
                    "number on the bank slip.",
                    field="tracking_number",
                )

    def possible_duplicates(self, bank: str, amount: Money) -> list[UUID]:
        """Standing receipts at other banks with this tracking number and this amount."""
        return [c.receipt_id for c in self.standing() if c.bank != bank and c.amount == amount]

    def claim(
        self, bank: str, amount: Money, invoice_id: UUID, receipt_id: UUID, now: datetime
    ) -> None:
        now = self._now(now)
        if receipt_id in self.claims and not self.claims[receipt_id].released:
            return
        self.check_free(bank)
        self._claimed(bank, amount.rials, invoice_id, receipt_id, now)

    @event(BankTransferClaimedAgain)
    def _claimed(
        self, bank: str, amount: int, invoice_id: UUID, receipt_id: UUID, timestamp: datetime
    ) -> None:
        self._add(bank, amount, invoice_id, receipt_id, timestamp)

    def release(self, receipt_id: UUID, reason: str, now: datetime) -> None:
        """The receipt was rejected: the number may be registered again at its bank."""
        now = self._now(now)
        held = self.claims.get(receipt_id)
        if held is None or held.released:
            return
        self._released(receipt_id, reason, now)

    @event(BankTransferReleased)
    def _released(self, receipt_id: UUID, reason: str, timestamp: datetime) -> None:
        self.claims[receipt_id] = replace(self.claims[receipt_id], released=True)


class TrackingNumber(BillingAggregate):
    """A bank receipt's tracking number, claimed once: registering it again collides on the id.

    Kept to read the receipts registered before banks were named by code (their bank was free
    text); new receipts claim their transfer with :class:`BankTransfer`.

    The claim is held while its receipt is under review or confirmed. Rejecting the receipt
    releases it, so the customer can register the same number again (the bank slip was real,
    a detail was wrong); that registration claims it again.
    """

    class TrackingNumberClaimed(BillingAggregate.Created):
        """A receipt's tracking number at a bank named in free text (receipts of before bank
        codes; new receipts use BankTransfer)."""

        bank: str
        tracking_number: str
        invoice_id: UUID
        receipt_id: UUID

    class TrackingNumberReleased(BillingAggregate.Event):
        """The receipt holding the claim was rejected."""

        receipt_id: UUID
        reason: str

    class TrackingNumberClaimedAgain(BillingAggregate.Event):
        """The number is claimed again by another receipt."""

        invoice_id: UUID
        receipt_id: UUID

    @staticmethod
    def create_id(bank: str, tracking_number: str) -> UUID:
        return deterministic_id("tracking", " ".join(bank.split()).lower(), tracking_number)

    @event(TrackingNumberClaimed)
    def __init__(
        self,
        bank: str,
        tracking_number: str,
        invoice_id: UUID,
        receipt_id: UUID,
        timestamp: datetime,
    ) -> None:
        self.bank = bank
        self.tracking_number = tracking_number
        self.invoice_id = invoice_id
        self.receipt_id = receipt_id
        self.claimed_at = timestamp
        self.released = False

    def check_free(self) -> None:
        if not self.released:
            raise TrackingNumberUsed(
                f"Tracking number {self.tracking_number} of {self.bank} was already registered on "
                f"{self.claimed_at.isoformat()} (invoice {self.invoice_id}); a receipt is registered "
                "once. Check the number on the bank slip.",
                field="tracking_number",
            )

    def release(self, receipt_id: UUID, reason: str, now: datetime) -> None:
        """The receipt holding this claim was rejected: the number may be registered again."""
        now = self._now(now)
        if self.released or receipt_id != self.receipt_id:
            return
        self._released(receipt_id, reason, now)

    @event(TrackingNumberReleased)
    def _released(self, receipt_id: UUID, reason: str, timestamp: datetime) -> None:
        self.released = True

    def claim_again(self, invoice_id: UUID, receipt_id: UUID, now: datetime) -> None:
        now = self._now(now)
        self.check_free()
        self._claimed_again(invoice_id, receipt_id, now)

    @event(TrackingNumberClaimedAgain)
    def _claimed_again(self, invoice_id: UUID, receipt_id: UUID, timestamp: datetime) -> None:
        self.invoice_id = invoice_id
        self.receipt_id = receipt_id
        self.claimed_at = timestamp
        self.released = False


class GatewayStatus(StrEnum):
    PENDING = "pending"  # the customer was sent to the gateway
    UNCONFIRMED = "unconfirmed"  # the verify call did not answer: reconciliation settles it
    VERIFIED = "verified"
    FAILED = "failed"


class GatewayPayment(BillingAggregate):
    """One attempt to pay an invoice through the gateway, known by the gateway's authority.

    Only the authority and, once verified, the gateway's reference id are kept: nothing about
    the customer's card ever reaches an event.
    """

    class PaymentLinkCreated(BillingAggregate.Created):
        """The customer was sent to ``gateway`` to pay ``amount`` rials of ``invoice_id``."""

        authority: str
        invoice_id: UUID
        subscription_id: UUID
        amount: int
        gateway: str

    class GatewayPaymentVerified(BillingAggregate.Event):
        """The gateway verified the payment (``ref_id``: its reference; ``code``: its answer)."""

        ref_id: str
        code: int

    class GatewayPaymentFailed(BillingAggregate.Event):
        """The payment failed or was cancelled."""

        reason: str
        code: int | None

    class GatewayVerificationPending(BillingAggregate.Event):
        """The verify call did not answer; reconciliation settles it."""

        reason: str

    @staticmethod
    def create_id(authority: str) -> UUID:
        return deterministic_id("gateway", authority)

    @event(PaymentLinkCreated)
    def __init__(
        self,
        authority: str,
        invoice_id: UUID,
        subscription_id: UUID,
        amount: int,
        gateway: str,
        timestamp: datetime,
    ) -> None:
        self.authority = authority
        self.invoice_id = invoice_id
        self.subscription_id = subscription_id
        self.amount = Money(amount)
        self.gateway = gateway
        self.status = GatewayStatus.PENDING
        self.ref_id: str | None = None
        self.failure: str | None = None

    @property
    def reference(self) -> str:
        """The payment reference a verified attempt is recorded under: one authority, one payment."""
        return f"gateway:{self.authority}"

    def verified(self, ref_id: str, code: int, now: datetime) -> None:
        now = self._now(now)
        if self.status is GatewayStatus.VERIFIED:
            return
        self._verified(str(ref_id), code, now)

    @event(GatewayPaymentVerified)
    def _verified(self, ref_id: str, code: int, timestamp: datetime) -> None:
        self.status = GatewayStatus.VERIFIED
        self.ref_id = ref_id

    def failed(self, reason: str, code: int | None, now: datetime) -> None:
        now = self._now(now)
        if self.status in (GatewayStatus.VERIFIED, GatewayStatus.FAILED):
            return
        self._failed(reason, code, now)

    @event(GatewayPaymentFailed)
    def _failed(self, reason: str, code: int | None, timestamp: datetime) -> None:
        self.status = GatewayStatus.FAILED
        self.failure = reason

    def unconfirmed(self, reason: str, now: datetime) -> None:
        now = self._now(now)
        if self.status is not GatewayStatus.PENDING:
            return
        self._unconfirmed(reason, now)

    @event(GatewayVerificationPending)
    def _unconfirmed(self, reason: str, timestamp: datetime) -> None:
        self.status = GatewayStatus.UNCONFIRMED
