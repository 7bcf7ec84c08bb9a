"""Official invoices: issued with the payment that pays an invoice in full when the customer
qualifies, or later on request, each with the next free number of its fiscal year; and the
cancelling document a void of such an invoice issues in its own save, numbered in the same
series (docs/INVOICES.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from adapters.series_lock import SeriesLock
from domain.base import check_moment
from domain.errors import OfficialInvoiceRefused
from domain.invoice import Invoice, InvoiceStatus
from domain.official import (
    CorrectionSubject,
    OfficialNumberClaim,
    OfficialRecord,
    Seller,
    buyer_of,
    first_free_number,
    fiscal_year_of,
    official_tax_id,
)
from service_layer.unit_of_work import CommandRunner, UnitOfWork, at_the_latest_change


class OfficialInvoiceCommands(CommandRunner):
    #: Per fiscal year, the last official number this process saw taken (a search hint); set
    #: by BillingApplication.__init__.
    _official_hint: dict[int, int]
    #: One writer at a time chooses and saves a number (set by BillingApplication.__init__).
    series_lock: SeriesLock

    @at_the_latest_change
    def issue_official_invoice(self, invoice_id: UUID, now: datetime) -> OfficialRecord:
        """The official invoice of a fully paid invoice, issued now if it was not yet.

        Payments issue it by themselves when the customer qualifies; this is for a customer
        who completed the profile after paying. Asking again returns the same document.
        """
        now = check_moment(now)

        def command(uow: UnitOfWork) -> OfficialRecord:
            invoice = uow.invoice(invoice_id)
            if invoice.official is not None:
                return invoice.official
            seller = self._seller_or_refuse()
            customer = uow.customer(invoice.customer_id)
            buyer = buyer_of(customer.profile)
            return self._issue_official(uow, invoice, seller, buyer, max(now, invoice.modified_on))

        return self._run(command)

    def why_no_official(self, invoice_id: UUID) -> OfficialInvoiceRefused:
        """Why an invoice has no official invoice yet, as the refusal a caller should see."""
        uow = UnitOfWork(self)
        invoice = uow.invoice(invoice_id)
        try:
            buyer_of(uow.customer(invoice.customer_id).profile)
            self._seller_or_refuse()
        except OfficialInvoiceRefused as refusal:
            return refusal
        if invoice.status is not InvoiceStatus.PAID:
            return OfficialInvoiceRefused(
                f"Invoice {invoice_id} is {invoice.status.value}: its official invoice is issued "
                f"when it is fully paid (balance {invoice.balance}). The plain invoice PDF "
                f"(GET /invoices/{invoice_id}/invoice.pdf) is its proforma until then.",
                reason="not_paid",
            )
        return OfficialInvoiceRefused(
            f"Invoice {invoice_id} was paid before its customer's profile was complete, so its "
            f"official invoice was not issued then; POST /invoices/{invoice_id}/official "
            "issues it now.",
            reason="not_issued",
        )

    def _number_taken(self, uow: UnitOfWork, fiscal_year: int, number: int) -> bool:
        """Taken in the store, or by another invoice this same command is issuing."""
        claim_id = OfficialNumberClaim.create_id(fiscal_year, number)
        return claim_id in uow.aggregates or bool(self.recorder.select_events(claim_id, limit=1))

    def _seller_or_refuse(self) -> Seller:
        if self.seller is None:
            raise OfficialInvoiceRefused(
                "This portal's own company details are not configured, so no official invoice "
                "can be issued. An operator sets BILLING_SELLER_NAME, BILLING_SELLER_ECONOMIC_CODE, "
                "BILLING_SELLER_NATIONAL_ID, BILLING_SELLER_REGISTRATION_NUMBER, "
                "BILLING_SELLER_ADDRESS, BILLING_SELLER_POSTAL_CODE and BILLING_TAX_MEMORY_ID.",
                reason="seller_not_configured",
            )
        return self.seller

    def _issue_due_officials(self, uow: UnitOfWork) -> None:
        """Issue the official invoice of every invoice this command paid in full, when the
        customer qualifies, in the same save: the number exists only if the payment does.
        And the cancelling document of every officially invoiced invoice this command voided."""
        self._issue_due_cancellations(uow)
        self._issue_due_return_documents(uow)
        if self.seller is None:
            return
        for invoice in [a for a in uow.aggregates.values() if isinstance(a, Invoice)]:
            if (
                invoice.official is not None
                or invoice.returns
                or not invoice.pending_events
                or invoice.status is not InvoiceStatus.PAID
            ):
                continue
            customer = uow.customer(invoice.customer_id)
            try:
                buyer = buyer_of(customer.profile)
            except OfficialInvoiceRefused:
                continue  # a person, or a profile still incomplete: the plain PDF serves them
            self._issue_official(uow, invoice, self.seller, buyer, invoice.modified_on)

    def _issue_due_cancellations(self, uow: UnitOfWork) -> None:
        """A void of an invoice with an official invoice issues, in the void's own save, the
        cancelling official document: the next number of the void moment's fiscal year (the
        originals' series), its own tax ID, the original's number and tax ID referenced. Without
        the seller's configuration (its memory ID makes the tax ID) the void is refused."""
        for invoice in [a for a in uow.aggregates.values() if isinstance(a, Invoice)]:
            if not invoice.needs_cancelling_document or not invoice.pending_events:
                continue
            seller = self._seller_or_refuse()
            assert invoice.voided_at is not None
            now = invoice.modified_on
            year, number = self._claim_number(uow, invoice, now)
            invoice.issue_correction(
                CorrectionSubject.CANCELLING,
                year,
                number,
                official_tax_id(seller.memory_id, now, year, number),
                invoice.total - invoice.returned,
                invoice.void_reason or "",
                now,
            )

    def _issue_due_return_documents(self, uow: UnitOfWork) -> None:
        """A return from sale of an invoice with an official invoice issues, in the return's
        own save, the return-from-sale official document (برگشت از فروش): the next number of
        the series, its own tax ID, the original's number and tax ID, the amount returned.
        An invoice with no official document gets a credit note instead, for a return and for
        a void that moved money to credit (docs/INVOICES.md, "Returns" and "Credit notes")."""
        for invoice in [a for a in uow.aggregates.values() if isinstance(a, Invoice)]:
            if not invoice.pending_events:
                continue
            for sale_return in invoice.returns_without_document:
                seller = self._seller_or_refuse()
                now = invoice.modified_on
                year, number = self._claim_number(uow, invoice, now)
                invoice.issue_correction(
                    CorrectionSubject.RETURN,
                    year,
                    number,
                    official_tax_id(seller.memory_id, now, year, number),
                    sale_return.amount,
                    sale_return.reason,
                    now,
                )
            voided_now = any(isinstance(e, Invoice.InvoiceVoided) for e in invoice.pending_events)
            for cause, amount, reason in invoice.credit_notes_due:
                if cause == "void" and not voided_now:
                    continue  # only with the void's own save (never for an older void)
                invoice.issue_credit_note(cause, amount, reason, invoice.modified_on)

    def _claim_number(self, uow: UnitOfWork, invoice: Invoice, now: datetime) -> tuple[int, int]:
        """The first free number of ``now``'s fiscal year, claimed for ``invoice`` in this save.
        The series lock is held from here until the save committed, so the number chosen is
        the first free one when it is saved too (adapters/series_lock.py)."""
        uow.hold(self.series_lock)
        year = fiscal_year_of(now)
        number = first_free_number(
            lambda n: self._number_taken(uow, year, n), self._official_hint.get(year, 1)
        )
        self._official_hint[year] = number
        uow.add(OfficialNumberClaim.claim(year, number, invoice.id, now))
        return year, number

    def _issue_official(
        self, uow: UnitOfWork, invoice: Invoice, seller: Seller, buyer: Any, now: datetime
    ) -> OfficialRecord:
        year, number = self._claim_number(uow, invoice, now)
        tax = official_tax_id(seller.memory_id, now, year, number)
        invoice.issue_official(year, number, seller.party, buyer, tax, now)
        assert invoice.official is not None
        return invoice.official
