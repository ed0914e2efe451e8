"""The redacting structured logger every layer uses.

The rules it applies (the one secret-name rule, the registry of secret values, URL masking) live
in :mod:`collectorkit._redact`; this module re-exports them as part of ``collectorkit.http``.
"""

from __future__ import annotations

from typing import Any

from collectorkit._redact import MASK as MASK
from collectorkit._redact import is_secret_name as is_sensitive_name
from collectorkit._redact import redact, redact_text, redact_url, register_secret

__all__ = [
    "CollectorLogger",
    "get_logger",
    "is_sensitive_name",
    "redact",
    "redact_text",
    "redact_url",
    "register_secret",
]


class CollectorLogger:
    """A structlog logger that redacts every event before it reaches any processor.

    Redaction happens here, at the call, so it holds whatever structlog configuration the
    application uses (including ``structlog.testing.capture_logs``). ``debug`` is a no-op unless
    the logger is in diagnostic mode.
    """

    __slots__ = ("_context", "_logger", "diagnostic", "name")

    def __init__(self, name: str, *, diagnostic: bool = False, **context: Any) -> None:
        self.name = name
        self.diagnostic = diagnostic
        self._context = context
        self._logger: Any = None  # structlog's, made on the first line logged

    def bind(self, **context: Any) -> CollectorLogger:
        return CollectorLogger(self.name, diagnostic=self.diagnostic, **self._context, **context)

    def with_diagnostic(self, diagnostic: bool) -> CollectorLogger:
        return CollectorLogger(self.name, diagnostic=diagnostic, **self._context)

    def _emit(self, level: str, event: str, fields: dict[str, Any]) -> None:
        safe = {k: redact(v, name=k) for k, v in {**self._context, **fields}.items()}
        if self._logger is None:
            # structlog loads with the first line logged: with rich installed, importing it
            # leaves ~6,000 objects that every full pass of the cyclic GC walks again
            import structlog

            self._logger = structlog.get_logger(self.name)
        getattr(self._logger, level)(redact_text(event), logger=self.name, **safe)

    def debug(self, event: str, **fields: Any) -> None:
        if self.diagnostic:
            self._emit("debug", event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._emit("info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._emit("warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._emit("error", event, fields)


def get_logger(name: str, *, diagnostic: bool = False, **context: Any) -> CollectorLogger:
    """The redacting logger for ``name``; ``diagnostic=True`` lets ``debug`` through."""
    return CollectorLogger(name, diagnostic=diagnostic, **context)
