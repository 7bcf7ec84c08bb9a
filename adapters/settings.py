"""Settings from the environment (prefix BILLING_), read once by the composition root."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.vat import IRAN_VAT

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
