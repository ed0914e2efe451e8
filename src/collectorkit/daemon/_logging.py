"""Structured logs for the daemon and the CLI: JSON lines when stderr is not a terminal.

Every event passes a final masking step (names that look secret, and the literal secret values
registered by auth handlers and the config loader), in addition to the redaction the
:func:`collectorkit.http.get_logger` loggers already apply — so a secret bound by a third-party
processor or an exception message is masked too.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any, TextIO

import structlog

from collectorkit._errors import CollectorError, ConfigError

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["configure_logging", "mask_event", "print_command_error", "register_secrets"]

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def register_secrets(*values: str | None) -> None:
    """Mask these literal values wherever they appear in logs from now on."""
    from collectorkit.http._redact import register_secret

    for value in values:
        register_secret(value)


def mask_event(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: the last line of defence against a secret in a log line."""
    from collectorkit.http._redact import redact

    for key in list(event):
        if key in ("timestamp", "level", "logger"):
            continue
        event[key] = redact(event[key], name=None if key == "event" else key)
    return event


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the time of the write (test runners swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def configure_logging(
    *,
    level: str = "info",
    json: bool | None = None,
    stream: TextIO | None = None,
) -> None:
    """Configure structlog (and the stdlib root logger) for a command.

    ``json=None`` picks JSON lines when ``stream`` (default stderr) is not a TTY and a coloured
    console format when it is. ``level`` is ``debug`` (the ``--debug`` flag), ``info`` or
    ``warning`` or ``error``.
    """
    out: Any = stream or _CurrentStderr()
    as_json = not out.isatty() if json is None else json
    numeric = _LEVELS.get(level.lower(), logging.INFO)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            mask_event,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=max(numeric, logging.INFO), stream=out, force=True)
    for noisy in ("uvicorn", "uvicorn.access", "uvicorn.error", "httpx", "httpx2", "aiosqlite"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def print_command_error(console: Console, exc: KeyError | CollectorError) -> int:
    """Print why a CLI command failed as one red line, and return its exit code: 2 for a
    configuration problem (a bad value, an unknown source), 1 for anything else (a store or
    sink that cannot be opened, ...)."""
    message = exc.args[0] if isinstance(exc, KeyError) else exc
    console.print(f"[red]error:[/] {message}", highlight=False)
    return 2 if isinstance(exc, KeyError | ConfigError) else 1
