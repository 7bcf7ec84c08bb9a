"""Customers, their billing profiles, and their panel inbox."""

from __future__ import annotations

from uuid import UUID, uuid5

from fastapi import APIRouter, Query, Request, Response, status

from adapters.tokens import Role
from api.context import ContextDep, PrincipalDep, require
from api.routers._common import answer
from api.routers._paging import DEFAULT_LIMIT, Limit, decode_cursor, encode_cursor
from api.schemas import (
    AssignRepresentativeIn,
    CreditRefundIn,
    CustomerIn,
    CustomerOut,
    InvoiceOut,
    Page,
    ProfileIn,
    RefundOut,
    ServiceInvoiceIn,
)
from domain.base import BILLING_NAMESPACE
from domain.customer import BillingProfile
from domain.errors import RefundRefused
from projections.reports import latest_invoice_of
from projections.visibility import visible_customer
from service_layer.service_invoices import running_subscription

router = APIRouter(prefix="/customers", tags=["customers"])


def _open_balances(ctx: ContextDep, customer_ids: list[str]) -> dict[str, int]:
    """What each customer's open invoices still ask (0 for a customer with none)."""
    if not customer_ids:
        return {}
    marks = ", ".join("?" for _ in customer_ids)
    rows = ctx.fresh_read_models().query(
        "SELECT customer_id, COALESCE(SUM(balance), 0) AS open FROM {rm_invoices} "
        f"WHERE customer_id IN ({marks}) GROUP BY customer_id",
        customer_ids,
    )
    found = {r["customer_id"]: int(r["open"]) for r in rows}
    return {i: found.get(i, 0) for i in customer_ids}


def _open_balance(ctx: ContextDep, customer_id: UUID) -> int:
    return _open_balances(ctx, [str(customer_id)])[str(customer_id)]


@router.post(
    "",
    response_model=CustomerOut,
    status_code=status.HTTP_201_CREATED,
    summary="Register a customer",
)
def register_customer(
    body: CustomerIn, request: Request, ctx: ContextDep, who: PrincipalDep
) -> CustomerOut:
    """Admins register any customer; a representative registers customers who chose them.
    ``representative_id`` must name a registered representative (404
    ``representative_not_found``: add them first with ``POST /representatives``)."""
    require(who, Role.ADMIN, Role.REPRESENTATIVE, action="register customers")
    representative_id = who.subject if who.role is Role.REPRESENTATIVE else body.representative_id
    profile = BillingProfile(**body.model_dump(exclude={"representative_id"}))
    key = getattr(request.state, "idempotency_key", None)
    # A retry with the same Idempotency-Key names the same customer, even one that runs again
    # after its first answer was lost (a stale claim, adapters/idempotency.py): registered once.
    keyed = uuid5(BILLING_NAMESPACE, f"customer/{who.token_hash}/{key}") if key else None
    customer_id = ctx.app_for(who).register_customer(
        profile, ctx.now(), representative_id=representative_id, customer_id=keyed
    )
    return CustomerOut.of(ctx.app.get_customer(customer_id), 0)


@router.put(
    "/{customer_id}/profile", response_model=CustomerOut, summary="Replace a billing profile"
)
def change_profile(
    customer_id: UUID, body: ProfileIn, ctx: ContextDep, who: PrincipalDep
) -> CustomerOut:
    """The customer (or their representative, finance, an admin) corrects or completes the
    profile, e.g. to add the economic code an official invoice needs. Documents already issued
    keep the profile they were issued to."""
    visible_customer(ctx.app, who, customer_id)
    ctx.app_for(who).change_profile(customer_id, BillingProfile(**body.model_dump()), ctx.now())
    return CustomerOut.of(ctx.app.get_customer(customer_id), _open_balance(ctx, customer_id))


@router.put(
    "/{customer_id}/representative",
    response_model=CustomerOut,
    summary="Assign or move a customer to a representative (admin)",
)
def assign_representative(
    customer_id: UUID, body: AssignRepresentativeIn, ctx: ContextDep, who: PrincipalDep
) -> CustomerOut:
    """From now on the representative serves the customer and sees it with its subscriptions,
    invoices, offline requests and receipts; the previous representative sees none of them.
    The move is recorded on the customer with who made it and ``reason``. Naming the
    representative the customer already has is 409 ``representative_unchanged``."""
    require(who, Role.ADMIN, action="assign customers to representatives")
    visible_customer(ctx.app, who, customer_id)
    ctx.app_for(who).assign_representative(
        customer_id, body.representative_id, body.reason, ctx.now()
    )
    return CustomerOut.of(ctx.app.get_customer(customer_id), _open_balance(ctx, customer_id))


@router.post(
    "/{customer_id}/refunds",
    response_model=RefundOut,
    status_code=status.HTTP_201_CREATED,
    summary="Record a refund of the customer's credit (finance)",
)
def refund_credit(
    customer_id: UUID, body: CreditRefundIn, ctx: ContextDep, who: PrincipalDep
) -> RefundOut:
    """Finance transferred ``amount`` rials of the customer's credit back outside the engine,
    with ``bank_reference``: recorded as ``CreditRefunded`` (its actor the caller), the customer
    told on their latest invoice. Over the credit is 409 ``refund_refused`` (``reason``
    ``over_refundable``, with ``refundable``); the same bank reference again with the same
    amount answers the recorded refund (``recorded`` false), with another one 409
    (``bank_reference_used``)."""
    require(who, Role.FINANCE, Role.ADMIN, action="record refunds")
    customer = visible_customer(ctx.app, who, customer_id)
    invoice_id = latest_invoice_of(ctx.fresh_read_models(), customer_id)
    if invoice_id is None:
        raise RefundRefused(
            f"Customer {customer_id} has no invoice and no credit ({customer.credit}); there is "
            "nothing to refund.",
            reason="over_refundable",
            refundable=0,
            credit=customer.credit.rials,
        )
    outcome = ctx.app_for(who).refund_credit(
        customer_id,
        body.amount,
        body.reason,
        body.bank_reference,
        ctx.now(),
        notice_invoice_id=invoice_id,
    )
    return RefundOut.of(outcome)


@router.get("", response_model=Page, summary="Customers the caller may see")
def list_customers(
    ctx: ContextDep, who: PrincipalDep, cursor: str | None = None, limit: Limit = DEFAULT_LIMIT
) -> Response:
    rows = ctx.reads.customers(who, after=str(decode_cursor(cursor) or ""), limit=limit + 1)
    items = [CustomerOut.of_row(row) for row in rows[:limit]]
    more = len(rows) > limit
    return answer(
        Page(
            items=items,
            next_cursor=encode_cursor(rows[limit - 1]["customer_id"]) if more else None,
        )
    )


@router.get(
    "/{customer_id}", response_model=CustomerOut, summary="A customer, with credit and open balance"
)
def get_customer(customer_id: UUID, ctx: ContextDep, who: PrincipalDep) -> Response:
    return answer(CustomerOut.of_row(ctx.reads.customer(who, customer_id)))


@router.get(
    "/{customer_id}/inbox", response_model=Page, summary="The customer's panel inbox, newest first"
)
def inbox(
    customer_id: UUID, ctx: ContextDep, who: PrincipalDep, limit: Limit = DEFAULT_LIMIT
) -> Page:
    require(who, Role.ADMIN, Role.CUSTOMER, Role.REPRESENTATIVE, action="read a customer's inbox")
    ctx.reads.customer(who, customer_id)  # visible: one statement
    return Page(items=ctx.runtime.outbox.inbox(str(customer_id), limit=limit), next_cursor=None)


@router.post(
    "/{customer_id}/invoices",
    response_model=InvoiceOut,
    status_code=status.HTTP_201_CREATED,
    summary="Bill side services (a representative for their customers, finance)",
)
def bill_side_services(
    customer_id: UUID, body: ServiceInvoiceIn, request: Request, ctx: ContextDep, who: PrincipalDep
) -> InvoiceOut:
    """A side-service invoice (domain registration, design, SEO, ...; docs/INVOICES.md): the
    lines priced by agreement, VAT at the rate in force today, due in ``due_days``. It is paid,
    reminded and aged as any invoice, and never suspends or collects the site. Without
    ``subscription_id`` it goes on the customer's one running subscription (409
    ``service_invoice_refused`` with ``reason`` when there is none, or several)."""
    require(who, Role.REPRESENTATIVE, Role.FINANCE, Role.ADMIN, action="bill side services")
    visible_customer(ctx.app, who, customer_id)
    subscription_id = body.subscription_id or running_subscription(
        ctx.fresh_read_models(), customer_id
    )
    key = getattr(request.state, "idempotency_key", None)
    # A retry with the same Idempotency-Key names the same invoice: issued once.
    invoice_id = uuid5(BILLING_NAMESPACE, f"service/{who.token_hash}/{key}") if key else None
    issued = ctx.app_for(who).issue_service_invoice(
        customer_id,
        subscription_id,
        [line.model_dump() for line in body.lines],
        body.due_days,
        ctx.now(),
        invoice_id=invoice_id,
    )
    return InvoiceOut.of(ctx.app.get_invoice(issued))


@router.get(
    "/{customer_id}/invoices",
    response_model=Page,
    summary="The customer's invoices, hosting and side services, oldest first",
)
def customer_invoices(
    customer_id: UUID,
    ctx: ContextDep,
    who: PrincipalDep,
    kind: str | None = Query(None, pattern="^(first|renewal|service)$"),
    cursor: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Response:
    start = decode_cursor(cursor) or 0
    if not isinstance(start, int) or start < 0:
        start = 0
    rows = ctx.reads.customer_invoices(who, customer_id, kind=kind, start=start, limit=limit + 1)
    items = [InvoiceOut.of_row(row) for row in rows[:limit]]
    more = len(rows) > limit
    return answer(Page(items=items, next_cursor=encode_cursor(start + limit) if more else None))
