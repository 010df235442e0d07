"""Logging setup: one line per event (text or JSON), with secrets redacted from everything a handler writes.

Tokens, cookies and API keys must never reach logs. Code never logs them on purpose; redaction is the safety net
for third-party text (an httpx URL with credentials, an exception message that echoes a header). It works on the
*formatted* output, so the message, its arguments, the traceback and ``stack_info`` are all covered, and it sits
on every handler, uvicorn's and Ray's included (:func:`install_redaction`), not only on the root one.

Besides the generic patterns (``Bearer …``, ``token=…``, ``user:pass@`` in URLs), it removes known secret values
verbatim: the configured keys (:func:`add_secrets`) and the current request's token (:func:`request_secret`,
kept in a context variable, so a traceback logged later in the same request is cleaned too).

In JSON mode every line is one object; a structured event (:func:`log_event`: the access log, the advisor's
line) puts its fields in that object as JSON values, not as JSON inside a string. Every line written while a
request runs carries its ``request_id`` (set by ``server/access_log.py``).

    finadvisor serve --log-format json
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import threading
from collections.abc import Mapping
from datetime import UTC, datetime

_SECRET_PATTERNS = [
    re.compile(r"(?i)(authorization\s*[:=]\s*bearer\s+)[^\s'\",]+"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(
        r"(?i)((?:api[_-]?key|token|cookie|zlp_token|password|passwd|secret)[\"']?\s*[:=]\s*[\"']?)"
        r"[^\s'\",;&]+"
    ),
    re.compile(r"(?i)([a-z][a-z0-9+.-]*://[^/\s:@'\"]*:)[^/\s@'\"]+(?=@)"),  # scheme://user:PASSWORD@host
]
_MIN_SECRET_CHARS = 4  # shorter values would redact ordinary words
_known: set[str] = set()
_known_lock = threading.Lock()
_request_secrets: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "finadvisor_secrets", default=()
)
REDACTED = "[REDACTED]"
# The id of the HTTP request being served (``server/access_log.py`` sets it), on every line logged meanwhile.
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("finadvisor_request_id", default=None)
# Third-party loggers that are noisy at INFO and never useful there: faiss's loader logs a harmless
# ModuleNotFoundError each time it looks for an AVX-512 build that is not installed.
QUIET_LOGGERS = ("faiss.loader", "faiss")


def log_event(
    logger: logging.Logger,
    event: str,
    fields: Mapping[str, object],
    *,
    text: str | None = None,
    level: int = logging.INFO,
) -> None:
    """A structured line: ``event`` (or ``text``) in text mode; in JSON mode ``event`` is the message and
    ``fields`` are keys of the same object."""
    if logger.isEnabledFor(level):
        logger.log(
            level,
            "%s",
            text if text is not None else event,
            extra={"event_name": event, "fields": dict(fields)},
        )


def add_secrets(*values: str | None) -> None:
    """Process-wide secrets (API keys, upstream keys) to remove verbatim from every log line."""
    with _known_lock:
        _known.update(v for v in values if v and len(v) >= _MIN_SECRET_CHARS)


def request_secret(value: str | None) -> None:
    """A secret of the current request (the user's token): redacted from logs written in this context.

    The context variable is set, not reset, on purpose: uvicorn logs an escaped exception after the app returns,
    in the same task; each request runs in its own task, so nothing leaks to other requests."""
    if value and len(value) >= _MIN_SECRET_CHARS:
        _request_secrets.set((*_request_secrets.get(), value))


def redact(text: str) -> str:
    secrets = sorted({*_known, *_request_secrets.get()}, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(r"\1" + REDACTED, text)
    return text


class RedactingFilter(logging.Filter):
    """Cleans the message of a record (for handlers whose formatter we do not own)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message``, plus ``request_id=…`` on lines written while a request runs."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = request_id.get()
        return f"{line} request_id={rid}" if rid else line


class RedactingFormatter(logging.Formatter):
    """Wraps any formatter and redacts its whole output: message, traceback, stack info."""

    def __init__(self, inner: logging.Formatter | None = None) -> None:
        super().__init__()
        self.inner = inner or TextFormatter()

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts, level, logger, message (+ exc when there is a traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None)
        message = getattr(record, "event_name", None) if isinstance(fields, dict) else None
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message if message is not None else record.getMessage(),
        }
        if rid := request_id.get():
            entry["request_id"] = rid
        if isinstance(fields, dict):
            entry.update({k: v for k, v in fields.items() if k not in entry})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


# Loggers that third parties give handlers of their own (propagate=False), so the root handler never sees them.
THIRD_PARTY_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "ray", "ray.serve", "ray.data", "httpx")


def install_redaction(*logger_names: str) -> None:
    """Put redaction on every handler of the root logger and of the named (or well-known) loggers.

    Idempotent. Used by :func:`configure_logging` and by Ray replicas, which configure their own handlers and
    never call ``configure_logging``."""
    names = ["", *THIRD_PARTY_LOGGERS, *logger_names]
    for name in names:
        for handler in logging.getLogger(name).handlers:
            formatter = handler.formatter
            if not isinstance(formatter, RedactingFormatter):
                handler.setFormatter(RedactingFormatter(formatter))
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())


def configure_logging(level: str = "info", log_format: str = "text") -> None:
    """One stream handler on the root logger (text or JSON), redacted; uvicorn's loggers propagate to it."""
    handler = logging.StreamHandler()
    inner = JsonFormatter() if log_format == "json" else None
    handler.setFormatter(RedactingFormatter(inner))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        third = logging.getLogger(name)
        third.handlers[:] = []
        third.propagate = True
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    install_redaction()


# Secrets every command may hold in its environment; known before anything is logged.
SECRET_ENV = ("FINADVISOR_API_KEY", "FINADVISOR_UPSTREAM_API_KEY", "FINADVISOR_SPENDING_SERVICE_KEY")


def configure_command_logging() -> None:
    """Redaction for every command, not only ``serve`` (issue 25): the environment's keys become known secrets,
    a redacted stderr handler (warnings and up) is added when the root logger has none of its own, and every
    existing handler is wrapped. ``serve`` later replaces the root handler with its configured one."""
    add_secrets(*(os.environ.get(name) for name in SECRET_ENV))
    root = logging.getLogger()
    if not any(isinstance(h.formatter, RedactingFormatter) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(RedactingFormatter())
        handler.addFilter(RedactingFilter())
        handler.setLevel(logging.WARNING)
        root.addHandler(handler)
        if root.level > logging.WARNING or root.level == logging.NOTSET:
            root.setLevel(logging.WARNING)
    install_redaction()
