"""The representatives read model, and the list of representatives with their customers.

``rm_representatives`` holds one row per registered representative (their details as they
stand). How many customers each one has is counted from ``rm_customer_accounts`` when asked,
as a customer's open balance is summed from ``rm_invoices``: the count cannot disagree with
the customers' own rows, and a move changes only the customer's row.

A representative id that customers name but that was never registered (customers registered
before representatives were kept) is listed from those customers' rows, with
``registered`` false and no name, until an admin adds the representative under that id.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from domain.representative import Representative
from projections.model import AggregateStates, ReadModel, Table, moment
from projections.visibility import Viewer, visible_representative_rows


class RepresentativesView(ReadModel):
    """Who are the registered representatives, and how can they be reached?"""

    name = "representatives"
    table = Table(
        "rm_representatives",
        columns=(
            ("representative_id", "TEXT NOT NULL"),
            ("name", "TEXT NOT NULL"),
            ("mobile", "TEXT"),
            ("email", "TEXT"),
            ("added_at", "TEXT NOT NULL"),
            ("version", "INTEGER NOT NULL"),
            ("updated_at", "TEXT NOT NULL"),
        ),
        key=("representative_id",),
        checks=("version >= 1",),
    )

    def wants(self, event_type: type) -> bool:
        return issubclass(event_type, Representative.Event)

    def touched(self, event: Any, states: AggregateStates) -> Iterable[UUID]:
        yield event.originator_id

    def row(self, key: UUID, states: AggregateStates) -> dict[str, Any] | None:
        rep = states.get(key, Representative)
        if rep is None:
            return None
        return {
            "representative_id": str(rep.id),
            "name": rep.details.name,
            "mobile": rep.details.mobile,
            "email": rep.details.email,
            "added_at": moment(rep.added_at),
            "version": rep.version,
            "updated_at": moment(rep.modified_on),
        }


#: Every representative with their customers now: the registered ones, then the ids customers
#: name that were never registered (no details; ``registered`` 0).
_LISTED = """
SELECT representative_id, name, mobile, email, added_at, 1 AS registered,
       COALESCE(counted.customers, 0) AS customers
FROM {rm_representatives}
LEFT JOIN (
    SELECT representative_id, COUNT(*) AS customers FROM {rm_customer_accounts}
    WHERE representative_id IS NOT NULL GROUP BY representative_id
) counted USING (representative_id)
UNION ALL
SELECT representative_id, NULL, NULL, NULL, NULL, 0, COUNT(*)
FROM {rm_customer_accounts}
WHERE representative_id IS NOT NULL
  AND representative_id NOT IN (SELECT representative_id FROM {rm_representatives})
GROUP BY representative_id
"""


def representatives(
    read_models: Any,
    who: Viewer,
    *,
    after: str = "",
    limit: int = 50,
    only: UUID | None = None,
) -> list[dict[str, Any]]:
    """The representatives ``who`` may see (projections/visibility.py), by id, after the id
    ``after``, at most ``limit``; ``only``: just that one. Each row: ``representative_id``,
    ``name``, ``mobile``, ``email``, ``added_at`` (None when not registered), ``registered``
    (bool) and ``customers`` (how many customers they serve now)."""
    where, params = visible_representative_rows(who)
    where = ["representative_id > ?", *where]
    params = [after, *params]
    if only is not None:
        where.append("representative_id = ?")
        params.append(str(only))
    rows = read_models.query(
        f"SELECT * FROM ({_LISTED}) listed WHERE {' AND '.join(where)} "
        f"ORDER BY representative_id LIMIT {int(limit)}",
        params,
    )
    return [
        {**row, "registered": bool(row["registered"]), "customers": int(row["customers"])}
        for row in rows
    ]


def representative(read_models: Any, who: Viewer, representative_id: UUID) -> dict | None:
    """One representative as :func:`representatives` lists them, or None: not registered and
    named by no customer, or not one ``who`` may see."""
    rows = representatives(read_models, who, only=representative_id, limit=1)
    return rows[0] if rows else None
