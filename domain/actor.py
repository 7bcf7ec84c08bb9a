"""Who caused an event: the actor recorded with every event (docs/AUDIT.md, "Actors").

An actor is a kind (a staff member, a machine client such as the portal, the customer, a
representative, the scheduler, the payment gateway's callback, the operator at the console)
and, where there is one, the id, name and role it had when it acted. The name and role are
kept as they were then: a staff member renamed or disabled later does not change who
approved a receipt last spring.

Every event carries its actor as ``actor`` (a plain dict, so the stored event stays plain
JSON). Events stored before actors were recorded have none, and read as :data:`UNKNOWN`
(docs/EVENTS.md, "Versioning").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ActorKind(StrEnum):
    STAFF = "staff"
    CLIENT = "client"
    CUSTOMER = "customer"
    REPRESENTATIVE = "representative"
    SCHEDULER = "scheduler"
    GATEWAY = "gateway"
    OPERATOR = "operator"
    UNKNOWN = "unknown"


#: How each kind without a name is called in the audit's words (English, Persian).
_UNNAMED = {
    ActorKind.STAFF: ("a staff member", "یک کارمند"),
    ActorKind.CLIENT: ("a machine client", "یک سامانهٔ متصل"),
    ActorKind.CUSTOMER: ("the customer", "مشتری"),
    ActorKind.REPRESENTATIVE: ("the representative", "نماینده"),
    ActorKind.SCHEDULER: ("the scheduler", "زمان‌بند"),
    ActorKind.GATEWAY: ("the payment gateway", "درگاه پرداخت"),
    ActorKind.OPERATOR: ("the operator at the console", "گرداننده در خط فرمان"),
    ActorKind.UNKNOWN: ("unknown (recorded before actors were kept)", "نامعلوم (پیش از ثبت عامل)"),
}

_ROLE_FA = {
    "admin": "مدیر",
    "finance": "مالی",
    "support": "پشتیبانی",
    "customer": "مشتری",
    "representative": "نماینده",
}


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: str | None = None
    name: str | None = None
    role: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """As recorded on an event and shown in the audit's JSON (no empty keys but ``kind``)."""
        recorded: dict[str, Any] = {"kind": self.kind.value, "id": self.id, "name": self.name}
        if self.role:
            recorded["role"] = self.role
        return recorded

    @classmethod
    def from_recorded(cls, value: Any) -> Actor:
        """The actor an event recorded; an event without one (stored before actors were kept)
        or with a kind this engine does not know is :data:`UNKNOWN`."""
        if not isinstance(value, dict):
            return UNKNOWN
        try:
            kind = ActorKind(str(value.get("kind")))
        except ValueError:
            return UNKNOWN
        return cls(kind, value.get("id"), value.get("name"), value.get("role"))

    @property
    def is_person(self) -> bool:
        """A staff member or the operator: someone the four-eyes rule can tell apart."""
        return self.kind in (ActorKind.STAFF, ActorKind.OPERATOR) and self.id is not None

    def english(self) -> str:
        """``مریم کریمی (finance)``, ``the scheduler``."""
        base = self.name or _UNNAMED[self.kind][0]
        return f"{base} ({self.role})" if self.role and self.name else base

    def persian(self) -> str:
        base = self.name or _UNNAMED[self.kind][1]
        role = _ROLE_FA.get(self.role or "", self.role)
        return f"{base} ({role})" if role and self.name else base


UNKNOWN = Actor(ActorKind.UNKNOWN)
#: Time itself: the lifecycle steps the scheduler runs, and the ones a command catches up on.
SCHEDULER = Actor(ActorKind.SCHEDULER, name="scheduler")
#: The gateway's callback and the reconciliation of unverified gateway payments.
GATEWAY = Actor(ActorKind.GATEWAY, name="payment gateway")


def recorded_actor(domain_event: Any) -> Actor:
    """The actor recorded on a stored event (:data:`UNKNOWN` for one stored before)."""
    return Actor.from_recorded(vars(domain_event).get("actor"))
