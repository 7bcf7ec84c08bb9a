"""Receipt scans, stored once by their content's SHA-256 (the events keep only the hash).

A scan is uploaded by a customer and opened by finance staff, so it is checked by decoding it,
not by its first bytes (docs/SECURITY.md):

- an image must decode completely as JPEG or PNG (Pillow), within a pixel budget, and a PNG
  must end where its IEND chunk ends (nothing appended after the picture);
- a PDF must parse (pypdf), must not be encrypted (it could not be inspected), and must carry
  no JavaScript, no launch action and no embedded or attached file, anywhere in the document.

It is served with ``X-Content-Type-Options: nosniff``, ``Content-Security-Policy: sandbox``
and a ``Content-Disposition`` naming a safe file name (``api/routers/payments.py``), so even a
file that fooled these checks cannot run in a staff member's browser.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

from domain.errors import InvalidInput

#: What decoding a scan may cost: larger pictures are refused (a phone photo is ~12 Mpx).
MAX_PIXELS = 40_000_000

#: PDF names that run something or carry a file: refused wherever they appear.
_PDF_ACTIVE_KEYS = {
    "/JS",
    "/JavaScript",
    "/Launch",
    "/EmbeddedFile",
    "/EmbeddedFiles",
    "/EF",
    "/RichMedia",
    "/XFA",
}
_PDF_ACTIVE_ACTIONS = {"/JavaScript", "/Launch", "/ImportData", "/RichMediaExecute"}


def _refuse(why: str) -> InvalidInput:
    return InvalidInput(
        f"The receipt scan was refused: {why}. Send a photo (JPEG or PNG) or a plain PDF of "
        "the bank slip.",
        field="scan_base64",
    )


def content_type_of(data: bytes) -> str:
    """The scan's content type, after decoding it; refuses anything else (see the module)."""
    if data.startswith(b"%PDF-"):
        _check_pdf(data)
        return "application/pdf"
    return _check_image(data)


def _check_image(data: bytes) -> str:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = image.format
            if kind not in ("JPEG", "PNG"):
                raise _refuse("it is not a PDF, JPEG or PNG file")
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise _refuse(f"the picture is {width}×{height} pixels, more than is needed")
            image.load()  # decodes every pixel: a header followed by anything else fails here
    except InvalidInput:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise _refuse("it does not decode as a PDF, JPEG or PNG file") from None
    if kind == "PNG" and not _png_ends_at_iend(data):
        raise _refuse("the PNG file carries data after its picture")
    return "image/jpeg" if kind == "JPEG" else "image/png"


def _png_ends_at_iend(data: bytes) -> bool:
    """A PNG's last chunk is IEND (length 0, type, CRC): 12 bytes that end the file."""
    return data.endswith(b"\x00\x00\x00\x00IEND\xae\x42\x60\x82")


def _check_pdf(data: bytes) -> None:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise _refuse("the PDF is encrypted, so it cannot be checked")
        size = int(reader.trailer.get("/Size", 0))
        seen: set[int] = set()
        for number in range(1, size):
            try:
                found = reader.get_object(number)
            except (PyPdfError, KeyError, ValueError, OSError):
                continue  # a free or damaged entry: nothing in it can run
            _check_pdf_object(found, seen)
        _check_pdf_object(reader.trailer, seen)
    except InvalidInput:
        raise
    except (PyPdfError, KeyError, ValueError, TypeError, OSError, RecursionError):
        raise _refuse("it is not a readable PDF file") from None


def _check_pdf_object(value: Any, seen: set[int]) -> None:
    """Walk a PDF object (dictionaries, arrays, streams' dictionaries) for active content."""
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, IndirectObject):
            if item.idnum in seen:
                continue
            seen.add(item.idnum)
            item = item.get_object()
        if isinstance(item, DictionaryObject):
            for key, inner in item.items():
                if key in _PDF_ACTIVE_KEYS:
                    raise _refuse(f"the PDF carries {key[1:]} (scripts and files are not allowed)")
                if key == "/S" and inner in _PDF_ACTIVE_ACTIONS:
                    raise _refuse(f"the PDF carries a {inner[1:]} action")
                stack.append(inner)
        elif isinstance(item, ArrayObject):
            stack.extend(item)


def safe_filename(receipt_id: Any, content_type: str) -> str:
    """The file name a scan is served under: ours, never the uploader's."""
    extension = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}[content_type]
    return f"receipt-{receipt_id}.{extension}"


class ScanStore:
    TABLE = "receipt_scans"

    def __init__(self, read_models: Any, max_bytes: int) -> None:
        self.view = read_models.view
        self.max_bytes = max_bytes
        blob = "BYTEA" if self.view.dialect == "postgres" else "BLOB"
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self.view.sql(cursor)
            sql.execute(
                f"CREATE TABLE IF NOT EXISTS {sql.table(self.TABLE)} ("
                f"scan_hash TEXT PRIMARY KEY, content_type TEXT NOT NULL, size INTEGER NOT NULL, data {blob} NOT NULL)"
            )

    def put(self, data: bytes, field: str = "scan_base64") -> str:
        """Check and keep a scan; a refusal names ``field`` (``scan`` for a multipart upload)."""
        if not data:
            raise InvalidInput("The receipt scan is empty.", field=field)
        if len(data) > self.max_bytes:
            raise InvalidInput(
                f"The receipt scan is {len(data):,} bytes; at most {self.max_bytes:,} are accepted.",
                field=field,
            )
        try:
            content_type = content_type_of(data)
        except InvalidInput as refused:
            raise InvalidInput(refused.message, field=field) from None
        digest = hashlib.sha256(data).hexdigest()
        with self.view.datastore.transaction(commit=True) as cursor:
            sql = self.view.sql(cursor)
            sql.execute(
                f"INSERT INTO {sql.table(self.TABLE)} (scan_hash, content_type, size, data) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (scan_hash) DO NOTHING",
                (digest, content_type, len(data), data),
            )
        return digest

    def get(self, scan_hash: str) -> tuple[str, bytes] | None:
        with self.view.datastore.transaction(commit=False) as cursor:
            sql = self.view.sql(cursor)
            rows = sql.execute(
                f"SELECT content_type, data FROM {sql.table(self.TABLE)} WHERE scan_hash = ?",
                (scan_hash,),
            ).rows()
        return (rows[0]["content_type"], bytes(rows[0]["data"])) if rows else None
