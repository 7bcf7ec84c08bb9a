"""BillingApplication: the commands of the billing engine on top of the event store.

Each public method is one command: it loads the aggregates it needs, first brings the
subscription up to date with whatever fell due before the command's moment (so a result never
depends on when the scheduler last ran), asks the domain to decide, and saves every aggregate
it touched in one atomic ``save``. A rejected command raises a BillingError and saves nothing.
A conflict with a concurrent writer (optimistic concurrency) re-runs the command on fresh
state, which is safe because every command is idempotent.
"""

from __future__ import annotations

import functools
import inspect
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, JSONTranscoder

from domain import lifecycle
from domain.banks import bank_of
from domain.base import BillingAggregate, NoticeKind, check_moment
from domain.catalogue import CATALOGUE_ID, Catalogue
from domain.customer import BillingProfile, Customer, CustomerKind
from domain.errors import (
    CustomerNotFound,
    InvalidInput,
    InvalidReference,
    InvoiceNotFound,
    NothingToPay,
    OfficialInvoiceRefused,
    OfflineRequestRefused,
    PaymentLinkNotFound,
    PaymentReferenceConflict,
    SubscriptionCollected,
    SubscriptionNotFound,
    TimeWentBackwards,
    TrackingNumberUsed,
)
from domain.invoice import Invoice, InvoiceKind, InvoiceStatus, Receipt
from domain.lifecycle import DueStep, PaymentOutcome
from domain.money import Money
from domain.official import (
    OfficialNumberClaim,
    OfficialRecord,
    Seller,
    buyer_of,
    first_free_number,
    fiscal_year_of,
    official_tax_id,
)
from domain.payment import BankTransfer, GatewayPayment, GatewayStatus, Payment, TrackingNumber
from domain.plans import MIN_LEAD, Period, Plan
from domain.subscription import SiteState, Subscription, SubscriptionStatus
from domain.text import identifier, multiline_text
from domain.text import tracking_number as normalised_tracking_number
from domain.vat import IRAN_VAT, VatSchedule
from projections.due_index import DueIndex

log = logging.getLogger(__name__)

A = TypeVar("A", bound=BillingAggregate)
R = TypeVar("R")

#: Optimistic-concurrency retries before giving up (each retry reloads fresh state, after a
#: short random pause so that writers racing for one counter spread out).
ATTEMPTS = 12

#: A guard against a lifecycle bug looping forever inside one command.
MAX_STEPS_PER_SUBSCRIPTION = 500

#: How far behind an aggregate's last change a command's moment may be and still be run at
#: that change (two requests racing, another machine's clock a moment behind); the
#: composition root sets it from BILLING_CLOCK_SKEW_TOLERANCE (None: no limit, test mode).
DEFAULT_SKEW_TOLERANCE = timedelta(seconds=120)


def at_the_latest_change(method: Callable[..., R]) -> Callable[..., R]:
    """Run a command stamped before the last change of an aggregate it touches again at that
    change, when the difference is within the application's clock-skew tolerance; beyond it,
    refuse it (TimeWentBackwards) saying by how much and what to check.

    Everything the command decides is then decided at the moment it is recorded at, and the
    order of saving stays the order of the events."""
    signature = inspect.signature(method)

    @functools.wraps(method)
    def run(self: BillingApplication, *args: Any, **kwargs: Any) -> R:
        bound = signature.bind(self, *args, **kwargs)
        sent = check_moment(bound.arguments["now"])
        for _ in range(ATTEMPTS):
            try:
                return method(*bound.args, **bound.kwargs)
            except TimeWentBackwards as late:
                latest = late.details.get("latest")
                if latest is None:
                    raise
                behind = latest - sent
                tolerance = self.skew_tolerance
                if tolerance is not None and behind > tolerance:
                    raise TimeWentBackwards(
                        f"{late.message} It is {behind.total_seconds():,.0f} s behind; the "
                        f"engine accepts {tolerance.total_seconds():,.0f} s "
                        "(BILLING_CLOCK_SKEW_TOLERANCE). The machines' clocks must be "
                        "synchronised (NTP); nothing was recorded, and the request may be sent "
                        "again.",
                        latest=latest,
                    ) from None
                bound.arguments["now"] = latest
        raise AssertionError("unreachable")

    return run


@dataclass(frozen=True)
class Executed:
    """One lifecycle step that was executed: what, for whom, due when, recorded when."""

    subscription_id: UUID
    step: DueStep
    recorded_at: datetime


class _UnitOfWork:
    """The aggregates one command loaded or created, saved together once."""

    def __init__(self, app: BillingApplication) -> None:
        self.app = app
        self.aggregates: dict[UUID, BillingAggregate] = {}

    def get(self, aggregate_id: UUID, cls: type[A], not_found: Callable[[], Exception]) -> A:
        if aggregate_id in self.aggregates:
            found = self.aggregates[aggregate_id]
        else:
            try:
                found = self.app.repository.get(aggregate_id, projector_func=_project)
            except AggregateNotFoundError:
                raise not_found() from None
            self.aggregates[aggregate_id] = found
        if not isinstance(found, cls):
            raise not_found()
        return found

    def add(self, aggregate: BillingAggregate) -> None:
        self.aggregates[aggregate.id] = aggregate

    def save(self) -> int:
        """Save every changed aggregate at once; returns the last notification id written."""
        changed = [a for a in self.aggregates.values() if a.pending_events]
        if not changed:
            return 0
        recordings = self.app.save(*changed)
        return max((r.notification.id for r in recordings), default=0)


class Lifecycle:
    """A subscription with everything its lifecycle reads and writes: its open invoices, and
    its customer (loaded only when a step needs it)."""

    def __init__(
        self,
        subscription: Subscription,
        invoices: dict[UUID, Invoice],
        load_customer: Callable[[], Customer],
    ) -> None:
        self.subscription = subscription
        self.invoices = invoices
        self._load_customer = load_customer
        self._customer: Customer | None = None

    @property
    def customer(self) -> Customer:
        if self._customer is None:
            self._customer = self._load_customer()
        return self._customer

    def next_step(self) -> DueStep | None:
        """What the lifecycle does next, and when, from this state."""
        sub = self.subscription
        return lifecycle.next_step(sub, self.invoices, sub.plan.policy)

    @property
    def latest_change(self) -> datetime:
        moments = [self.subscription.modified_on]
        moments += [inv.modified_on for inv in self.invoices.values()]
        if self._customer is not None:
            moments.append(self._customer.modified_on)
        return max(moments)


class BillingApplication(Application[UUID]):
    """The billing engine. Persistence is chosen by the environment (see adapters.persistence)."""

    name = "billing"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        vat: VatSchedule = IRAN_VAT,
        seller: Seller | None = None,
        skew_tolerance: timedelta | None = DEFAULT_SKEW_TOLERANCE,
    ) -> None:
        super().__init__(env)
        self.vat = vat
        #: See :func:`at_the_latest_change`.
        self.skew_tolerance = skew_tolerance
        #: The portal's company; without it no official invoice is issued (plain PDFs still are).
        self.seller = seller
        #: Per fiscal year, the last official number this process saw taken (a search hint).
        self._official_hint: dict[int, int] = {}

        self.due_index = DueIndex(self.recorder, self.mapper, self._next_due_moment)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)

    # --- plumbing ------------------------------------------------------------------------------

    def _run(self, command: Callable[[_UnitOfWork], R]) -> R:
        """Run a command in a unit of work; on a write conflict, run it again on fresh state."""
        return self._run_tracked(command)[0]

    def _run_tracked(self, command: Callable[[_UnitOfWork], R]) -> tuple[R, int]:
        """:meth:`_run`, also returning the last notification id the save wrote (0: none)."""
        for attempt in range(1, ATTEMPTS + 1):
            uow = _UnitOfWork(self)
            result = command(uow)
            self._issue_due_officials(uow)
            try:
                written = uow.save()
            except IntegrityError:
                if attempt == ATTEMPTS:
                    raise
                log.info("write conflict, retrying command (attempt %d)", attempt + 1)
                # Exponential backoff with full jitter (1 ms, 2 ms, … capped at 100 ms), so
                # that writers racing for one thing (the next official number) spread out.
                time.sleep(random.uniform(0, min(0.1, 0.001 * 2**attempt)))

                continue

            return result, written
        raise AssertionError("unreachable")

    def _lifecycle(
        self, uow: _UnitOfWork, subscription_id: UUID, *, all_invoices: bool = False
    ) -> Lifecycle:
        """Load a subscription with its open invoices (or all of them, for reports)."""
        sub = uow.get(subscription_id, Subscription, lambda: _no_subscription(subscription_id))
        wanted = sub.invoice_ids if all_invoices else sub.open_invoice_ids
        invoices = {
            i: uow.get(i, Invoice, lambda i=i: InvoiceNotFound(f"Invoice {i} is missing."))
            for i in wanted
        }
        return Lifecycle(
            sub,
            invoices,
            lambda: uow.get(sub.customer_id, Customer, lambda: _no_customer(sub.customer_id)),
        )

    def _run_due(
        self, life: Lifecycle, until: datetime, *, on_time: bool, only_first_moment: bool = False
    ) -> list[Executed]:
        """Execute this subscription's steps due at or before ``until``, one at a time.

        ``on_time`` records each step at its own due moment (the engine is simulated as having
        run all along); otherwise every step is recorded at ``until`` (a real catch-up).
        """
        executed: list[Executed] = []
        first_moment: datetime | None = None
        for _ in range(MAX_STEPS_PER_SUBSCRIPTION):
            policy = life.subscription.plan.policy
            due = lifecycle.due_steps(life.subscription, life.invoices, policy, until)
            if not due:
                return executed
            step = due[0]
            if step.step is lifecycle.Step.RENEW:
                life.customer  # noqa: B018 - loaded now, so its last change bounds the moment
            if only_first_moment:
                first_moment = first_moment or step.due_at
                if step.due_at > first_moment:
                    return executed
            at = max(step.due_at, life.latest_change) if on_time else max(until, life.latest_change)
            new_invoice = lifecycle.execute(
                step, life.subscription, life.invoices, lambda: life.customer, self.vat, at
            )
            executed.append(Executed(life.subscription.id, step, at))
            if new_invoice is not None:
                life.invoices[new_invoice.id] = new_invoice
        raise RuntimeError(
            f"Subscription {life.subscription.id}: more than {MAX_STEPS_PER_SUBSCRIPTION} lifecycle "
            "steps at once; this is a bug in the lifecycle policy."
        )

    def _catch_up(self, uow: _UnitOfWork, subscription_id: UUID, now: datetime) -> Lifecycle:
        life = self._lifecycle(uow, subscription_id)
        self._run_due(life, now, on_time=False)
        # Every invoice the catch-up issued is saved with the subscription that names it (a
        # long outage may issue several renewals in one catch-up).
        for invoice in life.invoices.values():
            uow.add(invoice)
        return life

    # --- catalogue -----------------------------------------------------------------------------

    @at_the_latest_change
    def define_plan(self, plan: Plan, now: datetime) -> Plan:
        now = check_moment(now)

        def command(uow: _UnitOfWork) -> Plan:
            catalogue = self._catalogue(uow, now)
            catalogue.define_plan(plan, now)
            return catalogue.get(plan.id)

        return self._run(command)

    def _catalogue(self, uow: _UnitOfWork, now: datetime) -> Catalogue:
        try:
            return uow.get(CATALOGUE_ID, Catalogue, lambda: KeyError("catalogue"))
        except KeyError:
            catalogue = Catalogue.open(now)
            uow.add(catalogue)
            return catalogue

    def plans(self) -> list[Plan]:
        try:
            catalogue: Catalogue = self.repository.get(CATALOGUE_ID)
        except AggregateNotFoundError:
            return []
        return catalogue.active_plans()

    def get_plan(self, plan_id: str) -> Plan:
        uow = _UnitOfWork(self)
        try:
            catalogue = uow.get(CATALOGUE_ID, Catalogue, lambda: KeyError("catalogue"))
        except KeyError:
            catalogue = Catalogue.open(datetime.fromtimestamp(0).astimezone())
        return catalogue.get(plan_id)

    # --- customers -----------------------------------------------------------------------------

    @at_the_latest_change
    def register_customer(
        self, profile: BillingProfile, now: datetime, *, representative_id: UUID | None = None
    ) -> UUID:
        now = check_moment(now)

        def command(uow: _UnitOfWork) -> UUID:
            customer = Customer.register(profile, representative_id, now)
            uow.add(customer)
            return customer.id

        return self._run(command)

    @at_the_latest_change
    def change_profile(self, customer_id: UUID, profile: BillingProfile, now: datetime) -> None:
        """Replace a customer's billing profile from ``now`` on; documents already issued keep
        the profile they were issued to."""
        now = check_moment(now)

        def command(uow: _UnitOfWork) -> None:
            customer = uow.get(customer_id, Customer, lambda: _no_customer(customer_id))
            customer.change_profile(profile, now)

        self._run(command)

    def get_customer(self, customer_id: UUID) -> Customer:

        return _UnitOfWork(self).get(customer_id, Customer, lambda: _no_customer(customer_id))

    # --- subscriptions -------------------------------------------------------------------------

    @at_the_latest_change
    def start_subscription(
        self,
        customer_id: UUID,
        plan_id: str,
        period: Period | str,
        now: datetime,
        *,
        site: str | None = None,
        subscription_id: UUID | None = None,
    ) -> UUID:
        """Order a site: the subscription starts, the site is created, the first invoice issued."""
        now = check_moment(now)
        period = Period.parse(period)
        subscription_id = subscription_id or uuid4()

        def command(uow: _UnitOfWork) -> UUID:
            customer = uow.get(customer_id, Customer, lambda: _no_customer(customer_id))
            plan = self._catalogue(uow, now).orderable(plan_id)
            if subscription_id in self.repository:
                return subscription_id  # a retried order: it was already placed
            sub = Subscription.order(
                id=subscription_id,
                customer_id=customer.id,
                representative_id=customer.representative_id,
                site=site or f"site-{str(subscription_id)[:8]}",
                plan=plan,
                period=period,
                first_invoice_id=Invoice.create_id(subscription_id, 1),
                now=now,
            )
            invoice = lifecycle.issue_invoice(
                sub, sub.current_period, InvoiceKind.FIRST, customer, self.vat, now, due_at=None
            )
            uow.add(sub)
            uow.add(invoice)
            return sub.id

        return self._run(command)

    @at_the_latest_change
    def cancel_subscription(
        self, subscription_id: UUID, now: datetime, *, reason: str = "requested by the customer"
    ) -> None:
        now = check_moment(now)

        def command(uow: _UnitOfWork) -> None:
            life = self._catch_up(uow, subscription_id, now)
            life.subscription.cancel(reason, now)

        self._run(command)

    @at_the_latest_change
    def change_plan(
        self,
        subscription_id: UUID,
        plan_id: str,
        now: datetime,
        *,
        period: Period | str | None = None,
    ) -> None:
        """Move to another plan (and period) from the next period on."""
        now = check_moment(now)

        def command(uow: _UnitOfWork) -> None:
            life = self._catch_up(uow, subscription_id, now)
            sub = life.subscription
            plan = self._catalogue(uow, now).orderable(plan_id)
            chosen = Period.parse(period) if period is not None else sub.period
            overdue = [inv.id for inv in lifecycle.overdue_invoices(sub, life.invoices, now)]
            sub.change_plan(plan, chosen, overdue, now)

        self._run(command)

    @at_the_latest_change
    def record_payment(
        self,
        reference: str,
        amount: int | Money,
        now: datetime,
        *,
        invoice_id: UUID | None = None,
        subscription_id: UUID | None = None,
        method: str = "manual",
    ) -> PaymentOutcome:
        """Record a verified payment once. The same reference again is a no-op that returns
        the first outcome; the same reference with another amount or invoice is refused."""
        now = check_moment(now)
        money = amount if isinstance(amount, Money) else Money.positive(amount)
        if not money.is_positive:
            Money.positive(money.rials)
        try:
            reference = identifier(reference, "reference", max_length=200)
        except InvalidInput as error:
            raise InvalidReference(
                f"{error.message} A payment needs its reference (the gateway's reference id or "
                "the bank's tracking number), 1-200 characters.",
                field="reference",
            ) from None

        def command(uow: _UnitOfWork) -> PaymentOutcome:
            payment_id = Payment.create_id(reference)
            if payment_id in self.repository:
                return self._replayed_payment(uow, payment_id, money, invoice_id, subscription_id)
            named = None
            target_sub = subscription_id
            if invoice_id is not None:
                named = uow.get(invoice_id, Invoice, lambda: _no_invoice(invoice_id))
                if subscription_id is not None and named.subscription_id != subscription_id:
                    raise _no_invoice(invoice_id)
                target_sub = named.subscription_id
            if target_sub is None:
                raise InvalidReference(
                    "Say what the payment is for: an invoice_id or a subscription_id.",
                    field="invoice_id",
                )
            life = self._catch_up(uow, target_sub, now)
            sub = life.subscription
            if sub.site_state is SiteState.COLLECTED:
                if named is not None:
                    named.check_payable()
                raise SubscriptionCollected(
                    f"Subscription {sub.id} was collected on {sub.collected_at.isoformat()} and its "
                    "invoices voided; a payment for it cannot be recorded.",
                )
            if named is None and not lifecycle.open_invoices(sub, life.invoices):
                raise NothingToPay(
                    f"Subscription {sub.id} has no open invoice. Name an invoice to pay, or nothing "
                    "is owed.",
                )
            payment = Payment(
                reference=reference,
                amount=money.rials,
                method=method,
                customer_id=sub.customer_id,
                subscription_id=sub.id,
                invoice_id=invoice_id,
                timestamp=now,
            )
            uow.add(payment)
            return lifecycle.settle_payment(
                payment_id=payment.id,
                reference=reference,
                amount=money,
                method=method,
                named=named,
                sub=sub,
                invoices=life.invoices,
                customer=life.customer,
                now=now,
            )

        return self._run(command)

    def _replayed_payment(
        self,
        uow: _UnitOfWork,
        payment_id: UUID,
        amount: Money,
        invoice_id: UUID | None,
        subscription_id: UUID | None,
    ) -> PaymentOutcome:
        payment = uow.get(payment_id, Payment, lambda: KeyError(payment_id))
        same_target = (invoice_id is None or invoice_id == payment.invoice_id) and (
            subscription_id is None or subscription_id == payment.subscription_id
        )
        if payment.amount != amount or not same_target:
            raise PaymentReferenceConflict(
                f"Payment reference {payment.reference!r} was already recorded for {payment.amount} "
                f"on {payment.received_at.isoformat()}, for another amount or invoice. A reference "
                "identifies one payment; check the reference.",
                reference=payment.reference,
            )
        life = self._lifecycle(uow, payment.subscription_id, all_invoices=True)
        allocations = tuple(
            lifecycle.Allocation(inv.id, s.amount)
            for inv in life.invoices.values()
            for s in inv.settlements
            if s.reference == payment.reference
        )
        applied = sum((a.amount for a in allocations), Money(0))
        return PaymentOutcome(
            payment.reference, payment.amount, allocations, payment.amount - applied, False, ()
        )

    # --- paying offline (organisations) ----------------------------------------------------------

    @at_the_latest_change
    def request_offline_payment(
        self, invoice_id: UUID, reason: str, now: datetime, *, request_id: UUID | None = None
    ) -> UUID:
        now = check_moment(now)
        request_id = request_id or uuid4()

        def command(uow: _UnitOfWork) -> UUID:
            invoice = uow.get(invoice_id, Invoice, lambda: _no_invoice(invoice_id))
            if request_id in invoice.offline_requests:
                return request_id  # a retry
            life = self._catch_up(uow, invoice.subscription_id, now)
            if life.customer.profile.kind is not CustomerKind.LEGAL:
                raise OfflineRequestRefused(
                    "Paying by bank transfer on approval is for organisations (legal entities); "
                    "a person pays online with the payment link "
                    f"(POST /invoices/{invoice_id}/payment-link).",
                    reason="not_a_legal_entity",
                )
            invoice.request_offline_payment(request_id, reason, now)

            return request_id

        return self._run(command)

    @at_the_latest_change
    def decide_offline_payment(
        self,
        invoice_id: UUID,
        request_id: UUID,
        now: datetime,
        *,
        approve: bool,
        reason: str = "",
        extension_days: int = 7,
    ) -> None:
        """Finance approves (the deadline moves by ``extension_days``) or rejects, with a reason;
        the customer is told either way."""
        now = check_moment(now)

        def command(uow: _UnitOfWork) -> None:
            invoice = uow.get(invoice_id, Invoice, lambda: _no_invoice(invoice_id))
            life = self._catch_up(uow, invoice.subscription_id, now)
            life.invoices[invoice.id] = invoice
            if approve:
                invoice.approve_offline_payment(request_id, extension_days, reason, now)
                if invoice.is_open:  # a paid or voided invoice's grace no longer counts
                    life.subscription.withdraw_grace(invoice.id, invoice.deadline, now)
                kind, facts = (
                    NoticeKind.OFFLINE_APPROVED,
                    {"deadline": invoice.deadline.isoformat(), "note": reason},
                )
            else:
                invoice.reject_offline_payment(request_id, reason, now)
                kind, facts = (
                    NoticeKind.OFFLINE_REJECTED,
                    {"reason": reason, "deadline": invoice.deadline.isoformat()},
                )
            invoice.send_notice(kind, now, facts={**facts, "amount_due": invoice.balance.rials})
            if approve:  # the new deadline may leave nothing keeping a suspended site suspended
                _restore_if_nothing_keeps_it(
                    life, now, f"offline:{request_id}", "offline payment approved"
                )

        self._run(command)

    @at_the_latest_change
    def register_receipt(
        self,
        invoice_id: UUID,
        *,
        bank: str,
        tracking_number: str,
        amount: int | Money,
        paid_on: str,
        now: datetime,
        scan_hash: str | None = None,
        receipt_id: UUID | None = None,
    ) -> UUID:
        """The customer registers the bank receipt of an approved offline payment. ``bank`` is
        a bank's code (:mod:`domain.banks`); a transfer counts once per bank, by its tracking
        number however it was typed, and the same number and amount at another bank is
        accepted but flagged to finance as a possible duplicate."""
        now = check_moment(now)
        money = amount if isinstance(amount, Money) else Money.positive(amount)
        receipt_id = receipt_id or uuid4()
        bank_code = bank_of(bank).code
        tracking = normalised_tracking_number(tracking_number)

        def command(uow: _UnitOfWork) -> UUID:
            invoice = uow.get(invoice_id, Invoice, lambda: _no_invoice(invoice_id))
            if receipt_id in invoice.receipts:
                return receipt_id  # a retry
            transfer = self._transfer(uow, tracking)
            duplicates: list[UUID] = []
            if transfer is not None:
                transfer.check_free(bank_code)  # a transfer counts once while its receipt stands
                duplicates = transfer.possible_duplicates(bank_code, money)
            self._catch_up(uow, invoice.subscription_id, now)
            invoice.register_receipt(
                receipt_id,
                bank=bank_code,
                tracking_number=tracking,
                amount=money,
                paid_on=paid_on,
                scan_hash=scan_hash,
                now=now,
                possible_duplicates=duplicates,
            )
            if transfer is not None:
                transfer.claim(bank_code, money, invoice.id, receipt_id, now)
            else:
                uow.add(
                    BankTransfer(
                        tracking_number=tracking,
                        bank=bank_code,
                        amount=money.rials,
                        invoice_id=invoice.id,
                        receipt_id=receipt_id,
                        timestamp=now,
                    )
                )
            return receipt_id

        return self._run(command)

    def _transfer(self, uow: _UnitOfWork, tracking: str) -> BankTransfer | None:
        try:
            return uow.get(
                BankTransfer.create_id(tracking), BankTransfer, lambda: AggregateNotFoundError()
            )
        except AggregateNotFoundError:
            return None

    def _tracking_claim(self, uow: _UnitOfWork, claim_id: UUID) -> TrackingNumber | None:
        try:
            return uow.get(claim_id, TrackingNumber, lambda: AggregateNotFoundError())
        except AggregateNotFoundError:
            return None

    def _release_claim(
        self, uow: _UnitOfWork, receipt: Receipt, reason: str, now: datetime
    ) -> None:
        """A rejected receipt's tracking number may be registered again."""
        transfer = self._transfer(uow, receipt.tracking_number)
        if transfer is not None and receipt.receipt_id in transfer.claims:
            transfer.release(receipt.receipt_id, reason, now)
            return
        # A receipt registered before banks were named by code claimed (bank text, number).
        legacy = self._tracking_claim(
            uow, TrackingNumber.create_id(receipt.bank, receipt.tracking_number)
        )
        if legacy is not None:
            legacy.release(receipt.receipt_id, reason, now)

    @at_the_latest_change
    def decide_receipt(
        self, invoice_id: UUID, receipt_id: UUID, now: datetime, *, confirm: bool, reason: str = ""
    ) -> PaymentOutcome | None:
        """Finance confirms a receipt (the payment is recorded, the site restored if nothing is
        left overdue) or rejects it with a reason (the customer is told, nothing is paid)."""
        now = check_moment(now)

        def command(uow: _UnitOfWork) -> PaymentOutcome | None:
            invoice = uow.get(invoice_id, Invoice, lambda: _no_invoice(invoice_id))
            life = self._catch_up(uow, invoice.subscription_id, now)
            if not confirm:
                invoice.reject_receipt(receipt_id, reason, now)
                rejected = invoice.receipts[receipt_id]
                # The customer may register the same number again, a detail corrected.
                self._release_claim(uow, rejected, rejected.decision or reason, now)
                policy = life.subscription.plan.policy
                invoice.send_notice(
                    NoticeKind.RECEIPT_REJECTED,
                    now,
                    facts={
                        "reason": reason,
                        "amount_due": invoice.balance.rials,
                        "action_not_before": (now + MIN_LEAD).isoformat(),
                        "deadline": invoice.deadline.isoformat(),
                        "grace_days": policy.grace_days,
                    },
                )
                return None
            receipt = invoice.confirm_receipt(receipt_id, now)
            payment = Payment(
                reference=receipt.reference,
                amount=receipt.amount.rials,
                method="bank_receipt",
                customer_id=life.subscription.customer_id,
                subscription_id=life.subscription.id,
                invoice_id=invoice.id,
                timestamp=now,
            )
            if payment.id in self.repository:
                raise TrackingNumberUsed(
                    f"The payment of receipt {receipt.tracking_number} was already recorded."
                )
            uow.add(payment)
            if life.subscription.site_state is SiteState.COLLECTED or invoice.is_void:
                # The money is in the bank but the invoice can no longer be paid (collected is
                # final): keep it as the customer's credit, as for a late gateway payment.
                life.customer.add_credit(receipt.amount, receipt.reference, now)
                return PaymentOutcome(
                    receipt.reference, receipt.amount, (), receipt.amount, False, ()
                )
            life.invoices.setdefault(invoice.id, invoice)
            return lifecycle.settle_payment(
                payment_id=payment.id,
                reference=receipt.reference,
                amount=receipt.amount,
                method="bank_receipt",
                named=invoice,
                sub=life.subscription,
                invoices=life.invoices,
                customer=life.customer,
                now=now,
            )

        return self._run(command)

    # --- finance actions --------------------------------------------------------------------------

    @at_the_latest_change
    def place_hold(
        self, subscription_id: UUID, reason: str, until: datetime, now: datetime
    ) -> None:
        """No suspension or collection until ``until``; its end re-evaluates at once, notices first."""
        now, until = check_moment(now), check_moment(until)

        def command(uow: _UnitOfWork) -> None:
            life = self._catch_up(uow, subscription_id, now)
            life.subscription.place_hold(reason, until, now)

        self._run(command)

    @at_the_latest_change
    def lift_hold(self, subscription_id: UUID, reason: str, now: datetime) -> None:
        now = check_moment(now)

        def command(uow: _UnitOfWork) -> None:
            life = self._catch_up(uow, subscription_id, now)
            sub = life.subscription
            sub.end_hold(now, reason=reason)
            policy = sub.plan.policy
            overdue = lifecycle.past_grace(sub, life.invoices, policy, now)
            sub.send_notice(
                NoticeKind.HOLD_ENDED,
                now,
                facts={
                    "amount_due": lifecycle.amount_due(sub, life.invoices).rials,
                    "overdue": [str(i.id) for i in overdue],
                    "action_not_before": (now + MIN_LEAD).isoformat()
                    if overdue or sub.suspension
                    else None,
                },
            )

        self._run(command)

    @at_the_latest_change
    def void_invoice(self, invoice_id: UUID, reason: str, now: datetime) -> None:
        """Finance voids an invoice with a reason: it is no longer owed; a site suspended only for
        it is restored at once."""
        now = check_moment(now)
        reason = multiline_text(reason, "reason", max_length=500)

        def command(uow: _UnitOfWork) -> None:
            invoice = uow.get(invoice_id, Invoice, lambda: _no_invoice(invoice_id))
            life = self._catch_up(uow, invoice.subscription_id, now)
            invoice.check_payable()
            invoice.void(reason, now)
            sub = life.subscription
            sub.note_closed([invoice.id], reason, now)
            # Money never vanishes: what was paid (or settled from credit) on a voided invoice
            # is no longer owed to it, so it goes back to the customer's credit, in this save.
            credited = invoice.paid
            if credited.is_positive:
                life.customer.add_credit(credited, f"void:{invoice.id}", now)
            invoice.send_notice(
                NoticeKind.INVOICE_VOIDED,
                now,
                facts={"reason": reason, "credit": credited.rials},
            )
            life.invoices[invoice.id] = invoice
            _restore_if_nothing_keeps_it(
                life, now, f"void:{invoice.id}", f"void of invoice {str(invoice.id)[:8]}"
            )

        self._run(command)

    # --- official invoices ----------------------------------------------------------------------

    @at_the_latest_change
    def issue_official_invoice(self, invoice_id: UUID, now: datetime) -> OfficialRecord:
        """The official invoice of a fully paid invoice, issued now if it was not yet.

        Payments issue it by themselves when the customer qualifies; this is for a customer
        who completed the profile after paying. Asking again returns the same document.
        """
        now = check_moment(now)

        def command(uow: _UnitOfWork) -> OfficialRecord:
            invoice = uow.get(invoice_id, Invoice, lambda: _no_invoice(invoice_id))
            if invoice.official is not None:
                return invoice.official
            seller = self._seller_or_refuse()
            customer = uow.get(
                invoice.customer_id, Customer, lambda: _no_customer(invoice.customer_id)
            )
            buyer = buyer_of(customer.profile)
            return self._issue_official(uow, invoice, seller, buyer, max(now, invoice.modified_on))

        return self._run(command)

    def why_no_official(self, invoice_id: UUID) -> OfficialInvoiceRefused:
        """Why an invoice has no official invoice yet, as the refusal a caller should see."""
        invoice = self.get_invoice(invoice_id)
        try:
            buyer_of(self.get_customer(invoice.customer_id).profile)
            self._seller_or_refuse()
        except OfficialInvoiceRefused as refusal:
            return refusal
        if invoice.status is not InvoiceStatus.PAID:
            return OfficialInvoiceRefused(
                f"Invoice {invoice_id} is {invoice.status.value}: its official invoice is issued "
                f"when it is fully paid (balance {invoice.balance}). The plain invoice PDF "
                f"(GET /invoices/{invoice_id}/invoice.pdf) is its proforma until then.",
                reason="not_paid",
            )
        return OfficialInvoiceRefused(
            f"Invoice {invoice_id} was paid before its customer's profile was complete, so its "
            f"official invoice was not issued then; POST /invoices/{invoice_id}/official "
            "issues it now.",
            reason="not_issued",
        )

    def _number_taken(self, uow: _UnitOfWork, fiscal_year: int, number: int) -> bool:
        """Taken in the store, or by another invoice this same command is issuing."""
        claim_id = OfficialNumberClaim.create_id(fiscal_year, number)
        return claim_id in uow.aggregates or bool(self.recorder.select_events(claim_id, limit=1))

    def _seller_or_refuse(self) -> Seller:
        if self.seller is None:
            raise OfficialInvoiceRefused(
                "This portal's own company details are not configured, so no official invoice "
                "can be issued. An operator sets BILLING_SELLER_NAME, BILLING_SELLER_ECONOMIC_CODE, "
                "BILLING_SELLER_NATIONAL_ID, BILLING_SELLER_REGISTRATION_NUMBER, "
                "BILLING_SELLER_ADDRESS, BILLING_SELLER_POSTAL_CODE and BILLING_TAX_MEMORY_ID.",
                reason="seller_not_configured",
            )
        return self.seller

    def _issue_due_officials(self, uow: _UnitOfWork) -> None:
        """Issue the official invoice of every invoice this command paid in full, when the
        customer qualifies, in the same save: the number exists only if the payment does."""
        if self.seller is None:
            return
        for invoice in [a for a in uow.aggregates.values() if isinstance(a, Invoice)]:
            if (
                invoice.official is not None
                or not invoice.pending_events
                or invoice.status is not InvoiceStatus.PAID
            ):
                continue
            customer = uow.get(
                invoice.customer_id, Customer, lambda i=invoice: _no_customer(i.customer_id)
            )
            try:
                buyer = buyer_of(customer.profile)
            except OfficialInvoiceRefused:
                continue  # a person, or a profile still incomplete: the plain PDF serves them
            self._issue_official(uow, invoice, self.seller, buyer, invoice.modified_on)

    def _issue_official(
        self, uow: _UnitOfWork, invoice: Invoice, seller: Seller, buyer: Any, now: datetime
    ) -> OfficialRecord:
        year = fiscal_year_of(now)
        number = first_free_number(
            lambda n: self._number_taken(uow, year, n), self._official_hint.get(year, 1)
        )
        self._official_hint[year] = number
        uow.add(OfficialNumberClaim.claim(year, number, invoice.id, now))
        tax = official_tax_id(seller.memory_id, now, year, number)
        invoice.issue_official(year, number, seller.party, buyer, tax, now)
        assert invoice.official is not None
        return invoice.official

    # --- paying online: the gateway's verified payments -------------------------------------------

    @at_the_latest_change
    def open_payment_link(
        self, invoice_id: UUID, authority: str, amount: Money, gateway: str, now: datetime
    ) -> UUID:
        """Record that the customer was sent to the gateway for ``amount`` under ``authority``."""
        now = check_moment(now)

        def command(uow: _UnitOfWork) -> UUID:
            invoice = uow.get(invoice_id, Invoice, lambda: _no_invoice(invoice_id))
            attempt = GatewayPayment(
                authority=authority,
                invoice_id=invoice.id,
                subscription_id=invoice.subscription_id,
                amount=amount.rials,
                gateway=gateway,
                timestamp=now,
            )
            uow.add(attempt)
            return attempt.id

        return self._run(command)

    def gateway_payment(self, authority: str) -> GatewayPayment:
        try:
            return self.repository.get(GatewayPayment.create_id(authority))
        except AggregateNotFoundError:
            raise PaymentLinkNotFound(
                f"No payment was started with authority {authority!r}; start again from the invoice's payment link.",
                authority=authority,
            ) from None

    @at_the_latest_change
    def record_gateway_outcome(
        self,
        authority: str,
        now: datetime,
        *,
        verified_ref_id: str | None = None,
        code: int | None = None,
        failed: str | None = None,
        unconfirmed: str | None = None,
    ) -> tuple[GatewayPayment, PaymentOutcome | None]:
        """What the gateway said about an attempt: verified (the payment is recorded once, for the
        amount the attempt was opened with), failed, or not known yet."""
        now = check_moment(now)

        def command(uow: _UnitOfWork) -> tuple[GatewayPayment, PaymentOutcome | None]:
            attempt_id = GatewayPayment.create_id(authority)
            attempt = uow.get(
                attempt_id,
                GatewayPayment,
                lambda: PaymentLinkNotFound(f"Unknown authority {authority!r}."),
            )
            if verified_ref_id is None:
                if failed is not None:
                    attempt.failed(failed, code, now)
                elif unconfirmed is not None:
                    attempt.unconfirmed(unconfirmed, now)
                return attempt, None
            if attempt.status is GatewayStatus.VERIFIED:
                return attempt, None  # a replayed callback: counted once already
            attempt.verified(verified_ref_id, code or 100, now)
            invoice = uow.get(attempt.invoice_id, Invoice, lambda: _no_invoice(attempt.invoice_id))
            life = self._catch_up(uow, attempt.subscription_id, now)
            life.invoices.setdefault(invoice.id, invoice)
            if life.subscription.site_state is SiteState.COLLECTED or invoice.is_void:
                # The gateway took the money for an invoice that can no longer be paid: keep it
                # as the customer's credit (never dropped), for finance to refund or apply.
                life.customer.add_credit(attempt.amount, attempt.reference, now)
                return attempt, PaymentOutcome(
                    attempt.reference, attempt.amount, (), attempt.amount, False, ()
                )
            payment = Payment(
                reference=attempt.reference,
                amount=attempt.amount.rials,
                method="gateway",
                customer_id=life.subscription.customer_id,
                subscription_id=life.subscription.id,
                invoice_id=invoice.id,
                timestamp=now,
            )
            uow.add(payment)
            outcome = lifecycle.settle_payment(
                payment_id=payment.id,
                reference=attempt.reference,
                amount=attempt.amount,
                method="gateway",
                named=invoice,
                sub=life.subscription,
                invoices=life.invoices,
                customer=life.customer,
                now=now,
            )
            return attempt, outcome

        return self._run(command)

    # --- time ----------------------------------------------------------------------------------

    def advance(
        self,
        now: datetime,
        *,
        on_time: bool = False,
        subscription_ids: Iterable[UUID] | None = None,
    ) -> list[Executed]:
        """Execute everything due up to ``now``, in due order, idempotently.

        With ``on_time`` (the simulated clock) every step is recorded at its own due moment, as
        if the engine had run all along, so one jump and many small steps give the same
        events. Without it (a real catch-up) late steps are recorded at ``now`` with their due
        moment kept, and actions wait their lead time after the notices sent late.
        """
        now = check_moment(now)
        among = list(subscription_ids) if subscription_ids is not None else None
        executed: list[Executed] = []
        self.due_index.refresh()
        while True:
            entry = self.due_index.earliest(among)
            if entry is None or entry.due_at > now:
                return executed
            done = self._advance_one(entry.subscription_id, now, on_time)
            executed += done
            if not done:
                # Nothing was due after all (the index was stale): file its real next moment.
                self.due_index.set(
                    entry.subscription_id, self._next_due_moment(entry.subscription_id)
                )

    @at_the_latest_change
    def advance_subscription(self, subscription_id: UUID, now: datetime) -> list[Executed]:
        """Catch one subscription up: execute everything due for it by ``now``, at ``now``."""
        return self._advance_one(subscription_id, check_moment(now), on_time=False)

    def _advance_one(self, subscription_id: UUID, now: datetime, on_time: bool) -> list[Executed]:
        def command(uow: _UnitOfWork) -> tuple[list[Executed], Lifecycle]:
            life = self._lifecycle(uow, subscription_id)
            done = self._run_due(life, now, on_time=on_time, only_first_moment=on_time)
            for invoice in life.invoices.values():
                uow.add(invoice)
            return done, life

        (done, life), written = self._run_tracked(command)
        following = lifecycle.next_step(
            life.subscription, life.invoices, life.subscription.plan.policy
        )
        # The next moment is known from the state just saved: the index need not fold our own
        # notifications again.
        self.due_index.set(subscription_id, following.due_at if following else None, seen=written)
        return done

    def _next_due_moment(self, subscription_id: UUID) -> datetime | None:
        life = self._lifecycle(_UnitOfWork(self), subscription_id)
        following = lifecycle.next_step(
            life.subscription, life.invoices, life.subscription.plan.policy
        )
        return following.due_at if following else None

    # --- queries -------------------------------------------------------------------------------

    def get_subscription(self, subscription_id: UUID) -> Subscription:
        return _UnitOfWork(self).get(
            subscription_id, Subscription, lambda: _no_subscription(subscription_id)
        )

    def get_invoice(self, invoice_id: UUID) -> Invoice:
        return _UnitOfWork(self).get(invoice_id, Invoice, lambda: _no_invoice(invoice_id))

    def current_invoice(self, invoice_id: UUID, now: datetime) -> Invoice:
        """The invoice as it stands at ``now``, with what fell due before then applied in
        memory (a collection voids it): judged up to date, and nothing saved."""
        uow = _UnitOfWork(self)
        invoice = uow.get(invoice_id, Invoice, lambda: _no_invoice(invoice_id))
        life = self._catch_up(uow, invoice.subscription_id, check_moment(now))
        return life.invoices.get(invoice_id, invoice)

    def lifecycle_of(self, subscription_id: UUID, *, all_invoices: bool = False) -> Lifecycle:
        return self._lifecycle(_UnitOfWork(self), subscription_id, all_invoices=all_invoices)

    def status_of(self, subscription_id: UUID) -> SubscriptionStatus:
        return self.get_subscription(subscription_id).status

    def next_step_of(self, subscription_id: UUID) -> DueStep | None:
        return self.lifecycle_of(subscription_id).next_step()

    def payment_exists(self, reference: str) -> bool:
        return Payment.create_id(reference) in self.repository

    def describe(self) -> dict[str, Any]:
        return {"persistence": type(self.factory).__module__}


def _project(aggregate: Any, events: Iterable[Any]) -> Any:
    """Fold events into an aggregate (the library's default also runs a typing.Protocol
    isinstance check per event, which costs a fifth of a tick)."""
    for domain_event in events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate


def _no_subscription(subscription_id: UUID) -> SubscriptionNotFound:
    return SubscriptionNotFound(
        f"There is no subscription {subscription_id}. Check the id (GET /subscriptions lists yours).",
        subscription_id=str(subscription_id),
    )


def _restore_if_nothing_keeps_it(life: Lifecycle, now: datetime, reference: str, why: str) -> None:
    """Restore a suspended site in the command that left nothing keeping it suspended (a void,
    an approved extension; payments restore in :func:`lifecycle.settle_payment`).
    ``reference``: ``void:<invoice id>`` or ``offline:<request id>``."""
    sub = life.subscription
    if sub.site_state is not SiteState.SUSPENDED or lifecycle.keeping_suspended(
        sub, life.invoices, sub.plan.policy, now
    ):
        return
    sub.restore(reference, now)
    sub.send_notice(
        NoticeKind.SITE_RESTORED,
        now,
        facts={
            "reference": why,
            "cause": reference.partition(":")[0],
            "amount": 0,
            "credit": 0,
            "amount_due": lifecycle.amount_due(sub, life.invoices).rials,
            "site": "up",
        },
    )


def _no_invoice(invoice_id: UUID) -> InvoiceNotFound:
    return InvoiceNotFound(
        f"There is no invoice {invoice_id}. Check the id (a subscription's invoices are listed under it).",
        invoice_id=str(invoice_id),
    )


def _no_customer(customer_id: UUID) -> CustomerNotFound:
    return CustomerNotFound(
        f"There is no customer {customer_id}. Register the customer first.",
        customer_id=str(customer_id),
    )
