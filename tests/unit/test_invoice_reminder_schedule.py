"""An invoice keeps the reminder schedule in force when it was issued (docs/LIFECYCLE.md, "The
unpaid path"; InvoiceIssued version 2 in docs/EVENTS.md)."""

from __future__ import annotations

from domain import lifecycle
from domain.base import NoticeKind
from domain.subscription import SubscriptionStatus
from tests.builders import DAY, T0, a_plan, in_memory_app, ordered, run_clock


def test_an_issued_invoice_records_the_reminder_days_of_its_plan():
    app = in_memory_app()
    sub_id = ordered(app, plan=a_plan("plus", reminder_days=(7, 3, 1)))
    invoice = app.get_invoice(app.get_subscription(sub_id).invoice_ids[0])
    assert invoice.reminder_days == (7, 3, 1)


def test_a_plan_change_after_issue_does_not_change_that_invoices_reminders():
    """Ordered on basic (reminders 3 and 1 days before the deadline), moved to plus (7, 3, 1)
    from the next period. The first invoice is still unpaid when plus takes effect: it gets
    no third, late "pay before suspension" reminder, and is suspended on its own schedule.
    The renewal invoice is issued on plus and gets plus's three reminders."""
    app = in_memory_app()
    sub_id = ordered(app)
    app.define_plan(a_plan("plus", reminder_days=(7, 3, 1)), T0)
    app.change_plan(sub_id, "plus", T0 + 5 * DAY)
    first = app.get_subscription(sub_id).invoice_ids[0]

    run_clock(app, T0 + 5 * DAY, T0 + 36 * DAY, step=DAY)

    sub = app.get_subscription(sub_id)
    assert sub.plan.id == "plus" and len(sub.periods) == 2
    invoice = app.get_invoice(first)
    assert invoice.reminder_days == (3, 1)
    assert sorted(n.number for n in invoice.notices_of(NoticeKind.PAYMENT_REMINDER)) == [1, 2]
    assert sub.status is SubscriptionStatus.SUSPENDED
    assert sub.suspension.invoice_id == first
    renewal = app.get_invoice(sub.invoice_ids[1])
    assert renewal.reminder_days == (7, 3, 1)
    life = app.lifecycle_of(sub_id)
    assert lifecycle.reminder_days_of(renewal, life.subscription) == (7, 3, 1)
