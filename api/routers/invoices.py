"""Invoices, and payments finance records by hand (a bank transfer it has seen arrive)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response

from adapters.tokens import Role
from api.context import ContextDep, PrincipalDep, require
from api.routers._common import answer, payment_out
from api.schemas import InvoiceOut, PaymentIn, PaymentOut
from domain.errors import InvoiceNotFound
from projections.visibility import visible_invoice

router = APIRouter(prefix="/invoices", tags=["invoices"])


@router.get(
    "/{invoice_id}", response_model=InvoiceOut, summary="An invoice: lines, total, paid, balance"
)
def get_invoice(invoice_id: UUID, ctx: ContextDep, who: PrincipalDep) -> Response:
    return answer(InvoiceOut.of_row(ctx.reads.invoice(who, invoice_id)))


@router.post(
    "/{invoice_id}/payments",
    response_model=PaymentOut,
    summary="Record a received payment (finance)",
)
def record_payment(
    invoice_id: UUID, body: PaymentIn, ctx: ContextDep, who: PrincipalDep
) -> Response:
    """Counts once per reference; the excess over what is owed becomes the customer's credit;
    a suspended site is restored in the same command when nothing is left overdue."""
    require(who, Role.FINANCE, Role.ADMIN, action="record payments")
    try:
        ctx.reads.invoice(who, invoice_id)  # it exists, and the caller sees it: one statement
    except InvoiceNotFound:
        # An invoice the scheduler has just issued is in the read models once the tick's
        # closing fold ran (seconds): until then the store says whether it exists.
        visible_invoice(ctx.app, who, invoice_id)
    outcome = ctx.app_for(who).record_payment(
        body.reference, body.amount, ctx.now(), invoice_id=invoice_id, method=body.method
    )
    return answer(payment_out(outcome))
