"""Sending what the outbox holds: claim due deliveries, send each, record the outcome.

A delivery failure never blocks the lifecycle (the outbox is written after the events, by the
projection, and sent by its own loop); it is retried with exponential backoff, and it is
visible: ``failed()`` lists what gave up, ``counts()`` feeds the metrics.

Claiming leases a batch of rows (moves their next attempt a few minutes ahead) in one
statement; on PostgreSQL with ``FOR UPDATE SKIP LOCKED``, so several dispatchers share the work
without sending a row twice at the same time. A dispatcher killed while sending leaves its rows
to be retried when the lease ends: delivery is at least once, and every channel carries the
delivery id so the receiver can drop a repeat (the platform's Idempotency-Key, the SMS
provider's local id, the e-mail's Message-ID).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from adapters.clock import Clock
from adapters.notify.channels import Delivery, PermanentFailure, Sender
from projections.model import moment

log = logging.getLogger(__name__)

#: Notices give up after this many attempts (about a day with the backoff below); the hosting
#: platform never gives up.
MAX_ATTEMPTS = 12
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=4)
LEASE = timedelta(minutes=5)


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8 … minutes after the n-th failure, at most four hours."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)


@dataclass
class DispatchReport:
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)


class OutboxStore:
    """The outbox table, next to the read models (same database, same datastore)."""

    def __init__(self, read_models: Any) -> None:
        self.read_models = read_models
        self.view = read_models.view

    def _sql(self, cursor: Any):
        return self.view.sql(cursor)

    def claim(self, now: datetime, limit: int, lease: timedelta = LEASE) -> list[Delivery]:
        postgres = self.view.dialect == "postgres"
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self._sql(cursor)
            table = sql.table("outbox")
            lock = " FOR UPDATE SKIP LOCKED" if postgres else ""
            rows = sql.execute(
                f"UPDATE {table} SET next_attempt_at = ? WHERE delivery_id IN ("
                f"SELECT delivery_id FROM {table} WHERE status = 'pending' AND next_attempt_at <= ? "
                f"ORDER BY next_attempt_at, delivery_id LIMIT {int(limit)}{lock}) "
                "RETURNING delivery_id, channel, kind, subscription_id, customer_id, recipient, subject, body, "
                "html, payload, attempts",
                (moment(now + lease), moment(now)),
            ).rows()
        return [
            Delivery(**{**row, "payload": json.loads(row["payload"])})
            for row in sorted(rows, key=lambda r: r["delivery_id"])
        ]

    def _update(self, delivery_id: str, **values: Any) -> None:
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self._sql(cursor)
            sets = ", ".join(f"{k} = ?" for k in values)
            sql.execute(
                f"UPDATE {sql.table('outbox')} SET {sets} WHERE delivery_id = ?",
                (*values.values(), delivery_id),
            )

    def delivered(self, delivery: Delivery, now: datetime) -> None:
        self._update(
            delivery.delivery_id,
            status="delivered",
            attempts=delivery.attempts + 1,
            delivered_at=moment(now),
            last_error=None,
        )

    def retry(self, delivery: Delivery, at: datetime, error: str) -> None:
        self._update(
            delivery.delivery_id,
            attempts=delivery.attempts + 1,
            next_attempt_at=moment(at),
            last_error=error[:500],
        )

    def failed(self, delivery: Delivery, error: str) -> None:
        self._update(
            delivery.delivery_id,
            status="failed",
            attempts=delivery.attempts + 1,
            last_error=error[:500],
        )

    def skipped(self, delivery: Delivery, reason: str) -> None:
        self._update(delivery.delivery_id, status="skipped", last_error=reason)

    def requeue_failed(self, now: datetime) -> int:
        """Give failed deliveries another round of attempts (an operator's decision)."""
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self._sql(cursor)
            return len(
                sql.execute(
                    f"UPDATE {sql.table('outbox')} SET status = 'pending', attempts = 0, next_attempt_at = ? "
                    "WHERE status = 'failed' RETURNING delivery_id",
                    (moment(now),),
                ).rows()
            )

    def failed_deliveries(self, limit: int = 100) -> list[dict[str, Any]]:
        """What gave up, and the platform requests still being retried: for people to look at."""
        return self.read_models.query(
            "SELECT delivery_id, channel, kind, recipient, attempts, last_error, created_at, status FROM {outbox} "
            "WHERE status = 'failed' OR (status = 'pending' AND attempts > 0) "
            f"ORDER BY created_at LIMIT {int(limit)}"
        )

    def counts(self) -> dict[tuple[str, str], int]:
        rows = self.read_models.query(
            "SELECT channel, status, COUNT(*) AS n FROM {outbox} GROUP BY channel, status"
        )
        return {(r["channel"], r["status"]): int(r["n"]) for r in rows}

    def inbox(self, customer_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """The customer's panel inbox: the messages delivered to it, newest first."""
        return self.read_models.query(
            "SELECT delivery_id, kind, subject, body, created_at, subscription_id FROM {outbox} "
            f"WHERE channel = 'panel' AND status = 'delivered' AND customer_id = ? ORDER BY created_at DESC LIMIT {int(limit)}",
            (customer_id,),
        )


class PanelInbox:
    """The panel channel: the message is in the customer's inbox as soon as it is marked
    delivered (the inbox is the delivered panel rows of the outbox)."""

    def deliver(self, delivery: Delivery) -> None:
        return None


class Dispatcher:
    def __init__(
        self,
        store: OutboxStore,
        senders: Mapping[str, Sender],
        clock: Clock,
        *,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.store = store
        self.senders = dict(senders)
        self.clock = clock
        self.max_attempts = max_attempts

    def dispatch(self, limit: int = 100) -> DispatchReport:
        report = DispatchReport()
        now = self.clock.now()
        for delivery in self.store.claim(now, limit):
            sender = self.senders.get(delivery.channel)
            if sender is None:
                self.store.skipped(delivery, f"the {delivery.channel} channel is not configured")
                report.skipped += 1
                continue
            try:
                sender.deliver(delivery)
            except PermanentFailure as error:
                self.store.failed(delivery, str(error))
                report.failed += 1
                report.errors.append(f"{delivery.delivery_id}: {error}")
            except Exception as error:  # anything else may work next time
                attempts = delivery.attempts + 1
                if delivery.channel != "platform" and attempts >= self.max_attempts:
                    self.store.failed(delivery, f"gave up after {attempts} attempts: {error}")
                    report.failed += 1
                else:
                    self.store.retry(delivery, now + backoff(attempts), str(error))
                    report.retried += 1
                report.errors.append(f"{delivery.delivery_id}: {error}")
                log.warning(
                    "delivery %s failed (attempt %d): %s", delivery.delivery_id, attempts, error
                )
            else:
                self.store.delivered(delivery, now)
                report.delivered += 1
        return report

    def drain(self, limit: int = 100) -> DispatchReport:
        """Dispatch until nothing due is left (tests, the CLI)."""
        total = DispatchReport()
        while True:
            report = self.dispatch(limit)
            for name in ("delivered", "retried", "failed", "skipped"):
                setattr(total, name, getattr(total, name) + getattr(report, name))
            total.errors += report.errors
            if not (report.delivered or report.failed or report.skipped or report.retried):
                return total
