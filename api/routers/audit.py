"""Audit replay for finance: timelines, states as of a moment, explanations and who did what,
from the events."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from api.context import ContextDep, PrincipalDep
from api.permissions import READ_AUDIT
from api.routers._paging import DEFAULT_LIMIT, Limit, decode_cursor, encode_cursor
from api.schemas import ActionsOut, Moment, OptionalMoment, Page
from domain.errors import InvalidInput
from projections.reports import subscriptions_of
from service_layer.actions import ActionFilter, actions_page
from service_layer.audit import describe_as_of, explain
from service_layer.timeline import TimelineEntry, timeline, who_of, words_of

router = APIRouter(prefix="/audit", tags=["audit"])

ActorQuery = Annotated[
    str | None,
    Query(
        description="An actor kind (staff, client, customer, representative, scheduler, "
        "gateway, operator, unknown), an actor id, or kind:id",
        examples=["scheduler", "staff:42"],
    ),
]
FromQuery = Annotated[
    str | None,
    Query(alias="from", description="Recorded at or after: ISO 8601 with a time zone"),
]
ToQuery = Annotated[
    str | None, Query(alias="to", description="Recorded at or before: ISO 8601 with a time zone")
]


@router.get(
    "/actions",
    response_model=ActionsOut,
    summary="What each person did: the recorded events by who caused them, in order",
)
def get_actions(
    ctx: ContextDep,
    who: PrincipalDep,
    actor: ActorQuery = None,
    since: FromQuery = None,
    until: ToQuery = None,
    cursor: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> ActionsOut:
    """Every recorded event in the order the store recorded it, with who caused it (kind, id,
    name, role), when (ISO and Jalali), on what, and the event in words. Filter by ``actor``,
    ``from`` and ``to`` (both inclusive); a filter it cannot read is 422 with the code
    ``invalid_actor_filter``, ``invalid_time`` or ``invalid_time_range``. A page reads a
    bounded number of events, so it may hold fewer items than ``limit``, even none: follow
    ``next_cursor`` until it is null."""
    READ_AUDIT.check(who)
    wanted = ActionFilter.parse(actor, since, until)
    after = decode_cursor(cursor)
    if after is None:
        after = 0
    elif not isinstance(after, int) or isinstance(after, bool) or after < 0:
        raise InvalidInput(
            "cursor is not one this API gave out; start again without it.", field="cursor"
        )
    page = actions_page(ctx.app, wanted, after=after, limit=limit)
    return ActionsOut.model_validate(
        {
            "items": [action.as_json() for action in page.items],
            "next_cursor": encode_cursor(page.after) if page.after is not None else None,
        }
    )


@router.get(
    "/{aggregate_id}/timeline", response_model=Page, summary="Every event of an aggregate, in order"
)
def get_timeline(aggregate_id: UUID, ctx: ContextDep, who: PrincipalDep) -> Page:
    """Each item: the event as recorded (with its ``actor``: kind, id, name, role), and in
    words: ``what`` happened and ``by`` whom, in English, ``what_fa`` and ``by_fa`` in Persian."""
    READ_AUDIT.check(who)
    return Page(items=[_said(e) for e in timeline(ctx.app, aggregate_id)], next_cursor=None)


def _said(entry: TimelineEntry) -> dict:
    what, by = words_of(entry), who_of(entry)
    return entry.as_json() | {
        "what": what.english,
        "by": by.english,
        "what_fa": what.persian,
        "by_fa": by.persian,
    }


@router.get(
    "/{aggregate_id}/as-of", summary="The aggregate's state at a moment, folded from its events"
)
def as_of(aggregate_id: UUID, at: Moment, ctx: ContextDep, who: PrincipalDep) -> dict:
    READ_AUDIT.check(who)
    if at.tzinfo is None:
        from domain.errors import InvalidTime

        raise InvalidTime("at must carry a time zone, e.g. 2026-05-08T00:00:00Z.", field="at")
    return describe_as_of(ctx.app, aggregate_id, at)


@router.get(
    "/{aggregate_id}/explain",
    summary="Why a subscription, invoice or customer is in its state, in Persian and English",
)
def get_explanation(
    aggregate_id: UUID, ctx: ContextDep, who: PrincipalDep, at: OptionalMoment = None
) -> dict:
    """A subscription: why its site is up, in grace, suspended or collected, and what comes
    next. An invoice: what it asks, how it was paid, why it is open, paid or void. A customer:
    each of its subscriptions in one line. An id with no events answers 404."""
    READ_AUDIT.check(who)
    if at is not None and at.tzinfo is None:
        from domain.errors import InvalidTime

        raise InvalidTime("at must carry a time zone, e.g. 2026-05-08T00:00:00Z.", field="at")
    read_models = ctx.fresh_read_models()
    explanation = explain(
        ctx.app,
        aggregate_id,
        at or ctx.now(),
        subscriptions_of=lambda customer_id: subscriptions_of(read_models, customer_id),
    )
    return {"english": explanation.english, "persian": explanation.persian}
