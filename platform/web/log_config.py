"""Structured logs through structlog: JSON lines in production, readable lines otherwise.

Request handling binds `request_id` and `tenant` in context variables, so every line
logged while a request is served carries them. Standard library loggers (uvicorn,
SQLAlchemy, Litestar) go through the same processors.
"""

from __future__ import annotations

import logging
import sys

import structlog

# Values under these keys never reach a log line, whoever passes them.
SECRET_KEYS = frozenset(
    {"authorization", "password", "secret", "token", "api_key", "cookie", "set-cookie"}
)
REDACTED = "[redacted]"

_configured_for: tuple[str, bool] | None = None


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (test runners swap it and close the old)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def redact_secrets(logger, method_name, event_dict):
    for key in list(event_dict):
        if key.lower() in SECRET_KEYS:
            event_dict[key] = REDACTED
    return event_dict


def configure_logging(level: str = "INFO", json_lines: bool = False) -> None:
    """Idempotent: the app factory calls it, and may be called once per test app."""
    global _configured_for
    if _configured_for == (level, json_lines):
        return
    _configured_for = (level, json_lines)
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    renderer = (
        structlog.processors.JSONRenderer()
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    handler.set_name("kiunga")
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if h.get_name() != "kiunga"] + [handler]
    root.setLevel(level)
    # uvicorn's access log would repeat our request line without the request id.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
