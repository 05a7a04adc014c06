"""Logging set up once per process: one line of JSON per event, never personal data.

Callers log ids and codes, not names, dates of birth or addresses; the formatter adds the
time, level and logger so operators can ship lines to a separate sink unchanged.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from urllib.parse import unquote

from app.config import Settings

# The id of the request being served, added to every log line written while serving it.
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


# Query values that are personal data or secrets wherever they appear (a patient search, the
# signature of an acknowledgement link, a contact's feed token), and the routes whose whole
# query string is kept out of logs.
SECRET_PARAMS = frozenset({"q", "sig", "token", "contact", "expires"})
SECRET_ROUTES = re.compile(r"^(/api/v1/patients|/alerts/[^/?]+/ack|/feeds/alerts\.atom)/?$")


def redact_target(target: str) -> str:
    """A request target as it may be logged: the values of secret parameters replaced."""
    path, sep, query = target.partition("?")
    if not sep:
        return target
    whole = SECRET_ROUTES.match(path) is not None
    pairs = []
    for pair in query.split("&"):
        name, eq, _ = pair.partition("=")
        secret = whole or unquote(name).lower() in SECRET_PARAMS
        pairs.append(f"{name}=[redacted]" if secret and eq else pair)
    return f"{path}?{'&'.join(pairs)}"


class RedactAccessLog(logging.Filter):
    """uvicorn's access log line (`client - "METHOD target HTTP/x" status`) with its target
    redacted. A filter on the logger, so every handler (ours, a test's, an operator's) gets
    the redacted line."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_target(args[2]), *args[3:])
        return True


def install_access_log_redaction() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactAccessLog) for f in access.filters):
        access.addFilter(RedactAccessLog())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "code", "status"):
            if getattr(record, key, None) is not None:
                line[key] = getattr(record, key)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(settings: Settings) -> None:
    install_access_log_redaction()
    root = logging.getLogger()
    if any(getattr(h, "_dosekeeper", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    handler._dosekeeper = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.INFO)
