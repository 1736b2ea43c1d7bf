"""Logging: structlog for our events, the standard library's loggers (watchdog, APScheduler, httpx)
routed through the same renderer, JSON lines when stdout is not a terminal (journald), key=value on one.

Secrets that the process resolves (webhook URLs, signing keys) are registered with :func:`mask_secret`
and replaced in every rendered event, whichever logger emitted it.
"""

import logging
import sys
import threading
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

_MASK = "***"
_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def mask_secret(value: str | None) -> None:
    """Never let ``value`` appear in a log line from now on."""
    if value and len(value) >= 6:
        with _secrets_lock:
            _secrets.add(value)


def _mask(text: str) -> str:
    with _secrets_lock:  # another thread may be registering a secret right now
        secrets = tuple(_secrets)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, _MASK)
    return text


def _mask_values(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    if not _secrets:
        return event
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = _mask(value)
        elif not isinstance(value, int | float | bool | type(None)):
            masked = _mask(str(value))
            if masked != str(value):
                event[key] = masked
    return event


def configure_logging(level: str = "INFO", *, json: bool | None = None, stream: TextIO | None = None) -> None:
    """Configure structlog and the stdlib root logger once per process.

    The daemon logs to stdout (journald); one-shot commands pass ``sys.stderr`` so that their
    output (``check --json``) stays machine-readable.
    """
    stream = sys.stdout if stream is None else stream
    render_json = not stream.isatty() if json is None else json
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _mask_values,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if render_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty(), pad_event_to=0)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request URL at INFO: URLs are secrets here.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
