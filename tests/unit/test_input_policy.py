"""The one input policy for text (domain/text.py, docs/SECURITY.md), as worked examples."""

from __future__ import annotations

import unicodedata

import pytest

from domain import text
from domain.banks import BANKS, bank_of
from domain.customer import BillingProfile
from domain.errors import InvalidInput, InvalidPlan, InvalidProfile
from domain.money import Money, Rate
from domain.plans import Period, Plan

ZWNJ = "\u200c"


def test_text_is_normalised_to_nfc():
    decomposed = "Cafe\u0301"  # e + combining acute
    assert text.free_text(decomposed, "name") == "Café"
    assert unicodedata.is_normalized("NFC", text.free_text(decomposed, "name"))


@pytest.mark.parametrize("bad", ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\t", "\n", "\ud800"])
def test_a_control_character_or_half_a_surrogate_pair_is_refused_naming_the_field(bad):
    with pytest.raises(InvalidInput) as refused:
        text.free_text(f"Sara{bad}", "name")
    assert refused.value.details["field"] == "name"
    assert f"U+{ord(bad):04X}" in refused.value.message
    assert "position 5" in refused.value.message


def test_a_newline_is_kept_only_in_multi_line_text():
    assert text.multiline_text("first line\r\nsecond  line\n", "reason") == (
        "first line\nsecond line"
    )
    with pytest.raises(InvalidInput):
        text.free_text("first line\nsecond line", "name")
    with pytest.raises(InvalidInput):
        text.multiline_text("a\x00b", "reason")


def test_zwnj_is_persian_spelling_in_free_text_and_dropped_from_identifiers():
    word = f"می{ZWNJ}خواهم"
    assert text.free_text(word, "name") == word
    assert text.identifier(f"411{ZWNJ}111111111", "economic_code") == "411111111111"


@pytest.mark.parametrize(
    "hidden", ["\u202e", "\u202a", "\u2066", "\u2069", "\u200b", "\u2060", "\ufeff"]
)
def test_bidi_overrides_and_zero_width_characters_are_dropped_from_every_text(hidden):
    assert text.free_text(f"Pars{hidden} Co", "name") == "Pars Co"
    assert text.identifier(f"{hidden}1234", "reference") == "1234"


def test_marks_are_kept_in_free_text_and_dropped_from_identifiers():
    assert text.free_text("\u200fشرکت ABC", "name") == "\u200fشرکت ABC"
    assert text.identifier("\u200fABC-1", "reference") == "ABC-1"


def test_identifiers_take_persian_and_arabic_indic_digits_as_ascii():
    assert text.identifier("۰۹۱۲۱۲۳۴۵۶۷", "mobile") == "09121234567"
    assert text.identifier("٠٩١٢", "mobile") == "0912"


def test_lengths_are_counted_in_characters_after_normalisation():
    assert text.free_text("س" * 200, "name", max_length=200) == "س" * 200  # 400 UTF-8 bytes
    with pytest.raises(InvalidInput, match="201 characters"):
        text.free_text("س" * 201, "name", max_length=200)
    with pytest.raises(InvalidInput, match="required"):
        text.free_text(" \u200b ", "name")


def test_the_format_characters_dropped_from_identifiers_are_every_cf_character():
    every_cf = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cf"]
    assert all(text.identifier(f"A{c}1", "code") == "A1" for c in every_cf)


def test_a_tracking_number_is_the_same_however_it_was_typed():
    typed = [
        "9988 7766 5544",
        "9988-7766-5544",
        "۹۹۸۸۷۷۶۶۵۵۴۴",
        "\u200f9988\u200b7766\u200c5544",
        " 9988.7766/5544 ",
    ]
    assert {text.tracking_number(t) for t in typed} == {"998877665544"}
    with pytest.raises(InvalidInput, match="not a bank tracking number"):
        text.tracking_number("12")
    with pytest.raises(InvalidInput, match="control character"):
        text.tracking_number("1234\x005678")


def test_a_bank_is_named_by_its_iban_code():
    assert bank_of("012") is bank_of("12") is bank_of("۰۱۲") is BANKS["012"]
    assert BANKS["012"].name_fa == "بانک ملت" and BANKS["012"].name_en == "Bank Mellat"
    for spelling in ("Bank Mellat", "بانک ملت", "Bank\u200bMellat", "999", ""):
        with pytest.raises(InvalidInput, match="GET /banks lists them"):
            bank_of(spelling)


def test_a_profile_passes_the_policy_before_anything_is_recorded():
    profile = BillingProfile(
        name=f"  سارا  احمدی{ZWNJ}ها ",
        kind="person",
        email="\u200bsara@example.ir",
        mobile="۰۹۱۲ ۱۲۳ ۴۵۶۷",
    )
    assert (profile.name, profile.email, profile.mobile) == (
        f"سارا احمدی{ZWNJ}ها",
        "sara@example.ir",
        "09121234567",
    )
    with pytest.raises(InvalidProfile) as refused:
        BillingProfile(name="Sara\x00", kind="person", email="a@b.ir", mobile="09121234567")
    assert refused.value.details["field"] == "name"


def test_a_recorded_profile_is_read_back_as_recorded():
    """A rule tightened later never makes an old event unreadable."""
    recorded = {"name": "Sara\x00", "kind": "person", "email": "a@b", "mobile": "1"}
    assert BillingProfile.from_dict(recorded).name == "Sara\x00"


def test_a_discount_below_100_percent_and_a_price_above_zero_are_required():
    with pytest.raises(InvalidPlan, match="would make the period free"):
        Plan("p", "P", Money(1_000_000), discounts={Period.YEARLY: Rate(10_000)})
    with pytest.raises(InvalidPlan, match="rounds to 0 rials") as refused:
        Plan("p", "P", Money(1), discounts={Period.QUARTERLY: Rate(9_999)})
    assert refused.value.details["field"] == "quarterly_discount_percent"
    assert Plan("p", "P", Money(1_000_000), discounts={Period.YEARLY: Rate(9_999)}).price(
        Period.YEARLY
    ) == Money(1_200)
