"""Events and error reports, as in the seed: ``EventEmitter`` / ``SystemEvent`` / ``ErrorInfo``."""

from __future__ import annotations

import inspect
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from collectorkit._errors import (
    ConfigError,
    HTTPError,
    PaginationError,
    ProcessingError,
    SinkError,
    SourceError,
    StateError,
)

__all__ = [
    "ErrorHandler",
    "ErrorInfo",
    "ErrorType",
    "EventEmitter",
    "EventType",
    "SystemEvent",
]

_log = logging.getLogger(__name__)


class EventType(StrEnum):
    """What happened, per layer."""

    COLLECTION_COMPLETE = "collection_complete"
    COLLECTION_FAILED = "collection_failed"
    PROCESSING_COMPLETE = "processing_complete"
    PROCESSING_FAILED = "processing_failed"
    STORAGE_COMPLETE = "storage_complete"
    STORAGE_FAILED = "storage_failed"


class ErrorType(StrEnum):
    """The kind of an :class:`ErrorInfo`."""

    CONNECTION = "connection"
    COLLECTION = "collection"
    PROCESSING = "processing"
    VALIDATION = "validation"
    STORAGE = "storage"
    CONFIGURATION = "configuration"
    TIMEOUT = "timeout"
    UNKNOWN = "unknown"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemEvent:
    """One event: its type, when, which component sent it, and a JSON-able payload."""

    event_type: EventType
    timestamp: datetime = field(default_factory=_now)
    source: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorInfo:
    """An error report for an error handler (the seed's field names; short aliases below)."""

    error_type: ErrorType
    layer_name: str
    operation: str
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)
    is_critical: bool = False
    timestamp: datetime = field(default_factory=_now)

    @classmethod
    def from_exception(
        cls,
        exc: BaseException,
        *,
        layer: str,
        operation: str,
        details: Mapping[str, Any] | None = None,
        critical: bool = True,
    ) -> ErrorInfo:
        """An report for ``exc``; its :class:`ErrorType` follows from the exception's class."""
        return cls(
            error_type=_error_type(exc),
            layer_name=layer,
            operation=operation,
            message=str(exc) or type(exc).__name__,
            details={"exception": type(exc).__name__, **(details or {})},
            is_critical=critical,
        )

    @property
    def type(self) -> ErrorType:
        return self.error_type

    @property
    def layer(self) -> str:
        return self.layer_name

    @property
    def critical(self) -> bool:
        return self.is_critical


def _error_type(exc: BaseException) -> ErrorType:
    checks: tuple[tuple[type[BaseException], ErrorType], ...] = (
        (ProcessingError, ErrorType.PROCESSING),
        (SinkError, ErrorType.STORAGE),
        (ConfigError, ErrorType.CONFIGURATION),
        (TimeoutError, ErrorType.TIMEOUT),
        (ConnectionError, ErrorType.CONNECTION),
        (SourceError, ErrorType.COLLECTION),
        (HTTPError, ErrorType.COLLECTION),
        (PaginationError, ErrorType.COLLECTION),
        (StateError, ErrorType.STORAGE),
    )
    for kind, error_type in checks:
        if isinstance(exc, kind):
            return error_type
    return ErrorType.UNKNOWN


Listener = Callable[[SystemEvent], "Awaitable[None] | None"]
ErrorCallback = Callable[[ErrorInfo], "Awaitable[None] | None"]


async def _call(callback: Callable[[Any], Any], arg: Any) -> None:
    result = callback(arg)
    if inspect.isawaitable(result):
        await result


class EventEmitter:
    """Delivers events to subscribers (sync or async callables), in subscription order.

    A subscriber that raises is logged and skipped: monitoring never breaks a collection.
    """

    def __init__(self) -> None:
        self._listeners: defaultdict[EventType, list[Listener]] = defaultdict(list)

    async def subscribe(self, event_type: EventType, callback: Listener) -> None:
        self._listeners[EventType(event_type)].append(callback)

    async def unsubscribe(self, event_type: EventType, callback: Listener) -> None:
        listeners = self._listeners[EventType(event_type)]
        if callback in listeners:
            listeners.remove(callback)

    def has_listeners(self, event_type: EventType) -> bool:
        return bool(self._listeners.get(event_type))

    async def emit(self, event: SystemEvent) -> None:
        for callback in tuple(self._listeners.get(event.event_type, ())):
            try:
                await _call(callback, event)
            except Exception:
                _log.exception("event subscriber %r failed on %s", callback, event.event_type)


class ErrorHandler:
    """Collects :class:`ErrorInfo` reports and passes each to its callbacks.

    Keeps the last ``history`` reports in :attr:`errors`; a callback that raises is logged and
    skipped. Critical errors are logged at ERROR, others at WARNING.
    """

    def __init__(self, *callbacks: ErrorCallback, history: int = 100) -> None:
        self._callbacks = list(callbacks)
        self._history = history
        self.errors: list[ErrorInfo] = []

    def add_callback(self, callback: ErrorCallback) -> None:
        self._callbacks.append(callback)

    async def handle_error(self, error: ErrorInfo) -> None:
        self.errors.append(error)
        del self.errors[: -self._history or None]
        level = logging.ERROR if error.is_critical else logging.WARNING
        _log.log(level, "%s/%s failed: %s", error.layer_name, error.operation, error.message)
        for callback in tuple(self._callbacks):
            try:
                await _call(callback, error)
            except Exception:
                _log.exception("error callback %r failed", callback)
