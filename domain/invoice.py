"""The Invoice aggregate: what is owed for one billing period, and how it was settled.

An invoice is issued at the start of its period (the first one at order), with a payment
deadline. It is settled by payments (partial payments allowed) and by the customer's credit,
or voided (at collection, or by finance). Its notices (reminders, the grace notice) are
recorded on it, because the rule "no suspension without two notices about that invoice"
counts them here; so is the reminder schedule in force at issue, which a later plan change
does not alter.

Its lines are priced in :mod:`domain.invoice_lines`; the commands of paying offline (a
request, finance's decision, bank receipts) are in :mod:`domain.offline`. Every event stays
declared here, in the aggregate's body, where its stored topic names it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.base import BillingAggregate, Notice, NoticeKind, deterministic_id, iso
from domain.errors import (
    InvalidAmount,
    InvoiceNotPayable,
    OfficialInvoiceRefused,
    ReturnRefused,
)
from domain.invoice_lines import InvoiceLine
from domain.jalali import JalaliDate
from domain.money import Money, total
from domain.notices import NoticeSentEvent, facts_of
from domain.official import (
    CorrectionSubject,
    CreditNote,
    OfficialCorrection,
    OfficialRecord,
    Party,
    PaymentTerms,
    SaleReturn,
)
from domain.offline import (
    OfflinePayments,
    OfflineRequest,
    Receipt,
    ReceiptStatus,
    RequestStatus,
    normalise_bank,
)

__all__ = [  # what other modules import from here (the parts live in their own modules)
    "Invoice",
    "InvoiceKind",
    "InvoiceLine",
    "InvoiceStatus",
    "OfflineRequest",
    "Receipt",
    "ReceiptStatus",
    "RequestStatus",
    "Settlement",
    "normalise_bank",
]


class InvoiceKind(StrEnum):
    FIRST = "first"  # issued at order; its deadline is the evaluation window
    RENEWAL = "renewal"  # issued at the start of each later period
    PRORATION = "proration"  # an upgrade at once: the prorated difference (domain/proration.py)
    #: Side services (domain registration, design, SEO, ...) billed by a representative or
    #: finance (domain/service_invoices.py): paid as any invoice, never suspends or collects.
    SERVICE = "service"


class InvoiceStatus(StrEnum):
    OPEN = "open"
    PAID = "paid"
    VOID = "void"


@dataclass(frozen=True)
class Settlement:
    """A payment or a use of credit, as applied to this invoice."""

    reference: str
    amount: Money
    method: str
    recorded_at: datetime


class Invoice(OfflinePayments, BillingAggregate):
    # --- events: what an invoice records (docs/EVENTS.md) -----------------------------------

    class InvoiceIssued(BillingAggregate.Created):
        """Issued for period ``period_no`` with its ``lines`` (InvoiceLine.to_dict) and
        ``deadline``; ``due_at``: the period start a renewal was planned at (None at order).

        Version 2: ``reminder_days``, the payment reminders in force at issue (days before the
        deadline), which this invoice keeps whatever plan the subscription moves to.

        Version 3: ``representative_id``, the customer's representative when it was issued
        (the revenue report credits the invoice to them); None: the customer had none."""

        subscription_id: UUID
        customer_id: UUID
        period_no: int
        kind: str
        period_start: str
        period_end: str
        lines: list[dict[str, Any]]
        deadline: datetime
        due_at: datetime | None
        reminder_days: list[int] | None = None
        representative_id: UUID | None = None

        class_version = 3

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            # Not recorded before: None reads "the plan its period was billed on", the
            # schedule version 1 applied while the invoice's period was current.
            state["reminder_days"] = None

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            # Not recorded before: None, which the revenue report reads as the representative
            # the subscription's order recorded (every invoice then was a hosting invoice).
            state["representative_id"] = None

    class PaymentRecorded(BillingAggregate.Event):
        """``amount`` rials of payment ``reference`` (aggregate ``payment_id``) paid this invoice."""

        payment_id: UUID
        reference: str
        amount: int
        method: str

    class CreditApplied(BillingAggregate.Event):
        """``amount`` rials of the customer's credit paid this invoice."""

        amount: int

    class NoticeSent(NoticeSentEvent):
        """A notice about this invoice (domain/notices.py)."""

    class InvoiceVoided(BillingAggregate.Event):
        """No longer owed: voided by finance (``due_at`` None) or at collection."""

        reason: str
        due_at: datetime | None

    class VoidProposed(BillingAggregate.Event):
        """Under the four-eyes rule, a first person asked for a void a second must carry out."""

        reason: str

    class OfficialInvoiceIssued(BillingAggregate.Event):
        """The official invoice (domain/official.py): its number, parties, terms, tax ID."""

        fiscal_year: int
        number: int
        seller: dict[str, Any]
        buyer: dict[str, Any]
        tax_id: str
        terms: str
        references: list[str]

    class OfficialCorrectionIssued(BillingAggregate.Event):
        """A correcting official document of this invoice's official invoice (``subject``:
        cancelling, corrective or return), with its own number of the same series and tax ID,
        referencing the original's number and tax ID; ``amount``: what it takes off."""

        subject: str
        fiscal_year: int
        number: int
        tax_id: str
        original_number: str
        original_tax_id: str
        amount: int
        reason: str

    class SaleReturned(BillingAggregate.Event):
        """Return from sale (برگشت از فروش): finance took back ``amount`` rials of this paid
        invoice (``vat``: the VAT share of it), return number ``number`` of the invoice; the
        amount became the customer's credit in the same save (docs/INVOICES.md, "Returns")."""

        number: int
        amount: int
        vat: int
        reason: str

    class CreditNoteIssued(BillingAggregate.Event):
        """A credit note of an invoice with no official document (a person's invoice): number
        ``number`` of this invoice's credit notes, for ``amount`` rials (``vat``: its VAT share)
        credited back by a void or a return (``cause``: "void" or "return")."""

        number: int
        amount: int
        vat: int
        reason: str
        cause: str

    class OfflinePaymentRequested(BillingAggregate.Event):
        """The customer asks to pay this invoice offline."""

        request_id: UUID
        reason: str

    class OfflinePaymentApproved(BillingAggregate.Event):
        """Finance approved the request; the deadline moves to ``deadline``."""

        request_id: UUID
        deadline: datetime
        note: str

    class OfflinePaymentRejected(BillingAggregate.Event):
        """Finance rejected the request."""

        request_id: UUID
        reason: str

    class ReceiptRegistered(BillingAggregate.Event):
        """A bank receipt, under review (``bank``: a code of domain/banks.py)."""

        receipt_id: UUID
        bank: str
        tracking_number: str
        amount: int
        paid_on: str  # a Jalali day, 1405/02/20
        scan_hash: str | None
        possible_duplicates: list[str] | None = None

    class ReceiptConfirmed(BillingAggregate.Event):
        """Finance saw the money arrive (the payment is recorded in the same save)."""

        receipt_id: UUID

    class ReceiptRejected(BillingAggregate.Event):
        """Finance rejected the receipt: the customer gets a day before any action."""

        receipt_id: UUID
        reason: str

    @staticmethod
    def create_id(subscription_id: UUID, period_no: int) -> UUID:
        # One invoice per subscription period, whoever issues it: a second scheduler that
        # tries to issue the same renewal collides on this id and records nothing.
        return deterministic_id("invoice", subscription_id, period_no)

    @classmethod
    def issue_as(cls, invoice_id: UUID, **fields: Any) -> Invoice:
        """Issue an invoice under an id its caller chose, with ``__init__``'s fields: a
        side-service invoice has no period to derive its id from (domain/service_invoices.py)."""
        return cls._create(cls.InvoiceIssued, id=invoice_id, **fields)

    @event(InvoiceIssued)
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
        reminder_days: list[int] | None = None,
        representative_id: UUID | None = None,
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
        #: Payment reminders, in days before the deadline, as in force at issue; None for an
        #: invoice issued before they were recorded (see lifecycle.reminder_days_of).
        self.reminder_days = tuple(reminder_days) if reminder_days is not None else None
        self.issued_at = timestamp
        #: The customer's representative at issue; None: none, or not recorded (version 2).
        self.representative_id = representative_id
        self.settlements: list[Settlement] = []
        self.notices: list[Notice] = []
        self.voided_at: datetime | None = None
        self.void_reason: str | None = None
        self.voided_by_finance = False
        #: A void asked for under the four-eyes rule, awaiting a second person: (reason, when).
        self.void_proposal: tuple[str, datetime] | None = None
        self.offline_requests: dict[UUID, OfflineRequest] = {}
        self.receipts: dict[UUID, Receipt] = {}
        self.official: OfficialRecord | None = None
        #: Correcting official documents of ``official`` (a cancelling one when voided).
        self.corrections: list[OfficialCorrection] = []
        #: Returns from sale of this (paid) invoice, in order (docs/INVOICES.md, "Returns").
        self.returns: list[SaleReturn] = []
        #: Credit notes of an invoice with no official document, numbered 1, 2, ...
        self.credit_notes: list[CreditNote] = []

    # --- what the invoice says --------------------------------------------------------------

    @property
    def is_service(self) -> bool:
        """A side-service invoice: outside the site's lifecycle (docs/LIFECYCLE.md)."""
        return self.kind is InvoiceKind.SERVICE

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
    def returned(self) -> Money:
        """What returns from sale took back of this invoice (it became the customer's credit)."""
        return total([r.amount for r in self.returns])

    @property
    def returnable(self) -> Money:
        """What a return may still take back: the paid amount not yet returned, on a paid
        invoice; nothing on an open or a voided one."""
        if self.status is not InvoiceStatus.PAID:
            return Money(0)
        return self.paid - self.returned

    @property
    def credited_by_void(self) -> Money:
        """What a void moves back to the customer's credit: what was paid on the invoice less
        what returns already moved there."""
        return self.paid - self.returned

    def vat_share(self, amount: Money) -> Money:
        """The VAT part of ``amount`` rials of this invoice's total (rounded down): the same
        proportion as the invoice's VAT to its total."""
        if not self.total.is_positive:
            return Money(0)
        return Money(amount.rials * self.vat.rials // self.total.rials)

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
                f"Invoice {self.id} was voided on {iso(self.voided_at)} ({self.void_reason}) "
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

    @event(PaymentRecorded)
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

    @event(CreditApplied)
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
        self._notice_sent(kind.value, number, due_at, facts_of(kind, facts), now)

    @event(NoticeSent)
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
        self._check_voidable()
        self._invoice_voided(reason, due_at, now)

    def return_sale(self, amount: Money, reason: str, now: datetime) -> None:
        """Return from sale: take back ``amount`` of what was paid on this paid invoice (the
        caller adds it to the customer's credit in the same save). Refused on an open invoice
        (its balance is still owed: void it, or let it be paid), on a voided one (its money is
        already credit), and over what is left to return."""
        now = self._now(now)
        if self.is_void:
            raise ReturnRefused(
                f"Invoice {self.id} was voided on {iso(self.voided_at)}: what was paid on it is "
                "already the customer's credit, so nothing is left to return.",
                reason="invoice_void",
                invoice_id=str(self.id),
            )
        if self.status is not InvoiceStatus.PAID:
            raise ReturnRefused(
                f"Invoice {self.id} is open (balance {self.balance}): a return takes back part of "
                "a paid invoice. To forgive an open invoice, void it (POST "
                f"/invoices/{self.id}/void) and bill what is still owed anew.",
                reason="not_paid",
                invoice_id=str(self.id),
            )
        if not amount.is_positive or amount > self.returnable:
            raise ReturnRefused(
                f"A return of {amount} is more than is left to return on invoice {self.id} "
                f"({self.returnable}: paid {self.paid}, returned before {self.returned}).",
                reason="over_returnable",
                returnable=self.returnable.rials,
            )
        self._sale_returned(
            len(self.returns) + 1, amount.rials, self.vat_share(amount).rials, reason, now
        )

    @event(SaleReturned)
    def _sale_returned(
        self, number: int, amount: int, vat: int, reason: str, timestamp: datetime
    ) -> None:
        self.returns.append(SaleReturn(number, Money(amount), Money(vat), reason, timestamp))

    @property
    def credit_notes_due(self) -> list[tuple[str, Money, str]]:
        """The credit notes this invoice still needs, as (cause, amount, reason): one per
        return, and one for a void that moved money to credit, when it has no official
        document (an official one is corrected by official documents instead)."""
        if self.official is not None:
            return []
        wanted: list[tuple[str, Money, str]] = [
            ("return", r.amount, r.reason) for r in self.returns
        ]
        if self.is_void and self.voided_by_finance and self.credited_by_void.is_positive:
            wanted.append(("void", self.credited_by_void, self.void_reason or ""))
        return wanted[len(self.credit_notes) :]

    def issue_credit_note(self, cause: str, amount: Money, reason: str, now: datetime) -> None:
        now = self._now(now)
        self._credit_note_issued(
            len(self.credit_notes) + 1,
            amount.rials,
            self.vat_share(amount).rials,
            reason,
            cause,
            now,
        )

    @event(CreditNoteIssued)
    def _credit_note_issued(
        self, number: int, amount: int, vat: int, reason: str, cause: str, timestamp: datetime
    ) -> None:
        self.credit_notes.append(
            CreditNote(number, Money(amount), Money(vat), reason, cause, timestamp)
        )

    def _check_voidable(self) -> None:
        """Anything not yet void may be voided. An invoice with an official document is too:
        the void's own save issues the cancelling official document (docs/INVOICES.md,
        "Corrections"); nothing is refused for having one."""
        self.check_payable()

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
        if self.returns:
            raise OfficialInvoiceRefused(
                f"Invoice {self.id} had part of its sale returned before it had an official "
                "invoice; its credit notes are its documents.",
                reason="returned_before_issue",
                invoice_id=str(self.id),
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

    @event(OfficialInvoiceIssued)
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

    @property
    def returns_without_document(self) -> list[SaleReturn]:
        """Returns of an officially invoiced invoice whose return-from-sale document is not
        issued yet (each return has one, in its own save)."""
        if self.official is None:
            return []
        documented = sum(1 for c in self.corrections if c.subject is CorrectionSubject.RETURN)
        return self.returns[documented:]

    @property
    def needs_cancelling_document(self) -> bool:
        """Voided with an official invoice and no cancelling document yet."""
        return (
            self.is_void
            and self.official is not None
            and not any(c.subject is CorrectionSubject.CANCELLING for c in self.corrections)
        )

    def issue_correction(
        self,
        subject: CorrectionSubject,
        fiscal_year: int,
        number: int,
        tax_id: str,
        amount: Money,
        reason: str,
        now: datetime,
    ) -> None:
        """Record a correcting official document of the official invoice. A cancelling one
        only once the invoice is void, and only once."""
        now = self._now(now)
        if self.official is None:
            raise OfficialInvoiceRefused(
                f"Invoice {self.id} has no official invoice to correct.",
                reason="no_official_invoice",
                invoice_id=str(self.id),
            )
        if subject is CorrectionSubject.CANCELLING and not self.needs_cancelling_document:
            raise OfficialInvoiceRefused(
                f"Invoice {self.id} is {self.status.value}: a cancelling document is issued "
                "once, for a voided invoice.",
                reason="not_cancellable",
                invoice_id=str(self.id),
            )
        self._correction_issued(
            subject.value,
            fiscal_year,
            number,
            tax_id,
            self.official.number_text,
            self.official.tax_id,
            amount.rials,
            reason,
            now,
        )

    @event(OfficialCorrectionIssued)
    def _correction_issued(
        self,
        subject: str,
        fiscal_year: int,
        number: int,
        tax_id: str,
        original_number: str,
        original_tax_id: str,
        amount: int,
        reason: str,
        timestamp: datetime,
    ) -> None:
        self.corrections.append(
            OfficialCorrection(
                subject=CorrectionSubject(subject),
                fiscal_year=fiscal_year,
                number=number,
                issued_at=timestamp,
                tax_id=tax_id,
                original_number=original_number,
                original_tax_id=original_tax_id,
                amount=amount,
                reason=reason,
            )
        )

    def propose_void(self, reason: str, now: datetime) -> None:
        """The first of two people asks for a void (the four-eyes rule, docs/SECURITY.md);
        refused on what cannot be voided at all, as the void itself would be."""
        now = self._now(now)
        self._check_voidable()
        self._void_proposed(reason, now)

    @event(VoidProposed)
    def _void_proposed(self, reason: str, timestamp: datetime) -> None:
        self.void_proposal = (reason, timestamp)

    @event(InvoiceVoided)
    def _invoice_voided(self, reason: str, due_at: datetime | None, timestamp: datetime) -> None:
        self.voided_at = timestamp
        self.void_reason = reason
        #: A void by finance (no due moment) moves what was paid to credit; a collection's
        #: writes off the balance and keeps what was paid.
        self.voided_by_finance = due_at is None
        self.void_proposal = None

    # --- paying offline: the events (the commands are in domain/offline.py) ---------------------

    @event(OfflinePaymentRequested)
    def _offline_requested(self, request_id: UUID, reason: str, timestamp: datetime) -> None:
        self.offline_requests[request_id] = OfflineRequest(request_id, reason, timestamp)

    @event(OfflinePaymentApproved)
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

    @event(OfflinePaymentRejected)
    def _offline_rejected(self, request_id: UUID, reason: str, timestamp: datetime) -> None:
        self.offline_requests[request_id] = replace(
            self.offline_requests[request_id],
            status=RequestStatus.REJECTED,
            decided_at=timestamp,
            decision=reason,
        )

    @event(ReceiptRegistered)
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

    @event(ReceiptConfirmed)
    def _receipt_confirmed(self, receipt_id: UUID, timestamp: datetime) -> None:
        self.receipts[receipt_id] = replace(
            self.receipts[receipt_id],
            status=ReceiptStatus.CONFIRMED,
            decided_at=timestamp,
            decision="confirmed",
        )

    @event(ReceiptRejected)
    def _receipt_rejected(self, receipt_id: UUID, reason: str, timestamp: datetime) -> None:
        self.receipts[receipt_id] = replace(
            self.receipts[receipt_id],
            status=ReceiptStatus.REJECTED,
            decided_at=timestamp,
            decision=reason,
        )
