"""The Subscription aggregate: one website's contract and the state of its site.

It records the periods it was billed for (each renewal names its invoice), the plan in force,
and the site's own transitions: grace started, suspended, restored, collected. Which of these
is due, and when, is not decided here but by the pure functions of :mod:`domain.lifecycle`;
the methods below only check that a transition makes sense and record it. The values it keeps
(periods, holds, the suspension in force, the site's state) are in :mod:`domain.contract`.

This module is about 640 lines on purpose: its sixteen event classes (over a hundred lines)
are declared in the aggregate's body, where their stored topics
(``domain.subscription:Subscription.…``) put them, and every command sits beside the event it
records (a plan change at once, with its refusals, is the latest: issue 21).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.base import BillingAggregate, Notice, NoticeKind, iso
from domain.contract import BillingPeriod, Hold, SiteState, SubscriptionStatus, Suspension
from domain.errors import (
    HoldRefused,
    ImmediatePlanChangeRefused,
    PlanChangeRefused,
    SiteNotSuspended,
    SubscriptionCollected,
    SubscriptionNotActive,
)
from domain.jalali import JalaliDate
from domain.notices import NoticeSentEvent, facts_of
from domain.plans import Period, Plan
from domain.proration import Proration
from domain.text import multiline_text


class Subscription(BillingAggregate):
    # --- events: what a subscription records (docs/EVENTS.md) -----------------------------------

    class SubscriptionStarted(BillingAggregate.Created):
        """Ordered: the site is created and the first period begins (``plan``: its terms)."""

        customer_id: UUID
        representative_id: UUID | None
        site: str
        plan: dict[str, Any]
        period: str
        anchor: str  # the Jalali day periods are counted from
        first_period_end: str
        first_invoice_id: UUID

    class SubscriptionRenewed(BillingAggregate.Event):
        """The next period began; ``invoice_id`` bills it (issued in the same save)."""

        period_no: int
        start: str
        end: str
        invoice_id: UUID
        plan_id: str
        period: str
        due_at: datetime

    class PlanChangeScheduled(BillingAggregate.Event):
        """From period ``from_period_no`` on, the subscription is on ``plan`` (its terms)."""

        plan: dict[str, Any]
        period: str
        from_period_no: int

    class PlanChanged(BillingAggregate.Event):
        """An upgrade at once: from now on the subscription is on ``plan`` (its terms) and
        ``period``; the current period ``period_no`` ends at ``period_end`` (moved only by a
        change of period length); ``invoice_id`` bills the prorated difference for
        ``days_left`` of ``days_total`` days (issued in the same save; domain/proration.py)."""

        plan: dict[str, Any]
        period: str
        from_plan_id: str
        from_period: str
        period_no: int
        period_end: str
        invoice_id: UUID
        days_left: int
        days_total: int

    class SubscriptionCancelled(BillingAggregate.Event):
        """No renewal after ``effective_at`` (the end of the current period)."""

        reason: str
        effective_at: datetime

    class SubscriptionEnded(BillingAggregate.Event):
        """The contract ended after its cancellation; the site is removed."""

        due_at: datetime

    class InvoicesSettled(BillingAggregate.Event):
        """These invoices are paid in full (``reference``: the payment, or ``credit``)."""

        invoice_ids: list[UUID]
        reference: str

    class InvoicesClosed(BillingAggregate.Event):
        """These invoices were voided by finance and no longer count."""

        invoice_ids: list[UUID]
        reason: str

    class EnforcementHoldPlaced(BillingAggregate.Event):
        """Finance stops suspension and collection until ``until``."""

        reason: str
        until: datetime

    class EnforcementHoldEnded(BillingAggregate.Event):
        """The hold ran out (``due_at`` its end) or finance lifted it (``due_at`` None)."""

        reason: str
        due_at: datetime | None

    class GraceStarted(BillingAggregate.Event):
        """``invoice_id`` is unpaid at its deadline: its grace period begins."""

        invoice_id: UUID
        due_at: datetime

    class GraceWithdrawn(BillingAggregate.Event):
        """An approved offline request moved the invoice's deadline to ``deadline``."""

        invoice_id: UUID
        deadline: datetime

    class SiteSuspended(BillingAggregate.Event):
        """The site is suspended for ``invoice_id`` (the ``suspension_no``-th suspension)."""

        invoice_id: UUID
        suspension_no: int
        due_at: datetime

    class SiteRestored(BillingAggregate.Event):
        """The site is up again (``payment_reference``: a payment, ``void:…``, ``offline:…``)."""

        payment_reference: str

    class SiteCollected(BillingAggregate.Event):
        """The site is removed for non-payment; these open invoices were voided."""

        voided_invoice_ids: list[UUID]
        due_at: datetime

    class NoticeSent(NoticeSentEvent):
        """A notice about the site or the contract (domain/notices.py)."""

    @classmethod
    def order(
        cls,
        *,
        id: UUID,
        customer_id: UUID,
        representative_id: UUID | None,
        site: str,
        plan: Plan,
        period: Period,
        first_invoice_id: UUID,
        now: datetime,
    ) -> Subscription:
        """Start a subscription now: the site is created at once, the first period begins."""
        anchor = JalaliDate.of(now)
        return cls(
            id=id,
            customer_id=customer_id,
            representative_id=representative_id,
            site=site,
            plan=plan.to_dict(),
            period=period.value,
            anchor=anchor.isoformat(),
            first_period_end=anchor.add_months(period.months).isoformat(),
            first_invoice_id=first_invoice_id,
            timestamp=now,
        )

    @event(SubscriptionStarted)
    def __init__(
        self,
        id: UUID,
        customer_id: UUID,
        representative_id: UUID | None,
        site: str,
        plan: dict[str, Any],
        period: str,
        anchor: str,
        first_period_end: str,
        first_invoice_id: UUID,
        timestamp: datetime,
    ) -> None:
        self.customer_id = customer_id
        self.representative_id = representative_id
        self.site = site
        self.plan = Plan.from_dict(plan)
        #: Every plan's terms this subscription was ordered on or moved to, by plan id.
        self.plans_on_record: dict[str, Plan] = {self.plan.id: self.plan}
        self.period = Period(period)
        self.anchor = JalaliDate.parse(anchor)
        self.ordered_at = timestamp
        self.periods: list[BillingPeriod] = [
            BillingPeriod(
                1,
                self.anchor,
                JalaliDate.parse(first_period_end),
                timestamp,
                first_invoice_id,
                self.plan.id,
                self.period,
            )
        ]
        #: Every invoice of this subscription, in the order they were issued: one per period,
        #: and a proration invoice for each plan change at once.
        self.all_invoice_ids: list[UUID] = [first_invoice_id]
        #: How many plan changes took effect at once (each named its proration invoice).
        self.changes_at_once = 0
        # Invoices not yet settled (paid in full) or voided: the only ones the lifecycle reads.
        self.open_invoice_ids: list[UUID] = [first_invoice_id]
        self.last_settled_at: datetime | None = None
        self.site_state = SiteState.UP
        self.grace_started: dict[UUID, datetime] = {}
        self.suspension: Suspension | None = None
        self.suspension_count = 0
        self.notices: list[Notice] = []
        self.pending_change: tuple[Plan, Period] | None = None
        self.cancelled_at: datetime | None = None
        self.cancel_reason: str | None = None
        self.ended_at: datetime | None = None
        self.collected_at: datetime | None = None
        self.hold: Hold | None = None
        self.hold_ended_at: datetime | None = None

    # --- queries ----------------------------------------------------------------------------

    @property
    def invoice_ids(self) -> list[UUID]:
        return list(self.all_invoice_ids)

    @property
    def current_period(self) -> BillingPeriod:
        return self.periods[-1]

    @property
    def status(self) -> SubscriptionStatus:
        """The customer-facing state, from what this subscription recorded: collected, cancelled
        (ended), suspended, grace (an open invoice whose grace started), else active."""
        if self.site_state is SiteState.COLLECTED:
            return SubscriptionStatus.COLLECTED
        if self.site_state is SiteState.REMOVED:
            return SubscriptionStatus.CANCELLED
        if self.site_state is SiteState.SUSPENDED:
            return SubscriptionStatus.SUSPENDED
        if any(i in self.grace_started for i in self.open_invoice_ids):
            return SubscriptionStatus.GRACE
        return SubscriptionStatus.ACTIVE

    @property
    def is_closed(self) -> bool:
        """Collected or ended: nothing more happens to this subscription."""
        return self.site_state in (SiteState.COLLECTED, SiteState.REMOVED)

    @property
    def contract_ends_at(self) -> datetime | None:
        """After a cancellation, the end of the period in which it was made."""
        return self.current_period.ends_at if self.cancelled_at else None

    def next_period(self) -> BillingPeriod:
        """The period that would follow the current one, with any plan change applied."""
        plan, period = self.pending_change or (self.plan, self.period)
        current = self.current_period
        start = current.end
        months_from_anchor = self._months_between(self.anchor, start) + period.months
        end = self.anchor.add_months(months_from_anchor, anchor_day=self.anchor.day)
        return BillingPeriod(
            current.number + 1,
            start,
            end,
            start.start_in_tehran(),
            UUID(int=0),  # the caller names the invoice
            plan.id,
            period,
        )

    def plan_of_period(self, period_no: int) -> Plan:
        """The terms period ``period_no`` was billed on (the current plan if unknown)."""
        if 1 <= period_no <= len(self.periods):
            return self.plans_on_record.get(self.periods[period_no - 1].plan_id, self.plan)
        return self.plan

    @staticmethod
    def _months_between(anchor: JalaliDate, day: JalaliDate) -> int:
        return (day.year - anchor.year) * 12 + (day.month - anchor.month)

    def notices_of(self, kind: NoticeKind, since: datetime | None = None) -> list[Notice]:
        return [
            n for n in self.notices if n.kind is kind and (since is None or n.recorded_at >= since)
        ]

    # --- commands: the contract -------------------------------------------------------------

    def renew(self, invoice_id: UUID, due_at: datetime, now: datetime) -> BillingPeriod:
        """Begin the next period (the caller issues its invoice in the same save)."""
        now = self._now(now)
        self._check_open("renew")
        following = self.next_period()
        self._renewed(
            following.number,
            following.start.isoformat(),
            following.end.isoformat(),
            invoice_id,
            following.plan_id,
            following.period.value,
            due_at,
            now,
        )
        return self.current_period

    @event(SubscriptionRenewed)
    def _renewed(
        self,
        period_no: int,
        start: str,
        end: str,
        invoice_id: UUID,
        plan_id: str,
        period: str,
        due_at: datetime,
        timestamp: datetime,
    ) -> None:
        if self.pending_change is not None:
            self.plan, self.period = self.pending_change
            self.pending_change = None
        first_day = JalaliDate.parse(start)
        self.all_invoice_ids.append(invoice_id)
        self.open_invoice_ids.append(invoice_id)
        self.periods.append(
            BillingPeriod(
                period_no,
                first_day,
                JalaliDate.parse(end),
                first_day.start_in_tehran(),
                invoice_id,
                plan_id,
                Period(period),
            )
        )

    def change_plan(self, plan: Plan, period: Period, overdue: list[UUID], now: datetime) -> None:
        now = self._now(now)
        self._check_changeable(overdue)
        self._plan_change_scheduled(
            plan.to_dict(), period.value, self.current_period.number + 1, now
        )

    def _check_changeable(self, overdue: list[UUID]) -> None:
        self._check_open("change the plan of")
        if self.cancelled_at:
            raise SubscriptionNotActive(
                f"Subscription {self.id} was cancelled; its plan can no longer change. "
                "Order a new subscription instead."
            )
        if overdue:
            raise PlanChangeRefused(
                f"The plan cannot change while an invoice is overdue ({', '.join(map(str, overdue))}). "
                "Pay the overdue balance first, then change the plan.",
                overdue=[str(i) for i in overdue],
            )

    @event(PlanChangeScheduled)
    def _plan_change_scheduled(
        self, plan: dict[str, Any], period: str, from_period_no: int, timestamp: datetime
    ) -> None:
        self.pending_change = (Plan.from_dict(plan), Period(period))
        self.plans_on_record[self.pending_change[0].id] = self.pending_change[0]

    def change_plan_now(
        self, change: Proration, invoice_id: UUID, overdue: list[UUID], now: datetime
    ) -> None:
        """An upgrade at once (docs/LIFECYCLE.md, "Plan changes"): refused as any plan change
        is, and when it is not an upgrade (it must then wait for the renewal). The caller
        issues ``invoice_id`` for the prorated difference in the same save."""
        now = self._now(now)
        self._check_changeable(overdue)
        if change.new_end <= change.first_day:
            raise ImmediatePlanChangeRefused(
                f"The period on {change.to_plan.name} ({change.to_period.value}) would end by "
                f"{change.new_end}: no day is left to change at once. Change it at the renewal "
                '("when": "renewal").',
                reason="period_over",
            )
        if not change.is_upgrade:
            raise ImmediatePlanChangeRefused(
                f"Moving from {change.from_plan.name} ({change.from_period.value}) to "
                f"{change.to_plan.name} ({change.to_period.value}) costs nothing more for the "
                f"{change.days_left} days left, so it is not an upgrade and cannot take effect "
                'at once. Change it at the renewal ("when": "renewal").',
                reason="not_an_upgrade",
            )
        self._plan_changed(
            change.to_plan.to_dict(),
            change.to_period.value,
            change.from_plan.id,
            change.from_period.value,
            self.current_period.number,
            change.new_end.isoformat(),
            invoice_id,
            change.days_left,
            change.days_total,
            now,
        )

    @event(PlanChanged)
    def _plan_changed(
        self,
        plan: dict[str, Any],
        period: str,
        from_plan_id: str,
        from_period: str,
        period_no: int,
        period_end: str,
        invoice_id: UUID,
        days_left: int,
        days_total: int,
        timestamp: datetime,
    ) -> None:
        self.plan, self.period = Plan.from_dict(plan), Period(period)
        self.plans_on_record[self.plan.id] = self.plan
        self.pending_change = None  # the newest request wins
        self.periods[-1] = replace(
            self.periods[-1],
            end=JalaliDate.parse(period_end),
            plan_id=self.plan.id,
            period=self.period,
        )
        self.changes_at_once += 1
        self.all_invoice_ids.append(invoice_id)
        self.open_invoice_ids.append(invoice_id)

    def cancel(self, reason: str, now: datetime) -> None:
        now = self._now(now)
        self._check_open("cancel")
        reason = multiline_text(reason, "reason", max_length=500)
        if self.cancelled_at:
            return  # cancelling twice is the same as cancelling once
        self._cancelled(reason, self.current_period.ends_at, now)

    @event(SubscriptionCancelled)
    def _cancelled(self, reason: str, effective_at: datetime, timestamp: datetime) -> None:
        self.cancelled_at = timestamp
        self.cancel_reason = reason
        self.pending_change = None

    def end(self, due_at: datetime, now: datetime) -> None:
        now = self._now(now)
        self._check_open("end")
        self._ended(due_at, now)

    @event(SubscriptionEnded)
    def _ended(self, due_at: datetime, timestamp: datetime) -> None:
        self.ended_at = timestamp
        self.site_state = SiteState.REMOVED

    def note_settled(self, invoice_ids: list[UUID], reference: str, now: datetime) -> None:
        """Record that these invoices are now paid in full (by a payment or by credit)."""
        now = self._now(now)
        settled = [i for i in invoice_ids if i in self.open_invoice_ids]
        if settled:
            self._invoices_settled(settled, reference, now)

    @event(InvoicesSettled)
    def _invoices_settled(
        self, invoice_ids: list[UUID], reference: str, timestamp: datetime
    ) -> None:
        for invoice_id in invoice_ids:
            self.open_invoice_ids.remove(invoice_id)
        self.last_settled_at = timestamp

    def note_closed(self, invoice_ids: list[UUID], reason: str, now: datetime) -> None:
        """Record that these invoices were voided by finance and no longer count."""
        now = self._now(now)
        closed = [i for i in invoice_ids if i in self.open_invoice_ids]
        if closed:
            self._invoices_closed(closed, reason, now)

    @event(InvoicesClosed)
    def _invoices_closed(self, invoice_ids: list[UUID], reason: str, timestamp: datetime) -> None:
        for invoice_id in invoice_ids:
            self.open_invoice_ids.remove(invoice_id)

    # --- commands: enforcement holds ---------------------------------------------------------

    def place_hold(self, reason: str, until: datetime, now: datetime) -> bool:
        """Finance stops suspension and collection until ``until`` (replacing any hold). The
        hold in force placed again (same reason, same end: a retried request) records nothing
        and answers False."""
        now = self._now(now)
        self._check_open("hold")
        if until <= now:
            raise HoldRefused(
                f"A hold must end in the future; {until.isoformat()} is not after {now.isoformat()}.",
                field="until",
            )
        reason = multiline_text(reason, "reason", max_length=500)
        if self.hold is not None and (self.hold.reason, self.hold.until) == (reason, until):
            return False
        self._hold_placed(reason, until, now)
        return True

    @event(EnforcementHoldPlaced)
    def _hold_placed(self, reason: str, until: datetime, timestamp: datetime) -> None:
        self.hold = Hold(reason, until, timestamp)

    def end_hold(
        self, now: datetime, *, due_at: datetime | None = None, reason: str = "the hold ran out"
    ) -> None:
        """The hold is over (at its end, or lifted early by finance): the lifecycle resumes,
        notices first."""
        now = self._now(now)
        if self.hold is None:
            raise HoldRefused(f"Subscription {self.id} has no enforcement hold.")
        self._hold_ended(multiline_text(reason, "reason", max_length=500), due_at, now)

    @event(EnforcementHoldEnded)
    def _hold_ended(self, reason: str, due_at: datetime | None, timestamp: datetime) -> None:
        self.hold = None
        self.hold_ended_at = timestamp

    # --- commands: the site -----------------------------------------------------------------

    def start_grace(self, invoice_id: UUID, due_at: datetime, now: datetime) -> None:
        now = self._now(now)
        self._check_open("start the grace period of")
        if invoice_id in self.grace_started:
            return
        self._grace_started(invoice_id, due_at, now)

    @event(GraceStarted)
    def _grace_started(self, invoice_id: UUID, due_at: datetime, timestamp: datetime) -> None:
        self.grace_started[invoice_id] = timestamp

    def withdraw_grace(self, invoice_id: UUID, deadline: datetime, now: datetime) -> None:
        """An approved offline request moved the invoice's deadline into the future: it is not
        late any more, so its grace is over; grace starts again at the new deadline."""
        now = self._now(now)
        if invoice_id in self.grace_started and deadline > now and not self.is_closed:
            self._grace_withdrawn(invoice_id, deadline, now)

    @event(GraceWithdrawn)
    def _grace_withdrawn(self, invoice_id: UUID, deadline: datetime, timestamp: datetime) -> None:
        del self.grace_started[invoice_id]

    def suspend(self, invoice_id: UUID, due_at: datetime, now: datetime) -> None:
        now = self._now(now)
        self._check_open("suspend")
        if self.site_state is not SiteState.UP:
            return
        self._site_suspended(invoice_id, self.suspension_count + 1, due_at, now)

    @event(SiteSuspended)
    def _site_suspended(
        self, invoice_id: UUID, suspension_no: int, due_at: datetime, timestamp: datetime
    ) -> None:
        self.site_state = SiteState.SUSPENDED
        self.suspension_count = suspension_no
        self.suspension = Suspension(suspension_no, invoice_id, timestamp)

    def restore(self, reference: str, now: datetime) -> None:
        now = self._now(now)
        self._check_open("restore")
        if self.site_state is not SiteState.SUSPENDED:
            raise SiteNotSuspended(
                f"The site of subscription {self.id} is {self.site_state.value}, not suspended; "
                "there is nothing to restore."
            )
        self._site_restored(reference, now)

    @event(SiteRestored)
    def _site_restored(self, payment_reference: str, timestamp: datetime) -> None:
        self.site_state = SiteState.UP
        self.suspension = None

    def collect(self, voided_invoice_ids: list[UUID], due_at: datetime, now: datetime) -> None:
        now = self._now(now)
        self._check_open("collect")
        self._site_collected(voided_invoice_ids, due_at, now)

    @event(SiteCollected)
    def _site_collected(
        self, voided_invoice_ids: list[UUID], due_at: datetime, timestamp: datetime
    ) -> None:
        self.site_state = SiteState.COLLECTED
        self.collected_at = timestamp
        self.open_invoice_ids = [i for i in self.open_invoice_ids if i not in voided_invoice_ids]
        self.suspension = None

    def send_notice(
        self,
        kind: NoticeKind,
        now: datetime,
        *,
        number: int = 0,
        due_at: datetime | None = None,
        facts: dict[str, Any] | None = None,
    ) -> None:
        now = self._now(now)
        self._notice_sent(kind.value, number, due_at, facts_of(kind, facts), now)

    @event(NoticeSent)
    def _notice_sent(
        self,
        kind: str,
        number: int,
        due_at: datetime | None,
        facts: dict[str, Any],
        timestamp: datetime,
    ) -> None:
        self.notices.append(Notice(NoticeKind(kind), number, timestamp, due_at, facts))

    def _check_open(self, doing: str) -> None:
        if self.site_state is SiteState.COLLECTED:
            raise SubscriptionCollected(
                f"Subscription {self.id} was collected on {iso(self.collected_at)}: its site "
                f"was removed and its open invoices voided, so there is nothing to {doing}. "
                "Order a new subscription to get a new site.",
                subscription_id=str(self.id),
            )
        if self.site_state is SiteState.REMOVED:
            raise SubscriptionNotActive(
                f"Subscription {self.id} ended on {iso(self.ended_at)} after its cancellation; "
                f"there is nothing to {doing}. Order a new subscription instead.",
                subscription_id=str(self.id),
            )
