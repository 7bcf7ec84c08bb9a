"""Returns from sale (برگشت از فروش): finance takes back part of a paid invoice (docs/INVOICES.md,
"Returns", and docs/PAYMENTS.md, "Refunds").

The returned amount stops being the invoice's and becomes the customer's credit (refundable by
the refund routes, or used by the next invoice), in one save with ``SaleReturned`` on the
invoice, ``CreditAdded`` on the customer, the document and the ``sale_returned`` notice. The
document is the return-from-sale official document (its number the next of the fiscal year's
series, its own tax ID, the original's number and tax ID) when the invoice has an official
invoice, and a credit note of the invoice otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.base import NoticeKind, check_moment
from domain.errors import InvalidInput
from domain.money import Money
from domain.text import multiline_text
from service_layer.catch_up import catch_up
from service_layer.official_invoices import OfficialInvoiceCommands
from service_layer.unit_of_work import UnitOfWork, at_the_latest_change


@dataclass(frozen=True)
class ReturnOutcome:
    invoice_id: UUID
    number: int  # the return's number on the invoice
    amount: int
    vat: int
    returnable: int  # what is still left to return after it
    credit: int  # the customer's credit after it
    document: str | None  # the return-from-sale official document's number, if one
    credit_note: int | None  # the credit note's number on the invoice, if one


class ReturnCommands(OfficialInvoiceCommands):
    @at_the_latest_change
    def return_sale(
        self, invoice_id: UUID, amount: int, reason: str, now: datetime
    ) -> ReturnOutcome:
        """Take back ``amount`` rials of paid invoice ``invoice_id`` into the customer's credit."""
        now = check_moment(now)
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise InvalidInput(
                f"amount must be a positive whole number of rials; got {amount!r}.",
                field="amount",
            )
        reason = multiline_text(reason, "reason", max_length=500)

        def command(uow: UnitOfWork) -> ReturnOutcome:
            invoice = uow.invoice(invoice_id)
            catch_up(uow, invoice.subscription_id, now, self.vat)
            customer = uow.customer(invoice.customer_id)
            if invoice.official is not None:
                self._seller_or_refuse()  # its memory ID makes the document's tax ID
            invoice.return_sale(Money(amount), reason, now)
            sale_return = invoice.returns[-1]
            customer.add_credit(
                sale_return.amount, f"return:{invoice.id}:{sale_return.number}", now
            )
            # The document in this same save (the save's hook would issue it otherwise).
            self._issue_due_return_documents(uow)
            document: str | None = None
            note: int | None = None
            if invoice.official is not None:
                document = invoice.corrections[-1].number_text  # the return's, just issued
            else:
                note = invoice.credit_notes[-1].number
            invoice.send_notice(
                NoticeKind.SALE_RETURNED,
                now,
                facts={
                    "amount": sale_return.amount.rials,
                    "vat": sale_return.vat.rials,
                    "reason": reason,
                    "credit": customer.credit.rials,
                    "document": document,
                    "credit_note": note,
                },
            )
            return ReturnOutcome(
                invoice.id,
                sale_return.number,
                sale_return.amount.rials,
                sale_return.vat.rials,
                invoice.returnable.rials,
                customer.credit.rials,
                document,
                note,
            )

        return self._run(command)
