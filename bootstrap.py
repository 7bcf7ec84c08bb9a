"""The composition root: the one place that builds the engine from settings.

:func:`build_runtime` gives a :class:`Runtime`: the application, its clock, read models,
outbox and dispatcher, token and idempotency stores, documents, gateway, senders and the
scheduler, each built here and nowhere else. The HTTP API (``app.create_app``), the CLI
(``cli/``) and the scheduler receive a runtime; none of them constructs an adapter.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from adapters.persistence import (
    ConfigurationError,
    Database,
    build_with_tables,
    parse_database_url,
    tables_created_once,
)
from adapters.settings import Settings
from domain.actor import UNKNOWN, Actor
from domain.four_eyes import FourEyes
from domain.vat import VatSchedule
from service_layer.application import BillingApplication

if TYPE_CHECKING:
    from adapters.claims import AdvisoryClaims, NoClaims
    from adapters.clock import Clock
    from adapters.credentials import StaffAccess
    from adapters.documents.pdf import InvoiceDocuments
    from adapters.gateway import ZarinpalGateway
    from adapters.idempotency import IdempotencyStore
    from adapters.links import InvoiceLinks, ReturnUrls
    from adapters.outbox import Dispatcher, OutboxStore
    from adapters.sandbox_gateway import SandboxGateway
    from adapters.scans import ScanStore
    from adapters.tokens import TokenStore
    from adapters.webhooks import WebhookEndpoints
    from projections.runner import ReadModels
    from scheduler import Engine, Metrics, TickReport
    from service_layer.payments import OnlinePayments


#: Settings that were replaced: setting one stops the engine naming what to set instead (an
#: unknown BILLING_ variable is otherwise ignored, and a replaced one would be lost silently).
REPLACED_SETTINGS = {
    "BILLING_PAYMENT_LINK": "BILLING_PUBLIC_URL (the engine's own address; notices link to "
    "{BILLING_PUBLIC_URL}/pay/<invoice id>?t=<signature>, docs/PAYMENTS.md)",
}


def settings_with(settings: Settings | None = None, **overrides: Any) -> Settings:
    if settings is None:
        for old, new in REPLACED_SETTINGS.items():
            if old in os.environ:
                raise ConfigurationError(f"{old} is no longer read; set {new} instead.")
        try:
            settings = Settings()
        except ValidationError as error:
            problems = "; ".join(_setting_problem(e) for e in error.errors())
            raise ConfigurationError(f"A setting is not valid: {problems}") from None
    unknown = sorted(set(overrides) - set(Settings.model_fields))
    if unknown:  # a misspelt or replaced setting would otherwise be dropped without a word
        raise TypeError(f"No such setting: {', '.join(unknown)} (adapters/settings.py)")
    return settings.model_copy(update=overrides) if overrides else settings


def _setting_problem(error: Any) -> str:
    name = "BILLING_" + "_".join(map(str, error["loc"])).upper()
    message = error["msg"].removeprefix("Value error, ")
    return message if name in message else f"{name}: {message}"


def database_of(settings: Settings) -> Database:
    return parse_database_url(
        settings.database_url,
        lock_timeout=settings.postgres_lock_timeout,
        pool_size=settings.postgres_pool_size,
        connect_timeout=settings.postgres_connect_timeout,
        pool_timeout=settings.postgres_pool_timeout,
    )


def build_application(settings: Settings | None = None, **overrides: Any) -> BillingApplication:
    """Build the billing application; ``overrides`` replace settings (e.g. database_url=...)."""
    settings = settings_with(settings, **overrides)
    database = database_of(settings)
    vat = VatSchedule.parse(settings.vat_schedule)
    seller = build_seller(settings)
    # The test clock is the one authority on time in test mode: a request that raced a clock
    # advance is run at the advance's moment, however far that is.
    skew = None if settings.test_mode else timedelta(seconds=settings.clock_skew_tolerance)
    four_eyes = FourEyes(settings.four_eyes, settings.four_eyes_void_above)
    return build_with_tables(
        database,
        lambda env: BillingApplication(
            env, vat=vat, seller=seller, skew_tolerance=skew, four_eyes=four_eyes
        ),
    )


def build_seller(settings: Settings):
    """The portal's company for official invoices, or None when ``seller_name`` is not set."""
    from domain.errors import InvalidProfile
    from domain.official import Party, Seller

    if not settings.seller_name:
        return None
    try:
        return Seller(
            Party(
                name=settings.seller_name,
                economic_code=settings.seller_economic_code,
                national_id=settings.seller_national_id,
                registration_number=settings.seller_registration_number,
                postal_code=settings.seller_postal_code,
                address=settings.seller_address,
                phone=settings.seller_phone,
            ),
            memory_id=settings.tax_memory_id,
        )
    except InvalidProfile as error:
        raise ConfigurationError(f"Official invoices: {error}") from None


def build_renderer(settings: Settings, links: Any = None):
    from adapters.notify.render import NoticeRenderer

    return NoticeRenderer(
        portal_name=settings.portal_name, support_email=settings.support_email, links=links
    )


def build_links(settings: Settings, read_models: Any = None) -> InvoiceLinks:
    """The invoice page's link signer: ``BILLING_LINK_SECRET``, else the key kept in the store
    of ``read_models`` (generated there on first use, so every process of a store agrees)."""
    from adapters.links import InvoiceLinks

    configured = _secret(settings.link_secret)
    links = InvoiceLinks(settings.public_url, configured.encode() if configured else None)
    if read_models is not None:
        links.bind(read_models)
    return links


def build_read_models(app: BillingApplication, settings: Settings | None = None, **overrides: Any):
    """The read models of ``app`` and its outbox, in the same database (tables created once).
    The outbox signs each notice's invoice-page link with the store's key (``build_links``)."""
    from adapters.webhooks import WebhookEndpoints
    from projections.outbox import OutboxView
    from projections.runner import ReadModels
    from service_layer.integration_events import Source

    settings = settings_with(settings, **overrides)
    database = database_of(settings)
    outbox = OutboxView(build_renderer(settings, build_links(settings)))
    with tables_created_once(database):  # the webhooks' and the link key's tables too
        read_models = build_with_tables(
            database, lambda env: ReadModels(app, env=env, extra=(outbox,))
        )
        # The webhook endpoints live beside the outbox; the outbox reads them as it folds events.
        outbox.endpoints = WebhookEndpoints(read_models, app, settings.webhook_allowed_hosts)
    outbox.source = Source(app)
    return read_models


def build_senders(settings: Settings) -> dict[str, Any]:
    """The channels that are configured: e-mail, SMS, the panel inbox, the hosting platform.
    Each waits ``delivery_timeout`` for an answer; a lease must outlast three of those."""
    if settings.delivery_lease < 3 * settings.delivery_timeout:
        raise ConfigurationError(
            f"BILLING_DELIVERY_LEASE ({settings.delivery_lease:g} s) must be at least three "
            f"times BILLING_DELIVERY_TIMEOUT ({settings.delivery_timeout:g} s): a delivery's "
            "lease must outlast its send, or a second scheduler sends it again."
        )
    from adapters.notify.channels import KavenegarSmsSender, SmtpEmailSender
    from adapters.outbox import PanelInbox
    from adapters.platform import PlatformClient

    senders: dict[str, Any] = {"panel": PanelInbox()}
    if settings.smtp_host:
        senders["email"] = SmtpEmailSender(
            settings.smtp_host,
            settings.smtp_port,
            sender=settings.mail_from,
            username=settings.smtp_username,
            password=_secret(settings.smtp_password),
            starttls=settings.smtp_starttls,
            ca_file=settings.smtp_ca_file,
            timeout=settings.delivery_timeout,
        )
    if settings.sms_base_url and settings.sms_api_key:
        senders["sms"] = KavenegarSmsSender(
            settings.sms_base_url,
            _secret(settings.sms_api_key) or "",
            settings.sms_sender,
            timeout=settings.delivery_timeout,
        )
    if settings.platform_url and settings.platform_secret:
        senders["platform"] = PlatformClient(
            settings.platform_url,
            _secret(settings.platform_secret) or "",
            timeout=settings.delivery_timeout,
        )
    return senders


def redact_secrets(settings: Settings) -> None:
    """Keep every configured secret out of every log line this process writes."""
    from adapters.logs import redact

    redact(
        _secret(value)
        for value in (
            settings.smtp_password,
            settings.sms_api_key,
            settings.platform_secret,
            settings.link_secret,
            urlsplit(settings.database_url).password,
        )
    )


def _secret(value: Any) -> str | None:
    """A secret setting's text, taken out of its SecretStr only where it is used."""
    return value.get_secret_value() if hasattr(value, "get_secret_value") else value


def build_gateway(settings: Settings):
    from adapters.gateway import ZarinpalGateway

    return ZarinpalGateway(
        settings.gateway_url,
        settings.gateway_merchant_id,
        settings.gateway_callback_url,
        timeout=settings.gateway_timeout,
        minimum=settings.gateway_minimum,
    )


def build_sandbox_gateway(merchant_id: str, port: int) -> SandboxGateway:
    """The sandbox payment gateway (Zarinpal's v4 protocol on loopback), not yet serving."""
    from adapters.sandbox_gateway import SandboxGateway

    return SandboxGateway(merchant_id, port=port)


@dataclass(eq=False)
class Runtime:
    """Everything one process of the engine runs on, built from ``settings`` by this module.

    Each part is built the first time it is asked for, after the parts it needs, so a CLI
    command that only reads events opens no read models (and an outbox first opened on a store
    with history still starts at its end). :func:`build_runtime` builds every part at once, as
    a long-running process (the API, the scheduler) needs: no part is then built by two
    threads. ``clock`` replaces the clock the settings choose (a simulated one in tests).
    """

    settings: Settings
    given_clock: Clock | None = None
    #: Who this process's commands act for when no caller says (the console's operator for
    #: the CLI); an API request and the scheduler always say (docs/AUDIT.md, "Actors").
    actor: Actor = UNKNOWN

    @cached_property
    def app(self) -> BillingApplication:
        app = build_application(self.settings)
        app.default_actor = self.actor
        # The staff commands write the credentials table, built when one first runs.
        app.staff_credentials = lambda: self.credentials
        # A write folds its own events before its caller is answered (the read models are
        # built for it on a first write): every process then reads it, and no read waits for
        # a fold (docs/ARCHITECTURE.md, "Reads never wait").
        app.written_listeners = (self._fold_written,)
        return app

    def _fold_written(self, notification_id: int) -> None:
        try:
            read_models = self.read_models
        except Exception:  # the write stands; the read side's problem is logged, not raised
            logging.getLogger(__name__).exception(
                "read models could not be opened to fold the events written through #%d",
                notification_id,
            )
            return
        read_models.fold_written(notification_id)

    def act_as(self, actor: Actor) -> None:
        """From now on this runtime's commands act for ``actor`` (the CLI's ``--as``)."""
        self.actor = actor
        if self.built("app"):
            self.app.default_actor = actor

    @cached_property
    def read_models(self) -> ReadModels:
        """The read models and the outbox view, in the application's database."""
        return build_read_models(self.app, self.settings)

    @cached_property
    def clock(self) -> Clock:
        """The given clock; else in test mode the clock kept in the store (shared by every
        process of the engine), else the system's."""
        from adapters.clock import StoredClock, SystemClock

        if self.given_clock is not None:
            return self.given_clock
        if self.settings.test_mode:
            return StoredClock(self.read_models, start=self.settings.test_clock_start)
        return SystemClock()

    @property
    def test_mode(self) -> bool:
        """Whether time is simulated: test mode, or a simulated clock given to this runtime."""
        from adapters.clock import SimulatedClock, StoredClock

        return self.settings.test_mode or isinstance(self.clock, StoredClock | SimulatedClock)

    def now(self) -> datetime:
        return self.clock.now()

    @cached_property
    def webhooks(self) -> WebhookEndpoints:
        """The webhook endpoints (in the read models' datastore, read by the outbox's fold)."""
        from projections.outbox import OutboxView

        view = next(m for m in self.read_models.models if isinstance(m, OutboxView))
        assert view.endpoints is not None
        return view.endpoints

    @cached_property
    def senders(self) -> dict[str, Any]:
        from adapters.webhooks import WebhookSender

        senders = build_senders(self.settings)
        senders["webhook"] = WebhookSender(
            self.webhooks, timeout=self.settings.delivery_timeout, clock=self.clock
        )
        return senders

    @cached_property
    def outbox(self) -> OutboxStore:
        from adapters.outbox import OutboxStore

        return OutboxStore(self.read_models)

    @cached_property
    def dispatcher(self) -> Dispatcher:
        from adapters.outbox import Dispatcher

        return Dispatcher(
            self.outbox,
            self.senders,
            self.clock,
            max_attempts=self.settings.notice_max_attempts,
            lease=timedelta(seconds=self.settings.delivery_lease),
            channel_max_attempts={"webhook": self.settings.webhook_max_attempts},
        )

    @cached_property
    def gateway(self) -> ZarinpalGateway:
        return build_gateway(self.settings)

    @cached_property
    def payments(self) -> OnlinePayments:
        from service_layer.payments import OnlinePayments

        return OnlinePayments(
            self.app,
            self.gateway,
            self.clock,
            self.read_models,
            reuse_for=timedelta(minutes=self.settings.gateway_attempt_reuse_minutes),
        )

    @cached_property
    def links(self) -> InvoiceLinks:
        """The invoice page's signed links (the key the notices are signed with)."""
        return build_links(self.settings, self.read_models)

    @cached_property
    def return_urls(self) -> ReturnUrls:
        from adapters.links import ReturnUrls

        return ReturnUrls(self.read_models)

    @cached_property
    def scans(self) -> ScanStore:
        from adapters.scans import ScanStore

        return ScanStore(self.read_models, self.settings.receipt_scan_max_bytes)

    @cached_property
    def tokens(self) -> TokenStore:
        from adapters.tokens import TokenStore

        return TokenStore(self.read_models)

    @cached_property
    def credentials(self) -> StaffAccess:
        """The staff's credentials (``staff_access``), beside the tokens: what a staff token's
        request and a password sign-in read."""
        from adapters.credentials import StaffAccess

        return StaffAccess(self.read_models)

    @cached_property
    def idempotency(self) -> IdempotencyStore:
        from adapters.idempotency import IdempotencyStore

        return IdempotencyStore(self.read_models)

    @cached_property
    def documents(self) -> InvoiceDocuments:
        from adapters.documents.pdf import InvoiceDocuments

        return InvoiceDocuments()

    @cached_property
    def claims(self) -> NoClaims | AdvisoryClaims:
        from adapters.claims import claims_for

        return claims_for(database_of(self.settings))

    @cached_property
    def scheduler(self) -> Engine:
        """The ticks, the channel jobs and the site reconciliation (``scheduler.Engine``)."""
        from scheduler import Engine

        return Engine(
            payments=self.payments,
            settings=self.settings,
            app=self.app,
            read_models=self.read_models,
            dispatcher=self.dispatcher,
            clock=self.clock,
            claims=self.claims,
            batch=self.settings.tick_batch,
            interval=self.settings.tick_interval,
        )

    def build_all(self, *extra: str) -> Runtime:
        """Build what a running engine needs now, in the order of their dependencies, and the
        ``extra`` parts named (the API adds its token and idempotency stores and documents).
        Idempotent: a part is built once. The parts that create tables do so under the
        store's table lock (adapters/persistence.py): processes starting together on a new
        database take turns instead of racing on CREATE TABLE."""
        with tables_created_once(database_of(self.settings)):
            for part in (
                "app", "read_models", "clock", "dispatcher", "payments", "scans", "claims",
                "scheduler", *extra,
            ):  # fmt: skip
                getattr(self, part)
        return self

    def built(self, part: str) -> bool:
        return part in self.__dict__

    def close(self) -> None:
        """Stop the scheduler and close what was built (pools, the read models' thread)."""
        if self.built("scheduler"):
            self.scheduler.close()  # stops, then closes the claims, read models, application
            return
        if self.built("claims"):
            self.claims.close()
        if self.built("read_models"):
            self.read_models.stop()
        if self.built("app"):
            self.app.close()

    # --- the scheduler's controls, for the process that runs it ------------------------------

    def tick(self, *, deliver: bool = True) -> TickReport:
        return self.scheduler.tick(deliver=deliver)

    def start(self, *, blocking: bool = False) -> Any:
        return self.scheduler.start(blocking=blocking)

    def stop(self) -> None:
        if self.built("scheduler"):
            self.scheduler.stop()

    def reconcile_sites(self) -> int:
        return self.scheduler.reconcile_sites()

    def metrics_text(self) -> str:
        return self.scheduler.metrics_text()

    def serve_metrics(self, host: str, port: int) -> Any:
        return self.scheduler.serve_metrics(host, port)

    @property
    def metrics(self) -> Metrics:
        return self.scheduler.metrics

    @property
    def running(self) -> bool:
        return self.built("scheduler") and self.scheduler.running

    @property
    def interval(self) -> float:
        return self.scheduler.interval

    @property
    def batch(self) -> int:
        return self.scheduler.batch


def open_runtime(
    settings: Settings | None = None,
    *,
    clock: Any = None,
    simulated_from: datetime | None = None,
    actor: Actor = UNKNOWN,
    **overrides: Any,
) -> Runtime:
    """A runtime whose parts are built as they are first used (the CLI's commands).

    ``clock`` replaces the clock the settings choose; ``simulated_from`` starts a simulated
    clock there (``billing demo``)."""
    from adapters.clock import SimulatedClock

    settings = settings_with(settings, **overrides)
    redact_secrets(settings)
    if simulated_from is not None:
        clock = SimulatedClock(simulated_from)
    return Runtime(settings, clock, actor)


def build_runtime(
    settings: Settings | None = None, *, clock: Any = None, **overrides: Any
) -> Runtime:
    """Everything a running engine needs, built now: application, read models, outbox,
    stores, gateway, senders and the scheduler (``overrides`` replace settings)."""
    return open_runtime(settings, clock=clock, **overrides).build_all()


#: The name the tests and benchmarks use: a fully built runtime.
build_engine = build_runtime
