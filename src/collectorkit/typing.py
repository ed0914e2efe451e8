"""The extension points of collectorkit, as Protocols.

Plug-ins implement these without inheriting from anything of ours. Each layer documents the
behaviour its Protocol expects; the contract test suites in ``tests/`` check every implementation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from collectorkit._clock import Clock
from collectorkit._records import Envelope, Record

__all__ = [
    "Checkpoint",
    "Clock",
    "DataSource",
    "Envelope",
    "Paginator",
    "Processor",
    "QueryCriteria",
    "Record",
    "Sink",
    "StateStore",
    "StoreResult",
    "StoredValue",
    "TokenCache",
    "TransactionalSink",
]


# --- state ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredValue:
    """A value in a state store, with the version compare-and-set works on (1 for a new key)."""

    value: Mapping[str, Any]
    version: int
    updated_at: float
    """Wall-clock seconds since the epoch of the last write."""


@runtime_checkable
class StateStore(Protocol):
    """Keeps JSON objects by ``(namespace, key)`` with optimistic concurrency.

    ``put(..., if_version=None)`` writes unconditionally; ``if_version=0`` writes only if the key
    does not exist; ``if_version=n`` writes only if the stored version is ``n``. A failed condition
    raises :class:`~collectorkit.StateConflictError`. ``put`` returns the new version.

    A new key starts at version 1 (also after ``delete``); ``delete`` returns whether the key
    existed; ``list`` returns the namespace's keys in sorted order. A namespace is 1-128
    characters of ``[A-Za-z0-9_.:-]``, a key 1-512 characters without control characters; a
    value is a JSON object. A store that cannot be reached raises
    :class:`~collectorkit.StateStoreUnavailableError`. ``aclose`` releases its connections
    (``async with store:`` closes on exit). ``tests/state/test_contract.py`` is the executable form
    of this contract.
    """

    async def get(self, namespace: str, key: str) -> StoredValue | None: ...

    async def put(
        self,
        namespace: str,
        key: str,
        value: Mapping[str, Any],
        *,
        if_version: int | None = None,
    ) -> int: ...

    async def delete(self, namespace: str, key: str) -> bool: ...

    async def list(self, namespace: str) -> dict[str, StoredValue]: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class TokenCache(Protocol):
    """Where OAuth2 tokens live between requests and runs. Expiry is wall-clock epoch seconds."""

    async def get_token(self, key: str) -> tuple[str, float] | None: ...

    async def set_token(self, key: str, token: str, expires_at: float) -> None: ...


# --- sinks ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoreResult:
    """What a sink did with a batch (the seed's ``StorageLocation``).

    ``location`` says where (a table, a file, a stream); ``location_id`` is what
    ``Sink.delete`` takes to remove what was stored: the record key when the batch held one
    record, else empty. ``written + duplicates`` is the batch size: a duplicate is a record whose
    key the sink already held, so it was not written again.
    """

    location: str
    written: int
    duplicates: int = 0
    location_id: str = ""
    backend_id: str = ""
    created_at: datetime | None = None

    @property
    def path(self) -> str:
        """``location/location_id`` (or ``location`` alone): where to look for the data."""
        return f"{self.location}/{self.location_id}" if self.location_id else self.location


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Collector state to save together with a batch (same transaction where the sink allows)."""

    namespace: str
    key: str
    state: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryCriteria:
    """Filters (field equality on the record), sort, limit and offset for ``Sink.query``."""

    source: str | None = None
    filters: Mapping[str, Any] = field(default_factory=dict)
    sort_by: str | None = None
    descending: bool = False
    limit: int | None = None
    offset: int = 0


@runtime_checkable
class Sink(Protocol):
    """A storage backend. ``store`` must be idempotent on ``Envelope.key``.

    ``connect`` opens (idempotent; ``store`` may also open on first use) and ``aclose`` releases
    what it opened (idempotent); ``async with sink:`` does both.
    """

    name: str

    async def connect(self) -> None: ...

    async def aclose(self) -> None: ...

    async def store(self, batch: Sequence[Envelope]) -> StoreResult: ...

    async def query(self, criteria: QueryCriteria) -> list[Envelope]: ...

    async def delete(self, location_id: str) -> bool: ...


@runtime_checkable
class TransactionalSink(Sink, Protocol):
    """A sink that commits a batch and the collector checkpoint atomically (e.g. SQLite).

    ``shares_state_with(store)`` tells whether ``store`` reads the checkpoints this sink writes
    (the same database and state table): then the delivery loop lets the sink save them, in the
    same transaction as the records (:func:`collectorkit.delivery.checkpoint_sink_for`).
    """

    async def store_with_checkpoint(
        self, batch: Sequence[Envelope], checkpoint: Checkpoint
    ) -> StoreResult: ...

    def shares_state_with(self, store: StateStore) -> bool: ...


# --- collect -------------------------------------------------------------------------------------


@runtime_checkable
class Paginator(Protocol):
    """Decides paging without I/O (``collectorkit.collect.StandardPaginator`` is the built-in one).

    ``request`` is a ``collectorkit.collect.RequestSpec``, ``state`` a ``CollectorState`` and
    ``response`` a ``PageResponse``. ``prepare`` returns the request for the position in
    ``state``; ``advance`` returns an ``Advance`` (the state after the page, and a stop reason
    when it was the last); ``partial`` returns the position with the first ``consumed`` records
    of the current page taken (a limit reached mid-page); ``position_key`` names what must not
    repeat within one walk (the cursor or link sent), or ``None``.
    """

    def prepare(self, request: Any, state: Any) -> Any: ...

    def advance(self, state: Any, response: Any) -> Any: ...

    def partial(self, state: Any, consumed: int) -> Any: ...

    def position_key(self, request: Any, state: Any) -> str | None: ...


# --- pipeline ------------------------------------------------------------------------------------


class Processor(Protocol):
    """A record in, a record (or ``None`` to drop it on purpose) out.

    Raise :class:`~collectorkit.ProcessingError` to send the record to dead-letter with a reason.
    """

    def __call__(self, record: Record) -> Record | None: ...


# --- sources -------------------------------------------------------------------------------------


@runtime_checkable
class DataSource(Protocol):
    """Anything that yields records: the HTTP collector, SSE and WebSocket feeds, long polls.

    ``connect`` prepares (idempotent) and ``aclose`` releases; ``collect`` returns one
    collection's records; ``collect_stream`` yields batches as they arrive and ends when the
    source is bounded (a limit, a stop event, the API exhausted). A source that can resume keeps
    a checkpoint of what it has handed out (``state`` / ``last_event_id`` on ours): save it only
    after the sinks acknowledged the batch, and pass it back when starting again.
    """

    @property
    def source_id(self) -> str: ...

    async def connect(self) -> None: ...

    async def aclose(self) -> None: ...

    async def collect(self) -> list[Record]: ...

    def collect_stream(self) -> AsyncIterator[list[Record]]: ...
