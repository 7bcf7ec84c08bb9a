"""Official invoices (صورتحساب فروش کالا و خدمات): who may have one, their numbers, what they say.

An official invoice is a second, legal document for an invoice that is already fully paid,
issued only to a legal entity whose profile carries an economic code, a national ID, a postal
code and an official address. Issuing it records ``OfficialInvoiceIssued`` on the invoice with
everything the document prints that is not already in the invoice's own events: its number,
the seller and the buyer as they were at that moment, the payment references and terms, and
the tax ID. A later change of either profile never alters an issued document, and the PDF can
be rendered again from the events alone.

Numbers are gapless per Jalali fiscal year (the year of the issue moment in Tehran), assigned
at issue, never reused. Each number is an aggregate of its own (``OfficialNumberClaim``,
its id derived from year and number): two concurrent issues that reach for the same number
both create it, the store refuses the second, and the application runs that command again on
fresh state, so numbers are consecutive without a lock, and a number exists only if the
invoice that took it was saved in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.base import BillingAggregate, check_moment, deterministic_id
from domain.customer import BillingProfile, CustomerKind
from domain.errors import InvalidProfile, OfficialInvoiceRefused
from domain.identifiers import (
    economic_code_problem,
    national_id_problem,
    postal_code_problem,
    tax_id,
)
from domain.jalali import JalaliDate
from domain.money import Money


class PaymentTerms(StrEnum):
    """How the invoice was settled, as the official form asks: cash or credit (نقد / نسیه).

    ``cash``: fully paid by its deadline. ``credit``: paid after the deadline, or on terms
    finance approved (an offline payment request moving the deadline).
    """

    CASH = "cash"
    CREDIT = "credit"


@dataclass(frozen=True)
class Party:
    """A seller or buyer block, exactly as printed."""

    name: str
    economic_code: str
    national_id: str
    registration_number: str
    postal_code: str
    address: str
    phone: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Party:
        return cls(**{k: data.get(k) or "" for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Seller:
    """The portal's own company, from settings (``BILLING_SELLER_*``), and its tax memory ID."""

    party: Party
    memory_id: str

    def __post_init__(self) -> None:
        checks = {
            "seller_economic_code": economic_code_problem(self.party.economic_code),
            "seller_national_id": national_id_problem(self.party.national_id),
            "seller_postal_code": postal_code_problem(self.party.postal_code),
        }
        for field, problem in checks.items():
            if problem:
                raise InvalidProfile(f"{field}: {problem}.", field=field)
        for field in ("name", "address", "registration_number"):
            if not getattr(self.party, field).strip():
                raise InvalidProfile(
                    f"seller_{field} is empty: set BILLING_SELLER_{field.upper()}.",
                    field=f"seller_{field}",
                )
        memory = self.memory_id.strip().upper()
        if len(memory) != 6 or not memory.isalnum() or not memory.isascii():
            raise InvalidProfile(
                f"tax_memory_id {self.memory_id!r} must be the 6 letters and digits the tax "
                "administration issued (BILLING_TAX_MEMORY_ID).",
                field="tax_memory_id",
            )
        object.__setattr__(self, "memory_id", memory)


def buyer_of(profile: BillingProfile) -> Party:
    """The buyer block of a customer's profile, or a refusal saying what is missing."""
    if profile.kind is not CustomerKind.LEGAL:
        raise OfficialInvoiceRefused(
            "Official invoices are issued only to legal entities (companies and organisations); "
            "this customer is a natural person. Their plain invoice PDF is the receipt.",
            reason="not_a_legal_entity",
        )
    missing = [
        field
        for field in ("economic_code", "national_id", "postal_code", "address")
        if not (getattr(profile, field) or "").strip()
    ]
    if missing:
        raise OfficialInvoiceRefused(
            f"The customer's billing profile lacks {', '.join(missing)}, which an official "
            "invoice must print. Complete the profile (PUT /customers/{id}/profile), then ask "
            "for the official invoice again.",
            reason="profile_incomplete",
            missing=missing,
        )
    return Party(
        name=profile.name,
        economic_code=profile.economic_code or "",
        national_id=profile.national_id or "",
        registration_number=profile.registration_number or "",
        postal_code=profile.postal_code or "",
        address=profile.address or "",
        phone=profile.mobile,
    )


def fiscal_year_of(moment: datetime) -> int:
    """The Jalali fiscal year (Farvardin to Esfand) of a moment, on Tehran's calendar."""
    return JalaliDate.of(check_moment(moment)).year


def official_tax_id(memory_id: str, issued_at: datetime, fiscal_year: int, number: int) -> str:
    """The 22-character tax ID: memory ID, the issue day, and a serial unique per memory ID.

    The serial is the fiscal year and the number, ``YYYY`` followed by six decimal digits
    (1405000012 for number 12 of 1405), so no two documents of one seller share a serial even
    across years. The day is the UTC day of the issue moment, as the taxpayer system's SDKs
    count it.
    """
    return tax_id(memory_id, check_moment(issued_at).date(), fiscal_year * 1_000_000 + number)


def official_number_text(fiscal_year: int, number: int) -> str:
    """The number as printed: ``1405-000012``."""
    return f"{fiscal_year}-{number:06d}"


class OfficialNumberClaim(BillingAggregate):
    """One official invoice number, taken by one invoice: its id is derived from (year, number).

    Two issues racing for the same number both create this aggregate at version 1; the store
    refuses the second, whose command runs again and takes the next number. Numbers are taken
    in order (each issue takes the first number not yet taken), and a claim is saved only with
    its invoice's ``OfficialInvoiceIssued`` in one transaction, so the taken numbers are always
    exactly 1..n: no gap, no duplicate. Unlike one counter aggregate per year, nothing here
    grows with the year's volume.
    """

    class OfficialNumberClaimed(BillingAggregate.Created):
        """Number ``number`` of fiscal year ``fiscal_year`` is taken by ``invoice_id``."""

        fiscal_year: int
        number: int
        invoice_id: UUID

    @staticmethod
    def create_id(fiscal_year: int, number: int) -> UUID:
        return deterministic_id("official-number", fiscal_year, number)

    @event(OfficialNumberClaimed)
    def __init__(
        self, fiscal_year: int, number: int, invoice_id: UUID, timestamp: datetime
    ) -> None:
        self.fiscal_year = fiscal_year
        self.number = number
        self.invoice_id = invoice_id

    @classmethod
    def claim(
        cls, fiscal_year: int, number: int, invoice_id: UUID, now: datetime
    ) -> OfficialNumberClaim:
        if number < 1:
            raise ValueError(f"Official invoice numbers start at 1, not {number}.")
        return cls(
            fiscal_year=fiscal_year,
            number=number,
            invoice_id=invoice_id,
            timestamp=check_moment(now),
        )


def first_free_number(is_taken: Callable[[int], bool], hint: int = 1) -> int:
    """The smallest number not yet taken, when the taken ones are exactly 1..n.

    ``hint`` is a number known to be taken or the first free one (1 when nothing is known);
    from it the search gallops forward, then bisects, so it asks ``is_taken`` about
    O(log(distance)) numbers: one or two when the hint is fresh.
    """
    low = max(1, hint)  # every number below ``low`` is taken
    if not is_taken(low):
        return low
    step = 1
    high = low + step
    while is_taken(high):
        low, step = high, step * 2
        high = low + step
    # ``low`` is taken, ``high`` is free: bisect to the first free number between them.
    while high - low > 1:
        middle = (low + high) // 2
        if is_taken(middle):
            low = middle
        else:
            high = middle
    return high


class CorrectionSubject(StrEnum):
    """The subject of a correcting official document, as the taxpayer system (Moodian) names
    the invoice subjects: a cancelling (ابطالی), a corrective (اصلاحی) or a return-from-sale
    (برگشت از فروش) document, each referencing the original's tax ID."""

    CANCELLING = "cancelling"
    CORRECTIVE = "corrective"
    RETURN = "return"

    @property
    def persian(self) -> str:
        return {"cancelling": "ابطالی", "corrective": "اصلاحی", "return": "برگشت از فروش"}[
            self.value
        ]


@dataclass(frozen=True)
class OfficialCorrection:
    """What ``OfficialCorrectionIssued`` recorded on the invoice: a correcting document with
    its own number (the same gapless fiscal-year series as the originals) and tax ID."""

    subject: CorrectionSubject
    fiscal_year: int
    number: int
    issued_at: datetime
    tax_id: str
    original_number: str  # the original's number as printed, 1405-000012
    original_tax_id: str
    amount: int  # rials the correction takes off the original (its whole total when cancelling)
    reason: str

    @property
    def number_text(self) -> str:
        return official_number_text(self.fiscal_year, self.number)


@dataclass(frozen=True)
class SaleReturn:
    """What ``SaleReturned`` recorded: return ``number`` of the invoice, its amount and VAT."""

    number: int
    amount: Money
    vat: Money
    reason: str
    recorded_at: datetime


@dataclass(frozen=True)
class CreditNote:
    """What ``CreditNoteIssued`` recorded: credit note ``number`` of an invoice with no
    official document, for what a void or a return (``cause``) credited back."""

    number: int
    amount: Money
    vat: Money
    reason: str
    cause: str  # "void" or "return"
    issued_at: datetime


@dataclass(frozen=True)
class OfficialRecord:
    """What ``OfficialInvoiceIssued`` recorded on the invoice."""

    fiscal_year: int
    number: int
    issued_at: datetime
    seller: Party
    buyer: Party
    tax_id: str
    terms: PaymentTerms
    references: tuple[str, ...]

    @property
    def number_text(self) -> str:
        return official_number_text(self.fiscal_year, self.number)
