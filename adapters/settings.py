"""Settings from the environment (prefix BILLING_), read once by the composition root.

Secrets (SMTP password, SMS API key, platform secret) have no defaults and are ``SecretStr``:
they never appear in a repr, a log line or an error message. A channel whose settings are
missing is simply not configured, and its deliveries are marked skipped. Every text setting a
person types (the seller's name and address, the portal's name) passes the same input policy
as the API's input (domain/text.py).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain import text
from domain.errors import InvalidInput
from domain.vat import IRAN_VAT, VatSchedule

DEFAULT_DATABASE_URL = "sqlite:///var/billing.sqlite"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BILLING_", extra="ignore")

    #: sqlite:///relative/path.sqlite, sqlite:////absolute/path.sqlite, memory:, or
    #: postgresql://user:password@host:port/dbname[?schema=name]
    database_url: str = DEFAULT_DATABASE_URL
    #: Jalali date = VAT percent, comma separated, e.g. "1396/01/01=9,1403/01/01=10".
    vat_schedule: str = str(IRAN_VAT)
    #: PostgreSQL: how long a statement may wait for a lock before failing (seconds).
    postgres_lock_timeout: int = 5
    postgres_pool_size: int = 5

    #: PostgreSQL: seconds to wait for a new connection, and for a free one from the pool,
    #: before the API answers 503 store_unavailable (docs/OPERATIONS.md).
    postgres_connect_timeout: int = 3
    postgres_pool_timeout: float = 5.0

    # --- the scheduler ---
    #: Seconds between scheduler ticks.
    tick_interval: float = 60.0
    #: Subscriptions advanced per query page within one tick.
    tick_batch: int = 500
    #: ``i/M``: this is scheduler i of M sharing one store; each advances first the
    #: subscriptions whose id falls in its share (the id modulo M), so that several schedulers
    #: do not walk the same due pages in the same order and collide (docs/SCHEDULER.md,
    #: "Several schedulers"). ``0/1``: one scheduler does everything.
    scheduler_partition: str = "0/1"
    #: Seconds a subscription of another scheduler's share may stay due before this one takes
    #: it over (that scheduler may be down).
    scheduler_takeover: float = 300.0
    #: How far behind an aggregate's last change a command's moment may be (another machine's
    #: clock, a request racing another) and still be recorded at that change; beyond it the
    #: command is refused (409 time_went_backwards, which a retry may pass). Test mode: no limit.
    clock_skew_tolerance: float = 120.0

    # --- four eyes (docs/SECURITY.md) ---
    #: A receipt is not confirmed by the person who approved its offline request, and a void
    #: above ``four_eyes_void_above`` rials takes two people.
    four_eyes: bool = False
    #: Rials: voids of invoices whose total is above this need a second person (0: every void).
    four_eyes_void_above: int = 0

    # --- delivery (the outbox) ---
    #: Seconds between a channel's delivery runs (each channel runs apart from the lifecycle).
    delivery_interval: float = 2.0
    #: Deliveries one run of a channel leases at a time.
    delivery_batch: int = 20
    #: Concurrent runs per channel (a hanging channel holds only its own).
    delivery_workers: int = 2
    #: Seconds a channel (SMTP, the SMS provider, the platform) may take to answer.
    delivery_timeout: float = 10.0
    #: Seconds a leased delivery stays leased; renewed before each send, and at least three
    #: times the timeout so that a send never outlives its own lease.
    delivery_lease: float = 60.0
    #: A notice gives up after this many attempts (the last about 24 h after the first).
    notice_max_attempts: int = 14
    #: Seconds between reconciliations of the hosting platform's sites with the engine's.
    platform_reconcile_interval: float = 600.0
    #: /readyz answers 503 when the read models are more events than this behind the log.
    readiness_max_lag: int = 10_000

    # --- notices ---
    portal_name: str = "Saman360"
    support_email: str = "support@saman360.example"
    #: Where customers reach this engine (no trailing slash): the invoice page every notice
    #: links to is ``{public_url}/pay/{invoice_id}?t=<signature>`` (docs/PAYMENTS.md).
    public_url: str = "http://127.0.0.1:8000"
    #: The key the invoice page's links are signed with (HMAC-SHA256). When not set, one is
    #: generated on first use and kept in the store (table ``link_secret``), so every process
    #: of one store signs alike. Changing it makes every link sent so far invalid.
    link_secret: SecretStr | None = None
    #: Days an invoice's page stays open after the invoice is paid in full or voided.
    link_grace_days: int = 30
    #: Hosts a payment link's ``return_url`` may lead to, comma separated (none: no return_url
    #: is accepted).
    return_url_hosts: str = ""
    # --- the back office (/office, docs/BACKOFFICE.md) ---
    #: Minutes a signed-in staff member may leave the back office idle before signing in again.
    office_idle_minutes: int = 30
    #: Hours a back-office session lasts at most, however busy.
    office_session_hours: int = 12
    #: Seconds a wrong sign-in waits before its answer (against guessing passwords).
    office_signin_delay: float = 1.0
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    #: A CA certificate (PEM) to verify the SMTP server with, for a private CA; by default
    #: the system's trusted CAs.
    smtp_ca_file: str | None = None
    mail_from: str = "billing@saman360.example"
    #: A Kavenegar-compatible SMS API, e.g. https://api.kavenegar.com
    sms_base_url: str | None = None
    sms_api_key: SecretStr | None = None
    sms_sender: str = "10004346"

    #: Test mode: a simulated clock kept in the database (never in production).
    test_mode: bool = False
    #: Where the test clock starts when it is first created (default: the real time then).
    test_clock_start: datetime | None = None

    # --- payments ---
    #: A Zarinpal v4 compatible gateway; by default the sandbox (`billing sandbox-gateway`).
    gateway_url: str = "http://127.0.0.1:8010"
    gateway_merchant_id: str = "00000000-0000-0000-0000-000000000000"
    #: Where the gateway sends the customer back (this API's /payments/callback).
    gateway_callback_url: str = "http://127.0.0.1:8000/payments/callback"
    gateway_timeout: float = 10.0
    #: The gateway refuses smaller amounts (rials).
    gateway_minimum: int = 10_000
    #: Seconds between reconciliations of unconfirmed gateway payments (done by the scheduler).
    reconcile_interval: float = 300.0
    #: Days an approved offline payment request moves the invoice's deadline.
    offline_extension_days: int = 7
    #: The largest receipt scan accepted (bytes).
    receipt_scan_max_bytes: int = 5_000_000
    #: Minutes an unpaid gateway attempt is offered again by the invoice page's "pay online"
    #: (same invoice, same amount), before a new one is opened.
    gateway_attempt_reuse_minutes: int = 15

    # --- official invoices: the portal's own company (all but the phone are required once
    # --- seller_name is set; without seller_name no official invoice is issued) ---
    seller_name: str | None = None
    seller_economic_code: str = ""
    seller_national_id: str = ""
    seller_registration_number: str = ""
    seller_address: str = ""
    seller_postal_code: str = ""
    seller_phone: str = ""
    #: The 6-character memory ID (شناسه یکتای حافظه مالیاتی) the tax administration issued.
    tax_memory_id: str = ""

    # --- the hosting platform ---

    platform_url: str | None = None
    platform_secret: SecretStr | None = None

    # --- webhooks (docs/WEBHOOKS.md) ---
    #: Comma-separated hosts (names or addresses) a webhook endpoint may name even though they
    #: are loopback, private or link-local; any other host must resolve only to public
    #: addresses. Empty: public hosts only.
    webhook_allowed_hosts: str = ""
    #: A webhook delivery gives up after this many attempts (the last about 68 h after the first).
    webhook_max_attempts: int = 25

    @field_validator("vat_schedule", mode="after")
    @classmethod
    def _vat_schedule(cls, value: str) -> str:
        try:
            VatSchedule.parse(value)
        except InvalidInput as error:
            raise ValueError(error.message) from None
        return value

    @field_validator(
        "tick_interval",
        "delivery_interval",
        "delivery_timeout",
        "delivery_lease",
        "platform_reconcile_interval",
        "reconcile_interval",
        "gateway_timeout",
        "postgres_pool_timeout",
        "tick_batch",
        "scheduler_takeover",
        "delivery_batch",
        "delivery_workers",
        "notice_max_attempts",
        "webhook_max_attempts",
        "postgres_pool_size",
        "postgres_connect_timeout",
        "gateway_attempt_reuse_minutes",
        mode="after",
    )
    @classmethod
    def _positive(cls, value: float) -> float:
        """Intervals, timeouts and sizes: a zero or negative one would spin or never run."""
        if value <= 0:
            raise ValueError(f"must be more than 0, not {value}")
        return value

    @field_validator("scheduler_partition", mode="after")
    @classmethod
    def _partition(cls, value: str) -> str:
        """``i/M`` with 0 <= i < M."""
        index, _, count = value.partition("/")
        if not (index.isdigit() and count.isdigit() and int(index) < int(count)):
            raise ValueError(f"must be i/M with 0 <= i < M (e.g. 0/2 and 1/2), not {value!r}")
        return value

    @field_validator("four_eyes_void_above", "link_grace_days", mode="after")
    @classmethod
    def _not_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError(f"must be 0 or more, not {value}")
        return value

    @field_validator("public_url", mode="after")
    @classmethod
    def _public_url(cls, value: str) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
            raise ValueError(
                f"must be an http(s) URL such as https://billing.example, not {value!r}"
            )
        return value.rstrip("/")

    @field_validator(
        "portal_name", "seller_name", "seller_address", "seller_registration_number", mode="after"
    )
    @classmethod
    def _free_text(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or (info.field_name != "seller_name" and not value):
            return value
        try:
            return text.free_text(
                value, f"BILLING_{(info.field_name or '').upper()}", max_length=500
            )
        except InvalidInput as error:
            raise ValueError(error.message) from None

    @field_validator(
        "support_email",
        "mail_from",
        "sms_sender",
        "seller_economic_code",
        "seller_national_id",
        "seller_postal_code",
        "seller_phone",
        "tax_memory_id",
        mode="after",
    )
    @classmethod
    def _identifier(cls, value: str, info: ValidationInfo) -> str:
        if not value:
            return value
        try:
            return text.identifier(
                value, f"BILLING_{(info.field_name or '').upper()}", max_length=254
            )
        except InvalidInput as error:
            raise ValueError(error.message) from None
