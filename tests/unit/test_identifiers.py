"""Worked examples of the identifier rules: national ID, national code, economic code, postal
code, and the taxpayer system's tax ID with its Verhoeff check digit.

The tax-ID vectors are the ones in Snapp-Market-Pro/moadian's tests
(tests/InvoiceIdGenerationTest.php and tests/VerhoeffServiceTest.php). The national code and
national ID examples are those in persian-tools' tests; each was also recomputed by hand.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.identifiers import (
    _VERHOEFF_D,
    _VERHOEFF_INV,
    _VERHOEFF_P,
    economic_code_problem,
    national_code_problem,
    national_id_problem,
    normalize_digits,
    postal_code_problem,
    tax_id,
    tax_id_valid,
    verhoeff_check_digit,
    verhoeff_valid,
)

digit_strings = st.text(alphabet="0123456789", min_size=1, max_size=40)


def with_valid_last_digit(body: str, problem) -> str | None:
    """``body`` plus the one last digit that makes it pass ``problem``, if there is one."""
    for last in "0123456789":
        if problem(body + last) is None:
            return body + last
    return None


def single_digit_changes(code: str):
    for i, digit in enumerate(code):
        for other in "0123456789":
            if other != digit:
                yield code[:i] + other + code[i + 1 :]


# --- Digits people type -------------------------------------------------------------------------


def test_persian_and_arabic_indic_digits_are_read_as_latin_digits():
    assert normalize_digits("۰۴۹۹۳۷۰۸۹۹") == "0499370899"
    assert normalize_digits("٠٤٩٩٣٧٠٨٩٩") == "0499370899"
    assert normalize_digits("ID ۱۲-3") == "ID 12-3"


# --- National ID of a legal entity (شناسه ملی) --------------------------------------------------


def test_national_id_worked_example():
    # 10380284790: d = 9 + 2 = 11;
    # (1+11)*29 + (0+11)*27 + (3+11)*23 + (8+11)*19 + (0+11)*17
    # + (2+11)*29 + (8+11)*27 + (4+11)*23 + (7+11)*19 + (9+11)*17
    # = 348 + 297 + 322 + 361 + 187 + 377 + 513 + 345 + 342 + 340 = 3432 = 11 * 312,
    # remainder 0, which is the last digit.
    assert national_id_problem("10380284790") is None
    assert national_id_problem("10101532106") is None
    assert national_id_problem("۱۰۳۸۰۲۸۴۷۹۰") is None
    assert national_id_problem(" 10380284790 ") is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("10380284792", "national ID 10380284792 fails its check digit: check it against"),
        ("10380285692", "national ID 10380285692 fails its check digit"),
        # 10101532105 is often quoted as an example, but its check digit is 6, not 5.
        ("10101532105", "national ID 10101532105 fails its check digit"),
        ("33333333333", "national ID 33333333333 is one digit repeated"),
        ("103802847", "national ID must be 11 digits; got 9"),
        ("103802847901", "national ID must be 11 digits; got 12"),
        ("1038-028479", "national ID must contain digits only"),
        ("", "national ID is empty"),
    ],
)
def test_national_id_problems_say_what_is_wrong(value, message):
    problem = national_id_problem(value)
    assert problem is not None
    assert message in problem


@given(st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_national_id_every_ten_digits_have_one_check_digit(body):
    expected = 0 if body == "3" * 10 else 1  # 33333333333 is refused as repeated
    assert sum(national_id_problem(body + last) is None for last in "0123456789") == expected


@given(st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_national_id_single_digit_change_is_caught_unless_check_digit_is_0(body):
    # Remainders 0 and 10 both give check digit 0, so only then can one changed digit still pass.
    code = with_valid_last_digit(body, national_id_problem)
    if code is None:  # ten 3s: the repeated-digit ID is refused, not a counterexample
        return
    if code[-1] != "0":
        assert all(national_id_problem(c) is not None for c in single_digit_changes(code))
    # Changing the check digit itself is always caught.
    assert all(
        national_id_problem(code[:-1] + d) is not None for d in "0123456789" if d != code[-1]
    )


def test_national_id_blind_spot_worked_example():
    # 14726532990 and 44726532990 differ in one digit and both pass: their remainders are 0 and
    # 10, which share check digit 0. A check digit is a guard, not a proof.
    assert national_id_problem("14726532990") is None
    assert national_id_problem("44726532990") is None


# --- National code of a natural person (کد ملی) -------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["0499370899", "0790419904", "1583250689", "0684159414", "4400276201", "۰۴۹۹۳۷۰۸۹۹"],
)
def test_valid_national_codes(value):
    # 0499370899: 0*10 + 4*9 + 9*8 + 9*7 + 3*6 + 7*5 + 0*4 + 8*3 + 9*2 = 266; 266 mod 11 = 2;
    # 2 >= 2, so the check digit is 11 - 2 = 9, the last digit.
    assert national_code_problem(value) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1234567890", "national code 1234567890 fails its check digit"),
        ("0499370898", "national code 0499370898 fails its check digit"),
        ("1111111111", "national code 1111111111 is one digit repeated"),
        ("0000000000", "is one digit repeated"),
        ("499370899", "national code must be 10 digits; got 9"),
        ("0499 370899", "national code must contain digits only"),
        ("", "national code is empty"),
    ],
)
def test_national_code_problems_say_what_is_wrong(value, message):
    problem = national_code_problem(value)
    assert problem is not None
    assert message in problem


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_national_code_single_digit_change_is_caught_unless_check_digit_is_1(body):
    # Remainders 1 and 10 both give check digit 1, so only then can one changed digit still pass.
    code = with_valid_last_digit(body, national_code_problem)
    if code is None:  # nine equal digits: the repeated-digit code is refused, not a counterexample
        return
    if code[-1] != "1":
        assert all(national_code_problem(c) is not None for c in single_digit_changes(code))
    assert all(
        national_code_problem(code[:-1] + d) is not None for d in "0123456789" if d != code[-1]
    )


def test_national_code_blind_spot_worked_example():
    # Remainders 1 and 10: one digit apart, both pass with check digit 1.
    assert national_code_problem("8124158681") is None
    assert national_code_problem("6124158681") is None


# --- Economic code (کد اقتصادی) -----------------------------------------------------------------


def test_economic_code_of_a_legal_entity_is_its_national_id():
    assert economic_code_problem("10380284790") is None
    problem = economic_code_problem("10380284792")
    assert problem is not None and "fails its check digit" in problem


def test_older_twelve_digit_economic_code_is_accepted_as_digits():
    assert economic_code_problem("411111111111") is None
    assert economic_code_problem("۴۱۱۱۱۱۱۱۱۱۱۱") is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0499370899", "economic code must be 11 or 12 digits; got 10"),
        ("41111111111111", "economic code must be 11 or 12 digits; got 14"),
        ("4111-1111-1111", "economic code must contain digits only"),
        ("", "economic code is empty"),
    ],
)
def test_economic_code_problems_say_what_is_wrong(value, message):
    problem = economic_code_problem(value)
    assert problem is not None
    assert message in problem


# --- Postal code (کد پستی) ----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1193653471", "5951412749", "1136913131", "۱۱۹۳۶۵۳۴۷۱"])
def test_valid_postal_codes(value):
    # 5951412749 has a 2 in its last five digits: a real code the stricter regexes refused.
    assert postal_code_problem(value) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0423437584", "has a 0 or a 2 in its first five digits"),
        ("1203653471", "has a 0 or a 2 in its first five digits"),
        ("1111111111", "is one digit repeated"),
        ("142386473", "postal code must be 10 digits; got 9"),
        ("11936-53471", "postal code must contain digits only"),
        ("", "postal code is empty"),
    ],
)
def test_postal_code_problems_say_what_is_wrong(value, message):
    problem = postal_code_problem(value)
    assert problem is not None
    assert message in problem


# --- Verhoeff -----------------------------------------------------------------------------------


def test_verhoeff_tables_are_the_dihedral_group_and_its_permutation():
    # D5: 0-4 rotations, 5-9 reflections. P is (0 1 5 8 9 4 2 7)(3 6); row k is P applied k times.
    def d5(a: int, b: int) -> int:
        if a < 5 and b < 5:
            return (a + b) % 5
        if a < 5:
            return 5 + (a + b - 5) % 5
        if b < 5:
            return 5 + (a - 5 - b) % 5
        return (a - b) % 5

    dihedral = tuple(tuple(d5(a, b) for b in range(10)) for a in range(10))
    assert dihedral == _VERHOEFF_D
    step = {0: 1, 1: 5, 5: 8, 8: 9, 9: 4, 4: 2, 2: 7, 7: 0, 3: 6, 6: 3}
    row = tuple(range(10))
    for k in range(8):
        assert row == _VERHOEFF_P[k]
        row = tuple(step[x] for x in row)
    assert all(_VERHOEFF_D[a][_VERHOEFF_INV[a]] == 0 for a in range(10))


def test_verhoeff_published_examples():
    # Wikipedia's worked example, then the taxpayer SDK's.
    assert verhoeff_check_digit("236") == "3"
    assert verhoeff_valid("2363")
    assert verhoeff_check_digit("68697057172018463000000000012") == "2"
    assert verhoeff_check_digit("68697057172018463000000008173") == "8"
    assert verhoeff_check_digit("68697057172018463002572613409") == "1"
    assert verhoeff_valid("686970571720184630000000000122")
    assert not verhoeff_valid("686970571720184630000000081737")
    assert not verhoeff_valid("686970571720184630025726134092")


def test_verhoeff_refuses_what_is_not_decimal():
    with pytest.raises(ValueError, match="non-empty string of 0-9"):
        verhoeff_check_digit("")
    with pytest.raises(ValueError, match="non-empty string of 0-9"):
        verhoeff_check_digit("12a")
    assert not verhoeff_valid("")
    assert not verhoeff_valid("7")
    assert not verhoeff_valid("23x3")


@given(digit_strings)
def test_verhoeff_catches_every_single_digit_substitution(body):
    checked = body + verhoeff_check_digit(body)
    assert verhoeff_valid(checked)
    assert not any(verhoeff_valid(c) for c in single_digit_changes(checked))


@given(digit_strings)
def test_verhoeff_catches_every_adjacent_transposition(body):
    checked = body + verhoeff_check_digit(body)
    for i in range(len(checked) - 1):
        a, b = checked[i], checked[i + 1]
        if a != b:
            assert not verhoeff_valid(checked[:i] + b + a + checked[i + 2 :])


# --- Tax ID (شماره منحصر به فرد مالیاتی) --------------------------------------------------------

SDK_DAY = date(2020, 7, 20)  # 18463 days after 1970-01-01 = 0x481F


@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        (12, "DEF5GH0481F000000000C2"),
        (8173, "DEF5GH0481F0000001FED8"),
        (2572613409, "DEF5GH0481F009956F7211"),
    ],
)
def test_tax_id_matches_the_taxpayer_sdk_vectors(serial, expected):
    # DEF5GH → 68 69 70 5 71 72; day 018463; serial 000000000012 → Verhoeff "2".
    assert tax_id("DEF5GH", SDK_DAY, serial) == expected
    assert tax_id_valid(expected)


def test_tax_id_memory_id_is_upper_cased():
    assert tax_id("def5gh", SDK_DAY, 12) == "DEF5GH0481F000000000C2"


def test_tax_id_takes_the_calendar_day_of_a_datetime():
    assert tax_id("DEF5GH", datetime(2020, 7, 20, 23, 59), 12) == "DEF5GH0481F000000000C2"


def test_tax_id_serial_range_ends():
    assert tax_id("A1B2C3", SDK_DAY, 0)[11:21] == "0000000000"
    largest = tax_id("A1B2C3", SDK_DAY, 16**10 - 1)
    assert largest[11:21] == "FFFFFFFFFF"
    assert tax_id_valid(largest)


@pytest.mark.parametrize(
    ("memory_id", "serial", "message"),
    [
        ("DEF5G", 1, "a memory ID .* is 6 letters or digits; got 'DEF5G'"),
        ("DEF5GHI", 1, "is 6 letters or digits"),
        ("DEF-GH", 1, "has only the letters A-Z and digits 0-9"),
        ("DEF5GÉ", 1, "has only the letters A-Z and digits 0-9"),
        ("DEF5GH", -1, "the serial must be from 0 to 1,099,511,627,775"),
        ("DEF5GH", 16**10, "the serial must be from 0 to"),
        ("DEF5GH", True, "the serial must be a whole number"),
    ],
)
def test_tax_id_refuses_bad_input(memory_id, serial, message):
    with pytest.raises(ValueError, match=message):
        tax_id(memory_id, SDK_DAY, serial)


def test_tax_id_refuses_a_date_before_1970():
    with pytest.raises(ValueError, match="from 1970-01-01 on"):
        tax_id("DEF5GH", date(1969, 12, 31), 1)


@pytest.mark.parametrize(
    "tid",
    [
        "DEF5GH0481F000000000C3",  # wrong check digit
        "DEF5GH0481F000000000C",  # 21 characters
        "def5gh0481f000000000c2",  # lower case is not what the system issues
        "DEF5GH0481G000000000C2",  # G is not hex
        "DEF-GH0481F000000000C2",
        "DEF5GH0481F000000000CX",
    ],
)
def test_tax_id_valid_rejects(tid):
    assert not tax_id_valid(tid)


@given(
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=6, max_size=6),
    st.dates(min_value=date(1970, 1, 1), max_value=date(4800, 12, 31)),
    st.integers(min_value=0, max_value=16**10 - 1),
)
def test_every_tax_id_made_is_valid_and_22_characters(memory_id, day, serial):
    tid = tax_id(memory_id, day, serial)
    assert len(tid) == 22
    assert tax_id_valid(tid)
    assert not tax_id_valid(tid[:21] + str((int(tid[21]) + 1) % 10))
