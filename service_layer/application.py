"""BillingApplication: the commands of the billing engine on top of the event store.

Each public method is one command: it loads the aggregates it needs, first brings the
subscription up to date with whatever fell due before the command's moment (so a result never
depends on when the scheduler last ran), asks the domain to decide, and saves every aggregate
it touched in one atomic ``save``. A rejected command raises a BillingError and saves nothing.
A conflict with a concurrent writer (optimistic concurrency) re-runs the command on fresh
state, which is safe because every command is idempotent.

The commands live in one module per area, each a class this one is composed of:

- ``unit_of_work``: running a command (``CommandRunner``, ``UnitOfWork``, the retry on a
  write conflict, ``at_the_latest_change``); ``catch_up``: bringing a subscription up to date;
- ``catalogue_and_customers``: plans and customers;
- ``representatives``: representatives, and assigning customers to them;
- ``subscriptions``: ordering, cancelling, changing plan, moving through time, and queries;
- ``money_received``: the one path money received takes, and payments recorded by hand;
- ``offline_payments``: offline requests, bank receipts and finance's decisions on them;
- ``finance_actions``: enforcement holds and voids;
- ``refunds``: money given back out of a customer's credit (by transfer or gateway reversal);
- ``returns``: returns from sale (part of a paid invoice back to credit, with its document);
- ``official_invoices``: official invoices and their numbers;
- ``payment_links``: gateway attempts and their outcomes;
- ``service_invoices``: side-service invoices, and their own reminders and overdue notice
  (what ``subscriptions`` builds on: both move through time by one due index);
- ``staff``: staff members (added, disabled, a password set) and their credentials.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from eventsourcing.persistence import JSONTranscoder

from adapters.series_lock import series_lock_for
from domain.four_eyes import FourEyes
from domain.official import Seller
from domain.vat import IRAN_VAT, VatSchedule
from projections.due_index import DueIndex
from service_layer.aggregate_cache import AggregateCache
from service_layer.catalogue_and_customers import CatalogueCommands, CustomerCommands
from service_layer.catch_up import Executed, Lifecycle
from service_layer.finance_actions import FinanceCommands
from service_layer.money_received import MoneyReceivedCommands
from service_layer.official_invoices import OfficialInvoiceCommands
from service_layer.offline_payments import OfflinePaymentCommands
from service_layer.payment_links import PaymentLinkCommands
from service_layer.refunds import RefundCommands
from service_layer.representatives import RepresentativeCommands
from service_layer.returns import ReturnCommands
from service_layer.staff import StaffCommands
from service_layer.subscriptions import SubscriptionCommands
from service_layer.unit_of_work import DEFAULT_SKEW_TOLERANCE, UnitOfWork

# Imported from here by the API (Lifecycle) and the scheduler (Executed).
__all__ = ["BillingApplication", "Executed", "Lifecycle"]


class BillingApplication(
    CatalogueCommands,
    CustomerCommands,
    RepresentativeCommands,
    SubscriptionCommands,
    MoneyReceivedCommands,
    OfflinePaymentCommands,
    FinanceCommands,
    RefundCommands,
    ReturnCommands,
    OfficialInvoiceCommands,
    PaymentLinkCommands,
    StaffCommands,
):
    """The billing engine. Persistence is chosen by the environment (see adapters.persistence)."""

    name = "billing"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        vat: VatSchedule = IRAN_VAT,
        seller: Seller | None = None,
        skew_tolerance: timedelta | None = DEFAULT_SKEW_TOLERANCE,
        four_eyes: FourEyes | None = None,
    ) -> None:
        super().__init__(env)
        self.vat = vat
        #: See :func:`service_layer.unit_of_work.at_the_latest_change`.
        self.skew_tolerance = skew_tolerance
        #: The portal's company; without it no official invoice is issued (plain PDFs still are).
        self.seller = seller
        #: Money decisions one person must not take alone (domain/four_eyes.py).
        self.four_eyes = four_eyes or FourEyes()
        #: Per fiscal year, the last official number this process saw taken (a search hint).
        self._official_hint: dict[int, int] = {}
        #: One writer at a time chooses and saves the next official number, in every process
        #: on this store (adapters/series_lock.py).
        self.series_lock = series_lock_for(self.recorder)

        #: Aggregates commands saved, brought up to date before the next command uses them.
        self.aggregate_cache = AggregateCache()

        self.due_index = DueIndex(self.recorder, self.mapper, self._next_due_moment)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)

    def _before_save(self, uow: UnitOfWork) -> None:
        # Every command that pays an invoice in full issues its official invoice in its own save.
        self._issue_due_officials(uow)

    def close(self) -> None:
        self.series_lock.close()
        super().close()

    def describe(self) -> dict[str, Any]:
        return {"persistence": type(self.factory).__module__}
