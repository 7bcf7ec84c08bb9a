"""The read models, the outbox and the due index choose events by class (docs/EVENTS.md): an
event triggered in this process and the same event decoded from the store are of one class,
so each projection routes them alike."""

from __future__ import annotations

from uuid import uuid4

from domain.customer import Customer
from domain.invoice import Invoice
from domain.notices import NoticeSentEvent
from domain.representative import Representative
from domain.subscription import Subscription
from projections.due_index import DueIndex
from projections.money_views import InvoiceLedger, RevenueByMonth
from projections.outbox import platform_action
from projections.payment_views import OfflineRequestsView
from projections.representative_views import RepresentativesView
from projections.views import ALL_READ_MODELS, CustomerAccountsView, NoticesView
from tests.builders import DAY, T0, in_memory_app, ordered


def test_triggered_and_decoded_events_are_of_one_class_and_route_alike():
    app = in_memory_app()
    sub_id = ordered(app)
    invoice_id = app.get_subscription(sub_id).invoice_ids[0]
    app.record_payment("ref-1", 1_100_000, T0 + DAY, invoice_id=invoice_id)
    decoded = list(app.events.get(sub_id)) + list(app.events.get(invoice_id))
    triggered = {
        Subscription.SubscriptionStarted,
        Subscription.NoticeSent,
        Invoice.InvoiceIssued,
        Invoice.NoticeSent,
        Invoice.PaymentRecorded,
    }
    assert triggered <= {type(e) for e in decoded}
    for event in decoded:
        routed = {m.name for m in ALL_READ_MODELS if m.wants(type(event))}
        if isinstance(event, NoticeSentEvent):
            assert "notices" in routed
        if isinstance(event, Invoice.PaymentRecorded):
            assert {"invoices", "invoice_ledger", "revenue_by_month"} <= routed


def test_each_projection_names_the_classes_it_wants():
    assert NoticesView().wants(Invoice.NoticeSent) and NoticesView().wants(Subscription.NoticeSent)
    assert not NoticesView().wants(Invoice.PaymentRecorded)
    assert InvoiceLedger().wants(Invoice.OfflinePaymentApproved)
    assert not RevenueByMonth().wants(Invoice.OfflinePaymentApproved)
    assert OfflineRequestsView().wants(Invoice.ReceiptRegistered)
    assert not OfflineRequestsView().wants(Invoice.PaymentRecorded)
    assert not InvoiceLedger().wants(Customer.CreditAdded)
    assert RepresentativesView().wants(Representative.RepresentativeDetailsChanged)
    assert not RepresentativesView().wants(Customer.RepresentativeAssigned)
    assert CustomerAccountsView().wants(Customer.RepresentativeAssigned)  # who serves them now
    assert platform_action(Subscription.SiteSuspended) == "suspend"
    assert platform_action(Subscription.SubscriptionStarted) == "create"
    assert platform_action(Subscription.GraceStarted) is None


def test_the_due_index_files_invoice_events_under_their_subscription():
    app = in_memory_app()
    sub_id = ordered(app)
    invoice_id = app.get_subscription(sub_id).invoice_ids[0]
    asked = []
    index = DueIndex(app.recorder, app.mapper, lambda s: asked.append(s) or T0)
    index.refresh()
    assert asked == [sub_id]  # the catalogue's and the customer's events name no subscription
    app.record_payment("ref-1", 1_000, T0 + DAY, invoice_id=invoice_id)
    index.refresh()
    assert asked == [sub_id, sub_id]  # the invoice's payment, by the invoice's InvoiceIssued


def test_the_due_index_names_the_first_due_in_order_skipping_what_moved_on():
    """``upcoming`` (the batch ``advance`` reads together) walks the heap's top: the earliest
    first, at most ``limit``, none due after ``until``, and a subscription whose moment moved
    on named once, at its new moment."""
    app = in_memory_app()
    index = DueIndex(app.recorder, app.mapper, lambda s: None)
    ids = [uuid4() for _ in range(6)]
    for i, subscription_id in enumerate(ids):
        index.set(subscription_id, T0 + (6 - i) * DAY)  # the last is due first
    index.set(ids[0], T0 + DAY / 2)  # moved before everyone: its old entry is stale
    index.set(ids[5], T0 + 10 * DAY)  # moved after ``until``
    assert index.upcoming(T0 + 4 * DAY, 10) == [ids[0], ids[4], ids[3], ids[2]]
    assert index.upcoming(T0 + 4 * DAY, 2) == [ids[0], ids[4]]
    assert index.upcoming(T0, 10) == []
    assert index.upcoming(T0 + 20 * DAY, 10, among=[ids[5], ids[1]]) == [ids[1], ids[5]]
