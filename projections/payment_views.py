"""The read models of payments finance and reconciliation follow: online payments started at
the gateway, and offline payment requests and bank receipts awaiting a decision."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from domain.banks import BANKS
from domain.invoice import Invoice
from domain.payment import GatewayPayment, GatewayStatus
from projections.model import AggregateStates, ReadModel, Table, as_json, moment, one_of

#: The invoice's events about paying offline: a request and its decision, a receipt and its.
OFFLINE_EVENTS = (
    Invoice.OfflinePaymentRequested,
    Invoice.OfflinePaymentApproved,
    Invoice.OfflinePaymentRejected,
    Invoice.ReceiptRegistered,
    Invoice.ReceiptConfirmed,
    Invoice.ReceiptRejected,
)


class GatewayPaymentsView(ReadModel):
    """Which online payments were started, and where each stands (reconciliation reads it)."""

    name = "gateway_payments"
    table = Table(
        "rm_gateway_payments",
        columns=(
            ("authority", "TEXT NOT NULL"),
            ("invoice_id", "TEXT NOT NULL"),
            ("subscription_id", "TEXT NOT NULL"),
            ("amount", "BIGINT NOT NULL"),
            ("status", "TEXT NOT NULL"),
            ("ref_id", "TEXT"),
            ("created_at", "TEXT NOT NULL"),
            ("updated_at", "TEXT NOT NULL"),
        ),
        key=("authority",),
        checks=("amount > 0", one_of("status", [s.value for s in GatewayStatus])),
        indexes=(("status", "created_at"), ("invoice_id",)),
    )

    def wants(self, event_type: type) -> bool:
        return issubclass(event_type, GatewayPayment.Event)

    def touched(self, event: Any, states: AggregateStates) -> Iterable[UUID]:
        yield event.originator_id

    def row(self, key: UUID, states: AggregateStates) -> dict[str, Any] | None:
        attempt = states.get(key, GatewayPayment)
        if attempt is None:
            return None
        return {
            "authority": attempt.authority,
            "invoice_id": str(attempt.invoice_id),
            "subscription_id": str(attempt.subscription_id),
            "amount": attempt.amount.rials,
            "status": attempt.status.value,
            "ref_id": attempt.ref_id,
            "created_at": moment(attempt.created_on),
            "updated_at": moment(attempt.modified_on),
        }


class OfflineRequestsView(ReadModel):
    """Offline payment requests and receipts awaiting finance, by id (the API looks them up)."""

    name = "offline_payments"
    #: 2: receipts show their bank's names and possible duplicates.
    version = 2
    table = Table(
        "rm_offline_payments",
        columns=(
            ("item_id", "TEXT NOT NULL"),
            ("kind", "TEXT NOT NULL"),
            ("invoice_id", "TEXT NOT NULL"),
            ("subscription_id", "TEXT NOT NULL"),
            ("customer_id", "TEXT NOT NULL"),
            ("status", "TEXT NOT NULL"),
            ("detail", "TEXT NOT NULL"),
            ("created_at", "TEXT NOT NULL"),
            ("decided_at", "TEXT"),
        ),
        key=("item_id",),
        checks=(one_of("kind", ["request", "receipt"]),),
        indexes=(("kind", "status"), ("invoice_id",)),
    )

    def wants(self, event_type: type) -> bool:
        return issubclass(event_type, OFFLINE_EVENTS)

    def touched(self, event: Any, states: AggregateStates) -> Iterable[tuple[str, str]]:
        item = getattr(event, "request_id", None) or getattr(event, "receipt_id", None)
        yield (str(event.originator_id), str(item))

    def row(self, key: tuple[str, str], states: AggregateStates) -> dict[str, Any] | None:
        invoice = states.get(UUID(key[0]), Invoice)
        if invoice is None:
            return None
        item = offline_item(invoice, UUID(key[1]))
        if item is None:
            return None
        return item | {
            "detail": as_json(item["detail"]),
            "created_at": moment(item["created_at"]),
            "decided_at": moment(item["decided_at"]),
        }


def offline_item(invoice: Invoice, item: UUID) -> dict[str, Any] | None:
    """An offline request or bank receipt of ``invoice`` as the API shows it (moments as
    datetimes): the read model's row, and the integration events' data."""
    base = {
        "item_id": str(item),
        "invoice_id": str(invoice.id),
        "subscription_id": str(invoice.subscription_id),
        "customer_id": str(invoice.customer_id),
    }
    if item in invoice.offline_requests:
        r = invoice.offline_requests[item]
        return base | {
            "kind": "request",
            "status": r.status.value,
            "detail": {"reason": r.reason, "decision": r.decision},
            "created_at": r.requested_at,
            "decided_at": r.decided_at,
        }
    if item in invoice.receipts:
        receipt = invoice.receipts[item]
        bank = BANKS.get(receipt.bank)  # None for a receipt registered when banks were free text
        return base | {
            "kind": "receipt",
            "status": receipt.status.value,
            "detail": {
                "bank": receipt.bank,
                "bank_name_fa": bank.name_fa if bank else None,
                "bank_name_en": bank.name_en if bank else None,
                "tracking_number": receipt.tracking_number,
                "amount": receipt.amount.rials,
                "paid_on": receipt.paid_on,
                "scan_hash": receipt.scan_hash,
                "decision": receipt.decision,
                "possible_duplicates": [str(d) for d in receipt.possible_duplicates],
            },
            "created_at": receipt.registered_at,
            "decided_at": receipt.decided_at,
        }
    return None
