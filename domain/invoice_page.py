"""How long an invoice's page (the signed link every notice carries) stays open, and how its
status reads in Persian. Pure: the moment is given."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.invoice import Invoice, InvoiceStatus


def page_closes_at(invoice: Invoice, grace: timedelta) -> datetime | None:
    """The page stays open while the invoice is open, and ``grace`` after it was paid in full
    or voided (a customer may still want its PDF); None while it is open."""
    closed = invoice.voided_at or invoice.settled_at
    return closed + grace if closed is not None else None


def page_is_open(invoice: Invoice, grace: timedelta, now: datetime) -> bool:
    closes = page_closes_at(invoice, grace)
    return closes is None or now < closes


def status_fa(invoice: Invoice, now: datetime) -> str:
    if invoice.status is InvoiceStatus.VOID:
        return "باطل‌شده"
    if invoice.status is InvoiceStatus.PAID:
        return "پرداخت‌شده"
    if now > invoice.deadline:
        return "سررسید گذشته، پرداخت‌نشده"
    return "پرداخت‌نشده" if invoice.paid.rials == 0 else "بخشی پرداخت‌شده"
