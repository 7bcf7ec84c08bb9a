"""The Iranian banks a bank receipt can name, by their code.

A receipt names its bank by code, not by a free-text name: "Bank Mellat", "بانک ملت" and
"Bank\u200bMellat" are one bank, and a tracking number is unique only within its bank, so the
engine must know which bank is meant to know whether a transfer was already registered.

The code is the bank's three-digit identifier in an Iranian IBAN (شبا): ``IR`` + two check
digits + these three digits + the account. The list follows the Central Bank of the Islamic
Republic of Iran's table of banks and credit institutions and their IBAN identifiers. It keeps
institutions that have since merged into another bank (Ansar, Ghavamin, Hekmat Iranian, Kosar
and Mehr Eqtesad into Sepah; Ayandeh into Melli), because a slip issued before the merger still
carries the old name and its tracking number is still that institution's.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import InvalidInput
from domain.text import identifier


@dataclass(frozen=True)
class Bank:
    code: str
    name_fa: str
    name_en: str
    #: The bank it was merged into, for institutions that no longer exist on their own.
    merged_into: str | None = None


BANKS: dict[str, Bank] = {
    bank.code: bank
    for bank in (
        Bank("010", "بانک مرکزی جمهوری اسلامی ایران", "Central Bank of Iran"),
        Bank("011", "بانک صنعت و معدن", "Bank of Industry and Mine"),
        Bank("012", "بانک ملت", "Bank Mellat"),
        Bank("013", "بانک رفاه کارگران", "Refah Kargaran Bank"),
        Bank("014", "بانک مسکن", "Bank Maskan"),
        Bank("015", "بانک سپه", "Bank Sepah"),
        Bank("016", "بانک کشاورزی", "Bank Keshavarzi"),
        Bank("017", "بانک ملی ایران", "Bank Melli Iran"),
        Bank("018", "بانک تجارت", "Tejarat Bank"),
        Bank("019", "بانک صادرات ایران", "Bank Saderat Iran"),
        Bank("020", "بانک توسعه صادرات ایران", "Export Development Bank of Iran"),
        Bank("021", "پست بانک ایران", "Post Bank of Iran"),
        Bank("022", "بانک توسعه تعاون", "Tose'e Ta'avon Bank"),
        Bank("051", "موسسه اعتباری توسعه", "Tose'e Credit Institution"),
        Bank("052", "بانک قوامین", "Ghavamin Bank", merged_into="015"),
        Bank("053", "بانک کارآفرین", "Karafarin Bank"),
        Bank("054", "بانک پارسیان", "Parsian Bank"),
        Bank("055", "بانک اقتصاد نوین", "EN Bank (Eghtesad Novin)"),
        Bank("056", "بانک سامان", "Saman Bank"),
        Bank("057", "بانک پاسارگاد", "Bank Pasargad"),
        Bank("058", "بانک سرمایه", "Sarmayeh Bank"),
        Bank("059", "بانک سینا", "Sina Bank"),
        Bank("060", "بانک قرض‌الحسنه مهر ایران", "Gharzolhasaneh Mehr Iran Bank"),
        Bank("061", "بانک شهر", "Shahr Bank"),
        Bank("062", "بانک آینده", "Ayandeh Bank", merged_into="017"),
        Bank("063", "بانک انصار", "Ansar Bank", merged_into="015"),
        Bank("064", "بانک گردشگری", "Tourism Bank (Gardeshgari)"),
        Bank("065", "بانک حکمت ایرانیان", "Hekmat Iranian Bank", merged_into="015"),
        Bank("066", "بانک دی", "Dey Bank"),
        Bank("069", "بانک ایران زمین", "Iran Zamin Bank"),
        Bank("070", "بانک قرض‌الحسنه رسالت", "Resalat Gharzolhasaneh Bank"),
        Bank("073", "موسسه اعتباری کوثر", "Kosar Credit Institution", merged_into="015"),
        Bank("075", "موسسه اعتباری ملل", "Melal Credit Institution"),
        Bank("078", "بانک خاورمیانه", "Middle East Bank"),
        Bank("079", "بانک مهر اقتصاد", "Mehr Eqtesad Bank", merged_into="015"),
        Bank("080", "موسسه اعتباری نور", "Noor Credit Institution"),
        Bank("090", "بانک ایران و ونزوئلا", "Iran-Venezuela Bi-National Bank"),
    )
}


def bank_of(code: object, field: str = "bank") -> Bank:
    """The bank with this code (``"012"``, ``"12"`` and ``"۰۱۲"`` are all Bank Mellat)."""
    text = identifier(code, field, max_length=100, min_length=0)
    if text.isdigit() and len(text) <= 3:
        bank = BANKS.get(text.zfill(3))
        if bank is not None:
            return bank
    raise InvalidInput(
        f"{field} {code!r} is not the code of an Iranian bank. Send the bank's three-digit code "
        "(as in an IBAN: IR·· 012 … is Bank Mellat); GET /banks lists them.",
        field=field,
    )
