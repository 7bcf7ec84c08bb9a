"""The API's reads: each answer from one indexed statement on the read models, with no
aggregate replay, and who may see which row part of that statement's WHERE
(:func:`projections.visibility.owned_rows`): a row the caller may not see is not found, as one
that does not exist.

**Reads never wait.** A command folds what it wrote into the read models before its caller
is answered (``ReadModels.fold_written``), in whichever process it ran, so the rows already
hold the caller's own last write, and another process's once that process answered; what a
crashed writer left unfolded is folded by the background follower. A read is its one
statement and never catches up inline (docs/ARCHITECTURE.md, "Reads never wait").

Statements run on an autocommit connection with no BEGIN (SQLite reads one snapshot per
statement; PostgreSQL is in autocommit mode): one statement is one round trip.

``GET /subscriptions/{id}/invoices`` lists the subscription's billing-period and plan-change
invoices (the aggregate's ``invoice_ids``, service invoices apart) by issue moment, then period
number: the order the subscription recorded them in, since each is issued after the one before.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain.errors import CustomerNotFound, InvoiceNotFound, SubscriptionNotFound
from projections.visibility import Viewer, owned_rows

if TYPE_CHECKING:
    from projections.runner import ReadModels

Row = dict[str, Any]

#: A subscription's answer: its row, its next step (the due-actions row: the same
#: ``lifecycle.next_step`` of the same state) and its customer's representative of the moment.
_SUBSCRIPTION = (
    "SELECT s.subscription_id, s.customer_id, c.representative_id, "
    "s.plan_id, s.period, s.status, s.site, s.site_state, s.period_no, s.period_start, "
    "s.period_last_day, s.period_starts_at, s.period_ends_at, s.ordered_at, s.cancelled_at, "
    "s.open_invoices, s.pending_plan_id, s.pending_period, d.action AS next_action, "
    "d.due_at AS next_at "
    "FROM {rm_subscriptions} s "
    "LEFT JOIN {rm_customer_accounts} c ON c.customer_id = s.customer_id "
    "LEFT JOIN {rm_due_actions} d ON d.subscription_id = s.subscription_id "
)

_INVOICE_COLUMNS = (
    "i.invoice_id, i.subscription_id, i.customer_id, i.period_no, i.kind, i.status, "
    "i.issued_at, i.deadline, i.period_start, i.period_end, i.total, i.vat, i.paid, i.balance, "
    "i.voided_at, i.void_reason, i.lines, i.official_number, i.corrections, i.returned, "
    "i.credit_notes"
)

_INVOICE = (
    f"SELECT {_INVOICE_COLUMNS} FROM {{rm_invoices}} i "
    "LEFT JOIN {rm_customer_accounts} c ON c.customer_id = i.customer_id "
)

_CUSTOMER = (
    "SELECT c.customer_id, c.name, c.kind, c.email, c.mobile, "
    "c.representative_id, c.profile, c.credit, "
    "(SELECT COALESCE(SUM(i.balance), 0) FROM {rm_invoices} i "
    "WHERE i.customer_id = c.customer_id) AS open_balance "
    "FROM {rm_customer_accounts} c "
)


def _where(conditions: Sequence[str]) -> str:
    return f"WHERE {' AND '.join(conditions)} " if conditions else ""


class Reads:
    """The API's queries on one store's read models: one statement each."""

    def __init__(self, read_models: ReadModels) -> None:
        self.read_models = read_models
        self._statements: dict[str, str] = {}

    # --- running a statement ------------------------------------------------------------------

    def fresh(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        """The rows of ``statement``: every write answered so far is folded in."""
        return self._run(statement, params)

    def _run(self, statement: str, params: Sequence[Any]) -> list[Row]:
        view = self.read_models.view
        text = self._statements.get(statement)
        if text is None:
            sql = view.sql(None)
            names = {m.table.name: sql.table(m.table.name) for m in self.read_models.models}
            text = sql._statement(statement.format(**names))
            self._statements[statement] = text
        datastore = view.datastore
        if view.dialect == "postgres":
            with datastore.get_connection() as conn:  # autocommit: one round trip
                return conn.execute(text, tuple(params)).fetchall()  # dicts already
        with datastore.get_connection(commit=False) as conn, conn.cursor() as cursor:
            cursor.execute(text, tuple(params))
            return [dict(r) for r in cursor.fetchall()]

    # --- subscriptions ------------------------------------------------------------------------

    def subscription(self, who: Viewer, subscription_id: UUID) -> Row:
        visible, allowed = owned_rows(who, "s.customer_id", "c.representative_id")
        rows = self.fresh(
            _SUBSCRIPTION + _where(["s.subscription_id = ?", *visible]),
            [str(subscription_id), *allowed],
        )
        if not rows:
            raise SubscriptionNotFound(
                f"There is no subscription {subscription_id}.",
                subscription_id=str(subscription_id),
            )
        return rows[0]

    def subscriptions(
        self,
        who: Viewer,
        *,
        after: str,
        limit: int,
        customer_id: UUID | None = None,
        status: str | None = None,
    ) -> list[Row]:
        """Up to ``limit`` subscriptions the caller may see, by id after ``after``."""
        visible, allowed = owned_rows(who, "s.customer_id", "c.representative_id")
        where, params = ["s.subscription_id > ?", *visible], [after, *allowed]
        if customer_id:
            where.append("s.customer_id = ?")
            params.append(str(customer_id))
        if status:
            where.append("s.status = ?")
            params.append(status)
        return self.fresh(
            _SUBSCRIPTION + _where(where) + f"ORDER BY s.subscription_id LIMIT {int(limit)}",
            params,
        )

    def subscription_invoices(
        self, who: Viewer, subscription_id: UUID, *, start: int, limit: int
    ) -> list[Row]:
        """The subscription's invoices from the ``start``-th, up to ``limit`` (404 if the
        caller may not see the subscription)."""
        visible, allowed = owned_rows(who, "s.customer_id", "c.representative_id")
        statement = (
            f"SELECT {_INVOICE_COLUMNS} FROM {{rm_subscriptions}} s "
            "LEFT JOIN {rm_customer_accounts} c ON c.customer_id = s.customer_id "
            "JOIN {rm_invoices} i ON i.subscription_id = s.subscription_id "
            "AND i.kind <> 'service' "
            + _where(["s.subscription_id = ?", *visible])
            + f"ORDER BY i.issued_at, i.period_no, i.invoice_id LIMIT {int(limit)} "
            f"OFFSET {int(start)}"
        )
        rows = self.fresh(statement, [str(subscription_id), *allowed])
        if not rows:
            self.subscription(who, subscription_id)  # none on this page, or not found
        return rows

    # --- invoices -----------------------------------------------------------------------------

    def invoice(self, who: Viewer, invoice_id: UUID) -> Row:
        visible, allowed = owned_rows(who, "i.customer_id", "c.representative_id")
        rows = self.fresh(
            _INVOICE + _where(["i.invoice_id = ?", *visible]), [str(invoice_id), *allowed]
        )
        if not rows:
            raise InvoiceNotFound(f"There is no invoice {invoice_id}.", invoice_id=str(invoice_id))
        return rows[0]

    def customer_invoices(
        self, who: Viewer, customer_id: UUID, *, kind: str | None, start: int, limit: int
    ) -> list[Row]:
        """The customer's invoices, oldest first, from the ``start``-th (404 if the caller may
        not see the customer)."""
        visible, allowed = owned_rows(who, "i.customer_id", "c.representative_id")
        where, params = ["i.customer_id = ?", *visible], [str(customer_id), *allowed]
        if kind:
            where.append("i.kind = ?")
            params.append(kind)
        rows = self.fresh(
            _INVOICE
            + _where(where)
            + f"ORDER BY i.issued_at, i.invoice_id LIMIT {int(limit)} OFFSET {int(start)}",
            params,
        )
        if not rows:
            self.customer(who, customer_id)  # none on this page, or not found
        return rows

    # --- customers ----------------------------------------------------------------------------

    def customer(self, who: Viewer, customer_id: UUID) -> Row:
        visible, allowed = owned_rows(who, "c.customer_id", "c.representative_id")
        rows = self.fresh(
            _CUSTOMER + _where(["c.customer_id = ?", *visible]), [str(customer_id), *allowed]
        )
        if not rows:
            raise CustomerNotFound(
                f"There is no customer {customer_id}.", customer_id=str(customer_id)
            )
        return rows[0]

    def customers(self, who: Viewer, *, after: str, limit: int) -> list[Row]:
        visible, allowed = owned_rows(who, "c.customer_id", "c.representative_id")
        return self.fresh(
            _CUSTOMER
            + _where(["c.customer_id > ?", *visible])
            + f"ORDER BY c.customer_id LIMIT {int(limit)}",
            [after, *allowed],
        )


def moment_of(stored: str) -> datetime:
    """A stored moment (never None) as an aware datetime in UTC."""
    return datetime.fromisoformat(stored[:-1] + "+00:00")


def iso_text(stored: str | None) -> str | None:
    """A stored moment (``2026-04-04T05:30:00.000000Z``) as the API writes moments
    (presentation.words.iso: no fraction when it is zero)."""
    if stored is None:
        return None
    return stored[:19] + "Z" if stored[19:26] == ".000000" else stored
