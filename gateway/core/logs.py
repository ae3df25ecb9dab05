"""Logging set-up: once per process, text or JSON lines, and no personal data.

Database drivers log SQL parameters at DEBUG (aiosqlite, SQLAlchemy's echo, asyncpg),
and parameters hold document payloads with children's data. Those loggers are pinned at
WARNING whatever level the gateway runs at; our own log lines carry ids, types, codes only.
httpx and httpcore log one INFO line per request (with the URL): quiet unless DEBUG.

``log_format="json"`` writes one JSON object per line (python-json-logger).  Every line,
text or JSON, carries what is known of the work in hand from context variables set by the
API (the request id) and the consumers (the document id, the target system): ids only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter

PARAMETER_LOGGERS = ("aiosqlite", "sqlalchemy.engine", "sqlalchemy.pool", "asyncpg", "aio_pika", "aiormq")
#: Per-request INFO lines (URLs, query strings): shown at DEBUG only.
CHATTY_LOGGERS = ("httpx", "httpcore")

REQUEST_ID: ContextVar[str | None] = ContextVar("gateway_request_id", default=None)
DOCUMENT_ID: ContextVar[str | None] = ContextVar("gateway_document_id", default=None)
SYSTEM: ContextVar[str | None] = ContextVar("gateway_system", default=None)

_FIELDS = {"request_id": REQUEST_ID, "document_id": DOCUMENT_ID, "system": SYSTEM}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(context)s"


class ContextFilter(logging.Filter):
    """Adds ``request_id``, ``document_id``, ``system`` (``None`` when unknown) and ``context`` (text form)."""

    def filter(self, record: logging.LogRecord) -> bool:
        parts = []
        for name, var in _FIELDS.items():
            value = var.get()
            setattr(record, name, value)
            if value is not None:
                parts.append(f"{name}={value}")
        record.context = (" [" + " ".join(parts) + "]") if parts else ""
        return True


class JsonLines(JsonFormatter):
    """One JSON object per line; context fields that are not known are left out."""

    def process_log_record(self, log_record: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in log_record.items() if v is not None and k != "context"}


def quiet_parameter_loggers() -> None:
    for name in PARAMETER_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


@contextmanager
def log_context(*, document_id: str | None = None, system: str | None = None) -> Iterator[None]:
    """Within the block, log lines name this document and system."""
    tokens = [(DOCUMENT_ID, DOCUMENT_ID.set(document_id)), (SYSTEM, SYSTEM.set(system))]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonLines(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(document_id)s %(system)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            json_ensure_ascii=False,
        )
    return logging.Formatter(TEXT_FORMAT)


def configure(level: str, log_format: str = "text") -> None:
    """Configure the root logger once, at the start of a command (replaces any earlier set-up)."""
    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter())
    handler.setFormatter(formatter(log_format))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    quiet_parameter_loggers()
    chatty = logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(chatty)
