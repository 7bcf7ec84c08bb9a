"""The one error tree of the billing engine.

Every rejected command raises a :class:`BillingError` subclass whose message says what was
wrong and what to do about it. Each class carries a stable ``code``: the HTTP API maps codes to
status codes in exactly one place (``api/errors.py``), the CLI maps them to exit codes in one place
(``cli/``). A rejected command records nothing.
"""

from __future__ import annotations

from typing import Any


class BillingError(Exception):
    """Base of every error a person can act on."""

    code = "billing_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


# --- Not found: the id names nothing (or nothing the caller may see). ---------------------------


class NotFound(BillingError):
    code = "not_found"


class PlanNotFound(NotFound):
    code = "plan_not_found"


class CustomerNotFound(NotFound):
    code = "customer_not_found"


class SubscriptionNotFound(NotFound):
    code = "subscription_not_found"


class InvoiceNotFound(NotFound):
    code = "invoice_not_found"


class CreditNoteNotFound(NotFound):
    """The invoice has no credit note of that number (docs/INVOICES.md, "Credit notes")."""

    code = "credit_note_not_found"


class OfflineRequestNotFound(NotFound):
    code = "offline_request_not_found"


class ReceiptNotFound(NotFound):
    code = "receipt_not_found"


class PaymentLinkNotFound(NotFound):
    code = "payment_link_not_found"


class RepresentativeNotFound(NotFound):
    """No registered representative has this id (docs/API.md, "Representatives")."""

    code = "representative_not_found"


class StaffNotFound(NotFound):
    code = "staff_not_found"


class TokenNotFound(NotFound):
    code = "token_not_found"


class WebhookEndpointNotFound(NotFound):
    """No webhook endpoint has this id (docs/WEBHOOKS.md)."""

    code = "webhook_endpoint_not_found"


class WebhookDeliveryNotFound(NotFound):
    """The endpoint has no delivery by this id."""

    code = "webhook_delivery_not_found"


# --- Invalid input: the request itself is malformed or out of range. ----------------------------


class InvalidInput(BillingError):
    code = "invalid_input"


class ReturnUrlRefused(InvalidInput):
    """A payment link's return_url is not on a host of BILLING_RETURN_URL_HOSTS."""

    code = "return_url_not_allowed"


class InvalidAmount(InvalidInput):
    code = "invalid_amount"


class UnknownPeriod(InvalidInput):
    code = "unknown_period"


class InvalidPlan(InvalidInput):
    code = "invalid_plan"


class InvalidProfile(InvalidInput):
    code = "invalid_profile"


class InvalidReference(InvalidInput):
    code = "invalid_payment_reference"


class InvalidTime(InvalidInput):
    code = "invalid_time"


class InvalidTimeRange(InvalidInput):
    """A range whose start is after its end (the audit's actions report: from > to)."""

    code = "invalid_time_range"


class InvalidActorFilter(InvalidInput):
    """An actor filter that names no kind and no id (the audit's actions report)."""

    code = "invalid_actor_filter"


class InvalidRepresentative(InvalidInput):
    """A representative's name, mobile or e-mail address is not acceptable."""

    code = "invalid_representative"


class InvalidPassword(InvalidInput):
    """A password the policy refuses (too short, too long, a control character). The message
    never quotes the password."""

    code = "invalid_password"


class InvalidEventType(InvalidInput):
    """An integration event type the engine does not publish (webhooks, the events feed)."""

    code = "invalid_event_type"


class WebhookUrlRefused(InvalidInput):
    """A webhook URL that is not http(s), or whose host is not allowed (docs/WEBHOOKS.md)."""

    code = "webhook_url_refused"


# --- Rule violations: well-formed, but the lifecycle does not allow it now. ---------------------


class RuleViolation(BillingError):
    code = "rule_violation"


class PlanAlreadyDefined(RuleViolation):
    code = "plan_already_defined"


class InvoiceNotPayable(RuleViolation):
    code = "invoice_not_payable"


class SubscriptionCollected(RuleViolation):
    code = "subscription_collected"


class NothingToPay(RuleViolation):
    code = "nothing_to_pay"


class PlanChangeRefused(RuleViolation):
    code = "plan_change_refused"


class ImmediatePlanChangeRefused(PlanChangeRefused):
    """A change asked to take effect at once that is not an upgrade (docs/LIFECYCLE.md,
    "Plan changes"); ``reason``: ``not_an_upgrade`` or ``period_over``."""

    code = "immediate_plan_change_refused"


class SubscriptionNotActive(RuleViolation):
    code = "subscription_not_active"


class SiteNotSuspended(RuleViolation):
    code = "site_not_suspended"


class PaymentReferenceConflict(RuleViolation):
    code = "payment_reference_conflict"


class TimeWentBackwards(RuleViolation):
    code = "time_went_backwards"


class OfflineRequestRefused(RuleViolation):
    code = "offline_request_refused"


class ReceiptRefused(RuleViolation):
    code = "receipt_refused"


class ServiceInvoiceRefused(RuleViolation):
    """A side-service invoice cannot be issued as asked; ``reason`` says which rule
    (docs/INVOICES.md, "Side-service invoices")."""

    code = "service_invoice_refused"


class TrackingNumberUsed(RuleViolation):
    code = "tracking_number_used"


class BelowGatewayMinimum(RuleViolation):
    code = "below_gateway_minimum"


class GatewayUnavailable(RuleViolation):
    code = "gateway_unavailable"


class HoldRefused(RuleViolation):
    code = "hold_refused"


class RepresentativeUnchanged(RuleViolation):
    """The customer is already represented by the representative named."""

    code = "representative_unchanged"


class RepresentativeIdTaken(RuleViolation):
    """The id given for a new representative already names another representative (with other
    details) or something else."""

    code = "representative_id_taken"


class StaffDisabled(RuleViolation):
    """The staff member was disabled: no new token, password or command in their name."""

    code = "staff_disabled"


class StaffRoleRefused(RuleViolation):
    """The staff member named to act (``--as``) does not hold a role that may do this."""

    code = "staff_role_refused"


class StaffConflict(RuleViolation):
    """Another staff member has this e-mail address, or this id names a different member."""

    code = "staff_conflict"


class OfficialInvoiceRefused(RuleViolation):
    """Not this customer, not yet paid, or the seller's own details are not configured."""

    code = "official_invoice_refused"


class FourEyesRequired(RuleViolation):
    """The four-eyes rule (BILLING_FOUR_EYES): a second person must take this decision."""

    code = "four_eyes_required"


class WebhookEndpointDisabled(RuleViolation):
    """A disabled webhook endpoint is not changed and sends nothing."""

    code = "webhook_endpoint_disabled"


class RefundRefused(RuleViolation):
    """A refund over what is refundable, of a payment that cannot be refunded this way, or a
    bank reference already used for another refund (``reason`` says which; docs/PAYMENTS.md,
    "Refunds")."""

    code = "refund_refused"


class ReturnRefused(RuleViolation):
    """A return from sale of an open or a voided invoice, or over what is left to return
    (``reason`` says which; docs/INVOICES.md, "Returns")."""

    code = "return_refused"
