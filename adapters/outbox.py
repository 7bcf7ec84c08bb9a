"""Sending what the outbox holds: claim due deliveries, send each, record the outcome.

Guarantees (docs/SCHEDULER.md, docs/OPERATIONS.md):

- **At least once.** A delivery is recorded delivered only after its channel accepted it. A
  dispatcher killed while sending leaves the row leased; when the lease ends another
  dispatcher sends it again, with the same delivery id (the e-mail's Message-ID, the SMS
  provider's local id, the platform's Idempotency-Key), so a receiver can drop the repeat.
- **Duplicates only after a crash, never from slowness.** Claiming leases a few rows to this
  dispatcher (``lease_owner``) for ``lease``; just before sending each one the dispatcher
  renews that row's lease, and skips it if another dispatcher has taken it meanwhile. The lease
  is longer than a channel's timeout, so a send never outlives its own lease. Leases are in
  real time (``leased_until``), whatever the engine's clock says: in test mode the simulated
  clock may jump days while a message is being sent; ``next_attempt_at`` (the backoff) follows
  the engine's clock.
- **In order per site.** A site's platform requests go out one at a time, in the order of
  their events: a request is claimable only when no earlier request of its site is pending.
  Webhooks go out the same way per subscription and endpoint, in the log's order.
  A suspend or restore followed by a later request for the same site is superseded (marked
  skipped): the site ends in the state the engine last decided. A ``plan`` request (the plan
  in force, not the site's state) supersedes nothing and is never superseded.
- **Apart from the lifecycle.** Each channel is dispatched by its own job, so a slow or hanging
  channel delays only its own messages (``scheduler.Engine``).
- **Retries.** A temporary failure (a 4xx reply of an SMTP server, a timeout, a 5xx of the
  platform) is retried with exponential backoff; notices give up after ``max_attempts`` and
  are marked failed; the platform is retried until it accepts, unless it refuses a request
  for good (a 4xx other than a timeout, a conflict or a rate limit): that is marked failed
  and the site reconciliation corrects the site. Everything is visible: ``failed_deliveries``,
  ``counts``, ``oldest_pending``.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from adapters.clock import Clock, SystemClock
from adapters.notify.channels import Delivery, PermanentFailure, Sender
from projections.model import moment, parse_moment

log = logging.getLogger(__name__)

#: Notices give up after this many attempts: the 14th comes about 24 hours after the first
#: (1 + 2 + 4 … minutes, at most 4 hours apart). The hosting platform never gives up.
MAX_ATTEMPTS = 14
#: Webhooks give up after this many: the 25th comes 68 h 15 min after the first.
WEBHOOK_MAX_ATTEMPTS = 25
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=4)
LEASE = timedelta(seconds=60)
#: Platform actions that set the site's state: a pending one is superseded by a later one
#: (but not by a ``plan`` request, which leaves the state alone).
SUPERSEDABLE = ("suspend", "restore")


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8 … minutes after the n-th failure, at most four hours."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)


def retry_span(max_attempts: int = MAX_ATTEMPTS) -> timedelta:
    """How long after its first attempt a notice's last attempt comes."""
    return sum((backoff(n) for n in range(1, max_attempts)), timedelta(0))


@dataclass
class DispatchReport:
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    lost_lease: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: DispatchReport) -> None:
        for name in ("delivered", "retried", "failed", "skipped", "lost_lease"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors += other.errors


class OutboxStore:
    """The outbox table, next to the read models (same database, same datastore)."""

    def __init__(self, read_models: Any) -> None:
        self.read_models = read_models
        self.view = read_models.view

    def _sql(self, cursor: Any):
        return self.view.sql(cursor)

    def claim(
        self,
        now: datetime,
        limit: int,
        *,
        owner: str,
        real_now: datetime,
        lease: timedelta = LEASE,
        channel: str | None = None,
    ) -> list[Delivery]:
        """Lease up to ``limit`` due rows (of one channel, or all) to ``owner`` until
        ``real_now + lease``. A platform row is due only when no earlier row of its site is
        pending; a webhook row only when no earlier row of its subscription to the same
        endpoint is."""
        postgres = self.view.dialect == "postgres"
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self._sql(cursor)
            table = sql.table("outbox")
            lock = " FOR UPDATE SKIP LOCKED" if postgres else ""
            only = "AND o.channel = ? " if channel else ""
            params: list[Any] = [
                moment(real_now + lease),
                owner,
                moment(now),
                moment(real_now),
            ]
            if channel:
                params.append(channel)
            rows = sql.execute(
                f"UPDATE {table} SET leased_until = ?, lease_owner = ? WHERE delivery_id IN ("
                f"SELECT o.delivery_id FROM {table} o WHERE o.status = 'pending' "
                "AND o.next_attempt_at <= ? "
                f"AND (o.leased_until IS NULL OR o.leased_until <= ?) {only}"
                f"AND (o.channel NOT IN ('platform', 'webhook') OR NOT EXISTS (SELECT 1 FROM {table} e "
                "WHERE e.channel = o.channel AND e.subscription_id = o.subscription_id "
                "AND e.recipient = o.recipient "
                "AND e.status = 'pending' AND e.sequence < o.sequence)) "
                f"ORDER BY o.next_attempt_at, o.delivery_id LIMIT {int(limit)}{lock}) "
                "RETURNING delivery_id, channel, kind, subscription_id, customer_id, recipient, "
                "subject, body, html, payload, attempts, created_at, sequence",
                params,
            ).rows()
        return [_delivery(row) for row in sorted(rows, key=lambda r: r["delivery_id"])]

    def renew(self, delivery: Delivery, real_now: datetime, owner: str, lease: timedelta) -> bool:
        """Extend this row's lease just before sending it; False: another dispatcher holds it
        now (our lease ran out), or it is no longer pending, so it must not be sent."""
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self._sql(cursor)
            return bool(
                sql.execute(
                    f"UPDATE {sql.table('outbox')} SET leased_until = ? "
                    "WHERE delivery_id = ? AND lease_owner = ? AND status = 'pending' "
                    "RETURNING delivery_id",
                    (moment(real_now + lease), delivery.delivery_id, owner),
                ).rows()
            )

    def superseded_by(self, delivery: Delivery) -> dict[str, Any] | None:
        """A later pending request of the same site, if one makes this one pointless."""
        if delivery.channel != "platform" or delivery.kind not in SUPERSEDABLE:
            return None
        rows = self.read_models.query(
            "SELECT delivery_id, kind FROM {outbox} WHERE channel = 'platform' "
            "AND subscription_id = ? AND status = 'pending' AND sequence > ? "
            "AND kind <> 'plan' ORDER BY sequence LIMIT 1",
            (delivery.subscription_id, delivery.sequence),
        )
        return rows[0] if rows else None

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
            lease_owner=None,
            leased_until=None,
        )

    def retry(self, delivery: Delivery, at: datetime, error: str) -> None:
        self._update(
            delivery.delivery_id,
            attempts=delivery.attempts + 1,
            next_attempt_at=moment(at),
            last_error=error[:500],
            lease_owner=None,
            leased_until=None,
        )

    def failed(self, delivery: Delivery, error: str) -> None:
        self._update(
            delivery.delivery_id,
            status="failed",
            attempts=delivery.attempts + 1,
            last_error=error[:500],
            lease_owner=None,
            leased_until=None,
        )

    def skipped(self, delivery: Delivery, reason: str) -> None:
        self._update(
            delivery.delivery_id,
            status="skipped",
            last_error=reason,
            lease_owner=None,
            leased_until=None,
        )

    def settle_all(
        self, channel: str, now: datetime, *, status: str, note: str | None = None
    ) -> int:
        """Mark every due row of a channel that needs no sending (the panel inbox: delivered
        once recorded; a channel not configured: skipped) in one statement."""
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self._sql(cursor)
            delivered = moment(now) if status == "delivered" else None
            return len(
                sql.execute(
                    f"UPDATE {sql.table('outbox')} SET status = ?, attempts = attempts + 1, "
                    "delivered_at = ?, last_error = ?, lease_owner = NULL, leased_until = NULL "
                    "WHERE channel = ? AND status = 'pending' AND next_attempt_at <= ? "
                    "RETURNING delivery_id",
                    (status, delivered, note, channel, moment(now)),
                ).rows()
            )

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

    def enqueue_platform(
        self,
        *,
        subscription_id: str,
        customer_id: str,
        site: str,
        actions: list[str],
        after_sequence: int,
        now: datetime,
        because: str,
        plan: tuple[str, str] | None = None,
    ) -> list[str]:
        """Add platform requests that no event caused (a site reconciliation), in order, right
        after the rows of the event at ``after_sequence``; a create or plan request carries
        ``plan`` (the plan in force and its period) when given."""
        ids = []
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self._sql(cursor)
            from projections.outbox import OUTBOX

            for offset, action in enumerate(actions, start=1):
                delivery_id = f"reconcile/{subscription_id}/{uuid.uuid4().hex}/{action}"
                row = {
                    "delivery_id": delivery_id,
                    "channel": "platform",
                    "kind": action,
                    "subscription_id": subscription_id,
                    "customer_id": customer_id,
                    "recipient": site,
                    "subject": f"{action} {site}",
                    "body": "",
                    "html": None,
                    "payload": json.dumps(
                        {
                            "action": action,
                            "site": site,
                            "subscription_id": subscription_id,
                            "event": because,
                        }
                        | (
                            {"plan": plan[0], "period": plan[1]}
                            if plan is not None and action in ("create", "plan")
                            else {}
                        )
                    ),
                    "created_at": moment(now),
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": moment(now),
                    "last_error": None,
                    "delivered_at": None,
                    "sequence": after_sequence + offset,
                    "lease_owner": None,
                    "leased_until": None,
                }
                sql.execute(OUTBOX.insert(sql.table("outbox")), OUTBOX.values(row))
                ids.append(delivery_id)
        return ids

    def pending_sites(self) -> set[str]:
        """Subscriptions with a platform request still to send."""
        rows = self.read_models.query(
            "SELECT DISTINCT subscription_id FROM {outbox} "
            "WHERE channel = 'platform' AND status = 'pending'"
        )
        return {r["subscription_id"] for r in rows}

    def failed_deliveries(self, limit: int = 100) -> list[dict[str, Any]]:
        """What gave up, and the platform requests still being retried: for people to look at."""
        return self.read_models.query(
            "SELECT delivery_id, channel, kind, recipient, attempts, last_error, created_at, status FROM {outbox} "
            "WHERE status = 'failed' OR (status = 'pending' AND attempts > 0) "
            f"ORDER BY created_at LIMIT {int(limit)}"
        )

    def latest_failures(self, limit: int = 20) -> list[dict[str, Any]]:
        """:meth:`failed_deliveries`, the newest first (the back office's health page)."""
        return self.read_models.query(
            "SELECT delivery_id, channel, kind, recipient, attempts, last_error, created_at, status FROM {outbox} "
            "WHERE status = 'failed' OR (status = 'pending' AND attempts > 0) "
            f"ORDER BY created_at DESC, delivery_id LIMIT {int(limit)}"
        )

    def failure_count(self) -> int:
        """How many deliveries :meth:`failed_deliveries` would list, without reading them."""
        rows = self.read_models.query(
            "SELECT COUNT(*) AS n FROM {outbox} "
            "WHERE status = 'failed' OR (status = 'pending' AND attempts > 0)"
        )
        return int(rows[0]["n"])

    def counts(self) -> dict[tuple[str, str], int]:
        rows = self.read_models.query(
            "SELECT channel, status, COUNT(*) AS n FROM {outbox} GROUP BY channel, status"
        )
        return {(r["channel"], r["status"]): int(r["n"]) for r in rows}

    def oldest_pending(self) -> dict[str, datetime]:
        """Per channel, when the oldest delivery still pending was created."""
        rows = self.read_models.query(
            "SELECT channel, MIN(created_at) AS oldest FROM {outbox} "
            "WHERE status = 'pending' GROUP BY channel"
        )
        return {r["channel"]: moment for r in rows if (moment := parse_moment(r["oldest"]))}

    def inbox(self, customer_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """The customer's panel inbox: the messages delivered to it, newest first."""
        return self.read_models.query(
            "SELECT delivery_id, kind, subject, body, created_at, subscription_id FROM {outbox} "
            f"WHERE channel = 'panel' AND status = 'delivered' AND customer_id = ? ORDER BY created_at DESC LIMIT {int(limit)}",
            (customer_id,),
        )


def _delivery(row: dict[str, Any]) -> Delivery:
    return Delivery(
        delivery_id=row["delivery_id"],
        channel=row["channel"],
        kind=row["kind"],
        subscription_id=row["subscription_id"],
        customer_id=row["customer_id"],
        recipient=row["recipient"],
        subject=row["subject"],
        body=row["body"],
        html=row["html"],
        payload=json.loads(row["payload"]),
        attempts=row["attempts"],
        created_at=row["created_at"],
        sequence=row["sequence"],
    )


class PanelInbox:
    """The panel channel: the message is in the customer's inbox as soon as it is marked
    delivered (the inbox is the delivered panel rows of the outbox), so its rows are marked
    delivered together, with nothing to send."""

    #: Nothing leaves the engine: due rows are marked delivered in one statement.
    instant = True

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
        lease: timedelta = LEASE,
        real_clock: Clock | None = None,
        channel_max_attempts: Mapping[str, int] | None = None,
    ) -> None:
        self.store = store
        self.senders = dict(senders)
        self.clock = clock
        #: Leases are in real time, whatever ``clock`` is (the test clock jumps days).
        self.real_clock = real_clock or SystemClock()
        self.max_attempts = max_attempts
        #: A channel's own limit (webhooks: about three days), else ``max_attempts``.
        self.channel_max_attempts = dict(channel_max_attempts or {"webhook": WEBHOOK_MAX_ATTEMPTS})
        self.lease = lease
        #: This dispatcher's name on the rows it leases.
        self.owner = uuid.uuid4().hex

    def dispatch(self, limit: int = 100, *, channel: str | None = None) -> DispatchReport:
        """Send what is due now (of one channel, or of all), one row at a time, up to
        ``limit`` rows: a site's next request becomes due when its previous one is delivered,
        so this claims again while the last round sent something."""
        report = DispatchReport()
        sender = self.senders.get(channel) if channel else None
        if channel is not None and (sender is None or getattr(sender, "instant", False)):
            # A channel job with nothing to send: its due rows are settled in one statement
            # (skipped: not configured; delivered: the panel inbox).
            status = "skipped" if sender is None else "delivered"
            note = f"the {channel} channel is not configured" if sender is None else None
            settled = self.store.settle_all(channel, self.clock.now(), status=status, note=note)
            setattr(report, status, settled)
            return report
        owner = f"{self.owner}:{uuid.uuid4().hex[:8]}"  # each run's leases are its own
        left = limit
        while left > 0:
            claimed = self.store.claim(
                self.clock.now(),
                left,
                owner=owner,
                real_now=self.real_clock.now(),
                lease=self.lease,
                channel=channel,
            )
            sent = report.delivered + report.skipped
            for delivery in claimed:
                self._send(delivery, report, owner)
            left -= len(claimed)
            if not claimed or report.delivered + report.skipped == sent:
                break
        return report

    def _send(self, delivery: Delivery, report: DispatchReport, owner: str) -> None:
        now = self.clock.now()
        sender = self.senders.get(delivery.channel)
        if sender is None:
            self.store.skipped(delivery, f"the {delivery.channel} channel is not configured")
            report.skipped += 1
            return
        later = self.store.superseded_by(delivery)
        if later is not None:
            self.store.skipped(
                delivery, f"superseded by the later {later['kind']} ({later['delivery_id']})"
            )
            report.skipped += 1
            return
        if not self.store.renew(delivery, self.real_clock.now(), owner, self.lease):
            report.lost_lease += 1  # another dispatcher took it after our lease ran out
            return
        try:
            sender.deliver(delivery)
        except PermanentFailure as error:
            self.store.failed(delivery, str(error))
            report.failed += 1
            report.errors.append(f"{delivery.delivery_id}: {error}")
            log.warning("delivery %s failed for good: %s", delivery.delivery_id, error)
        except Exception as error:  # a temporary failure, or anything else: may work later
            attempts = delivery.attempts + 1
            limit = self.channel_max_attempts.get(delivery.channel, self.max_attempts)
            if delivery.channel != "platform" and attempts >= limit:
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
            self.store.delivered(delivery, self.clock.now())
            report.delivered += 1

    def drain(self, limit: int = 100) -> DispatchReport:
        """Dispatch until nothing due is left (tests, the CLI)."""
        total = DispatchReport()
        while True:
            report = self.dispatch(limit)
            total.add(report)
            if not (report.delivered or report.failed or report.skipped or report.retried):
                return total
