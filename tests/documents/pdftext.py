"""The text of a PDF, as a reader would copy it (pypdf), for tests that look for fields."""

from __future__ import annotations

import io
import re
import unicodedata

import pypdf

#: A run of Persian digits with the separators numbers and dates use inside them (and the
#: percent sign that ends a rate, which comes out in front).
_PERSIAN_NUMBER = re.compile(r"٪?[۰-۹](?:[۰-۹٬٫/\-:]*[۰-۹])?")


def pdf_text(content: bytes) -> str:
    """All pages' text, normalised: NFKC (presentation forms to letters), no bidi controls,
    and each run of Persian digits in reading order (pypdf emits a run of digits met inside
    right-to-left text in the reverse order; the glyphs themselves are drawn left to right)."""
    reader = pypdf.PdfReader(io.BytesIO(content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    text = unicodedata.normalize("NFKC", text)
    text = re.sub("[\u200e\u200f\u202a-\u202e\u2066-\u2069]", "", text)
    return _PERSIAN_NUMBER.sub(lambda m: m.group(0)[::-1], text)


def squeeze(text: str) -> str:
    """Whitespace and zero-width joiners removed, to find a phrase broken across lines."""
    return re.sub(r"[\s\u200c]+", "", text)
