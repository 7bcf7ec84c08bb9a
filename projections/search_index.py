"""The back office's search: one table of normalised search keys, each naming a customer
(docs/BACKOFFICE.md, "Search").

``rm_search_keys`` holds, for each customer, the words and prefixes of the name, the national
code, national ID and economic code, the mobile number (as ``0912…``, ``912…`` and
``98912…``), the e-mail address and the customer's id; and for each invoice its id, its
official invoice number and tax ID, and the tracking numbers of its bank receipts, each
naming the invoice's customer. Keys and queries go through the same :func:`normalise`, so a
search is one indexed lookup of exact keys (``search_key IN (…)``): no ``LIKE``, no scan,
the same on SQLite and PostgreSQL.

It is a grouped read model (``projections/model.py``): the rows of one customer or one
invoice are replaced together whenever its profile, official invoice or receipts change.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from domain.customer import Customer
from domain.invoice import Invoice
from projections.model import AggregateStates, ReadModel, Table, one_of

#: Arabic letters typed on an Arabic keyboard, as the Persian ones they look like.
_LETTERS = str.maketrans(
    {
        "ي": "ی",  # U+064A Arabic yeh
        "ى": "ی",  # U+0649 alef maksura
        "ك": "ک",  # U+0643 Arabic kaf
        "ۀ": "ه",  # heh with yeh above, written or not
        "ة": "ه",  # teh marbuta
    }
)
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
#: Arabic diacritics (harakat, superscript alef) and tatweel: never part of what is searched for.
_MARKS = re.compile("[\u064b-\u065f\u0670\u0640]")
#: What separates groups inside a code or a number: dropped from a term.
_SEPARATORS = re.compile(r"[\-‐‑‒–—_./\\،,؛;:'\"()+#@*]+")
#: Zero-width non-joiner and joiner: a Persian word is found typed with one, with none, or with
#: a space in its place.
_JOINERS = "\u200c\u200d"

#: Name words are found by prefixes of at least this many characters.
MIN_PREFIX = 2
#: A query of more terms than this is cut (each term is one key of the lookup).
MAX_TERMS = 6

FIELDS = (
    "name",
    "national_code",
    "national_id",
    "economic_code",
    "mobile",
    "email",
    "customer_id",
    "invoice_id",
    "official_number",
    "tax_id",
    "tracking_number",
)


def _fold(text: str) -> str:
    """NFC, Persian letters for Arabic ones, ASCII digits, no diacritics, case-folded; every
    invisible format character (category Cf) but the joiners dropped. ASCII text (ids, codes,
    e-mail addresses, Latin names) holds none of what the other steps change: it is only
    case-folded."""
    if text.isascii():
        return text.casefold()
    return _fold_fully(text)


def _fold_fully(text: str) -> str:
    """:func:`_fold` step by step, whatever the text holds."""
    text = unicodedata.normalize("NFC", text).translate(_LETTERS).translate(_DIGITS)
    text = "".join(c for c in text if c in _JOINERS or unicodedata.category(c) != "Cf")
    return _MARKS.sub("", text).casefold()


def normalise(term: str) -> str:
    """One term as it is stored and looked up: folded, joiners and separators removed."""
    folded = _fold(term)
    for joiner in _JOINERS:
        folded = folded.replace(joiner, "")
    return _SEPARATORS.sub("", folded)


def terms(query: str) -> list[str]:
    """The terms of what a person typed, each normalised, in order, without repeats.

    A query of digits and separators only (``0912 123 4567``, ``۰۰۱-۲۳۴۵۶۷-۸``) is one number,
    whatever spaces it holds; otherwise the terms are its words."""
    folded = _fold(query)
    squeezed = normalise(re.sub(r"\s+", "", folded))
    if squeezed.isdigit():
        return [squeezed]
    found: list[str] = []
    for word in folded.split():
        term = normalise(word)
        if term and term not in found:
            found.append(term)
    return found[:MAX_TERMS]


def name_keys(name: str) -> dict[str, bool]:
    """Each word of a name and its prefixes (key → whether it is a whole word). A word written
    with a zero-width non-joiner is also found by each of its parts."""
    keys: dict[str, bool] = {}
    for word in _fold(name).split():
        parts = [word, *(p for p in re.split(f"[{_JOINERS}]", word) if p and p != word)]
        for part in parts:
            whole = normalise(part)
            for end in range(MIN_PREFIX, len(whole)):
                keys.setdefault(whole[:end], False)
            if whole:
                keys[whole] = True
    return keys


def mobile_keys(mobile: str) -> list[str]:
    """``09121234567`` is also found as ``9121234567`` and ``989121234567``."""
    digits = normalise(mobile)
    match = re.fullmatch(r"(?:98|0)?(9\d{9})", digits)
    if match is None:
        return [digits] if digits else []
    ten = match.group(1)
    return [f"0{ten}", ten, f"98{ten}"]


def id_keys(an_id: UUID | str) -> list[str]:
    """An id, whole (without its hyphens) and its first eight characters, as lists show it."""
    text = an_id.hex if isinstance(an_id, UUID) else normalise(an_id)
    return [text, text[:8]]


class SearchIndex(ReadModel):
    """Which customer does this name, code, number or id lead to?"""

    name = "search_keys"
    group = "owner_id"
    table = Table(
        "rm_search_keys",
        columns=(
            ("search_key", "TEXT NOT NULL"),
            ("owner_id", "TEXT NOT NULL"),
            ("field", "TEXT NOT NULL"),
            ("customer_id", "TEXT NOT NULL"),
            ("exact", "INTEGER NOT NULL"),
            ("shown", "TEXT NOT NULL"),
        ),
        key=("search_key", "owner_id", "field"),
        checks=(one_of("field", FIELDS), "exact IN (0, 1)"),
        # The lookup reads this index alone; owner_id's replaces a customer's or invoice's keys.
        indexes=(("search_key", "customer_id", "exact"), ("owner_id",)),
    )

    EVENTS = (
        Customer.CustomerRegistered,
        Customer.BillingProfileChanged,
        Invoice.InvoiceIssued,
        Invoice.OfficialInvoiceIssued,
        Invoice.ReceiptRegistered,
    )

    def wants(self, event_type: type) -> bool:
        return issubclass(event_type, self.EVENTS)

    def touched(self, event: Any, states: AggregateStates) -> Iterable[UUID]:
        yield event.originator_id

    def rows(self, key: UUID, states: AggregateStates) -> list[dict[str, Any]]:
        owner = states.get(key)
        found: dict[tuple[str, str], dict[str, Any]] = {}
        owner_id = str(key)
        if isinstance(owner, Customer):
            customer = owner_id
        elif isinstance(owner, Invoice):
            customer = str(owner.customer_id)
        else:
            return []

        def add(field: str, keys: Iterable[str], shown: str, exact=True) -> None:
            for search_key in keys:
                if not search_key:
                    continue
                row = found.get((search_key, field))
                if row is None:
                    found[(search_key, field)] = {
                        "search_key": search_key,
                        "owner_id": owner_id,
                        "field": field,
                        "customer_id": customer,
                        "exact": int(exact),
                        "shown": shown,
                    }
                elif exact:
                    row["exact"] = 1

        if isinstance(owner, Customer):
            profile = owner.profile
            for word, whole in name_keys(profile.name).items():
                add("name", [word], profile.name, exact=whole)
            for field in ("national_code", "national_id", "economic_code"):
                value = getattr(profile, field)
                if value:
                    add(field, [normalise(value)], value)
            add("mobile", mobile_keys(profile.mobile), profile.mobile)
            add("email", [normalise(profile.email)], profile.email)
            add("customer_id", id_keys(owner.id), owner_id)
        else:
            add("invoice_id", id_keys(owner.id), owner_id)
            if owner.official is not None:
                number = owner.official
                add(
                    "official_number",
                    [
                        normalise(number.number_text),
                        f"{number.fiscal_year}{number.number}",
                    ],
                    number.number_text,
                )
                add("tax_id", [normalise(number.tax_id)], number.tax_id)
            for receipt in owner.receipts.values():
                add(
                    "tracking_number", [normalise(receipt.tracking_number)], receipt.tracking_number
                )
        return list(found.values())


#: The customers who hold every term (as a whole word or value, or a name word's prefix), those
#: with more whole-word matches first: read from the index alone (search_key, customer_id,
#: exact), one range of it per term.
_MATCHED = """
SELECT customer_id, SUM(exact) AS whole FROM (
    SELECT customer_id, search_key, MAX(exact) AS exact FROM {{rm_search_keys}}
    WHERE search_key IN ({marks}) GROUP BY customer_id, search_key
) hits
GROUP BY customer_id HAVING COUNT(*) = ?
ORDER BY whole DESC, customer_id
LIMIT {limit}
"""


def search(read_models: Any, query: str, limit: int = 50) -> tuple[list[dict[str, Any]], bool]:
    """The customers whose keys hold every term of ``query`` (at most ``limit``: those with
    the most whole-word matches, then by id), listed by whole-word matches then name, each
    with ``matches``: the fields that matched and what they hold; and whether there were more.
    Three indexed queries: the matches, the listed customers' accounts, what matched them."""
    wanted = terms(query)
    if not wanted:
        return [], False
    marks = ", ".join("?" for _ in wanted)
    found = read_models.query(
        _MATCHED.format(marks=marks, limit=int(limit) + 1), [*wanted, len(wanted)]
    )
    more = len(found) > limit
    whole = {r["customer_id"]: int(r["whole"]) for r in found[:limit]}
    if not whole:
        return [], False
    ids = list(whole)
    listed = ", ".join("?" for _ in ids)
    accounts = read_models.query(
        "SELECT customer_id, name, kind, mobile, email FROM {rm_customer_accounts} "
        f"WHERE customer_id IN ({listed})",
        ids,
    )
    hits = read_models.query(
        "SELECT customer_id, field, shown, owner_id FROM {rm_search_keys} "
        f"WHERE search_key IN ({marks}) AND customer_id IN ({listed}) "
        "ORDER BY field, shown",
        [*wanted, *ids],
    )
    matches: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    for hit in hits:
        shown = matches[hit["customer_id"]]
        if not any(m["field"] == hit["field"] and m["shown"] == hit["shown"] for m in shown):
            shown.append(hit)
    rows = [
        {**a, "whole": whole[a["customer_id"]], "matches": matches[a["customer_id"]]}
        for a in accounts
    ]
    rows.sort(key=lambda r: (-r["whole"], r["name"], r["customer_id"]))
    return rows, more
