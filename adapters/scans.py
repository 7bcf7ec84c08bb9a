"""Receipt scans, stored once by their content's SHA-256 (the events keep only the hash).

PDF, JPEG or PNG, recognised by their first bytes (not by what the uploader claims), and no
larger than a setting.
"""

from __future__ import annotations

import hashlib
from typing import Any

from domain.errors import InvalidInput

SIGNATURES = {
    b"%PDF-": "application/pdf",
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
}


def content_type_of(data: bytes) -> str:
    for signature, content_type in SIGNATURES.items():
        if data.startswith(signature):
            return content_type
    raise InvalidInput("A receipt scan must be a PDF, JPEG or PNG file.", field="scan")


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

    def put(self, data: bytes) -> str:
        if not data:
            raise InvalidInput("The receipt scan is empty.", field="scan")
        if len(data) > self.max_bytes:
            raise InvalidInput(
                f"The receipt scan is {len(data):,} bytes; at most {self.max_bytes:,} are accepted.",
                field="scan",
            )
        content_type = content_type_of(data)
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
