"""The Persian font of the invoice PDFs: Vazirmatn, fetched from the npm registry at set-up.

``make install`` runs ``python -m adapters.documents.fonts install``: ``npm pack`` downloads the
pinned release, its sha512 is checked against the registry's integrity value pinned here, and
the two faces the invoices use (and the font's licence) are unpacked into
``adapters/documents/fonts/`` (not in git). Each face's sha256 is pinned too, so every machine
renders with the very same font bytes, which is what makes a PDF reproducible anywhere.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "vazirmatn@33.0.3"
#: ``npm view vazirmatn@33.0.3 dist.integrity``
INTEGRITY = "sha512-fbjNc0CMjazZpIegWzz9OHGzI1APFboT+x7ZecXlUCtDe/nkyx7gtCTZnWS/+eeXG7fbfXymCPKJI8EsnM3iqw=="
FACES = {
    "Vazirmatn-Regular.ttf": "b69fd4c680b8f3f225feabcc655a2c585d97627b8f5f5c0f9985e894069f3a56",
    "Vazirmatn-Bold.ttf": "f635fdbea28f265de395ba83b4b1570dcf2f58d13c65469e61903b1c2d2ae723",
}
FONT_DIR = Path(__file__).resolve().parent / "fonts"


class FontsMissing(RuntimeError):
    pass


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def installed(font_dir: Path = FONT_DIR) -> bool:
    return all(
        (font_dir / name).is_file() and _sha256(font_dir / name) == digest
        for name, digest in FACES.items()
    )


def ensure_fonts(font_dir: Path = FONT_DIR) -> Path:
    if not installed(font_dir):
        raise FontsMissing(
            f"The Vazirmatn font is not installed in {font_dir} (or its files changed). Run "
            "`make install` (or `.venv/bin/python -m adapters.documents.fonts install`); it "
            "needs npm and the npm registry."
        )
    return font_dir


def install(font_dir: Path = FONT_DIR) -> None:
    if installed(font_dir):
        print(f"fonts: Vazirmatn already in {font_dir}")
        return
    npm = shutil.which("npm")
    if npm is None:
        raise FontsMissing("npm is needed to fetch the Vazirmatn font (apt-get install npm).")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [npm, "pack", PACKAGE, "--silent", "--pack-destination", tmp],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        (tarball,) = Path(tmp).glob("*.tgz")
        algorithm, expected = INTEGRITY.split("-", 1)
        actual = base64.b64encode(hashlib.new(algorithm, tarball.read_bytes()).digest()).decode()
        if actual != expected:
            raise FontsMissing(f"{tarball.name}: integrity {actual} is not the pinned {expected}.")
        font_dir.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tarball) as archive:
            wanted = {f"package/fonts/ttf/{name}": name for name in FACES}
            wanted["package/OFL.txt"] = "OFL.txt"
            for member in archive.getmembers():
                if member.name in wanted:
                    source = archive.extractfile(member)
                    assert source is not None
                    (font_dir / wanted[member.name]).write_bytes(source.read())
    ensure_fonts(font_dir)
    print(f"fonts: Vazirmatn installed in {font_dir}")


if __name__ == "__main__":
    if sys.argv[1:] != ["install"]:
        sys.exit("usage: python -m adapters.documents.fonts install")
    install()
