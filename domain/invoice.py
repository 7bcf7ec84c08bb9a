"""The Invoice aggregate: what is owed for one billing period, and how it was settled.

An invoice is issued at the start of its period (the first one at order), with a payment
deadline. It is settled by payments (partial payments allowed) and by the customer's credit,
or voided (at collection, or by finance). Its notices (reminders, the grace notice) are
recorded on it, because the rule "no suspension without two notices about that invoice"
counts them here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.base import BillingAggregate, Notice, NoticeKind, deterministic_id
from domain.errors import (
    InvalidAmount,
    InvalidInput,
    InvoiceNotPayable,
    NothingToPay,
    OfficialInvoiceRefused,
    OfflineRequestNotFound,
    OfflineRequestRefused,
    ReceiptNotFound,
    ReceiptRefused,
)
from domain.jalali import JalaliDate
from domain.money import Money, Rate, total
from domain.official import OfficialRecord, Party, PaymentTerms
from domain.plans import Period, Plan
from domain.text import identifier, multiline_text


class InvoiceKind(StrEnum):
    FIRST = "first"  # issued at order; its deadline is the evaluation window
    RENEWAL = "renewal"  # issued at the start of each later period


class InvoiceStatus(StrEnum):
    OPEN = "open"
    PAID = "paid"
    VOID = "void"


@dataclass(frozen=True)
class InvoiceLine:
    """One line of the invoice, priced once at issue (the only place rounding happens).

    gross = unit price × quantity; discount = period discount of gross (rounded half up);
    VAT = VAT rate of (gross − discount) (rounded half up); total = gross − discount + VAT.
    """

    code: str
    description: str
    quantity: int
    unit: str
    unit_price: Money
    discount_rate: Rate
    discount: Money
    vat_rate: Rate
    vat: Money

    @classmethod
    def price(
        cls,
        *,
        code: str,
        description: str,
        quantity: int,
        unit: str,
        unit_price: Money,
        discount_rate: Rate,
        vat_rate: Rate,
    ) -> InvoiceLine:
        gross = unit_price * quantity
        discount = discount_rate.of(gross)
        vat = vat_rate.of(gross - discount)
        return cls(
            code, description, quantity, unit, unit_price, discount_rate, discount, vat_rate, vat
        )

    @classmethod
    def for_plan(
        cls, plan: Plan, period: Period, start: JalaliDate, end: JalaliDate, vat_rate: Rate
    ) -> InvoiceLine:
        last_day = JalaliDate.from_gregorian(end.to_gregorian() - timedelta(days=1))
        return cls.price(
            code=plan.id,
            description=f"Website plan {plan.name} ({period.value}), {start} to {last_day}",
            quantity=period.months,
            unit="month",
            unit_price=plan.monthly_price,
            discount_rate=plan.discount(period),
            vat_rate=vat_rate,
        )

    @property
    def gross(self) -> Money:
        return self.unit_price * self.quantity

    @property
    def net(self) -> Money:
        return self.gross - self.discount

    @property
    def total(self) -> Money:
        return self.net + self.vat

    def to_dict(self) -> dict[str, Any]:
        """The line as stored in the InvoiceIssued event (integers are rials or basis points)."""
        return {
            "code": self.code,
            "description": self.description,
            "quantity": self.quantity,
            "unit": self.unit,
            "unit_price": self.unit_price.rials,
            "discount_rate_bp": self.discount_rate.basis_points,
            "discount": self.discount.rials,
            "vat_rate_bp": self.vat_rate.basis_points,
            "vat": self.vat.rials,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InvoiceLine:
        return cls(
            code=data["code"],
            description=data["description"],
            quantity=data["quantity"],
            unit=data["unit"],
            unit_price=Money(data["unit_price"]),
            discount_rate=Rate(data["discount_rate_bp"]),
            discount=Money(data["discount"]),
            vat_rate=Rate(data["vat_rate_bp"]),
            vat=Money(data["vat"]),
        )


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


@dataclass(frozen=True)
class Settlement:
    """A payment or a use of credit, as applied to this invoice."""

    reference: str
    amount: Money
    method: str
    recorded_at: datetime


class Invoice(BillingAggregate):
    @staticmethod
    def create_id(subscription_id: UUID, period_no: int) -> UUID:
        # One invoice per subscription period, whoever issues it: a second scheduler that
        # tries to issue the same renewal collides on this id and records nothing.
        return deterministic_id("invoice", subscription_id, period_no)

    @event("InvoiceIssued")
    def __init__(
        self,
        subscription_id: UUID,
        customer_id: UUID,
        period_no: int,
        kind: str,
        period_start: str,
        period_end: str,
        lines: list[dict[str, Any]],
        deadline: datetime,
        due_at: datetime | None,
        timestamp: datetime,
    ) -> None:
        self.subscription_id = subscription_id
        self.customer_id = customer_id
        self.period_no = period_no
        self.kind = InvoiceKind(kind)
        self.period_start = JalaliDate.parse(period_start)
        self.period_end = JalaliDate.parse(period_end)
        self.lines = tuple(InvoiceLine.from_dict(line) for line in lines)
        # An issued invoice's lines never change: its total and VAT are worked out once.
        self.total = total([line.total for line in self.lines])
        self.vat = total([line.vat for line in self.lines])
        self.deadline = deadline
        self.issued_at = timestamp
        self.settlements: list[Settlement] = []
        self.notices: list[Notice] = []
        self.voided_at: datetime | None = None
        self.void_reason: str | None = None
        self.offline_requests: dict[UUID, OfflineRequest] = {}
        self.receipts: dict[UUID, Receipt] = {}
        self.official: OfficialRecord | None = None

    # --- what the invoice says --------------------------------------------------------------

    @property
    def paid(self) -> Money:
        return total([s.amount for s in self.settlements])

    @property
    def is_void(self) -> bool:
        return self.voided_at is not None

    @property
    def balance(self) -> Money:
        """What is still owed: total − paid, and nothing once voided."""
        return Money(0) if self.is_void else self.total - self.paid

    @property
    def voided_amount(self) -> Money:
        return self.total - self.paid if self.is_void else Money(0)

    @property
    def is_open(self) -> bool:
        return not self.is_void and self.balance.is_positive

    @property
    def status(self) -> InvoiceStatus:
        if self.is_void:
            return InvoiceStatus.VOID
        return InvoiceStatus.OPEN if self.balance.is_positive else InvoiceStatus.PAID

    @property
    def settled_at(self) -> datetime | None:
        """When the last payment or credit made the balance zero."""
        if self.status is not InvoiceStatus.PAID:
            return None
        return self.settlements[-1].recorded_at if self.settlements else self.issued_at

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

    def references(self) -> set[str]:
        return {s.reference for s in self.settlements}

    def notices_of(self, *kinds: NoticeKind) -> list[Notice]:
        return [n for n in self.notices if n.kind in kinds]

    def has_notice(self, kind: NoticeKind, number: int = 0) -> bool:
        return any(n.kind is kind and n.number == number for n in self.notices)

    # --- commands ---------------------------------------------------------------------------

    def check_payable(self) -> None:
        if self.is_void:
            raise InvoiceNotPayable(
                f"Invoice {self.id} was voided on {self.voided_at.isoformat()} ({self.void_reason}) "
                "and can no longer be paid. Nothing was recorded; if money was sent, ask finance "
                "to refund it.",
                invoice_id=str(self.id),
            )

    def record_payment(
        self, payment_id: UUID, reference: str, amount: Money, method: str, now: datetime
    ) -> None:
        now = self._now(now)
        self.check_payable()
        if not amount.is_positive or amount > self.balance:
            raise InvalidAmount(
                f"A payment of {amount} does not fit invoice {self.id}, whose balance is {self.balance}.",
            )
        self._payment_recorded(payment_id, reference, amount.rials, method, now)

    @event("PaymentRecorded")
    def _payment_recorded(
        self, payment_id: UUID, reference: str, amount: int, method: str, timestamp: datetime
    ) -> None:
        self.settlements.append(Settlement(reference, Money(amount), method, timestamp))

    def apply_credit(self, amount: Money, now: datetime) -> None:
        now = self._now(now)
        self.check_payable()
        if not amount.is_positive or amount > self.balance:
            raise InvalidAmount(f"Credit of {amount} does not fit the balance {self.balance}.")
        self._credit_applied(amount.rials, now)

    @event("CreditApplied")
    def _credit_applied(self, amount: int, timestamp: datetime) -> None:
        self.settlements.append(Settlement("credit", Money(amount), "credit", timestamp))

    def send_notice(
        self,
        kind: NoticeKind,
        now: datetime,
        *,
        number: int = 0,
        due_at: datetime | None = None,
        facts: dict[str, Any] | None = None,
    ) -> None:
        now = self._now(now)
        self._notice_sent(kind.value, number, due_at, facts or {}, now)

    @event("NoticeSent")
    def _notice_sent(
        self,
        kind: str,
        number: int,
        due_at: datetime | None,
        facts: dict[str, Any],
        timestamp: datetime,
    ) -> None:
        self.notices.append(Notice(NoticeKind(kind), number, timestamp, due_at, facts))

    def void(self, reason: str, now: datetime, *, due_at: datetime | None = None) -> None:
        now = self._now(now)
        if self.is_void:
            return  # voiding twice changes nothing; a retry must be safe
        if self.official is not None:
            raise InvoiceNotPayable(
                f"Invoice {self.id} has official invoice {self.official.number_text}, a filed "
                "legal document; it cannot be voided. Issue a credit note through finance.",
                invoice_id=str(self.id),
            )
        self._invoice_voided(reason, due_at, now)

    # --- the official invoice ---------------------------------------------------------------

    @property
    def payment_terms(self) -> PaymentTerms:
        """Cash when fully paid by the deadline; credit when later or on approved terms."""
        settled = self.settled_at
        if self.approved_offline is not None or settled is None or settled > self.deadline:
            return PaymentTerms.CREDIT
        return PaymentTerms.CASH

    def issue_official(
        self, fiscal_year: int, number: int, seller: Party, buyer: Party, tax_id: str, now: datetime
    ) -> None:
        """Record the official invoice; refused unless the invoice is fully paid."""
        now = self._now(now)
        if self.official is not None:
            raise OfficialInvoiceRefused(
                f"Invoice {self.id} already has official invoice {self.official.number_text}.",
                reason="already_issued",
            )
        if self.status is not InvoiceStatus.PAID:
            raise OfficialInvoiceRefused(
                f"Invoice {self.id} is {self.status.value}: an official invoice is issued only "
                f"once it is fully paid (balance {self.balance}). Pay it first.",
                reason="not_paid",
                invoice_id=str(self.id),
            )
        self._official_issued(
            fiscal_year,
            number,
            seller.to_dict(),
            buyer.to_dict(),
            tax_id,
            self.payment_terms.value,
            [s.reference for s in self.settlements],
            now,
        )

    @event("OfficialInvoiceIssued")
    def _official_issued(
        self,
        fiscal_year: int,
        number: int,
        seller: dict[str, Any],
        buyer: dict[str, Any],
        tax_id: str,
        terms: str,
        references: list[str],
        timestamp: datetime,
    ) -> None:
        self.official = OfficialRecord(
            fiscal_year=fiscal_year,
            number=number,
            issued_at=timestamp,
            seller=Party.from_dict(seller),
            buyer=Party.from_dict(buyer),
            tax_id=tax_id,
            terms=PaymentTerms(terms),
            references=tuple(references),
        )

    @event("InvoiceVoided")
    def _invoice_voided(self, reason: str, due_at: datetime | None, timestamp: datetime) -> None:
        self.voided_at = timestamp
        self.void_reason = reason

    # --- paying offline: request, approval, receipt, decision -----------------------------------

    def request_offline_payment(self, request_id: UUID, reason: str, now: datetime) -> None:
        now = self._now(now)
        self.check_payable()
        if not self.is_open:
            raise NothingToPay(f"Invoice {self.id} is paid; there is nothing to pay offline.")
        if self.pending_offline() is not None or self.approved_offline is not None:
            raise OfflineRequestRefused(
                f"Invoice {self.id} already has an offline payment request "
                f"({(self.pending_offline() or self.approved_offline).status.value}); wait for finance or register the receipt.",
            )
        self._offline_requested(request_id, _text(reason, "reason"), now)

    @event("OfflinePaymentRequested")
    def _offline_requested(self, request_id: UUID, reason: str, timestamp: datetime) -> None:
        self.offline_requests[request_id] = OfflineRequest(request_id, reason, timestamp)

    def approve_offline_payment(
        self, request_id: UUID, extension_days: int, note: str, now: datetime
    ) -> None:
        """Finance agrees: the deadline moves by ``extension_days`` (a setting) from now or the
        current deadline, whichever is later."""
        now = self._now(now)
        request = self._pending_request(request_id)
        if self.is_void:
            raise InvoiceNotPayable(
                f"Invoice {self.id} was voided on {self.voided_at.isoformat()} "
                f"({self.void_reason}): nothing is owed on it, so offline payment request "
                f"{request_id} cannot be approved. Reject it instead, with a reason for the "
                "customer.",
                invoice_id=str(self.id),
            )
        deadline = max(self.deadline, now) + timedelta(days=extension_days)
        self._offline_approved(request.request_id, deadline, note or "", now)

    @event("OfflinePaymentApproved")
    def _offline_approved(
        self, request_id: UUID, deadline: datetime, note: str, timestamp: datetime
    ) -> None:
        self.offline_requests[request_id] = replace(
            self.offline_requests[request_id],
            status=RequestStatus.APPROVED,
            decided_at=timestamp,
            decision=note,
        )
        self.deadline = deadline

    def reject_offline_payment(self, request_id: UUID, reason: str, now: datetime) -> None:
        now = self._now(now)
        request = self._pending_request(request_id)
        self._offline_rejected(request.request_id, _text(reason, "reason"), now)

    @event("OfflinePaymentRejected")
    def _offline_rejected(self, request_id: UUID, reason: str, timestamp: datetime) -> None:
        self.offline_requests[request_id] = replace(
            self.offline_requests[request_id],
            status=RequestStatus.REJECTED,
            decided_at=timestamp,
            decision=reason,
        )

    def _pending_request(self, request_id: UUID) -> OfflineRequest:
        request = self.offline_requests.get(request_id)
        if request is None:
            raise OfflineRequestNotFound(f"There is no offline payment request {request_id}.")
        if request.status is not RequestStatus.PENDING:
            raise OfflineRequestRefused(
                f"Offline payment request {request_id} was already {request.status.value} on "
                f"{request.decided_at.isoformat()}; it cannot be decided again."
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
            _day(paid_on, "paid_on"),
            scan_hash,
            now,
            [str(r) for r in possible_duplicates or ()],
        )

    @event("ReceiptRegistered")
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
    ) -> None:
        self.receipts[receipt_id] = Receipt(
            receipt_id,
            bank,
            tracking_number,
            Money(amount),
            paid_on,
            scan_hash,
            timestamp,
            possible_duplicates=tuple(UUID(str(r)) for r in possible_duplicates or ()),
        )

    def receipt_under_review(self, receipt_id: UUID) -> Receipt:
        receipt = self.receipts.get(receipt_id)
        if receipt is None:
            raise ReceiptNotFound(f"There is no receipt {receipt_id}.")
        if receipt.status is not ReceiptStatus.UNDER_REVIEW:
            raise ReceiptRefused(
                f"Receipt {receipt_id} was already {receipt.status.value} on {receipt.decided_at.isoformat()}."
            )
        return receipt

    def confirm_receipt(self, receipt_id: UUID, now: datetime) -> Receipt:
        """Finance saw the money arrive: the receipt is confirmed (the caller records the payment)."""
        now = self._now(now)
        receipt = self.receipt_under_review(receipt_id)
        self._receipt_confirmed(receipt.receipt_id, now)
        return self.receipts[receipt_id]

    @event("ReceiptConfirmed")
    def _receipt_confirmed(self, receipt_id: UUID, timestamp: datetime) -> None:
        self.receipts[receipt_id] = replace(
            self.receipts[receipt_id],
            status=ReceiptStatus.CONFIRMED,
            decided_at=timestamp,
            decision="confirmed",
        )

    def reject_receipt(self, receipt_id: UUID, reason: str, now: datetime) -> None:
        now = self._now(now)
        receipt = self.receipt_under_review(receipt_id)
        self._receipt_rejected(receipt.receipt_id, _text(reason, "reason"), now)

    @event("ReceiptRejected")
    def _receipt_rejected(self, receipt_id: UUID, reason: str, timestamp: datetime) -> None:
        self.receipts[receipt_id] = replace(
            self.receipts[receipt_id],
            status=ReceiptStatus.REJECTED,
            decided_at=timestamp,
            decision=reason,
        )


def _text(value: str, field: str, limit: int = 500) -> str:
    """A reason or a note for the audit trail, through the input policy (domain/text.py)."""
    return multiline_text(value, field, max_length=limit)


def _day(value: str, field: str) -> str:
    """A Jalali day a person typed (Persian digits welcome), as ``1405/02/20``."""
    text = identifier(value, field, max_length=20)
    try:
        return JalaliDate.parse(text).isoformat()
    except ValueError:
        raise InvalidInput(
            f"{field} {value!r} is not a Jalali date; write it like 1405/02/20.", field=field
        ) from None
