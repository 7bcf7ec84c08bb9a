"""The composition root: the one place that builds the engine from settings.

The CLI, the HTTP API and the scheduler all call :func:`build_application`; nothing else
constructs adapters.
"""

from __future__ import annotations

from adapters.persistence import Database, build_with_tables, parse_database_url
from adapters.settings import Settings
from domain.vat import VatSchedule
from service_layer.application import BillingApplication


def database_of(settings: Settings) -> Database:
    return parse_database_url(
        settings.database_url,
        lock_timeout=settings.postgres_lock_timeout,
        pool_size=settings.postgres_pool_size,
    )


def build_read_models(app: BillingApplication, settings: Settings | None = None, **overrides: str):
    """The read models of ``app``, in the same database (tables created once)."""
    from projections.runner import ReadModels

    settings = settings or Settings()
    if overrides:
        settings = settings.model_copy(update=overrides)
    database = database_of(settings)
    return build_with_tables(database, lambda env: ReadModels(app, env=env))


def build_application(settings: Settings | None = None, **overrides: str) -> BillingApplication:
    """Build the billing application; ``overrides`` replace settings (e.g. database_url=...)."""
    settings = settings or Settings()
    if overrides:
        settings = settings.model_copy(update=overrides)
    database = database_of(settings)
    vat = VatSchedule.parse(settings.vat_schedule)
    return build_with_tables(database, lambda env: BillingApplication(env, vat=vat))
