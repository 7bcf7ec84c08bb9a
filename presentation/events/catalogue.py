"""The words of the plan catalogue's events."""

from __future__ import annotations

from domain.catalogue import Catalogue
from presentation.events.registry import EventData, formats
from presentation.words import Words


@formats(Catalogue.CatalogueOpened)
def _opened(d: EventData) -> Words:
    return Words("the plan catalogue opened", "فهرست طرح‌ها گشوده شد")


@formats(Catalogue.PlanDefined)
def _plan_defined(d: EventData) -> Words:
    plan_id = d["plan"]["id"]
    return Words(f"plan {plan_id} defined", f"طرح {plan_id} تعریف شد")


@formats(Catalogue.PlanRetired)
def _plan_retired(d: EventData) -> Words:
    return Words(
        f"plan {d['plan_id']} retired: it can no longer be ordered",
        f"طرح {d['plan_id']} کنار گذاشته شد و دیگر سفارش داده نمی‌شود",
    )
