"""Structured JSON logs: one JSON object per line, with the request id and the route of the
invocation, and every secret redacted.

``install()`` (run once by app.py) gives the root logger's handlers a ``JsonFormatter`` when
``settings().log_format`` is ``json`` (the default in Lambda, whose runtime already installed a handler
writing to CloudWatch Logs; elsewhere a stdout handler is added). ``bind(...)`` adds fields to every
line of the current invocation (``chalicelib.web.telemetry.observe`` binds ``request_id``, ``route``,
``subject``, ``repo``).

A stdlib formatter rather than aws-lambda-powertools' Logger: importing ``aws_lambda_powertools.logging``
adds 45–85 ms to a cold start on top of ``import app`` here (docs/performance.md, "Cold import"), and
the few things used of it (JSON lines, a request id, fields per invocation) are this module.

No log line carries a secret: callers never log credentials, and ``redact`` removes what looks like
one from every message, traceback and string field anyway (``Authorization`` values of any scheme,
HTTP Basic/Bearer credentials, ``api_key``/``password``/``passphrase``/``secret``/``token``/
``private_key`` values in key=value, header, dict-repr and JSON forms (``X-GPG-PASSPHRASE`` included),
armored private keys, S3 presigned-URL signatures and credentials, the ``signature`` and ``id`` of
Shelf's signed URLs). tests/test_secrets.py checks both layers over a walk of the API.

Example::

    token = logs.bind(request_id="c0ffee", route="GET /repos/{subject}/{repo}")
    log.info("hello")   # {"level": "INFO", "message": "hello", "request_id": "c0ffee", ...}
    logs.reset(token)
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from contextvars import ContextVar, Token
from typing import Any

from chalicelib.config import settings
from chalicelib.telemetry import metrics, tracing

_fields: ContextVar[dict[str, Any] | None] = ContextVar("shelf_log_fields", default=None)

_SECRET_VALUE = r"[^&\s\"',;}\\]+"
_PRESIGNED = r"(?i)(X-Amz-(?:Signature|Credential|Security-Token)(?:=|%3D))"
#: A credential's name, then ``=`` or ``:``, in key=value, header, dict-repr and (escaped) JSON forms.
_CREDENTIAL_KEY = (
    r"(?i)(\\?[\"']?\b(?:api_?key|password|passwd|passphrase|secret|token|signing_key|private_key)"
    r"\\?[\"']?\s*[:=]\s*\\?[\"']?)"
)
#: (pattern, replacement) pairs applied to every message, traceback and field.
REDACTIONS: list[tuple[re.Pattern[str], str]] = [
    # Private keys (OpenPGP, PEM) as armored blocks, also with their newlines escaped, also cut short.
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY[A-Z ]*-----.*?(?:-----END [^-]*-----|$)", re.S),
        "[REDACTED_PRIVATE_KEY]",
    ),
    # S3 presigned URLs (SigV4 query strings), also URL-encoded inside other URLs.
    (re.compile(_PRESIGNED + _SECRET_VALUE), r"\1[REDACTED]"),
    # Shelf's signed download URLs: ...?expiry=E&id=I&signature=S
    (re.compile(r"(?i)([?&](?:signature|id)=)" + _SECRET_VALUE), r"\1[REDACTED]"),
    # Authorization values of any scheme: quoted (dict reprs, JSON), then header lines (to the line's end).
    (re.compile(r"(?i)(\bauthorization\\?[\"']?\s*[:=]\s*\\?[\"'])[^\"'\\\r\n]+"), r"\1[REDACTED]"),
    (re.compile(r"(?i)(\bauthorization\s*[:=][ \t]*)(?!\\?[\"'\[])[^\r\n]+"), r"\1[REDACTED]"),
    (re.compile(r"(?i)\b(Basic|Bearer)\s+[A-Za-z0-9+/=._~-]{8,}"), r"\1 [REDACTED]"),
    # key=value and "key": "value" forms of credentials (headers such as X-GPG-PASSPHRASE included).
    (re.compile(_CREDENTIAL_KEY + _SECRET_VALUE), r"\1[REDACTED]"),
]


def redact(text: str) -> str:
    """``text`` with everything that looks like a credential or a URL signature replaced."""
    for pattern, replacement in REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def bind(**fields: Any) -> Token[dict[str, Any] | None]:
    """Add ``fields`` to every log line of the current invocation; ``reset(token)`` removes them."""
    return _fields.set({**current(), **{k: v for k, v in fields.items() if v is not None}})


def reset(token: Token[dict[str, Any] | None]) -> None:
    _fields.reset(token)


def current() -> dict[str, Any]:
    """The fields bound to the current invocation."""
    return _fields.get() or {}


def _redacted(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` with their string values redacted (path parameters and callers' extras)."""
    return {k: redact(v) if isinstance(v, str) else v for k, v in fields.items()}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the invocation's fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        line.update(_redacted(current()))
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            line.update(_redacted(extra))
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        trace = tracing.trace_id()
        if trace:
            line["xray_trace_id"] = trace
        return json.dumps(line, default=str)


_installed = False


def install() -> bool:
    """JSON lines on the root logger's handlers (a stdout one added if it has none), if the log format
    is ``json`` (``SHELF_LOG_FORMAT``); once. Whether JSON logs are on."""
    global _installed
    config = settings()
    if _installed or config.log_format != "json":
        return _installed
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stdout))
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter())
    root.setLevel(config.log_level)
    metrics.enabled = True
    _installed = True
    return True


def installed() -> bool:
    """Whether JSON logs are on (the access log line of each request is written then)."""
    return _installed


def capture(stream: Any) -> logging.Handler:
    """Turn JSON logs and EMF lines on into ``stream`` (tests); ``release(handler)`` turns them off."""
    global _installed
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    handler.previous_level = root.level  # type: ignore[attr-defined]
    root.setLevel(logging.INFO)
    metrics.enabled, metrics.stream = True, stream
    _installed = True
    return handler


def release(handler: logging.Handler) -> None:
    global _installed
    root = logging.getLogger()
    root.removeHandler(handler)
    root.setLevel(handler.previous_level)  # type: ignore[attr-defined]
    metrics.enabled, metrics.stream = False, None
    _installed = False
