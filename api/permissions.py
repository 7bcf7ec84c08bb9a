"""Who may do what: one table for the HTTP API and the back office (docs/API.md, "Roles").

A route of the API and a page or form of the back office that do the same thing check the same
:class:`Permission`, so the two cannot drift apart: a support person who may not decide a
receipt over JSON does not see (and cannot post) the confirm button either. A refusal is 403
``forbidden`` naming the action.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.tokens import Principal, Role
from api.errors import forbidden


@dataclass(frozen=True)
class Permission:
    #: What the caller tried to do, as a 403 says it ("decide receipts").
    action: str
    roles: tuple[Role, ...]

    def allows(self, who: Principal) -> bool:
        return who.role in self.roles

    def check(self, who: Principal) -> None:
        """403 naming the action unless ``who`` holds one of the roles."""
        if not self.allows(who):
            raise forbidden(self.action)


FINANCE = (Role.FINANCE, Role.ADMIN)
#: Who reads every party's records, the audit trail, the reports and the metrics.
READERS = (Role.FINANCE, Role.ADMIN, Role.SUPPORT)

READ_AUDIT = Permission("read the audit trail", READERS)
READ_REPORTS = Permission("read reports", READERS)
READ_METRICS = Permission("read the metrics", READERS)
DECIDE_OFFLINE = Permission("decide offline payments", FINANCE)
DECIDE_RECEIPTS = Permission("decide receipts", FINANCE)
VOID_INVOICES = Permission("void invoices", FINANCE)
PLACE_HOLDS = Permission("place enforcement holds", FINANCE)
LIFT_HOLDS = Permission("lift enforcement holds", FINANCE)
#: Staff change a plan for a customer who asks by telephone or in person; the customer and
#: their representative change it themselves.
CHANGE_PLANS = Permission(
    "change plans", (Role.ADMIN, Role.FINANCE, Role.CUSTOMER, Role.REPRESENTATIVE)
)
CANCEL_SUBSCRIPTIONS = Permission(
    "cancel subscriptions", (Role.ADMIN, Role.CUSTOMER, Role.REPRESENTATIVE)
)
ISSUE_OFFICIAL = Permission(
    "issue invoices", (Role.CUSTOMER, Role.REPRESENTATIVE, Role.FINANCE, Role.ADMIN)
)
#: Signing in to the back office (``/office``): staff only; customers' and representatives'
#: tokens open no page there.
USE_BACK_OFFICE = Permission("use the back office", READERS)
