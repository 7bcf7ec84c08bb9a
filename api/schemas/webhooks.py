"""Webhook endpoints, their deliveries, and the integration events (docs/WEBHOOKS.md)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import FreeText, Input

# --- what integration events carry that no other route shows ---------------------------------


class PaymentEventOut(BaseModel):
    """A payment as received (``payment.recorded``): how it was applied follows as
    ``invoice.paid`` events of the invoices it settled."""

    id: str
    reference: str
    amount: int = Field(description="Rials received.")
    method: str
    customer_id: str
    subscription_id: str
    invoice_id: str | None
    received_at: str


class NoticeOut(BaseModel):
    """A notice sent to the customer (``notice.sent``): its kind and its declared facts."""

    kind: str
    number: int = Field(description="Which reminder or warning; 0 for a one-off notice.")
    subscription_id: str
    invoice_id: str | None
    customer_id: str
    facts: dict[str, Any]
    sent_at: str


class IntegrationEventOut(BaseModel):
    """One event of the feed: the same id, type, timestamp and data as its webhook body."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "evt_4270864185e5c3f9a320e2a2bb3f7a1_1",
                    "type": "invoice.issued",
                    "timestamp": "2026-04-04T05:30:00Z",
                    "data": {"id": "42708641-8b5e-5c3f-9a32-0e2a2bb3f7a1", "status": "open"},
                }
            ]
        }
    )
    id: str
    type: str
    timestamp: str
    data: dict[str, Any]


class EventsPage(BaseModel):
    items: list[IntegrationEventOut]
    next_cursor: str = Field(
        description="Where the next page starts: always given, so a client keeps it and asks "
        "again later to catch up."
    )
    has_more: bool = Field(description="Whether more events were recorded after this page.")


# --- endpoints ----------------------------------------------------------------------------------


class WebhookEndpointIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://portal.example/hooks/billing",
                    "events": ["invoice.paid", "subscription.suspended"],
                    "description": "the portal",
                }
            ]
        },
    )
    url: str = Field(min_length=1, max_length=2000)
    events: list[str] = Field(min_length=1, max_length=100)
    description: Annotated[str, *FreeText(200, min_length=0)] = ""


class WebhookEndpointOut(BaseModel):
    id: str
    url: str
    events: list[str]
    description: str
    enabled: bool
    created_at: str
    secret: str | None = Field(
        default=None,
        description="whsec_…: shown once, when the endpoint is created or its secret rotated.",
    )


class WebhookEndpointsOut(BaseModel):
    items: list[WebhookEndpointOut]


class WebhookDeliveryOut(BaseModel):
    id: str
    event_id: str
    event_type: str
    status: str = Field(description="pending, delivered, failed or skipped")
    attempts: int
    last_status_code: int | None = None
    last_response: str | None = Field(
        default=None, description="The start of the last answer (or why it failed)."
    )
    last_attempt_at: str | None = None
    next_attempt_at: str | None = None
    created_at: str
    delivered_at: str | None = None


class WebhookDeliveriesOut(BaseModel):
    items: list[WebhookDeliveryOut]
    next_cursor: str | None
