"""The Persian font of the invoice PDFs: Vazirmatn, fetched from the npm registry at set-up.

``make install`` runs ``python -m adapters.documents.fonts install`` (see :mod:`adapters.npm`):
the pinned release is checked against its registry integrity value and the two faces the
invoices use (and the font's licence) are unpacked into ``adapters/documents/fonts/`` (not in
git). Each face's sha256 is pinned too, so every machine renders with the very same font bytes,
which is what makes a PDF reproducible anywhere.
"""

from __future__ import annotations

import sys
from pathlib import Path

from adapters.npm import AssetsMissing, NpmFiles

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONTS = NpmFiles(
    package="vazirmatn@33.0.3",
    integrity="sha512-fbjNc0CMjazZpIegWzz9OHGzI1APFboT+x7ZecXlUCtDe/nkyx7gtCTZnWS/+eeXG7fbfXymCPKJI8EsnM3iqw==",
    files={
        "fonts/ttf/Vazirmatn-Regular.ttf": (
            "Vazirmatn-Regular.ttf",
            "b69fd4c680b8f3f225feabcc655a2c585d97627b8f5f5c0f9985e894069f3a56",
        ),
        "fonts/ttf/Vazirmatn-Bold.ttf": (
            "Vazirmatn-Bold.ttf",
            "f635fdbea28f265de395ba83b4b1570dcf2f58d13c65469e61903b1c2d2ae723",
        ),
        "OFL.txt": ("OFL.txt", "17e355067c8284f47743a1ee3b1ef7ff684ff0601eda357f9353b10b3016ab31"),
    },
    directory=FONT_DIR,
    what="The Vazirmatn font",
)
FontsMissing = AssetsMissing


def ensure_fonts(font_dir: Path = FONT_DIR) -> Path:
    if font_dir != FONT_DIR:
        return NpmFiles(**{**FONTS.__dict__, "directory": font_dir}).ensure()
    return FONTS.ensure()


if __name__ == "__main__":
    if sys.argv[1:] != ["install"]:
        sys.exit("usage: python -m adapters.documents.fonts install")
    FONTS.install()
