"""Secrets never reach a log line.

Some secrets travel in places a library logs: the SMS provider's API key is part of its URL,
which httpx logs at INFO for every request; a database URL may carry a password. The
composition root registers every configured secret here, and every log record this process
creates (from any logger, through any handler) has them replaced by ``***`` before it is
formatted, by a log record factory: a filter on our own handlers would miss records that
other handlers (a test's, a library's) format.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False
MASK = "***"


def redact(secrets: Iterable[str | None]) -> None:
    """Mask these secrets (and every one registered before) in every log record from now on."""
    global _installed
    with _lock:
        _secrets.update(s for s in secrets if s and len(s) >= 4)
        if not _installed and _secrets:
            original = logging.getLogRecordFactory()

            def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                record = original(*args, **kwargs)
                if _secrets:
                    _mask(record)
                return record

            logging.setLogRecordFactory(factory)
            _installed = True


def masked(text: str) -> str:
    for secret in _secrets:
        text = text.replace(secret, MASK)
    return text


def _mask(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a record whose arguments do not format: leave it to logging
        return
    clean = masked(message)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info:
        # Formatters use a record's exc_text when it is set: the traceback, masked, once.
        text = logging.Formatter().formatException(record.exc_info)
        record.exc_text = masked(text)
