"""collectorkit: collect events from remote HTTP APIs and deliver them without loss or duplicates.

Every name a seed example imports is available here. Names resolve lazily on first use, so that
``import collectorkit`` (and ``collectorkit --help``) stays fast and loads no heavy dependency.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> module that defines it. Keep each layer's block together; tests check this table,
# the TYPE_CHECKING imports and __all__ agree.
_EXPORTS: dict[str, str] = {
    # core
    "AuthenticationError": "collectorkit._errors",
    "CircuitOpenError": "collectorkit._errors",
    "ClientRequestError": "collectorkit._errors",
    "CollectorError": "collectorkit._errors",
    "CollectorTimeoutError": "collectorkit._errors",
    "ConfigError": "collectorkit._errors",
    "HTTPError": "collectorkit._errors",
    "HTTPStatusError": "collectorkit._errors",
    "PaginationError": "collectorkit._errors",
    "ProcessingError": "collectorkit._errors",
    "QuotaError": "collectorkit._errors",
    "RequestTimeoutError": "collectorkit._errors",
    "ResponseDecodeError": "collectorkit._errors",
    "ServiceError": "collectorkit._errors",
    "SinkError": "collectorkit._errors",
    "SourceError": "collectorkit._errors",
    "StateConflictError": "collectorkit._errors",
    "StateError": "collectorkit._errors",
    "StateStoreUnavailableError": "collectorkit._errors",
    "SyncInAsyncError": "collectorkit._errors",
    "TransportError": "collectorkit._errors",
    "Envelope": "collectorkit._records",
    "record_key": "collectorkit._records",
    "FakeClock": "collectorkit._clock",
    "SystemClock": "collectorkit._clock",
    # http
    # collect
    # state
    # pipeline
    # sinks
    # sources
}

if TYPE_CHECKING:
    from collectorkit._clock import FakeClock, SystemClock
    from collectorkit._errors import (
        AuthenticationError,
        CircuitOpenError,
        ClientRequestError,
        CollectorError,
        CollectorTimeoutError,
        ConfigError,
        HTTPError,
        HTTPStatusError,
        PaginationError,
        ProcessingError,
        QuotaError,
        RequestTimeoutError,
        ResponseDecodeError,
        ServiceError,
        SinkError,
        SourceError,
        StateConflictError,
        StateError,
        StateStoreUnavailableError,
        SyncInAsyncError,
        TransportError,
    )
    from collectorkit._records import Envelope, record_key

__all__ = [
    "AuthenticationError",
    "CircuitOpenError",
    "ClientRequestError",
    "CollectorError",
    "CollectorTimeoutError",
    "ConfigError",
    "Envelope",
    "FakeClock",
    "HTTPError",
    "HTTPStatusError",
    "PaginationError",
    "ProcessingError",
    "QuotaError",
    "RequestTimeoutError",
    "ResponseDecodeError",
    "ServiceError",
    "SinkError",
    "SourceError",
    "StateConflictError",
    "StateError",
    "StateStoreUnavailableError",
    "SyncInAsyncError",
    "SystemClock",
    "TransportError",
    "__version__",
    "record_key",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'collectorkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
