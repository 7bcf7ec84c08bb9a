"""Paying an invoice offline: the request finance decides, and the bank receipts registered
after an approval.

:class:`OfflinePayments` holds the Invoice's commands and queries about them: each checks,
then calls the Invoice's private ``@event`` method (``_offline_requested``, ...), which only
assigns. The events stay declared on :class:`domain.invoice.Invoice`, so their stored topics
are ``domain.invoice:Invoice.…``; this module keeps the invoice module to one responsibility
per file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING
from uuid import UUID

from domain.base import iso
from domain.errors import (
    InvalidAmount,
    InvalidInput,
    InvoiceNotPayable,
    NothingToPay,
    OfflineRequestNotFound,
    OfflineRequestRefused,
    ReceiptNotFound,
    ReceiptRefused,
)
from domain.jalali import JalaliDate
from domain.money import Money
from domain.text import identifier, multiline_text


class RequestStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True)
class OfflineRequest:
    """A customer's request to pay this invoice offline (organisations that cannot pay online)."""

    request_id: UUID
    reason: str
    requested_at: datetime
    status: RequestStatus = RequestStatus.PENDING
    decided_at: datetime | None = None
    decision: str | None = None


class ReceiptStatus(StrEnum):
    UNDER_REVIEW = "under_review"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Receipt:
    """A bank receipt the customer registered after an approved offline request."""

    receipt_id: UUID
    bank: str
    tracking_number: str
    amount: Money
    paid_on: str
    scan_hash: str | None
    registered_at: datetime
    status: ReceiptStatus = ReceiptStatus.UNDER_REVIEW
    decided_at: datetime | None = None
    decision: str | None = None
    #: Standing receipts at other banks with the same tracking number and amount, when this one
    #: was registered: finance should make sure they are not one transfer.
    possible_duplicates: tuple[UUID, ...] = ()

    @property
    def reference(self) -> str:
        """The payment reference a confirmed receipt is recorded under."""
        return f"receipt:{normalise_bank(self.bank)}:{self.tracking_number}"


def normalise_bank(bank: str) -> str:
    return " ".join(bank.split()).lower()


def reason_text(value: str, field: str, limit: int = 500) -> str:
    """A reason or a note for the audit trail, through the input policy (domain/text.py)."""
    return multiline_text(value, field, max_length=limit)


def paid_on_day(value: str, field: str) -> str:
    """A Jalali day a person typed (Persian digits welcome), as ``1405/02/20``."""
    text = identifier(value, field, max_length=20)
    try:
        return JalaliDate.parse(text).isoformat()
    except ValueError:
        raise InvalidInput(
            f"{field} {value!r} is not a Jalali date; write it like 1405/02/20.", field=field
        ) from None


class OfflinePayments:
    """The offline-payment half of :class:`domain.invoice.Invoice` (a mixin: no state, no
    events of its own). It uses the Invoice's ``_now``, ``check_payable`` and the private
    ``@event`` methods that record what it decides."""

    offline_requests: dict[UUID, OfflineRequest]
    receipts: dict[UUID, Receipt]
    deadline: datetime

    if TYPE_CHECKING:  # provided by Invoice (declared for readers and type checkers)
        id: UUID
        voided_at: datetime | None
        void_reason: str | None

        @property
        def is_void(self) -> bool: ...
        @property
        def is_open(self) -> bool: ...
        def _now(self, now: datetime) -> datetime: ...
        def check_payable(self) -> None: ...
        def _offline_requested(
            self, request_id: UUID, reason: str, timestamp: datetime
        ) -> None: ...
        def _offline_approved(
            self, request_id: UUID, deadline: datetime, note: str, timestamp: datetime
        ) -> None: ...
        def _offline_rejected(self, request_id: UUID, reason: str, timestamp: datetime) -> None: ...
        def _receipt_registered(
            self,
            receipt_id: UUID,
            bank: str,
            tracking_number: str,
            amount: int,
            paid_on: str,
            scan_hash: str | None,
            timestamp: datetime,
            possible_duplicates: list[str] | None = None,
        ) -> None: ...
        def _receipt_confirmed(self, receipt_id: UUID, timestamp: datetime) -> None: ...
        def _receipt_rejected(self, receipt_id: UUID, reason: str, timestamp: datetime) -> None: ...

    @property
    def approved_offline(self) -> OfflineRequest | None:
        return next(
            (r for r in self.offline_requests.values() if r.status is RequestStatus.APPROVED), None
        )

    def pending_offline(self) -> OfflineRequest | None:
        return next(
            (r for r in self.offline_requests.values() if r.status is RequestStatus.PENDING), None
        )

    def receipts_under_review(self) -> list[Receipt]:
        return [r for r in self.receipts.values() if r.status is ReceiptStatus.UNDER_REVIEW]

    def request_offline_payment(self, request_id: UUID, reason: str, now: datetime) -> None:
        now = self._now(now)
        self.check_payable()
        if not self.is_open:
            raise NothingToPay(f"Invoice {self.id} is paid; there is nothing to pay offline.")
        if self.pending_offline() is not None or self.approved_offline is not None:
            raise OfflineRequestRefused(
                f"Invoice {self.id} already has an offline payment request "
                f"({'pending' if self.pending_offline() else 'approved'}); wait for finance or "
                "register the receipt.",
            )
        self._offline_requested(request_id, reason_text(reason, "reason"), now)

    def approve_offline_payment(
        self, request_id: UUID, extension_days: int, note: str, now: datetime
    ) -> None:
        """Finance agrees: the deadline moves by ``extension_days`` (a setting) from now or the
        current deadline, whichever is later."""
        now = self._now(now)
        request = self._pending_request(request_id)
        if self.is_void:
            raise InvoiceNotPayable(
                f"Invoice {self.id} was voided on {iso(self.voided_at)} "
                f"({self.void_reason}): nothing is owed on it, so offline payment request "
                f"{request_id} cannot be approved. Reject it instead, with a reason for the "
                "customer.",
                invoice_id=str(self.id),
            )
        deadline = max(self.deadline, now) + timedelta(days=extension_days)
        self._offline_approved(request.request_id, deadline, note or "", now)

    def reject_offline_payment(self, request_id: UUID, reason: str, now: datetime) -> None:
        now = self._now(now)
        request = self._pending_request(request_id)
        self._offline_rejected(request.request_id, reason_text(reason, "reason"), now)

    def _pending_request(self, request_id: UUID) -> OfflineRequest:
        request = self.offline_requests.get(request_id)
        if request is None:
            raise OfflineRequestNotFound(f"There is no offline payment request {request_id}.")
        if request.status is not RequestStatus.PENDING:
            raise OfflineRequestRefused(
                f"Offline payment request {request_id} was already {request.status.value} on "
                f"{iso(request.decided_at)}; it cannot be decided again."
            )
        return request

    def register_receipt(
        self,
        receipt_id: UUID,
        *,
        bank: str,
        tracking_number: str,
        amount: Money,
        paid_on: str,
        scan_hash: str | None,
        now: datetime,
        possible_duplicates: list[UUID] | None = None,
    ) -> None:
        """``bank`` is a code of :mod:`domain.banks` and ``tracking_number`` as normalised by
        :func:`domain.text.tracking_number` (the application checks both first)."""
        now = self._now(now)
        self.check_payable()
        if self.approved_offline is None:
            raise OfflineRequestRefused(
                f"Invoice {self.id} has no approved offline payment request; ask for one first "
                "(POST /invoices/{id}/offline-requests), or pay online.",
            )
        if not amount.is_positive:
            raise InvalidAmount("A receipt's amount must be more than zero rials.", field="amount")
        self._receipt_registered(
            receipt_id,
            bank,
            tracking_number,
            amount.rials,
            paid_on_day(paid_on, "paid_on"),
            scan_hash,
            now,
            [str(r) for r in possible_duplicates or ()],
        )

    def receipt_under_review(self, receipt_id: UUID) -> Receipt:
        receipt = self.receipts.get(receipt_id)
        if receipt is None:
            raise ReceiptNotFound(f"There is no receipt {receipt_id}.")
        if receipt.status is not ReceiptStatus.UNDER_REVIEW:
            raise ReceiptRefused(
                f"Receipt {receipt_id} was already {receipt.status.value} on {iso(receipt.decided_at)}."
            )
        return receipt

    def confirm_receipt(self, receipt_id: UUID, now: datetime) -> Receipt:
        """Finance saw the money arrive: the receipt is confirmed (the caller records the payment)."""
        now = self._now(now)
        receipt = self.receipt_under_review(receipt_id)
        self._receipt_confirmed(receipt.receipt_id, now)
        return self.receipts[receipt_id]

    def reject_receipt(self, receipt_id: UUID, reason: str, now: datetime) -> None:
        now = self._now(now)
        receipt = self.receipt_under_review(receipt_id)
        self._receipt_rejected(receipt.receipt_id, reason_text(reason, "reason"), now)
