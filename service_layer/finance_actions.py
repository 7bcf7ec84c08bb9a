"""Finance's actions that are not payments: enforcement holds and voids (docs/PAYMENTS.md,
"Enforcement holds" and "Voids")."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from domain import lifecycle
from domain.base import NoticeKind, check_moment
from domain.invoice import Invoice
from domain.text import multiline_text
from service_layer.catch_up import catch_up, restore_if_nothing_keeps_it
from service_layer.unit_of_work import CommandRunner, UnitOfWork, at_the_latest_change


class VoidOutcome(StrEnum):
    VOIDED = "voided"
    #: Under the four-eyes rule: recorded as proposed, awaiting a second person.
    PROPOSED = "proposed"


class FinanceCommands(CommandRunner):
    @at_the_latest_change
    def place_hold(
        self, subscription_id: UUID, reason: str, until: datetime, now: datetime
    ) -> None:
        """No suspension or collection until ``until``; its end re-evaluates at once, notices first.
        The customer is told (``hold_placed``); the hold in force placed again records nothing."""
        now, until = check_moment(now), check_moment(until)

        def command(uow: UnitOfWork) -> None:
            life = catch_up(uow, subscription_id, now, self.vat)
            lifecycle.place_hold(life.subscription, life.invoices, reason, until, now)

        self._run(command)

    @at_the_latest_change
    def lift_hold(self, subscription_id: UUID, reason: str, now: datetime) -> None:
        now = check_moment(now)

        def command(uow: UnitOfWork) -> None:
            life = catch_up(uow, subscription_id, now, self.vat)
            lifecycle.end_hold(life.subscription, life.invoices, now, reason=reason)

        self._run(command)

    @at_the_latest_change
    def void_invoice(self, invoice_id: UUID, reason: str, now: datetime) -> VoidOutcome:
        """Finance voids an invoice with a reason: it is no longer owed; a site suspended only for
        it is restored at once. Under the four-eyes rule an invoice above the set amount is
        only proposed for a void by the first person (``PROPOSED``); a second one voids it."""
        now = check_moment(now)
        reason = multiline_text(reason, "reason", max_length=500)

        def command(uow: UnitOfWork) -> VoidOutcome:
            invoice = uow.invoice(invoice_id)
            life = catch_up(uow, invoice.subscription_id, now, self.vat)
            invoice.check_payable()
            if self.four_eyes.void_needs_two(invoice.total):
                if invoice.void_proposal is None:
                    invoice.propose_void(reason, now)
                    return VoidOutcome.PROPOSED
                self.four_eyes.check_second_person(
                    self.recorded_by(invoice.id, Invoice.VoidProposed),
                    self.actor,
                    f"an invoice above {self.four_eyes.void_above:,} rials is voided by two "
                    "people, and the void was proposed by the same person",
                )
            invoice.void(reason, now)
            sub = life.subscription
            sub.note_closed([invoice.id], reason, now)
            # Money never vanishes: what was paid (or settled from credit) on a voided invoice
            # is no longer owed to it, so it goes back to the customer's credit, in this save
            # (less what returns from sale already moved there).
            credited = invoice.credited_by_void
            if credited.is_positive:
                life.customer.add_credit(credited, f"void:{invoice.id}", now)
            invoice.send_notice(
                NoticeKind.INVOICE_VOIDED,
                now,
                facts={"reason": reason, "credit": credited.rials},
            )
            life.invoices[invoice.id] = invoice
            restore_if_nothing_keeps_it(
                life, now, f"void:{invoice.id}", f"void of invoice {str(invoice.id)[:8]}"
            )
            return VoidOutcome.VOIDED

        return self._run(command)
