"""Cursor pages: ``?cursor=`` is opaque to callers (the last item's sort key, base64)."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from fastapi import Query

from domain.errors import InvalidInput

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
#: ``?limit=``: how many items a page holds.
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


def decode_cursor(cursor: str | None) -> Any:
    if not cursor:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(cursor.encode() + b"==="))
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(
            "cursor is not one this API gave out; start again without it.", field="cursor"
        ) from None


def encode_cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")
