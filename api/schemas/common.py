"""What every request and answer shares: moments in query strings, the input policy
for every text field, strict request bodies, Jalali strings, and pages of a list."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal, overload

from fastapi import Query
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo

from domain import text as policy
from domain.errors import InvalidInput
from domain.jalali import format_moment

PeriodName = Literal["monthly", "quarterly", "yearly"]


def _not_a_number(value: Any) -> Any:
    """A moment is ISO 8601 text; a bare number (a Unix time) is refused, not guessed at."""
    if isinstance(value, int | float) or (
        isinstance(value, str) and re.fullmatch(r"\s*[+-]?[\d.eE+-]+\s*", value)
    ):
        raise ValueError(
            "give a moment in ISO 8601 with a time zone (2026-05-08T00:00:00Z), not a number"
        )
    return value


#: A moment in a query string: ISO 8601 with its time zone.
Moment = Annotated[
    datetime,
    BeforeValidator(_not_a_number),
    Query(description="ISO 8601 with a time zone, e.g. 2026-05-08T00:00:00Z"),
]
OptionalMoment = Annotated[
    datetime | None, BeforeValidator(_not_a_number), Query(description="ISO 8601 with a time zone")
]


# --- text: every text field passes the one input policy (domain/text.py, docs/SECURITY.md) ------


def _policy(clean: Any, **limits: int) -> AfterValidator:
    def check(value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        try:
            return clean(value, info.field_name or "value", **limits)
        except InvalidInput as error:
            raise ValueError(error.message) from None

    return AfterValidator(check)


# Each returns the metadata of a text field, used as ``Annotated[str, *FreeText(200)]``: the
# length the OpenAPI document states, then the input policy (domain/text.py).


def FreeText(max_length: int, min_length: int = 1) -> tuple[Any, ...]:
    """One line for people (a name, an address, a label)."""
    return (
        Field(max_length=max_length),
        _policy(policy.free_text, max_length=max_length, min_length=min_length),
    )


def MultilineText(max_length: int = 500, min_length: int = 1) -> tuple[Any, ...]:
    """A reason or a note: newlines allowed."""
    return (
        Field(max_length=max_length),
        _policy(policy.multiline_text, max_length=max_length, min_length=min_length),
    )


def Identifier(max_length: int) -> tuple[Any, ...]:
    """A code, reference or address machines compare: invisible characters dropped."""
    return (Field(max_length=max_length), _policy(policy.identifier, max_length=max_length))


class Input(BaseModel):
    """A request body with no unknown fields; numbers are strict (no "3" for 3, no false for 0)."""

    model_config = ConfigDict(extra="forbid")


@overload
def jalali(moment: datetime) -> str: ...


@overload
def jalali(moment: datetime | None) -> str | None: ...


def jalali(moment: datetime | None) -> str | None:
    """A moment in the Jalali calendar, Tehran time (docs/API.md); None stays None."""
    return format_moment(moment) if moment else None


class Page(BaseModel):
    items: list[Any]
    next_cursor: str | None = None
