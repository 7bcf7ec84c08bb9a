"""The words of an official invoice number's claim (the number an official invoice takes)."""

from __future__ import annotations

from domain.official import OfficialNumberClaim
from presentation.events.registry import EventData, formats
from presentation.words import Words, short


@formats(OfficialNumberClaim.OfficialNumberClaimed)
def _claimed(d: EventData) -> Words:
    number = f"{d['fiscal_year']}-{d['number']:06d}"
    invoice = short(d["invoice_id"])
    return Words(
        f"official invoice number {number} taken by invoice {invoice}",
        f"شمارهٔ صورتحساب رسمی {number} برای صورتحساب {invoice} گرفته شد",
    )
