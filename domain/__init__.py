"""The billing domain: pure, time comes in as an argument, money in integer rials.

The lifecycle of one website (defaults; every duration is a per-plan setting):

    order        SubscriptionStarted, site created, InvoiceIssued (first; deadline +30 days)
    deadline-3d,-1d   NoticeSent(payment_reminder): the schedule the invoice was issued with
    deadline     GraceStarted + NoticeSent(grace_started): the site stays up
    +grace (3d)  SiteSuspended + NoticeSent(site_suspended): site off, the panel still works
    collection-14d,-7d,-1d   NoticeSent(collection_warning)
    +30 days     SiteCollected: the site is removed, open invoices are voided
    any payment before collection: PaymentRecorded, and SiteRestored in the same command
               once no invoice is left unpaid past its deadline plus grace
    each period start: SubscriptionRenewed + InvoiceIssued (renewal; deadline +7 days)

No site is suspended without two reminders (the last a day before), no site is collected
without three warnings (the last a day before): enforced in :mod:`domain.lifecycle` for
every plan, and kept after an outage by postponing the action, never by skipping a notice.

Modules: money (Money, Rate), jalali (calendar), plans (Plan, Period, LifecyclePolicy), vat,
catalogue, customer, subscription (with contract: its periods, holds, suspension), invoice
(with invoice_lines: pricing, and offline: requests and receipts), payment, official
(aggregates), notices (each notice kind's facts), lifecycle (the pure policy). Every event is
a class declared in its aggregate; docs/EVENTS.md lists them and the rule for changing one.
"""
