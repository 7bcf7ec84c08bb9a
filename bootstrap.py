"""The composition root: the one place that builds the engine from settings.

The CLI, the HTTP API and the scheduler all call these functions; nothing else constructs
adapters.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from adapters.persistence import (
    ConfigurationError,
    Database,
    build_with_tables,
    parse_database_url,
)
from adapters.settings import Settings
from domain.vat import VatSchedule
from service_layer.application import BillingApplication


def settings_with(settings: Settings | None = None, **overrides: Any) -> Settings:
    if settings is None:
        try:
            settings = Settings()
        except ValidationError as error:
            problems = "; ".join(_setting_problem(e) for e in error.errors())
            raise ConfigurationError(f"A setting is not valid: {problems}") from None
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
    return build_with_tables(
        database,
        lambda env: BillingApplication(env, vat=vat, seller=seller, skew_tolerance=skew),
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


def build_renderer(settings: Settings):
    from adapters.notify.render import NoticeRenderer

    return NoticeRenderer(
        portal_name=settings.portal_name,
        payment_link=settings.payment_link,
        support_email=settings.support_email,
    )


def build_read_models(app: BillingApplication, settings: Settings | None = None, **overrides: Any):
    """The read models of ``app`` and its outbox, in the same database (tables created once)."""
    from projections.outbox import OutboxView
    from projections.runner import ReadModels

    settings = settings_with(settings, **overrides)
    outbox = OutboxView(build_renderer(settings))
    return build_with_tables(
        database_of(settings), lambda env: ReadModels(app, env=env, extra=(outbox,))
    )


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


def build_engine(settings: Settings | None = None, *, clock: Any = None, **overrides: Any):
    """Everything a running engine needs: application, read models, outbox, scheduler service."""
    from adapters.claims import claims_for
    from adapters.clock import StoredClock, SystemClock
    from adapters.outbox import Dispatcher, OutboxStore
    from scheduler import Engine

    settings = settings_with(settings, **overrides)
    app = build_application(settings)
    read_models = build_read_models(app, settings)
    if clock is None:
        clock = (
            StoredClock(read_models, start=settings.test_clock_start)
            if settings.test_mode
            else SystemClock()
        )
    dispatcher = Dispatcher(
        OutboxStore(read_models),
        build_senders(settings),
        clock,
        max_attempts=settings.notice_max_attempts,
        lease=timedelta(seconds=settings.delivery_lease),
    )
    redact_secrets(settings)
    from adapters.scans import ScanStore
    from service_layer.payments import OnlinePayments

    return Engine(
        payments=OnlinePayments(app, build_gateway(settings), clock, read_models),
        scans=ScanStore(read_models, settings.receipt_scan_max_bytes),
        settings=settings,
        app=app,
        read_models=read_models,
        dispatcher=dispatcher,
        clock=clock,
        claims=claims_for(database_of(settings)),
        batch=settings.tick_batch,
        interval=settings.tick_interval,
    )
