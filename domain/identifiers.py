"""Iranian identifiers printed on an official invoice, and the taxpayer system's tax ID.

The ``*_problem`` functions return ``None`` for a valid value, otherwise one English sentence
saying what is wrong and what to do; the caller decides whether that is an error. They accept
Persian (۰-۹) and Arabic-Indic (٠-٩) digits and ignore surrounding spaces.

A check digit does not catch every typo. The national code's and the national ID's mod-11
schemes each map two remainders to one check digit (1 and 10 → 1; 0 and 10 → 0), so 1-2 % of
single-digit changes still pass. ``tests/unit/test_identifiers.py`` has a worked example of
each. Verhoeff, which the tax ID uses, catches every single-digit substitution and every swap
of adjacent digits.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from datetime import date

from domain.jalali import to_latin_digits

_DIGITS = frozenset("0123456789")
_ALPHANUMERIC = frozenset(string.ascii_uppercase + string.digits)
_UPPER_HEX = frozenset("0123456789ABCDEF")


def normalize_digits(text: str) -> str:
    """Replace Persian ۰-۹ and Arabic-Indic ٠-٩ digits with 0-9, leaving other characters."""
    return to_latin_digits(text)


def _digits_problem(what: str, value: str, lengths: tuple[int, ...]) -> str | None:
    """The shared checks: something typed, digits only, and one of the allowed lengths."""
    wanted = " or ".join(str(n) for n in lengths)
    if not value:
        return f"{what} is empty: enter its {wanted} digits"
    if not set(value) <= _DIGITS:
        return f"{what} must contain digits only; got {value!r}: remove spaces, dashes and letters"
    if len(value) not in lengths:
        return f"{what} must be {wanted} digits; got {len(value)}"
    return None


def _check_digit_problem(
    what: str, value: str, length: int, check_digit: Callable[[str], int], source: str
) -> str | None:
    """The checks of a number that ends in a check digit: its length, not one digit
    repeated, and the check digit of the others; ``source`` is where to read it again."""
    value = normalize_digits(value).strip()
    if problem := _digits_problem(what, value, (length,)):
        return problem
    if len(set(value)) == 1:
        return f"{what} {value} is one digit repeated, which is never issued: copy it from {source}"
    if check_digit(value[:-1]) != int(value[-1]):
        return f"{what} {value} fails its check digit: check it against {source}"
    return None


# --- National ID of a legal entity (شناسه ملی) --------------------------------------------------

_NATIONAL_ID_WEIGHTS = (29, 27, 23, 19, 17)


def _national_id_check_digit(first_ten: str) -> int:
    # The published algorithm, as the public validators implement it (e.g. persian-tools'
    # verifyIranianLegalId): d = tenth digit + 2 is added to each of the first ten digits; the
    # weights 29, 27, 23, 19, 17 repeat; the sum is taken mod 11 and a remainder of 10 becomes 0.
    d = int(first_ten[9]) + 2
    total = sum((int(digit) + d) * _NATIONAL_ID_WEIGHTS[i % 5] for i, digit in enumerate(first_ten))
    remainder = total % 11
    return 0 if remainder == 10 else remainder


def national_id_problem(value: str) -> str | None:
    """What is wrong with a legal entity's 11-digit national ID (شناسه ملی), or None if valid.

    Rule: 11 digits, not all the same digit, the last being the mod-11 check digit of the
    first ten (see ``_national_id_check_digit``).
    """
    # 33333333333 passes the arithmetic but is never issued.
    return _check_digit_problem(
        "national ID", value, 11, _national_id_check_digit, "the company's registration certificate"
    )


# --- National code of a natural person (کد ملی) -------------------------------------------------


def _national_code_check_digit(first_nine: str) -> int:
    # Sum of digit[i] * (10 - i) over the first nine digits, mod 11; a remainder r < 2 is the
    # check digit itself, otherwise the check digit is 11 - r.
    remainder = sum(int(digit) * (10 - i) for i, digit in enumerate(first_nine)) % 11
    return remainder if remainder < 2 else 11 - remainder


def national_code_problem(value: str) -> str | None:
    """What is wrong with a person's 10-digit national code (کد ملی), or None if valid.

    Rule: 10 digits, not all the same digit, the last being the mod-11 check digit of the first
    nine (see ``_national_code_check_digit``).
    """
    # 1111111111 and its like pass the arithmetic but are never issued.
    return _check_digit_problem(
        "national code", value, 10, _national_code_check_digit, "the person's national card"
    )


# --- Economic code (کد اقتصادی) -----------------------------------------------------------------


def economic_code_problem(value: str) -> str | None:
    """What is wrong with a legal entity's economic code (کد اقتصادی), or None if valid.

    Rule: in the national taxpayer system a legal entity's economic code is its 11-digit
    national ID, checked as such. The older 12-digit economic code is accepted as digits
    only, because it has no published check digit.
    """
    # The tax organisation's notice 36 (letter 21017-260-د, 1403/02) says to use the new
    # economic number on electronic invoices: a natural person's is 14 digits (national code +
    # 0001...), a legal entity's is its national ID. It calls the 12-digit code the old one. Only
    # the legal-entity forms are handled here.
    value = normalize_digits(value).strip()
    if problem := _digits_problem("economic code", value, (11, 12)):
        return problem
    if len(value) == 11 and national_id_problem(value) is not None:
        return (
            f"economic code {value} is an 11-digit national ID that fails its check digit: "
            "check it against the company's registration certificate"
        )
    return None


# --- Postal code (کد پستی) ----------------------------------------------------------------------


def postal_code_problem(value: str) -> str | None:
    """What is wrong with a 10-digit Iranian postal code (کد پستی), or None if valid.

    Rule: 10 digits; the first five contain no 0 and no 2; not one digit repeated.
    """
    # Sources: Iran Post's 10-digit scheme (post.ir, "10-Digit postal codes"). The 0/2 rule for
    # the first five digits: 0 and 2 are left out there because they look like 5 and 3
    # (khabarkhan.molisy.ir, "نشانی پستی چیست"); sadegh19b/laravel-persian-validation checks
    # the same. Left out on purpose: "the fifth digit is not 5" and "no 2 anywhere", which
    # some regexes add without a primary source. The widely copied
    # [13-9]{4}[1346-9][013-9]{5} rejected the real code 5951412749
    # (laravel-persian-validation issue #18). Wrongly rejecting a customer's real postal code
    # costs more than accepting a doubtful one.
    value = normalize_digits(value).strip()
    if problem := _digits_problem("postal code", value, (10,)):
        return problem
    if len(set(value)) == 1:
        return f"postal code {value} is one digit repeated: enter the real 10-digit postal code"
    if {"0", "2"} & set(value[:5]):
        return (
            f"postal code {value} has a 0 or a 2 in its first five digits, which Iran Post "
            "never uses there: check the code on the address's postal-code plate or with Iran Post"
        )
    return None


# --- Verhoeff check digit -----------------------------------------------------------------------

# The standard tables (Verhoeff 1969; as in Wikipedia's "Verhoeff algorithm"): multiplication in
# the dihedral group D5, the position permutation (0 1 5 8 9 4 2 7)(3 6) raised to the powers
# 0-7, and the inverse in D5. A test checks them against their definitions.
_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)
_VERHOEFF_INV = (0, 4, 3, 2, 1, 5, 6, 7, 8, 9)


def _verhoeff_state(digits: str, offset: int) -> int:
    # Digits are taken right to left; position i uses permutation P^(i + offset).
    c = 0
    for i, digit in enumerate(reversed(digits)):
        c = _VERHOEFF_D[c][_VERHOEFF_P[(i + offset) % 8][int(digit)]]
    return c


def verhoeff_check_digit(decimal: str) -> str:
    """The Verhoeff check digit to append to a non-empty string of decimal digits."""
    if not decimal or not set(decimal) <= _DIGITS:
        raise ValueError(f"a Verhoeff check digit needs a non-empty string of 0-9; got {decimal!r}")
    return str(_VERHOEFF_INV[_verhoeff_state(decimal, 1)])


def verhoeff_valid(decimal_with_check: str) -> bool:
    """Whether a string of decimal digits ends in its correct Verhoeff check digit."""
    if len(decimal_with_check) < 2 or not set(decimal_with_check) <= _DIGITS:
        return False
    return _verhoeff_state(decimal_with_check, 0) == 0


# --- Tax ID of the national taxpayer system (شماره منحصر به فرد مالیاتی) ------------------------

_EPOCH = date(1970, 1, 1)
_MAX_DAYS = 16**5 - 1
_MAX_SERIAL = 16**10 - 1


def _tax_id_decimal(memory_id: str, days: int, serial: int) -> str:
    # The taxpayer system's rule, as its SDKs implement it (read in Snapp-Market-Pro/moadian,
    # src/Services/InvoiceIdService.php, and sa-ahmadzade/moadian-taxid): a memory-ID digit
    # stays, a letter becomes its ASCII code ('D' → "68"); then the day count in decimal, padded
    # to 6 digits; then the serial in decimal, padded to at least 12 digits. A serial of 10**12
    # or more keeps all its digits, as the SDKs' str_pad does.
    memory_part = "".join(c if c in _DIGITS else str(ord(c)) for c in memory_id)
    return f"{memory_part}{days:06d}{serial:012d}"


def tax_id(memory_id: str, invoice_date: date, serial: int) -> str:
    """The 22-character tax ID (شماره منحصر به فرد مالیاتی) of an invoice.

    Rule (national taxpayer system, سامانه مودیان): the memory ID (6 characters, upper case),
    the days from 1970-01-01 to the invoice date in 5 upper-case hex digits, the serial in 10
    upper-case hex digits, then a Verhoeff check digit over a decimal form of those three (see
    ``_tax_id_decimal``). The invoice date is taken as given: the caller chooses the calendar
    day (the SDKs use the UTC day of the invoice time).
    """
    if not isinstance(memory_id, str) or len(memory_id) != 6:
        raise ValueError(
            f"a memory ID (شناسه یکتای حافظه مالیاتی) is 6 letters or digits; got {memory_id!r}: "
            "copy it from the taxpayer portal"
        )
    memory_id = memory_id.upper()
    if not set(memory_id) <= _ALPHANUMERIC:
        raise ValueError(
            f"a memory ID (شناسه یکتای حافظه مالیاتی) has only the letters A-Z and digits 0-9; "
            f"got {memory_id!r}: copy it from the taxpayer portal"
        )
    if isinstance(serial, bool) or not isinstance(serial, int):
        raise ValueError(f"the serial must be a whole number; got {serial!r}")
    if not 0 <= serial <= _MAX_SERIAL:
        raise ValueError(
            f"the serial must be from 0 to {_MAX_SERIAL:,} (10 hex digits); got {serial:,}"
        )
    days = invoice_date.toordinal() - _EPOCH.toordinal()
    if not 0 <= days <= _MAX_DAYS:
        raise ValueError(
            f"the invoice date must fall from 1970-01-01 on, within 5 hex digits of days; "
            f"got {invoice_date.isoformat()}"
        )
    check = verhoeff_check_digit(_tax_id_decimal(memory_id, days, serial))
    return f"{memory_id}{days:05X}{serial:010X}{check}"


def tax_id_valid(tid: str) -> bool:
    """Whether ``tid`` is a well-formed 22-character tax ID whose check digit is right.

    Only the upper-case form the taxpayer system issues counts as valid.
    """
    if not isinstance(tid, str) or len(tid) != 22:
        return False
    memory_id, days_hex, serial_hex, check = tid[:6], tid[6:11], tid[11:21], tid[21]
    if not set(memory_id) <= _ALPHANUMERIC:
        return False
    if not set(days_hex + serial_hex) <= _UPPER_HEX or check not in _DIGITS:
        return False
    decimal = _tax_id_decimal(memory_id, int(days_hex, 16), int(serial_hex, 16))
    return verhoeff_check_digit(decimal) == check
