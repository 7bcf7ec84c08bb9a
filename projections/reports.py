"""Finance reports over the read models. The official clock of every figure is the event's
recorded time: a report "as of" a past moment counts only what was recorded by then.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from domain.base import check_moment
from domain.jalali import JalaliDate
from projections.model import moment, parse_moment

AGING_BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")


def aging_bucket(deadline: datetime, as_of: datetime) -> str:
    """Days overdue, counting any part of a day after the deadline as a day."""
    if as_of <= deadline:
        return "current"
    days = math.ceil((as_of - deadline) / timedelta(days=1))
    if days <= 30:
        return "1-30"
    if days <= 60:
        return "31-60"
    if days <= 90:
        return "61-90"
    return "90+"


@dataclass
class AgingReport:
    as_of: datetime
    totals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(AGING_BUCKETS, 0))
    invoices: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.totals.values())


def aging(read_models: Any, as_of: datetime) -> AgingReport:
    """Open balances by days past their deadline, as recorded at ``as_of``: each invoice once,
    with its balance and its deadline as they stood then (an approved offline payment moves
    the deadline; the ledger's last row by then carries it)."""
    as_of = check_moment(as_of)
    rows = read_models.query(
        "SELECT t.invoice_id, t.subscription_id, t.customer_id, d.deadline, "
        "t.issued, t.settled, t.voided FROM ("
        "SELECT invoice_id, subscription_id, customer_id, MAX(version) AS last, "
        "SUM(CASE WHEN entry = 'issued' THEN amount ELSE 0 END) AS issued, "
        "SUM(CASE WHEN entry IN ('paid', 'credit') THEN amount ELSE 0 END) AS settled, "
        "SUM(CASE WHEN entry = 'voided' THEN amount ELSE 0 END) AS voided "
        "FROM {rm_invoice_ledger} WHERE recorded_at <= ? "
        "GROUP BY invoice_id, subscription_id, customer_id) t "
        "JOIN {rm_invoice_ledger} d ON d.invoice_id = t.invoice_id AND d.version = t.last "
        "ORDER BY d.deadline, t.invoice_id",
        (moment(as_of),),
    )
    report = AgingReport(as_of)
    for row in rows:
        balance = int(row["issued"]) - int(row["settled"]) - int(row["voided"])
        if balance <= 0:
            continue
        deadline = parse_moment(row["deadline"])
        assert deadline is not None  # an invoice's ledger rows always carry its deadline
        bucket = aging_bucket(deadline, as_of)
        report.totals[bucket] += balance
        report.invoices.append(
            {
                "invoice_id": row["invoice_id"],
                "subscription_id": row["subscription_id"],
                "customer_id": row["customer_id"],
                "deadline": row["deadline"],
                "balance": balance,
                "bucket": bucket,
            }
        )
    return report


REVENUE_COLUMNS = ("invoiced", "vat", "paid", "credit_used", "voided", "credited", "refunded")


def revenue(
    read_models: Any,
    *,
    first_month: str | None = None,
    last_month: str | None = None,
    as_of: datetime | None = None,
) -> list[dict[str, Any]]:
    """Per Jalali month: invoiced (with its VAT), paid, credit used, voided, credited, refunded.

    Without ``as_of`` this reads the revenue read model; with it, the invoices' and customers'
    ledgers up to that moment.
    """
    first = _month(first_month) if first_month else "0000/00"
    last = _month(last_month) if last_month else "9999/99"
    if as_of is None:
        return read_models.query(
            "SELECT jalali_month, invoiced, vat, paid, credit_used, voided, credited, refunded "
            "FROM {rm_revenue_by_month} "
            "WHERE jalali_month >= ? AND jalali_month <= ? ORDER BY jalali_month",
            (first, last),
        )
    rows = read_models.query(
        "SELECT jalali_month, "
        "SUM(CASE WHEN entry = 'issued' THEN amount ELSE 0 END) AS invoiced, "
        "SUM(CASE WHEN entry = 'issued' THEN vat ELSE 0 END) AS vat, "
        "SUM(CASE WHEN entry = 'paid' THEN amount ELSE 0 END) AS paid, "
        "SUM(CASE WHEN entry = 'credit' THEN amount ELSE 0 END) AS credit_used, "
        "SUM(CASE WHEN entry = 'voided' THEN amount ELSE 0 END) AS voided, "
        "SUM(credited) AS credited "
        "FROM {rm_invoice_ledger} WHERE recorded_at <= ? AND jalali_month >= ? AND jalali_month <= ? "
        "GROUP BY jalali_month ORDER BY jalali_month",
        (moment(check_moment(as_of)), first, last),
    )
    refunds = read_models.query(
        "SELECT jalali_month, SUM(amount) AS refunded FROM {rm_customer_ledger} "
        "WHERE entry = 'refunded' AND recorded_at <= ? AND jalali_month >= ? AND jalali_month <= ? "
        "GROUP BY jalali_month",
        (moment(check_moment(as_of)), first, last),
    )
    months: dict[str, dict[str, Any]] = {
        row["jalali_month"]: {k: (int(v) if k != "jalali_month" else v) for k, v in row.items()}
        | {"refunded": 0}
        for row in rows
    }
    for row in refunds:
        month = months.setdefault(
            row["jalali_month"],
            {"jalali_month": row["jalali_month"], **dict.fromkeys(REVENUE_COLUMNS, 0)},
        )
        month["refunded"] = int(row["refunded"])
    return [months[m] for m in sorted(months)]


#: What the revenue report separates: the site's hosting and side services (docs/AUDIT.md).
REVENUE_LINES = ("hosting", "services")
#: The columns an invoice's ledger holds, so a line of business or a representative has them;
#: ``refunded`` is given back out of a customer's credit, of no invoice, so it counts in the
#: month's totals alone.
LINE_COLUMNS = tuple(c for c in REVENUE_COLUMNS if c != "refunded")
GROUPS = {None: (), "representative": ("representative_id",)}


def revenue_by_line(
    read_models: Any,
    *,
    first_month: str | None = None,
    last_month: str | None = None,
    as_of: datetime | None = None,
    group_by: str | None = None,
) -> list[dict[str, Any]]:
    """Per Jalali month (and, with ``group_by="representative"``, per representative the
    invoices were credited to at issue; null: none): every revenue column in all, and apart
    for ``hosting`` and ``services``, from the ledger (as recorded by ``as_of``, if given)."""
    if group_by not in GROUPS:
        from domain.errors import InvalidInput

        raise InvalidInput(
            f"group_by {group_by!r} is not known; use representative, or leave it out.",
            field="group_by",
        )
    first = _month(first_month) if first_month else "0000/00"
    last = _month(last_month) if last_month else "9999/99"
    keys = ("jalali_month", *GROUPS[group_by])
    bound = "recorded_at <= ? AND " if as_of is not None else ""
    params = ((moment(check_moment(as_of)),) if as_of is not None else ()) + (first, last)
    rows = read_models.query(
        f"SELECT {', '.join(keys)}, line, "
        "SUM(CASE WHEN entry = 'issued' THEN amount ELSE 0 END) AS invoiced, "
        "SUM(CASE WHEN entry = 'issued' THEN vat ELSE 0 END) AS vat, "
        "SUM(CASE WHEN entry = 'paid' THEN amount ELSE 0 END) AS paid, "
        "SUM(CASE WHEN entry = 'credit' THEN amount ELSE 0 END) AS credit_used, "
        "SUM(CASE WHEN entry = 'voided' THEN amount ELSE 0 END) AS voided, "
        "SUM(credited) AS credited "
        f"FROM {{rm_invoice_ledger}} WHERE {bound}jalali_month >= ? AND jalali_month <= ? "
        f"GROUP BY {', '.join(keys)}, line",
        params,
    )
    items: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple(row[k] for k in keys)
        item = items.get(key)
        if item is None:
            item = {k: row[k] for k in keys} | dict.fromkeys(LINE_COLUMNS, 0)
            item |= {line: dict.fromkeys(LINE_COLUMNS, 0) for line in REVENUE_LINES}
            items[key] = item
        for column in LINE_COLUMNS:
            figure = int(row[column] or 0)
            item[column] += figure
            item[row["line"]][column] += figure
    return [items[k] for k in sorted(items, key=lambda k: tuple("" if v is None else v for v in k))]


def subscriptions_of(read_models: Any, customer_id: Any) -> list[Any]:
    """A customer's subscriptions, oldest order first (audit's explain lists them)."""
    from uuid import UUID

    rows = read_models.query(
        "SELECT subscription_id FROM {rm_subscriptions} WHERE customer_id = ? "
        "ORDER BY ordered_at, subscription_id",
        (str(customer_id),),
    )
    return [UUID(r["subscription_id"]) for r in rows]


def latest_invoice_of(read_models: Any, customer_id: Any) -> Any:
    """The customer's most recently issued invoice (a refund of credit alone is told on it),
    or None when they have none."""
    from uuid import UUID

    rows = read_models.query(
        "SELECT invoice_id FROM {rm_invoices} WHERE customer_id = ? "
        "ORDER BY issued_at DESC, invoice_id DESC LIMIT 1",
        (str(customer_id),),
    )
    return UUID(rows[0]["invoice_id"]) if rows else None


def _month(text: str) -> str:
    """``1405/01``, ``1405-1`` or a full Jalali date: the month as ``YYYY/MM``."""
    parts = text.replace("-", "/").split("/")
    try:
        day = JalaliDate(int(parts[0]), int(parts[1]), 1)
    except (ValueError, IndexError):
        from domain.errors import InvalidInput

        raise InvalidInput(
            f"{text!r} is not a Jalali month; write it like 1405/01.", field="month"
        ) from None
    return day.isoformat()[:7]
