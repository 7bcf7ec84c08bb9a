"""The one input policy for text: every text a person or a program sends passes here before
anything is recorded (the API's request schemas, the CLI, the settings and the domain's own
constructors all call these functions). docs/SECURITY.md states the policy and its reasons.

Three kinds of text:

- **free text** (a name, an address, a plan's name, a label): one line;
- **multi-line text** (a reason, a note for the audit trail): newlines are kept;
- **identifiers** (codes, references, tracking numbers, e-mail addresses, mobile numbers):
  compared by machines, so anything invisible is dropped and Persian and Arabic-Indic digits
  become ASCII digits.

For all three: the text is normalised to Unicode NFC; a control character (category Cc, other
than a newline in multi-line text) or a lone surrogate (Cs) is refused with the field named,
because it has no place in a billing record and some stores cannot hold it (PostgreSQL refuses
NUL). Bidirectional embedding, override and isolate controls (U+202A-U+202E, U+2066-U+2069)
and the invisible zero-width characters (U+200B, U+2060, U+FEFF) are dropped from every text:
they can make a name display as something else. Zero-width non-joiner (U+200C) and joiner
(U+200D) are kept in free text, where they are Persian spelling (می‌خواهم), and dropped from
identifiers with every other format character (category Cf), left-to-right and right-to-left
marks included. Lengths are counted in characters after normalisation.
"""

from __future__ import annotations

import re
import unicodedata

from domain.errors import InvalidInput

#: Bidirectional embeddings, overrides and isolates, and invisible zero-width characters:
#: dropped from every text.
_DROPPED_EVERYWHERE = re.compile("[\u202a-\u202e\u2066-\u2069\u200b\u2060\ufeff]")
#: Every format character (category Cf, Unicode 14), dropped from identifiers; a test checks
#: this list against the running Python's Unicode database.
_FORMAT = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
    "\U000e0020-\U000e007f]"
)
#: A control character or a lone surrogate anywhere in the text.
_REFUSED = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_REFUSED_MULTILINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_SPACES = re.compile(r"[^\S\n]+")
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
#: What separates groups of a number on a bank slip: spaces, hyphens, dots, slashes, underscores.
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—_./\\،,]+")


def _describe(char: str) -> str:
    name = unicodedata.name(char, "")
    code = f"U+{ord(char):04X}"
    if "\ud800" <= char <= "\udfff":
        return f"{code}, half of a surrogate pair and not a character,"
    return f"the control character {code}" + (f" ({name})" if name else "")


def _checked(value: object, field: str, refused: re.Pattern[str]) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text; got {value!r}.", field=field)
    bad = refused.search(value)
    if bad is not None:
        raise InvalidInput(
            f"{field} contains {_describe(bad.group())} at position {bad.start() + 1}; "
            "send the text without it.",
            field=field,
        )
    return unicodedata.normalize("NFC", value)


def _length(text: str, field: str, min_length: int, max_length: int, sent: object) -> str:
    if len(text) < min_length:
        what = "is required" if min_length == 1 else f"needs at least {min_length} characters"
        raise InvalidInput(f"{field} {what}; got {_quote(sent)}.", field=field)
    if len(text) > max_length:
        raise InvalidInput(
            f"{field} is {len(text)} characters long; at most {max_length} are accepted.",
            field=field,
        )
    return text


def _quote(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def free_text(value: object, field: str, *, max_length: int = 200, min_length: int = 1) -> str:
    """One line of text for people: NFC, no control characters, spaces collapsed."""
    text = _checked(value, field, _REFUSED)
    text = _SPACES.sub(" ", _DROPPED_EVERYWHERE.sub("", text)).strip()
    return _length(text, field, min_length, max_length, value)


def multiline_text(value: object, field: str, *, max_length: int = 500, min_length: int = 1) -> str:
    """Text that may span lines (reasons, notes): as free text, with newlines kept
    (``\\r\\n`` becomes ``\\n``; blank lines at the ends are removed)."""
    unified = value.replace("\r\n", "\n") if isinstance(value, str) else value
    text = _DROPPED_EVERYWHERE.sub("", _checked(unified, field, _REFUSED_MULTILINE))
    text = "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n")).strip("\n")
    return _length(text, field, min_length, max_length, value)


def identifier(value: object, field: str, *, max_length: int = 100, min_length: int = 1) -> str:
    """A code, a reference or an address machines compare: NFC, no control characters, every
    invisible (format) character dropped, Persian and Arabic-Indic digits as ASCII digits,
    surrounding spaces removed."""
    text = _checked(value, field, _REFUSED)
    text = _FORMAT.sub("", text).translate(_DIGITS).strip()
    return _length(text, field, min_length, max_length, value)


def digits_only(text: str) -> str:
    """Persian and Arabic-Indic digits as ASCII digits (nothing else changes)."""
    return text.translate(_DIGITS)


def tracking_number(value: object, field: str = "tracking_number") -> str:
    """A bank's tracking number as the bank knows it: an identifier without the separators a
    person types between groups (``9988 7766-5544`` is ``998877665544``)."""
    text = _SEPARATORS.sub("", identifier(value, field, max_length=60))
    if not re.fullmatch(r"[0-9A-Za-z]{4,40}", text):
        raise InvalidInput(
            f"{field} {_quote(value)} is not a bank tracking number: 4-40 letters and digits "
            "(spaces and hyphens between groups are fine).",
            field=field,
        )
    return text.upper()
