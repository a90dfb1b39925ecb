"""Structured logging on stderr with secrets redacted.

On a terminal, lines are short and readable; elsewhere (CI, services, pipes) each record is one
JSON object. Every secret value the settings hold is registered with :func:`register_secret`
and replaced by ``***`` in everything a handler writes, including tracebacks; common secret
shapes (bearer tokens, URL passwords, ``secret=`` pairs) are masked even when unregistered.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from datetime import UTC, datetime
from typing import IO, Any

__all__ = ["configure_logging", "redact", "register_secret"]

MASK = "***"
_MIN_SECRET_LENGTH = 4
_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)(://[^/\s:@]+:)[^@\s/]+(@)"),
    re.compile(
        r"(?i)((?:access_token|refresh_token|client_secret|password|secret|token|sessionid)"
        r"(?:=|[\"']\s*:\s*[\"']))[^\s\"'&,}]+"
    ),
]
_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a secret so that no log line ever shows it."""
    if value and len(value) >= _MIN_SECRET_LENGTH:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """Return ``text`` with every registered secret and secret-shaped value masked."""
    with _secrets_lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(
            lambda m: m.group(1) + MASK + (m.group(2) if m.lastindex == 2 else ""), text
        )
    return text


class _ReadableFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, tz=UTC).strftime("%H:%M:%S")
        line = f"{stamp} {record.levelname.lower():7} {record.name}: {record.getMessage()}"
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict) and fields:
            line += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return redact(line)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                payload[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            payload["exception"] = redact(self.formatException(record.exc_info))
        return redact(json.dumps(payload, default=str, ensure_ascii=False))


def configure_logging(
    *, verbose: bool = False, stream: IO[str] | None = None, json_lines: bool | None = None
) -> None:
    """Send closedloop's logs to stderr (or ``stream``), readable on a terminal, JSON otherwise.

    Args:
        verbose: log at DEBUG instead of INFO.
        stream: where to write; ``sys.stderr`` by default (stdout stays clean for ``--json``).
        json_lines: force JSON (True) or readable (False) output; decided by ``isatty`` if None.
    """
    target = stream or sys.stderr
    if json_lines is None:
        json_lines = not target.isatty()
    handler = logging.StreamHandler(target)
    handler.setFormatter(_JsonFormatter() if json_lines else _ReadableFormatter())
    root = logging.getLogger("closedloop")
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False
