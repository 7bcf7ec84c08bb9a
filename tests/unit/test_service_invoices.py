"""Side-service invoices (docs/INVOICES.md, "Side-service invoices"; docs/LIFECYCLE.md,
"Side-service invoices"): priced by agreement with VAT by date, reminded and told overdue on
their own schedule, paid through the same paths as any invoice, and never suspending or
collecting a site."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.base import NoticeKind
from domain.errors import (
    InvalidAmount,
    InvalidInput,
    ServiceInvoiceRefused,
    SubscriptionNotFound,
)
from domain.invoice import InvoiceKind, InvoiceStatus
from domain.subscription import SiteState
from domain.vat import VatSchedule
from tests.builders import (
    DAY,
    HOUR,
    T0,
    a_company,
    a_person,
    a_plan,
    in_memory_app,
    ordered,
    run_clock,
)

DESIGN = {"description": "طراحی لوگو", "unit_price": 5_000_000, "quantity": 1}
SEO = {"description": "SEO, monthly", "unit_price": 2_000_000, "quantity": 3}


def billed(app=None, *, lines=(DESIGN, SEO), due_days=10, at=T0 + HOUR, profile=None):
    app = app or in_memory_app()
    app.define_plan(a_plan(), T0)
    customer = app.register_customer(profile or a_person(), T0)
    sub_id = ordered(app, customer=customer)
    invoice_id = app.issue_service_invoice(customer, sub_id, list(lines), due_days, at)
    return app, customer, sub_id, invoice_id


def test_lines_are_priced_by_agreement_with_the_vat_rate_in_force_that_day():
    app, _, sub_id, invoice_id = billed()
    inv = app.get_invoice(invoice_id)
    assert inv.kind is InvoiceKind.SERVICE
    assert inv.subscription_id == sub_id
    # 5,000,000 + 3 × 2,000,000 = 11,000,000 net; VAT 10 % (1403/01/01 onwards) = 1,100,000.
    assert [(line.description, line.quantity, line.unit_price.rials) for line in inv.lines] == [
        ("طراحی لوگو", 1, 5_000_000),
        ("SEO, monthly", 3, 2_000_000),
    ]
    assert inv.vat.rials == 1_100_000
    assert inv.total.rials == 12_100_000
    assert inv.deadline == T0 + HOUR + 10 * DAY
    assert inv.notices_of(NoticeKind.INVOICE_ISSUED)


def test_the_vat_rate_is_the_one_of_the_invoice_day_in_the_dated_schedule():
    app = in_memory_app()
    app.vat = VatSchedule.parse("1396/01/01=9,1405/02/01=12")  # 1405/02/01 is 2026-04-21
    _, _, _, before = billed(app, lines=[DESIGN], at=T0 + HOUR)
    assert app.get_invoice(before).vat.rials == 450_000  # 9 % on 1405/01/15
    sub_id = app.get_invoice(before).subscription_id
    customer = app.get_invoice(before).customer_id
    after = app.issue_service_invoice(customer, sub_id, [DESIGN], 10, T0 + 20 * DAY)
    assert app.get_invoice(after).vat.rials == 600_000  # 12 % on 1405/02/04


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"description": "", "unit_price": 1, "quantity": 1}, "lines[0].description"),
        ({"description": "a\x00b", "unit_price": 1, "quantity": 1}, "lines[0].description"),
        ({"description": "x", "unit_price": 0, "quantity": 1}, None),
        ({"description": "x", "unit_price": 1.5, "quantity": 1}, None),
        ({"description": "x", "unit_price": 10**12, "quantity": 1}, "lines[0].unit_price"),
        ({"description": "x", "unit_price": 1, "quantity": 0}, "lines[0].quantity"),
        ({"description": "x", "unit_price": 1, "quantity": 1001}, "lines[0].quantity"),
        ({"description": "x", "unit_price": 1, "quantity": True}, "lines[0].quantity"),
    ],
)
def test_a_bad_line_is_refused_naming_it_and_nothing_is_recorded(line, field):
    app = in_memory_app()
    app.define_plan(a_plan(), T0)
    customer = app.register_customer(a_person(), T0)
    sub_id = ordered(app, customer=customer)
    before = app.recorder.max_notification_id()
    with pytest.raises((InvalidInput, InvalidAmount)) as refused:
        app.issue_service_invoice(customer, sub_id, [line], 10, T0 + HOUR)
    if field is not None:
        assert refused.value.details["field"] == field
    assert app.recorder.max_notification_id() == before


def test_no_lines_too_many_lines_and_a_bad_due_days_are_refused():
    app = in_memory_app()
    app.define_plan(a_plan(), T0)
    customer = app.register_customer(a_person(), T0)
    sub_id = ordered(app, customer=customer)
    with pytest.raises(InvalidInput, match="at least one line"):
        app.issue_service_invoice(customer, sub_id, [], 10, T0 + HOUR)
    with pytest.raises(InvalidInput, match="at most 20 lines"):
        app.issue_service_invoice(customer, sub_id, [DESIGN] * 21, 10, T0 + HOUR)
    for days in (0, 91, "7"):
        with pytest.raises(InvalidInput) as refused:
            app.issue_service_invoice(customer, sub_id, [DESIGN], days, T0 + HOUR)
        assert refused.value.details["field"] == "due_days"


def test_the_subscription_must_be_the_customers_own_and_still_running():
    app, customer, sub_id, _ = billed()
    other = app.register_customer(a_person("Ali"), T0)
    with pytest.raises(SubscriptionNotFound):
        app.issue_service_invoice(other, sub_id, [DESIGN], 10, T0 + 2 * HOUR)
    with pytest.raises(SubscriptionNotFound):
        app.issue_service_invoice(customer, uuid4(), [DESIGN], 10, T0 + 2 * HOUR)
    # Left unpaid, the hosting invoice gets the site collected (30 + 3 + 30 days, and leads).
    run_clock(app, T0 + 2 * HOUR, T0 + 80 * DAY, step=6 * HOUR)
    assert app.get_subscription(sub_id).site_state is SiteState.COLLECTED
    with pytest.raises(ServiceInvoiceRefused) as refused:
        app.issue_service_invoice(customer, sub_id, [DESIGN], 10, T0 + 81 * DAY)
    assert refused.value.details["reason"] == "subscription_closed"


def test_a_retry_with_the_same_invoice_id_issues_nothing_more():
    app, customer, sub_id, _ = billed()
    again = uuid4()
    first = app.issue_service_invoice(
        customer, sub_id, [DESIGN], 10, T0 + 2 * HOUR, invoice_id=again
    )
    before = app.recorder.max_notification_id()
    second = app.issue_service_invoice(
        customer, sub_id, [DESIGN], 10, T0 + 3 * HOUR, invoice_id=again
    )
    assert first == second == again
    assert app.recorder.max_notification_id() == before


def test_unpaid_it_is_reminded_and_told_overdue_once_and_the_site_is_never_touched():
    """The hosting invoice is paid; the side-service invoice is not. Its reminders go out 3
    and 1 days before its deadline, its overdue notice at the deadline, then nothing: no
    grace, no suspension, no collection, for as long as it stays unpaid."""
    app, customer, sub_id, invoice_id = billed()
    deadline = app.get_invoice(invoice_id).deadline
    executed, now = [], T0 + HOUR
    while now < deadline + 120 * DAY:  # four months, every hosting invoice paid on the day
        now += 6 * HOUR
        executed += app.advance(now, on_time=True)
        for hosting in app.get_subscription(sub_id).open_invoice_ids:
            app.record_payment(
                str(hosting), app.get_invoice(hosting).balance.rials, now, invoice_id=hosting
            )
    inv = app.get_invoice(invoice_id)
    told = [(n.kind, n.number, n.due_at) for n in inv.notices if n.due_at is not None]
    assert told == [
        (NoticeKind.SERVICE_REMINDER, 1, deadline - 3 * DAY),
        (NoticeKind.SERVICE_REMINDER, 2, deadline - DAY),
        (NoticeKind.SERVICE_OVERDUE, 0, deadline),
    ]
    assert [e.subscription_id for e in executed if e.subscription_id == invoice_id] == [
        invoice_id
    ] * 3
    sub = app.get_subscription(sub_id)
    assert sub.site_state is SiteState.UP and sub.suspension is None
    assert invoice_id not in sub.grace_started
    assert inv.status is InvoiceStatus.OPEN


def test_one_jump_and_small_steps_send_the_same_notices_at_the_same_moments():
    def notices_after(step):
        app, _, _, invoice_id = billed()
        run_clock(app, T0 + HOUR, T0 + 30 * DAY, step=step)
        return [(n.kind, n.number, n.recorded_at) for n in app.get_invoice(invoice_id).notices]

    assert notices_after(HOUR) == notices_after(30 * DAY)


def test_a_late_catch_up_sends_the_missed_notices_at_the_tick_with_their_due_moments():
    app, _, _, invoice_id = billed()
    late = T0 + 40 * DAY
    app.advance(late)  # the real scheduler's catch-up: at its moment, not on time
    told = app.get_invoice(invoice_id).notices_of(
        NoticeKind.SERVICE_REMINDER, NoticeKind.SERVICE_OVERDUE
    )
    assert [(n.number, n.recorded_at) for n in told] == [(1, late), (2, late), (0, late)]
    assert all(n.due_at is not None and n.due_at < late for n in told)


def test_the_hosting_lifecycle_ignores_it_while_the_site_is_suspended_for_hosting():
    """A site suspended for its hosting invoice is restored by paying that invoice alone: an
    unpaid side-service invoice keeps nothing suspended."""
    app, _, sub_id, invoice_id = billed()
    run_clock(app, T0 + 2 * HOUR, T0 + 36 * DAY, step=6 * HOUR)
    assert app.get_subscription(sub_id).site_state is SiteState.SUSPENDED
    hosting = app.get_subscription(sub_id).invoice_ids[0]
    outcome = app.record_payment(
        "bank-2", app.get_invoice(hosting).total.rials, T0 + 36 * DAY, invoice_id=hosting
    )
    assert outcome.restored
    assert app.get_invoice(invoice_id).status is InvoiceStatus.OPEN


def test_a_payment_naming_it_pays_it_and_the_rest_goes_to_hosting_then_credit():
    app, customer, sub_id, invoice_id = billed()
    hosting = app.get_subscription(sub_id).invoice_ids[0]
    service_total = app.get_invoice(invoice_id).total.rials
    hosting_total = app.get_invoice(hosting).total.rials
    outcome = app.record_payment(
        "bank-3", service_total + hosting_total + 5, T0 + DAY, invoice_id=invoice_id
    )
    assert [(a.invoice_id, a.amount.rials) for a in outcome.allocations] == [
        (invoice_id, service_total),
        (hosting, hosting_total),
    ]
    assert outcome.credit.rials == 5
    assert app.get_invoice(invoice_id).status is InvoiceStatus.PAID
    assert app.get_customer(customer).credit.rials == 5


def test_paid_notices_stop_and_credit_pays_it_at_issue():
    app, customer, sub_id, _ = billed()
    hosting = app.get_subscription(sub_id).invoice_ids[0]
    app.record_payment(
        "bank-4", app.get_invoice(hosting).total.rials + 6_000_000, T0 + DAY, invoice_id=hosting
    )
    paid_by_credit = app.issue_service_invoice(customer, sub_id, [DESIGN], 10, T0 + 2 * DAY)
    inv = app.get_invoice(paid_by_credit)
    assert inv.status is InvoiceStatus.PAID and inv.paid.rials == 5_500_000
    app.advance(T0 + 30 * DAY)
    assert not app.get_invoice(paid_by_credit).notices_of(
        NoticeKind.SERVICE_REMINDER, NoticeKind.SERVICE_OVERDUE
    )


def test_a_company_gets_its_official_invoice_when_it_pays_one():
    from tests.builders import app_with_seller

    app, _, _, invoice_id = billed(app_with_seller(), profile=a_company())
    app.record_payment(
        "bank-5", app.get_invoice(invoice_id).total.rials, T0 + DAY, invoice_id=invoice_id
    )
    inv = app.get_invoice(invoice_id)
    assert inv.official is not None and inv.official.number == 1


def test_an_organisation_pays_it_offline_request_approval_and_a_confirmed_receipt():
    """The same offline path as any invoice: the approval moves its deadline (and its notices
    not yet sent), the confirmed receipt pays it; the site is never touched."""
    app, _, sub_id, invoice_id = billed(profile=a_company())
    deadline = app.get_invoice(invoice_id).deadline
    request = app.request_offline_payment(invoice_id, "paying by transfer", T0 + DAY)
    app.decide_offline_payment(invoice_id, request, T0 + 2 * DAY, approve=True)
    moved = app.get_invoice(invoice_id).deadline
    assert moved == deadline + 7 * DAY
    receipt = app.register_receipt(
        invoice_id,
        bank="012",
        tracking_number="99887766",
        amount=12_100_000,
        paid_on="1405/01/20",
        now=T0 + 3 * DAY,
    )
    outcome = app.decide_receipt(invoice_id, receipt, T0 + 4 * DAY, confirm=True)
    assert outcome is not None and [a.invoice_id for a in outcome.allocations] == [invoice_id]
    assert app.get_invoice(invoice_id).status is InvoiceStatus.PAID
    assert app.get_subscription(sub_id).site_state is SiteState.UP


def test_finance_voids_it_and_what_was_paid_becomes_credit():
    app, customer, sub_id, invoice_id = billed()
    app.record_payment("part-1", 1_000_000, T0 + DAY, invoice_id=invoice_id)
    app.void_invoice(invoice_id, "the design was cancelled", T0 + 2 * DAY)
    assert app.get_invoice(invoice_id).status is InvoiceStatus.VOID
    assert app.get_customer(customer).credit.rials == 1_000_000
    app.advance(T0 + 30 * DAY)
    assert not app.get_invoice(invoice_id).notices_of(NoticeKind.SERVICE_OVERDUE)


def test_a_payment_naming_no_invoice_pays_hosting_only_never_side_services():
    app, customer, sub_id, invoice_id = billed()
    hosting = app.get_subscription(sub_id).invoice_ids[0]
    outcome = app.record_payment("bank-6", 5_000_000, T0 + DAY, subscription_id=sub_id)
    assert [(a.invoice_id, a.amount.rials) for a in outcome.allocations] == [(hosting, 1_100_000)]
    assert outcome.credit.rials == 3_900_000
    assert app.get_invoice(invoice_id).paid.rials == 0


def test_advancing_an_id_that_is_no_subscription_nor_side_service_invoice_is_not_found():
    app, _, sub_id, _ = billed()
    hosting = app.get_subscription(sub_id).invoice_ids[0]
    for nothing in (uuid4(), hosting):
        with pytest.raises(SubscriptionNotFound):
            app.advance_subscription(nothing, T0 + 2 * HOUR)
    assert not app.due_index.is_service_invoice(hosting)


def test_a_cancelled_contract_ends_with_it_unpaid_and_it_can_still_be_paid():
    app, _, sub_id, invoice_id = billed(due_days=60)
    hosting = app.get_subscription(sub_id).invoice_ids[0]
    app.record_payment("h-1", app.get_invoice(hosting).total.rials, T0 + HOUR, invoice_id=hosting)
    app.cancel_subscription(sub_id, T0 + 2 * HOUR)
    run_clock(app, T0 + 2 * HOUR, T0 + 40 * DAY, step=6 * HOUR)
    assert app.get_subscription(sub_id).site_state is SiteState.REMOVED
    total = app.get_invoice(invoice_id).total.rials
    app.record_payment("svc-late", total, T0 + 41 * DAY, invoice_id=invoice_id)
    assert app.get_invoice(invoice_id).status is InvoiceStatus.PAID


def test_explain_says_it_is_a_side_service_invoice_that_never_touches_the_site():
    from service_layer.audit import explain

    app, _, _, invoice_id = billed()
    app.advance(T0 + 20 * DAY)
    said = explain(app, invoice_id, T0 + 20 * DAY)
    assert "(side services, subscription" in said.english
    assert "never suspends or collects the site" in said.english
    assert "side-service overdue notice" in said.english
    assert "خدمات جانبی" in said.persian
