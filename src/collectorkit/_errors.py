"""The one error tree of collectorkit.

Every error we raise derives from :class:`CollectorError`. Leaves that resemble a builtin also
subclass it, so ``except TimeoutError`` and ``except ValueError`` keep working::

    CollectorError
    ├── ConfigError (ValueError)              bad configuration; names the path, field and value
    ├── SyncInAsyncError (RuntimeError)       a *_sync entry point was called inside a running loop
    ├── HTTPError                             talking to an API failed (.request/.response)
    │   ├── TransportError (ConnectionError)  connect refused, reset, protocol error
    │   │   └── RequestTimeoutError (TimeoutError)
    │   ├── HTTPStatusError                   an error status that the retry policy did not cure
    │   │   ├── AuthenticationError           401/403 after one credential refresh
    │   │   ├── QuotaError                    429 still after every retry
    │   │   ├── ServiceError                  5xx
    │   │   └── ClientRequestError            any other 4xx
    │   ├── CircuitOpenError                  the breaker is open: failed fast, nothing was sent
    │   └── ResponseDecodeError (ValueError)  the body is not the JSON the caller asked for
    ├── PaginationError                       the API looped (same cursor twice) or broke paging
    ├── CollectorTimeoutError (TimeoutError)  the execution budget ran out; carries .partial_result
    ├── StateError                            a state store failed
    │   ├── StateConflictError                compare-and-set lost: another writer moved the value
    │   ├── FencedError                       a newer run of the source holds it: commit refused
    │   ├── StateStoreUnavailableError (ConnectionError)
    │   └── StateDamagedError                 a state file that existed is empty or corrupt
    ├── ProcessingError                       raised by a processor: send this record to dead-letter
    ├── SinkError                             a sink could not store a batch
    ├── FileLockedError                       another writer holds a file this one must write
    └── SourceError                           a data source could not connect or read

``partial_result`` is set on errors raised by a collection that had already collected something:
what was collected is never thrown away.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthenticationError",
    "CircuitOpenError",
    "ClientRequestError",
    "CollectorError",
    "CollectorTimeoutError",
    "ConfigError",
    "FencedError",
    "FileLockedError",
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
    "StateDamagedError",
    "StateError",
    "StateStoreUnavailableError",
    "SyncInAsyncError",
    "TransportError",
]


class CollectorError(Exception):
    """Base of every collectorkit error.

    ``partial_result`` holds what a collection had gathered before it failed (or ``None``).
    """

    def __init__(self, message: str, *, partial_result: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.partial_result = partial_result

    def __str__(self) -> str:
        return self.message


class ConfigError(CollectorError, ValueError):
    """Invalid configuration; ``path`` says where (``sources[0].request.pagination``)."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.reason = message


class SyncInAsyncError(CollectorError, RuntimeError):
    """A synchronous entry point was called while an event loop is running in this thread."""


class HTTPError(CollectorError):
    """Talking to a remote API failed. ``request``/``response`` are ours (redacted), when known."""

    def __init__(
        self,
        message: str,
        *,
        request: Any = None,
        response: Any = None,
        partial_result: Any = None,
    ) -> None:
        super().__init__(message, partial_result=partial_result)
        self.request = request
        self.response = response


class TransportError(HTTPError, ConnectionError):
    """The request did not get a response: refused, reset, DNS, protocol error."""


class RequestTimeoutError(TransportError, TimeoutError):
    """Connect, read or pool timeout of one request."""


class HTTPStatusError(HTTPError):
    """The API answered with an error status that retries did not cure."""

    @property
    def status_code(self) -> int | None:
        return getattr(self.response, "status_code", None)


class AuthenticationError(HTTPStatusError):
    """Credentials refused (401/403) even after one refresh."""


class QuotaError(HTTPStatusError):
    """Rate limited (429) and still limited after every retry."""


class ServiceError(HTTPStatusError):
    """The API failed (5xx) and kept failing."""


class ClientRequestError(HTTPStatusError):
    """The API rejected the request (4xx other than auth and quota)."""


class CircuitOpenError(HTTPError):
    """The circuit breaker is open: the request was not sent. ``retry_after`` is seconds to wait."""

    def __init__(
        self, message: str, *, retry_after: float = 0.0, partial_result: Any = None
    ) -> None:
        super().__init__(message, partial_result=partial_result)
        self.retry_after = retry_after


class ResponseDecodeError(HTTPError, ValueError):
    """The response body could not be decoded as the caller expected (e.g. invalid JSON)."""


class PaginationError(CollectorError):
    """The API broke its paging contract, e.g. returned the same cursor or next link twice."""


class CollectorTimeoutError(CollectorError, TimeoutError):
    """The execution budget ran out. ``partial_result`` carries the records and state so far."""


class StateError(CollectorError):
    """A state store failed."""


class StateConflictError(StateError):
    """Compare-and-set lost: the stored version is not the one the writer expected."""


class FencedError(StateError):
    """A checkpoint commit was refused: a newer run of ``source`` (epoch ``current``) started
    after this one (epoch ``epoch``) — this worker was paused or cut off and lost the source."""

    def __init__(self, message: str, *, source: str, epoch: int, current: int | None) -> None:
        super().__init__(message)
        self.source = source
        self.epoch = epoch
        self.current = current


class StateStoreUnavailableError(StateError, ConnectionError):
    """The state store cannot be reached."""


class StateDamagedError(StateError):
    """A state database that existed is empty or fails its integrity check: starting from
    scratch would collect (and notify) everything again, so it is a refusal. ``path`` names it."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class ProcessingError(CollectorError):
    """Raised by a processor to send one record to dead-letter with ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SinkError(CollectorError):
    """A sink could not store a batch."""


class FileLockedError(CollectorError):
    """Another process (or another sink here) writes the file: ``path`` and, if known, ``pid``."""

    def __init__(self, message: str, *, path: str, pid: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.pid = pid


class SourceError(CollectorError):
    """A data source could not connect or read."""
