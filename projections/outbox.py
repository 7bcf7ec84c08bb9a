"""The outbox: what must leave the engine, written exactly once from the events.

Fed by the event log like the read models (same transaction, own tracking position), but never
rebuilt: a rebuild would send everything again. Each NoticeSent becomes an e-mail, an SMS and
a message for the customer's panel inbox, rendered in Persian at that moment (the row keeps
exactly what was said); each change of a site (created, suspended, restored, collected,
removed, or moved to another plan) becomes a signed request to the hosting platform. A dispatcher sends pending rows,
with retries and backoff (:mod:`adapters.outbox`).

``sequence`` orders a subscription's rows: an event's rows carry its version in the
aggregate × 4 (a site's platform requests are sent in this order, one at a time), and the
rows a site reconciliation adds after version *v* carry 4v + 1, 4v + 2 (between *v* and the
next event's rows).

The outbox starts where the log starts on a new store, so an order taken before any scheduler
ran still gets its site and its notices. On a store that already had history when its outbox
was first opened (the outbox deployed later, or ``billing demo`` wrote the history) it starts
at the end of the log: that history's notices are not sent (a customer is not told today about
a reminder due months ago), and the site reconciliation brings the hosting platform to the
engine's state site by site. Which it is, is decided once, when the outbox is first opened,
and kept in table ``outbox_start`` (``ReadModels._decide_where_outboxes_start``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from adapters.notify.render import NoticeRenderer
from domain.base import NoticeKind
from domain.customer import Customer
from domain.invoice import Invoice
from domain.notices import NoticeSentEvent, shape_of
from domain.subscription import Subscription
from projections.model import AggregateStates, Append, Entry, ReadModel, Table, as_json, moment

if TYPE_CHECKING:
    from adapters.webhooks import WebhookEndpoints
    from service_layer.integration_events import Source

log = logging.getLogger(__name__)

CHANNELS = ("email", "sms", "panel", "platform", "webhook")
#: Channels whose rows go out one at a time per subscription and recipient, in ``sequence``
#: order: a site's platform requests, an endpoint's webhooks about one subscription.
ORDERED_CHANNELS = ("platform", "webhook")
#: An event's rows are at its version × this; a reconciliation's rows fill the gaps after it.
SEQUENCE_STEP = 4
STATUSES = ("pending", "delivered", "failed", "skipped")

OUTBOX = Table(
    "outbox",
    columns=(
        ("delivery_id", "TEXT NOT NULL"),
        ("channel", "TEXT NOT NULL"),
        ("kind", "TEXT NOT NULL"),
        ("subscription_id", "TEXT NOT NULL"),
        ("customer_id", "TEXT NOT NULL"),
        ("recipient", "TEXT NOT NULL"),
        ("subject", "TEXT NOT NULL"),
        ("body", "TEXT NOT NULL"),
        ("html", "TEXT"),
        ("payload", "TEXT NOT NULL"),
        ("created_at", "TEXT NOT NULL"),
        ("status", "TEXT NOT NULL"),
        ("attempts", "INTEGER NOT NULL"),
        ("next_attempt_at", "TEXT NOT NULL"),
        ("last_error", "TEXT"),
        ("delivered_at", "TEXT"),
        ("sequence", "INTEGER NOT NULL DEFAULT 0"),
        ("lease_owner", "TEXT"),
        ("leased_until", "TEXT"),
    ),
    key=("delivery_id",),
    checks=(
        f"channel IN ({', '.join(repr(c) for c in CHANNELS)})",
        f"status IN ({', '.join(repr(s) for s in STATUSES)})",
        "attempts >= 0",
    ),
    indexes=(
        ("status", "next_attempt_at"),
        ("customer_id", "channel"),
        ("channel", "subscription_id", "status", "sequence"),
    ),
)

#: Site changes the hosting platform is told about, and the action it is asked to take.
#: ``plan`` tells it the plan in force, which sets the site's plan-dependent limits: at an
#: upgrade at once, and at a renewal that moved the site to another plan or period.
PLATFORM_ACTIONS: dict[type, str] = {
    Subscription.SubscriptionStarted: "create",
    Subscription.SiteSuspended: "suspend",
    Subscription.SiteRestored: "restore",
    Subscription.SiteCollected: "remove",
    Subscription.SubscriptionEnded: "remove",
    Subscription.PlanChanged: "plan",
    Subscription.SubscriptionRenewed: "plan",
}


def plan_in_force(event: Any, sub: Subscription) -> tuple[str, str] | None:
    """The plan and period a create or plan request carries; None for a renewal on the same
    terms as the period before it (nothing to tell the platform)."""
    if isinstance(event, Subscription.SubscriptionStarted | Subscription.PlanChanged):
        return event.plan["id"], event.period
    if isinstance(event, Subscription.SubscriptionRenewed):
        before = sub.periods[event.period_no - 2] if event.period_no >= 2 else None
        if before is not None and (before.plan_id, before.period.value) == (
            event.plan_id,
            event.period,
        ):
            return None
        return event.plan_id, event.period
    return None


def platform_action(event_type: type) -> str | None:
    """The hosting platform's action for a site change of this class, or None."""
    for cls, action in PLATFORM_ACTIONS.items():
        if issubclass(event_type, cls):
            return action
    return None


class OutboxView(ReadModel):
    name = "outbox"
    table = OUTBOX
    rebuildable: ClassVar[bool] = False

    def __init__(self, renderer: NoticeRenderer) -> None:
        self.renderer = renderer
        #: The webhook endpoints and where integration events read aggregates (bootstrap sets
        #: both once the read models exist: the endpoints live in their datastore).
        self.endpoints: WebhookEndpoints | None = None
        self.source: Source | None = None
        #: The enabled endpoints while a batch is folded (None: ask the database per event).
        self._enabled: list[dict[str, Any]] | None = None

    def begin_batch(self) -> None:
        # One query per batch instead of one or two per event (they were a quarter of a busy
        # tick's fold); an endpoint created meanwhile starts after this batch's events anyway.
        self._enabled = self.endpoints.enabled() if self.endpoints is not None else None

    def end_batch(self) -> None:
        self._enabled = None

    def _subscribed(self, event_type: str | None, position: int) -> list[dict[str, Any]]:
        from adapters.webhooks import receiving

        if self._enabled is not None:
            return receiving(self._enabled, event_type, position)
        assert self.endpoints is not None
        return self.endpoints.subscribed(event_type, position)

    def bind(self, read_models: Any) -> None:
        """Opened in ``read_models``: the notices' links are signed with the store's key when
        no key is configured (adapters/links.py)."""
        if self.renderer.links is not None:
            self.renderer.links.bind(read_models)

    def wants(self, event_type: type) -> bool:
        from service_layer.integration_events import publishes

        return (
            issubclass(event_type, NoticeSentEvent)
            or platform_action(event_type) is not None
            or publishes(event_type)
        )

    def entries(self, event: Any, states: AggregateStates) -> Iterable[Entry]:
        if isinstance(event, NoticeSentEvent):
            yield from self._notice(event, states)
        elif (action := platform_action(type(event))) is not None:
            yield from self._platform(event, states, action)
        yield from self._webhooks(event, states.position)

    def _webhooks(self, event: Any, position: int) -> Iterable[Entry]:
        """One row per enabled endpoint subscribed to this event's integration event, created
        after it; ordered per subscription (and endpoint) by the log's order."""
        from service_layer.integration_events import integration_event, publishes

        if self.endpoints is None or self.source is None or not publishes(type(event)):
            return
        if not self._subscribed(None, position):
            return  # no endpoint would receive it: do not build it
        published = integration_event(event, position, self.source)
        if published is None:
            return
        at = moment(published.timestamp)
        for endpoint in self._subscribed(published.type, position):
            yield Append(
                {
                    "delivery_id": f"{endpoint['id']}.{published.id}",
                    "channel": "webhook",
                    "kind": published.type,
                    "subscription_id": published.subject,
                    "customer_id": published.customer_id,
                    "recipient": endpoint["id"],
                    "subject": published.id,
                    "body": published.body(),
                    "html": None,
                    "payload": json.dumps({"event_id": published.id, "position": position}),
                    "created_at": at,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": at,
                    "last_error": None,
                    "delivered_at": None,
                    "sequence": position,
                    "lease_owner": None,
                    "leased_until": None,
                }
            )

    def _row(self, event: Any, channel: str, **values: Any) -> dict[str, Any]:
        at = moment(event.timestamp)
        return {
            "delivery_id": f"{event.originator_id}/{event.originator_version}/{channel}",
            "channel": channel,
            "html": None,
            "created_at": at,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": at,
            "last_error": None,
            "delivered_at": None,
            "sequence": event.originator_version * SEQUENCE_STEP,
            "lease_owner": None,
            "leased_until": None,
            **values,
        }

    def _notice(self, event: Any, states: AggregateStates) -> Iterable[Entry]:
        aggregate = states.get(event.originator_id)
        facts = shape_of(NoticeKind(event.kind), event.facts)  # the kind's declared facts
        if isinstance(aggregate, Invoice):
            invoice_id: str | None = str(aggregate.id)
            sub = states.get(aggregate.subscription_id, Subscription)
        else:
            sub = aggregate if isinstance(aggregate, Subscription) else None
            invoice_id = getattr(facts, "invoice_id", None)  # a suspension names its invoice
        customer = states.get(sub.customer_id, Customer) if sub is not None else None
        if sub is None or customer is None:
            # Only an altered store (an event removed) gets here: say so, send nothing, and let
            # the read side go on (`billing audit verify` names what was removed).
            log.error(
                "outbox: notice %s v%d names a subscription or customer with no events; not sent",
                event.originator_id,
                event.originator_version,
            )
            return
        profile = customer.profile
        # A notice about the whole subscription (a collection warning, a hold's end) links to
        # the page of its oldest open invoice, if it has one.
        page_of = invoice_id or next((str(i) for i in sub.open_invoice_ids), None)
        link = self.renderer.link_for(invoice_id=page_of, subscription_id=str(sub.id))
        context = {
            "name": profile.name,
            "plan": sub.plan.name,
            "grace_days": sub.plan.policy.grace_days,
            "number": event.number,
            "invoice": (invoice_id or "")[:8],
            "payment_link": link,
            "deadline": None,
            "suspension_at": None,
            "collection_at": None,
            "amount_due": None,
            "amount": None,
            "credit": 0,
            "reference": None,
            "amount_voided": None,
            "note": None,
            "reason": None,
            "action_not_before": None,
            "cause": None,  # a restore without a payment ("void", "offline"); why money was kept
            "until": None,
            "hold_until": None,
            # The facts as the kind declares them: a fact added later reads as its default
            # in a notice stored before it.
            **dataclasses.asdict(facts),
            "site": sub.site,  # the facts' "site" is the site's state
            "site_state": getattr(facts, "site", None),
            # A side-service invoice's notices never speak of suspending the site.
            "service": isinstance(aggregate, Invoice) and aggregate.is_service,
        }
        rendered = self.renderer.render(event.kind, context)
        shared = {
            "kind": event.kind,
            "subscription_id": str(sub.id),
            "customer_id": str(customer.id),
            "subject": rendered.subject,
            "payload": as_json(
                {"facts": event.facts, "invoice_id": invoice_id, "number": event.number}
            ),
        }
        yield Append(
            self._row(event, "email", recipient=profile.email, body=rendered.text, **shared)
            | {"html": rendered.html}
        )
        yield Append(self._row(event, "sms", recipient=profile.mobile, body=rendered.sms, **shared))
        yield Append(
            self._row(event, "panel", recipient=str(customer.id), body=rendered.text, **shared)
        )

    def _platform(self, event: Any, states: AggregateStates, action: str) -> Iterable[Entry]:
        sub = states.get(event.originator_id, Subscription)
        if sub is None:
            return
        plan = plan_in_force(event, sub)
        if action == "plan" and plan is None:
            return
        payload = {
            "action": action,
            "site": sub.site,
            "subscription_id": str(sub.id),
            "event": type(event).__name__,  # the event's name, as the platform was always sent
        }
        if plan is not None:
            payload["plan"], payload["period"] = plan
        yield Append(
            self._row(
                event,
                "platform",
                kind=action,
                subscription_id=str(sub.id),
                customer_id=str(sub.customer_id),
                recipient=sub.site,
                subject=f"{action} {sub.site}",
                body="",
                payload=as_json(payload),
            )
        )
