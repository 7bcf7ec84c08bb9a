"""Request and response shapes of the API, apart from the domain, one module per area.
Times are ISO 8601 UTC, with a Jalali string beside those a person reads; amounts are integer
rials. Every text field passes the one input policy (``common``: docs/SECURITY.md)."""

from __future__ import annotations

from api.schemas.admin import (
    ClockAdvanceIn,
    ClockOut,
    OwnerOut,
    StaffTokenIn,
    TokenIn,
    TokenItemOut,
    TokenOut,
)
from api.schemas.audit import ActionOut, ActionsOut, ActorOut
from api.schemas.common import (
    FreeText,
    Identifier,
    Input,
    Moment,
    MultilineText,
    OptionalMoment,
    Page,
    PeriodName,
    jalali,
)
from api.schemas.customers import CustomerIn, CustomerOut, ProfileIn
from api.schemas.invoices import (
    InvoiceLineOut,
    InvoiceOut,
    OfficialInvoiceOut,
    PaymentIn,
    PaymentOut,
    ServiceInvoiceIn,
    ServiceLineIn,
)
from api.schemas.payments import (
    BankOut,
    CallbackOut,
    DecisionIn,
    HoldIn,
    OfflineItemOut,
    OfflineRequestIn,
    PaymentLinkIn,
    PaymentLinkOut,
    ReceiptIn,
    RejectionIn,
    VoidIn,
)
from api.schemas.plans import Percent, PlanIn, PlanOut, PlanPeriod, PlanPolicyIn
from api.schemas.representatives import (
    AssignRepresentativeIn,
    RepresentativeDetailsIn,
    RepresentativeIn,
    RepresentativeOut,
)
from api.schemas.staff import DisableIn, StaffIn, StaffOut
from api.schemas.subscriptions import (
    CancelIn,
    ChangePlanIn,
    NextStepOut,
    PeriodOut,
    SubscriptionIn,
    SubscriptionOut,
)

__all__ = [
    "ServiceInvoiceIn",
    "ServiceLineIn",
    "PeriodName",
    "Moment",
    "OptionalMoment",
    "FreeText",
    "MultilineText",
    "Identifier",
    "Input",
    "jalali",
    "Page",
    "PlanPeriod",
    "PlanPolicyIn",
    "Percent",
    "PlanIn",
    "PlanOut",
    "ProfileIn",
    "CustomerIn",
    "CustomerOut",
    "RepresentativeDetailsIn",
    "RepresentativeIn",
    "RepresentativeOut",
    "AssignRepresentativeIn",
    "SubscriptionIn",
    "ChangePlanIn",
    "CancelIn",
    "PeriodOut",
    "NextStepOut",
    "SubscriptionOut",
    "InvoiceLineOut",
    "InvoiceOut",
    "PaymentIn",
    "PaymentOut",
    "OfficialInvoiceOut",
    "PaymentLinkOut",
    "CallbackOut",
    "OfflineRequestIn",
    "DecisionIn",
    "RejectionIn",
    "ReceiptIn",
    "PaymentLinkIn",
    "BankOut",
    "OfflineItemOut",
    "HoldIn",
    "VoidIn",
    "ClockAdvanceIn",
    "ClockOut",
    "TokenIn",
    "TokenOut",
    "ActorOut",
    "ActionOut",
    "ActionsOut",
    "TokenItemOut",
    "OwnerOut",
    "StaffTokenIn",
    "StaffIn",
    "StaffOut",
    "DisableIn",
]
