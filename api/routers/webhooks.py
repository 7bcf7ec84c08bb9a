"""Integration events: the events feed (admin, finance) and webhook endpoints (admin);
docs/WEBHOOKS.md."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from adapters.tokens import Role
from api.context import READERS, ContextDep, PrincipalDep, require
from api.routers._paging import DEFAULT_LIMIT, Limit, decode_cursor, encode_cursor
from api.schemas.webhooks import (
    EventsPage,
    IntegrationEventOut,
    WebhookDeliveriesOut,
    WebhookDeliveryOut,
    WebhookEndpointIn,
    WebhookEndpointOut,
    WebhookEndpointsOut,
)
from domain.errors import InvalidInput
from projections.model import parse_moment
from service_layer.integration_events import check_types, feed
from service_layer.timeline import iso

router = APIRouter(tags=["webhooks"])


def _position(cursor: str | None) -> int:
    after = decode_cursor(cursor)
    if after is None:
        return 0
    if not isinstance(after, int) or isinstance(after, bool) or after < 0:
        raise InvalidInput(
            "cursor is not one this API gave out; start again without it.", field="cursor"
        )
    return after


@router.get(
    "/events",
    response_model=EventsPage,
    summary="The integration events in the order they were recorded (admin, finance)",
)
def get_events(
    ctx: ContextDep,
    who: PrincipalDep,
    after: str | None = None,
    types: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> EventsPage:
    """The same events, ids and bodies the webhooks carry, oldest first. ``after`` is the
    ``next_cursor`` of the previous page (none: from the start); ``types`` a comma-separated
    list (``invoice.paid,subscription.suspended``). ``next_cursor`` is always given: keep it and
    ask again later to catch up; ``has_more`` says whether more was already recorded. A page
    reads a bounded number of stored events, so it may hold fewer items than ``limit``."""
    require(who, *READERS, action="read the events feed")
    wanted = check_types(types.split(","), field="types") if types is not None else None
    page = feed(ctx.app, after=_position(after), types=wanted, limit=limit)
    return EventsPage(
        items=[IntegrationEventOut.model_validate(e.feed_item()) for e in page.items],
        next_cursor=encode_cursor(page.after),
        has_more=page.has_more,
    )


@router.post(
    "/webhook-endpoints",
    response_model=WebhookEndpointOut,
    status_code=status.HTTP_201_CREATED,
    summary="Register a webhook endpoint; its secret is shown this once (admin)",
)
def create_endpoint(
    body: WebhookEndpointIn, ctx: ContextDep, who: PrincipalDep
) -> WebhookEndpointOut:
    require(who, Role.ADMIN, action="manage webhook endpoints")
    events = check_types(body.events, field="events", allow_all=True)
    created = ctx.runtime.webhooks.create(body.url, events, body.description, ctx.now())
    return _endpoint_out(created)


@router.get(
    "/webhook-endpoints",
    response_model=WebhookEndpointsOut,
    summary="The webhook endpoints, without their secrets (admin)",
)
def list_endpoints(ctx: ContextDep, who: PrincipalDep) -> WebhookEndpointsOut:
    require(who, Role.ADMIN, action="manage webhook endpoints")
    return WebhookEndpointsOut(items=[_endpoint_out(e) for e in ctx.runtime.webhooks.all()])


@router.post(
    "/webhook-endpoints/{endpoint_id}/disable",
    response_model=WebhookEndpointOut,
    summary="Disable an endpoint: what it had still to receive is skipped (admin)",
)
def disable_endpoint(endpoint_id: str, ctx: ContextDep, who: PrincipalDep) -> WebhookEndpointOut:
    require(who, Role.ADMIN, action="manage webhook endpoints")
    return _endpoint_out(ctx.runtime.webhooks.disable(endpoint_id, ctx.now()))


@router.post(
    "/webhook-endpoints/{endpoint_id}/rotate-secret",
    response_model=WebhookEndpointOut,
    summary="A new secret, shown this once; every later attempt is signed with it (admin)",
)
def rotate_secret(endpoint_id: str, ctx: ContextDep, who: PrincipalDep) -> WebhookEndpointOut:
    require(who, Role.ADMIN, action="manage webhook endpoints")
    return _endpoint_out(ctx.runtime.webhooks.rotate(endpoint_id))


@router.get(
    "/webhook-endpoints/{endpoint_id}/deliveries",
    response_model=WebhookDeliveriesOut,
    summary="Each event's delivery to this endpoint, oldest first (admin)",
)
def list_deliveries(
    endpoint_id: str,
    ctx: ContextDep,
    who: PrincipalDep,
    cursor: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> WebhookDeliveriesOut:
    require(who, Role.ADMIN, action="manage webhook endpoints")
    ctx.fresh_read_models()  # the outbox holds every event recorded so far
    rows = ctx.runtime.webhooks.deliveries(endpoint_id, after=_position(cursor), limit=limit)
    return WebhookDeliveriesOut(
        items=[_delivery_out(r) for r in rows],
        next_cursor=encode_cursor(rows[-1]["sequence"]) if len(rows) == limit else None,
    )


@router.post(
    "/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/resend",
    response_model=WebhookDeliveryOut,
    summary="Send a delivery again, with the same webhook-id (admin)",
)
def resend(
    endpoint_id: str, delivery_id: str, ctx: ContextDep, who: PrincipalDep
) -> WebhookDeliveryOut:
    require(who, Role.ADMIN, action="manage webhook endpoints")
    hooks = ctx.runtime.webhooks
    hooks.resend(endpoint_id, delivery_id, ctx.now())
    return _delivery_out(hooks.deliveries(endpoint_id, only=delivery_id)[0])


def _endpoint_out(endpoint: dict[str, Any]) -> WebhookEndpointOut:
    return WebhookEndpointOut(
        id=endpoint["id"],
        url=endpoint["url"],
        events=endpoint["events"],
        description=endpoint["description"],
        enabled=endpoint["enabled"],
        created_at=_at(endpoint["created_at"]),
        secret=endpoint.get("secret"),
    )


def _delivery_out(row: dict[str, Any]) -> WebhookDeliveryOut:
    pending = row["status"] == "pending"
    return WebhookDeliveryOut(
        id=row["delivery_id"],
        event_id=row["subject"],
        event_type=row["kind"],
        status=row["status"],
        attempts=row["attempts"],
        last_status_code=row["last_status_code"],
        last_response=row["last_response"]
        if row["last_response"] is not None
        else row["last_error"],
        last_attempt_at=iso(parse_moment(row["last_attempt_at"])),
        next_attempt_at=iso(parse_moment(row["next_attempt_at"])) if pending else None,
        created_at=_at(row["created_at"]),
        delivered_at=iso(parse_moment(row["delivered_at"])),
    )


def _at(stored: str) -> str:
    """A stored moment as the API writes moments (ISO 8601, UTC, Z)."""
    return iso(parse_moment(stored)) or stored
