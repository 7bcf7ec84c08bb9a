"""The scheduler: ticks that ask the domain what is due and execute it, and delivery.

A tick (:meth:`Engine.tick`):

1. folds the events recorded since the last tick into the read models, the due-actions index
   and the outbox (:mod:`projections`);
2. reads from the due-actions index the subscriptions due by now, in due order, a page at a
   time, so its cost follows what is due, not how many subscriptions exist;
3. advances each (what is due is decided by the pure lifecycle policy; each subscription in
   its own atomic save), after claiming it so that several schedulers share the work;
4. folds the new events, so the outbox holds what must go out.

Delivery runs apart from the lifecycle (:meth:`Engine.start`): each channel (e-mail, SMS,
the panel, the hosting platform) has its own job, with ``BILLING_DELIVERY_WORKERS`` runs at
most at once, so a slow or hanging channel delays only its own messages and never a tick.
A manual tick (``billing scheduler --once``, ``POST /admin/tick``) also delivers, after the
lifecycle. The site reconciliation job compares the platform's sites with the engine's.

A late tick catches up: missed notices go out first and actions wait their 24-hour lead after
them (the domain decides that; the audit trail keeps both the due and the recorded moment).

Each APScheduler job never overlaps itself beyond its limit (``max_instances``) and missed
runs collapse into one (``coalesce``): a slow tick delays the next, it never piles up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from adapters.clock import Clock
from adapters.collector import young_collections_only
from domain.actor import SCHEDULER
from service_layer.application import BillingApplication, Executed
from service_layer.unit_of_work import STORE_FAILURES

if TYPE_CHECKING:
    from adapters.claims import AdvisoryClaims, NoClaims
    from adapters.outbox import Dispatcher
    from adapters.scans import ScanStore
    from adapters.settings import Settings
    from projections.runner import ReadModels
    from service_layer.payments import OnlinePayments

log = logging.getLogger("billing.scheduler")

JOB_ID = "lifecycle-tick"

#: How many due subscriptions of a page are saved together, in one transaction (see
#: ``advance_subscriptions``): the fixed cost of a save (its round trips, the events table's
#: lock, the commit's flush) is paid once per group instead of once per subscription, and the
#: insert holds the lock for a few milliseconds, which the API's writes can wait.
GROUP = 50


# Errors of the store (service_layer.unit_of_work.STORE_FAILURES) rather than of one
# subscription fail the whole tick (logged once, counted in tick_errors); the next tick starts
# again.


def _quiet_skipped_runs(record: logging.LogRecord) -> bool:
    """A job skips its run while its previous runs still go on (a hanging channel): expected,
    bounded by ``max_instances``, and seen in the metrics; not a warning every two seconds."""
    return "maximum number of running instances reached" not in record.getMessage()


@dataclass
class TickReport:
    at: datetime
    executed: list[Executed] = field(default_factory=list)
    claimed_elsewhere: int = 0
    #: Due subscriptions left to the scheduler whose share they are (not yet overdue enough
    #: to take over).
    left_to_peers: int = 0
    #: Subscriptions whose step raised: the others went on; these stay due for the next tick.
    failed: list[str] = field(default_factory=list)
    delivered: int = 0
    delivery_failures: int = 0
    seconds: float = 0.0


@dataclass
class Metrics:
    ticks: int = 0
    steps: int = 0
    tick_errors: int = 0
    step_errors: int = 0
    delivered: int = 0
    delivery_failures: int = 0
    delivery_errors: int = 0  # a delivery run that failed as a whole (the store, a bug)
    lost_leases: int = 0
    last_tick_seconds: float = 0.0
    last_tick_at: datetime | None = None
    sites_corrected: int = 0
    site_reconciliations: int = 0
    #: Gateway reconciliation rounds that failed, and attempts a round could not settle.
    payment_reconcile_errors: int = 0
    #: Site reconciliation runs that failed (the platform's listing, the store).
    site_reconcile_errors: int = 0


class Engine:
    """The running engine: the application, its read models and outbox, and the tick."""

    def __init__(
        self,
        *,
        app: BillingApplication,
        read_models: ReadModels,
        dispatcher: Dispatcher,
        clock: Clock,
        claims: AdvisoryClaims | NoClaims,
        batch: int = 500,
        interval: float = 60.0,
        payments: OnlinePayments | None = None,
        scans: ScanStore | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.app = app
        self.read_models = read_models
        self.dispatcher = dispatcher
        self.clock = clock
        self.claims = claims
        self.batch = batch
        self.interval = interval
        self.payments = payments
        self.scans = scans
        self.settings = settings
        self.reconcile_interval = getattr(settings, "reconcile_interval", 300.0)
        self.delivery_interval = getattr(settings, "delivery_interval", 2.0)
        self.delivery_workers = getattr(settings, "delivery_workers", 2)
        self.delivery_batch = getattr(settings, "delivery_batch", 20)
        self.site_reconcile_interval = getattr(settings, "platform_reconcile_interval", 600.0)
        index, _, count = getattr(settings, "scheduler_partition", "0/1").partition("/")
        #: (i, M): this scheduler's share of the due subscriptions (see :meth:`_in_share`).
        self.partition = (int(index), int(count))
        self.takeover = timedelta(seconds=getattr(settings, "scheduler_takeover", 300.0))
        self._last_reconcile = 0.0
        self.metrics = Metrics()
        self._scheduler: BaseScheduler | None = None
        self._tick_lock = threading.Lock()

    def tick(self, *, deliver: bool = True) -> TickReport:
        """One tick: the lifecycle, then (unless ``deliver`` is False, as for the scheduled
        job, whose channels deliver on their own) the outbox."""
        with self._tick_lock:  # one tick at a time in this process, whoever calls it
            started = time.perf_counter()
            report = TickReport(self.clock.now())
            try:
                self._reconcile_now_and_then()
                self._advance_due(report)
                if deliver:
                    deliveries = self.dispatcher.dispatch()
                    report.delivered = deliveries.delivered
                    report.delivery_failures = deliveries.failed + deliveries.retried
            except Exception:
                self.metrics.tick_errors += 1
                raise
            report.seconds = time.perf_counter() - started
            self._count(report)
            return report

    def deliver(self, channel: str) -> None:
        """One delivery run of one channel (its own job: it never holds up a tick)."""
        try:
            report = self.dispatcher.dispatch(self.delivery_batch, channel=channel)
        except Exception:
            self.metrics.delivery_errors += 1
            log.exception("delivering %s failed; the next run tries again", channel)
            return
        self.metrics.delivered += report.delivered
        self.metrics.delivery_failures += report.failed + report.retried
        self.metrics.lost_leases += report.lost_lease

    def reconcile_sites(self) -> int:
        """Compare the hosting platform's sites with the engine's and queue what corrects a
        difference (after any request still pending for that site); returns the sites
        corrected. Each correction is logged and counted."""
        from adapters.platform import PLATFORM_STATE, PlatformClient
        from projections.outbox import SEQUENCE_STEP

        platform = self.dispatcher.senders.get("platform")
        if not isinstance(platform, PlatformClient):
            return 0
        self.read_models.catch_up()
        listed = list(platform.sites())
        actual = {site: state for site, state, _ in listed}
        # The plan each site is on, where the platform says (a plan request sets it).
        plans = {site: plan for site, _, plan in listed if plan is not None}
        store = self.dispatcher.store
        pending = store.pending_sites()
        rows = self.read_models.query(
            "SELECT subscription_id, customer_id, site, site_state, plan_id, period, version "
            "FROM {rm_subscriptions}"
        )
        corrected = 0
        for row in rows:
            if row["subscription_id"] in pending:
                continue  # its requests are on their way, in order
            expected = PLATFORM_STATE[row["site_state"]]
            found = actual.get(row["site"])
            on = plans.get(row["site"])
            wrong_plan = expected != "removed" and on is not None and on != row["plan_id"]
            if found == expected and not wrong_plan:
                continue
            if found is None and expected == "removed":
                continue
            if found == expected:
                actions = ["plan"]
            elif found in (None, "removed"):
                actions = ["create"] + (["suspend"] if expected == "suspended" else [])
            else:
                actions = [{"active": "restore", "suspended": "suspend"}.get(expected, "remove")]
                actions += ["plan"] if wrong_plan else []
            store.enqueue_platform(
                subscription_id=row["subscription_id"],
                customer_id=row["customer_id"],
                site=row["site"],
                actions=actions,
                after_sequence=row["version"] * SEQUENCE_STEP,
                now=self.clock.now(),
                because="SiteReconciliation",
                plan=(row["plan_id"], row["period"]),
            )
            corrected += 1
            if actions == ["plan"]:
                log.warning(
                    "site %s is on plan %s on the hosting platform but on %s in the engine: "
                    "queued plan",
                    row["site"],
                    on,
                    row["plan_id"],
                )
                continue
            log.warning(
                "site %s is %s on the hosting platform but %s in the engine: queued %s",
                row["site"],
                found or "unknown",
                expected,
                ", ".join(actions),
            )
        self.metrics.site_reconciliations += 1
        self.metrics.sites_corrected += corrected
        return corrected

    def _reconcile_sites_job(self) -> None:
        try:
            self.reconcile_sites()
        except Exception:  # the platform may be down: the next run tries again
            self.metrics.site_reconcile_errors += 1
            log.exception("site reconciliation failed")

    def _advance_due(self, report: TickReport) -> None:
        # The tick folds what it wrote after each page (below), not after each subscription's
        # save as other writers do (docs/ARCHITECTURE.md, "Reads never wait"); a tick that
        # failed half-way leaves its saves to the next tick's first catch-up (and the API's
        # followers).
        with self.app.folds_deferred(fold=False):
            self._advance_pages(report)
        if report.executed:
            self.read_models.catch_up()  # the due index and the outbox learn what just happened

    def _advance_pages(self, report: TickReport) -> None:
        # The cyclic collector's full walks of the heap were a fifth of a renewal day's busy
        # tick: the tick makes no garbage cycles, so it runs with the young generations
        # collected after each page only (adapters/collector.py).
        with young_collections_only() as collect_young:
            self._advance_page_by_page(report, collect_young)

    def _advance_page_by_page(self, report: TickReport, collect_young: Callable[[], int]) -> None:
        self.read_models.catch_up()
        after = None
        while True:
            page = self.read_models.due_subscriptions(report.at, self.batch, after)
            ours = [s for d, s in page if self._in_share(s, d, report.at)]
            report.left_to_peers += len(page) - len(ours)
            with self.claims.claim_all(ours) as claimed:
                mine = [s for s in ours if s in claimed]
                report.claimed_elsewhere += len(ours) - len(mine)
                self._prefetch(mine)
                for start in range(0, len(mine), GROUP):
                    self._advance_group(mine[start : start + GROUP], report)
            if len(page) < self.batch:
                break
            # Fold the page before the next one, while the states its saves handed over are
            # still among the fold's hints (AggregateStates.HINTS): folded only at the end of
            # a renewal day of 100,000, all but the last few thousand would be loaded again.
            self.read_models.catch_up()
            collect_young()
            after = page[-1]

    def _advance_group(self, subscription_ids: list[str], report: TickReport) -> None:
        """Advance a group of claimed subscriptions with one save; any the group left out
        (see ``advance_subscriptions``) goes alone, with its retries and its errors."""
        try:
            advanced = self.app.acting(SCHEDULER).advance_subscriptions(
                [UUID(s) for s in subscription_ids], report.at
            )
        except STORE_FAILURES:
            raise
        except Exception:
            log.exception("a grouped advance failed; each subscription of it goes alone")
            advanced = {}
        for subscription_id in subscription_ids:
            done = advanced.get(UUID(subscription_id))
            if done is None:
                self._advance_claimed(subscription_id, report)
            else:
                self._report_done(subscription_id, done, report)

    def _advance_claimed(self, subscription_id: str, report: TickReport) -> None:
        try:
            done = self.app.acting(SCHEDULER).advance_subscription(UUID(subscription_id), report.at)
        except STORE_FAILURES:
            raise  # the store itself is failing: every other subscription would too
        except Exception:
            # One subscription that cannot be advanced (an event that no longer decodes, a
            # fault of ours) must not stop everyone due after it. Nothing of it was saved, so
            # it stays due and the next tick tries it again.
            report.failed.append(subscription_id)
            log.exception(
                "advancing subscription %s failed; the other due subscriptions go on and it is "
                "tried again next tick",
                subscription_id,
            )
            return
        self._report_done(subscription_id, done, report)

    def _report_done(self, subscription_id: str, done: list[Executed], report: TickReport) -> None:
        if not done:
            log.info("due index was stale for %s; recomputed", subscription_id)
            self.read_models.repair_due(subscription_id)
        report.executed += done
        for step in done:
            log.info(
                "%s for %s (due %s, recorded %s)",
                step.step.describe(),
                step.subscription_id,
                step.step.due_at.isoformat(),
                step.recorded_at.isoformat(),
            )

    def _prefetch(self, subscription_ids: list[str]) -> None:
        """Warm the aggregate cache with the page's lifecycles (two queries, not three per
        subscription). Only a saving: if it fails for anything but the store, each
        subscription loads its own, and one that cannot be loaded fails alone (below)."""
        try:
            self.app.prefetch_lifecycles(UUID(s) for s in subscription_ids)
        except STORE_FAILURES:
            raise
        except Exception:
            log.exception("prefetching a due page failed; each subscription loads its own")

    def _in_share(self, subscription_id: str, due_at: str, now: datetime) -> bool:
        """Whether this scheduler advances a due subscription now: one in its share (the id
        modulo the number of schedulers), or one due so long (``takeover``) that the scheduler
        whose share it is seems down. Several schedulers thus walk disjoint parts of the due
        pages instead of racing for the same subscriptions in the same order; the claims still
        guard each subscription when shares overlap (a takeover, a change of M)."""
        from projections.model import moment

        index, count = self.partition
        if count == 1 or UUID(subscription_id).int % count == index:
            return True
        return due_at <= (moment(now - self.takeover) or "")

    def _reconcile_now_and_then(self) -> None:
        """Every ``reconcile_interval`` seconds of real time, settle unconfirmed gateway payments."""
        if (
            self.payments is None
            or time.monotonic() - self._last_reconcile < self.reconcile_interval
        ):
            return
        self._last_reconcile = time.monotonic()
        try:
            found = self.payments.reconcile()
        except STORE_FAILURES:
            raise  # the store is down: the tick fails and is counted (tick_errors)
        except Exception:  # the gateway's listing failed: the next round tries again
            self.metrics.payment_reconcile_errors += 1
            log.exception("reconciliation failed")
            return
        self.metrics.payment_reconcile_errors += found.errors
        if found.checked:
            log.info(
                "reconciled %d gateway payment(s): %d recorded, %d failed, %d not settled",
                found.checked,
                found.recorded,
                found.failed,
                found.errors,
            )

    def _count(self, report: TickReport) -> None:
        m = self.metrics
        m.ticks += 1
        m.steps += len(report.executed)
        m.step_errors += len(report.failed)
        m.delivered += report.delivered
        m.delivery_failures += report.delivery_failures
        m.last_tick_seconds = report.seconds
        m.last_tick_at = report.at

    # --- running by itself ----------------------------------------------------------------------

    def _job(self) -> None:
        try:
            self.tick(deliver=False)
        except Exception:  # the next tick tries again; the error must not kill the scheduler
            log.exception("tick failed")

    def start(self, *, blocking: bool = False) -> BaseScheduler:
        """Tick every ``interval`` seconds, the first tick at once; deliver each channel every
        ``delivery_interval`` seconds in jobs of its own; reconcile the platform's sites."""
        from apscheduler.executors.pool import ThreadPoolExecutor

        from projections.outbox import CHANNELS

        kind = BlockingScheduler if blocking else BackgroundScheduler
        logging.getLogger("apscheduler.scheduler").addFilter(_quiet_skipped_runs)
        workers = 2 + len(CHANNELS) * self.delivery_workers
        self._scheduler = kind(
            timezone=UTC, executors={"default": ThreadPoolExecutor(max_workers=workers)}
        )
        every = {"coalesce": True, "misfire_grace_time": None, "next_run_time": datetime.now(UTC)}
        self._scheduler.add_job(
            self._job, "interval", seconds=self.interval, id=JOB_ID, max_instances=1, **every
        )
        for channel in CHANNELS:
            self._scheduler.add_job(
                self.deliver,
                "interval",
                args=[channel],
                seconds=self.delivery_interval,
                id=f"deliver-{channel}",
                max_instances=self.delivery_workers,
                **every,
            )
        if "platform" in self.dispatcher.senders:
            self._scheduler.add_job(
                self._reconcile_sites_job,
                "interval",
                seconds=self.site_reconcile_interval,
                id="reconcile-sites",
                max_instances=1,
                **every,
            )
        self._scheduler.start()
        return self._scheduler

    def stop(self) -> None:
        """Stop ticking; a tick under way finishes first."""
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        self._scheduler = None

    # --- what an operator watches ----------------------------------------------------------------

    def metrics_text(self) -> str:
        """The Prometheus text of this process's engine: ticks and steps, delivery by channel
        and status and the age of the oldest pending delivery, read-model positions."""
        from projections.store import UnstorableText

        m, store = self.metrics, self.dispatcher.store
        now = self.clock.now()
        counts = sorted(store.counts().items())
        oldest = sorted(store.oldest_pending().items())
        single = [
            ("billing_events_total", "counter", "Events stored.",
             self.app.recorder.max_notification_id() or 0),
            ("billing_scheduler_ticks_total", "counter", "Scheduler ticks run by this process.",
             m.ticks),
            ("billing_scheduler_steps_total", "counter",
             "Lifecycle steps executed by this process.", m.steps),
            ("billing_scheduler_tick_errors_total", "counter", "Ticks that failed.",
             m.tick_errors),
            ("billing_scheduler_step_errors_total", "counter",
             "Due subscriptions a tick could not advance (the tick went on with the others).",
             m.step_errors),
            ("billing_scheduler_last_tick_seconds", "gauge", "Duration of the last tick.",
             round(m.last_tick_seconds, 6)),
            ("billing_delivery_run_errors_total", "counter",
             "Delivery runs that failed as a whole (the next run tries again).",
             m.delivery_errors),
            ("billing_delivery_lost_leases_total", "counter",
             "Deliveries not sent because another dispatcher took them after a lease ran out.",
             m.lost_leases),
            ("billing_outbox_failed_deliveries", "gauge",
             "Deliveries that gave up or are being retried.",
             len(store.failed_deliveries(limit=10_000))),
            ("billing_platform_sites_corrected_total", "counter",
             "Sites the reconciliation found in another state on the hosting platform.",
             m.sites_corrected),
            ("billing_platform_reconcile_errors_total", "counter",
             "Site reconciliation runs that failed (the next run tries again).",
             m.site_reconcile_errors),
            ("billing_gateway_reconcile_errors_total", "counter",
             "Gateway reconciliation rounds that failed, and payments a round could not settle.",
             m.payment_reconcile_errors),
            ("billing_read_model_unstorable_text_total", "counter",
             "Values of stored events a read model could not hold as recorded (NUL, half a "
             "surrogate pair), stored with U+FFFD.", UnstorableText.count),
        ]  # fmt: skip
        labelled: list[tuple[str, str, str, list[tuple[str, Any]]]] = [
            ("billing_outbox_deliveries", "gauge", "Outbox deliveries by channel and status.",
             [(f'channel="{c}",status="{st}"', n) for (c, st), n in counts]),
            ("billing_outbox_oldest_pending_seconds", "gauge",
             "Age of the oldest delivery still pending, by channel.",
             [(f'channel="{c}"', round((now - at).total_seconds(), 3)) for c, at in oldest]),
            ("billing_read_model_position", "gauge", "Last event folded into each read model.",
             [(f'read_model="{n}"', p) for n, p in self.read_models.positions().items()]),
            *rebuild_metrics(self.read_models.rebuild_progress()),
        ]  # fmt: skip
        out: list[str] = []
        for name, kind, text, value in single:
            out += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", f"{name} {value!r}"]
        for name, kind, text, samples in labelled:
            out += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
            out += [f"{name}{{{labels}}} {value!r}" for labels, value in samples]
        return "\n".join(out) + "\n"

    def serve_metrics(self, host: str, port: int) -> Any:
        """``GET /metrics`` on ``host:port`` for a scheduler run apart from the API."""
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        engine = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                try:
                    body = engine.metrics_text().encode()
                    status = 200
                except Exception as error:  # the store may be down: say so, stay up
                    body, status = f"# the store cannot be read: {error}\n".encode(), 503
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer((host, port), Handler)
        threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
        return server

    def close(self) -> None:
        self.stop()
        self.claims.close()
        self.read_models.stop()
        self.app.close()

    @property
    def running(self) -> bool:
        return self._scheduler is not None and self._scheduler.running


def rebuild_metrics(rows: list[dict[str, Any]]) -> list[tuple[str, str, str, list]]:
    """Each read model's last rebuild (table read_model_rebuild, written by whichever process
    rebuilds): how far its fold is, where it is heading, and whether it is still running."""

    def labelled(row: dict[str, Any]) -> str:
        return f'read_model="{row["read_model"]}"'

    return [
        ("billing_read_model_rebuild_position", "gauge",
         "Last event folded by the read model's last rebuild.",
         [(labelled(r), r["position"]) for r in rows]),
        ("billing_read_model_rebuild_target", "gauge",
         "The head of the log that rebuild is heading for.",
         [(labelled(r), r["target"]) for r in rows]),
        ("billing_read_model_rebuild_running", "gauge",
         "1 while the read model's rebuild runs (not yet swapped in), else 0.",
         [(labelled(r), int(r["finished"] is None)) for r in rows]),
    ]  # fmt: skip
