"""Seed 003's spellings: the ``I*`` interfaces, ``CollectedData`` and the mocks.

Seed code subclasses ``IDataSource`` / ``IStorageBackend`` and opens and closes them with
``connect()`` / ``disconnect()``; collectorkit's layers close everything with ``aclose()`` and
take sinks, sources and processors by Protocol. Each class here keeps the seed's spelling and
adds the library's: ``aclose()`` and ``async with`` call the seed's methods, and an
``IStorageBackend`` turns into a sink (:class:`BackendSink`) wherever a sink is expected.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Self

import orjson

from collectorkit._errors import SourceError
from collectorkit._lifecycle import AsyncResource
from collectorkit._records import Envelope, Record
from collectorkit.pipeline import Pipeline, ProcessingResult
from collectorkit.sinks import BaseSink, FanoutSink, MemorySink
from collectorkit.sinks._base import result_for
from collectorkit.sources import CollectionManager
from collectorkit.sources._decode import decode_records
from collectorkit.typing import QueryCriteria, Sink, StoreResult

__all__ = [
    "BackendSink",
    "CollectedData",
    "ICollectionManager",
    "IDataSource",
    "IProcessingManager",
    "IProcessor",
    "IStorageBackend",
    "IStorageManager",
    "MockDataSource",
    "MockStorageBackend",
    "StorageLocation",
]


class _SeedLifecycle(AsyncResource, ABC):
    """``connect()`` / ``disconnect()`` (the seed's), with ``aclose()`` and ``async with``."""

    @abstractmethod
    async def connect(self) -> None: ...

    @abstractmethod
    async def disconnect(self) -> None: ...

    async def aclose(self) -> None:
        await self.disconnect()

    async def __aenter__(self) -> Self:
        await self.connect()
        return self


# --- collection ----------------------------------------------------------------------------------


class CollectedData(list[Record]):
    """What one ``collect()`` returned: the records, and the seed's description of them.

    Built from ``raw_data`` alone (as seed code does) the records are decoded from it: JSON
    objects/arrays when ``data_format`` is ``"json"``, else one ``{"data": text}`` record.
    """

    def __init__(
        self,
        records: Iterable[Record] | None = None,
        *,
        source_id: str,
        timestamp: datetime | None = None,
        data_format: str = "json",
        collection_method: str = "",
        raw_data: bytes = b"",
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(decode_records(raw_data, data_format) if records is None else records)
        self.source_id = source_id
        self.timestamp = timestamp or datetime.now(UTC)
        self.data_format = data_format
        self.collection_method = collection_method
        self.raw_data = raw_data if raw_data or records is None else orjson.dumps(list(self))
        self.metadata = dict(metadata or {})

    @property
    def records(self) -> list[Record]:
        return list(self)

    def __repr__(self) -> str:
        return (
            f"CollectedData(source_id={self.source_id!r}, records={len(self)}, "
            f"data_format={self.data_format!r}, collection_method={self.collection_method!r})"
        )


class IDataSource(_SeedLifecycle):
    """Seed 003's base class for a data source. Implement ``get_source_id`` and the rest;
    :attr:`source_id` and ``aclose()`` are derived, so a subclass satisfies
    :class:`~collectorkit.typing.DataSource`."""

    @property
    def source_id(self) -> str:
        return self.get_source_id()

    @abstractmethod
    def get_source_id(self) -> str: ...

    @abstractmethod
    async def collect(self) -> Any: ...

    @abstractmethod
    def collect_stream(self) -> AsyncIterator[Any]: ...


class MockDataSource(IDataSource):
    """A source that returns fixed data: ``MockDataSource(source_id="s", data=b"...")``.

    ``data`` is bytes (decoded as ``data_format``), one record, or a list of records.
    ``fail_on_collect`` raises :class:`~collectorkit.SourceError` from ``collect`` to test
    error paths. ``collect_stream`` yields ``stream_batches`` copies of the data.
    """

    def __init__(
        self,
        source_id: str = "mock_source",
        data: bytes | Record | list[Record] = b"",
        *,
        data_format: str = "json",
        fail_on_collect: bool = False,
        stream_batches: int = 1,
    ) -> None:
        self._source_id = source_id
        self.data = data
        self.data_format = data_format
        self.fail_on_collect = fail_on_collect
        self.stream_batches = stream_batches
        self.connected = False
        self.collect_count = 0

    def get_source_id(self) -> str:
        return self._source_id

    async def connect(self) -> None:
        self.connected = True

    async def disconnect(self) -> None:
        self.connected = False

    async def collect(self) -> CollectedData:
        if not self.connected:
            raise SourceError(f"{self._source_id}: data source not connected")
        if self.fail_on_collect:
            raise SourceError(f"{self._source_id}: simulated collection failure")
        self.collect_count += 1
        common: dict[str, Any] = {
            "source_id": self._source_id,
            "data_format": self.data_format,
            "collection_method": "mock",
            "metadata": {"collect_count": self.collect_count},
        }
        if isinstance(self.data, bytes):
            return CollectedData(raw_data=self.data, **common)
        records = [self.data] if isinstance(self.data, dict) else list(self.data)
        return CollectedData(records, **common)

    async def collect_stream(self) -> AsyncIterator[CollectedData]:
        for _ in range(self.stream_batches):
            yield await self.collect()


class ICollectionManager(ABC):
    """Seed 003's interface of the collection layer's coordinator.
    :class:`~collectorkit.sources.CollectionManager` is the implementation."""

    @abstractmethod
    def add_source(self, source: Any) -> None: ...

    @abstractmethod
    def remove_source(self, source_id: str) -> None: ...

    @abstractmethod
    async def collect_all(self) -> dict[str, list[Record]]: ...


ICollectionManager.register(CollectionManager)


# --- processing ----------------------------------------------------------------------------------


class IProcessor(ABC):
    """Base class of a seed-style processor: ``async process(data) -> ProcessingResult``.

    A :class:`~collectorkit.pipeline.Pipeline` runs these like any other processor: a failed
    result sends the record to dead-letter with ``result.error`` as the reason, a successful
    result with ``processed_data=None`` drops it. Built-in processors are plain callables and
    need no base class (they also offer ``process``).
    """

    @property
    def name(self) -> str:
        return self.get_processor_name()

    @abstractmethod
    async def process(self, data: Any) -> ProcessingResult: ...

    @abstractmethod
    def get_processor_name(self) -> str: ...

    def validate_input(self, data: Any) -> bool:
        """Whether ``data`` is something :meth:`process` can work on."""
        return data is not None


class IProcessingManager(ABC):
    """Seed 003's processing manager: runs a sequence of processors over data.
    :class:`~collectorkit.pipeline.Pipeline` is the implementation."""

    @abstractmethod
    def add_processor(self, processor: Any) -> None: ...

    @abstractmethod
    async def process(self, data: Any) -> ProcessingResult: ...


IProcessingManager.register(Pipeline)


# --- storage -------------------------------------------------------------------------------------


class StorageLocation(StoreResult):
    """The seed's name for what ``store`` returns, built in the seed's shape —
    ``StorageLocation(backend_id, location_id, path, created_at)`` — or in the library's
    (``location=…, written=…``). A seed ``path`` ending in ``/<location_id>`` gives
    ``location`` the part before it; ``written`` defaults to one (a seed ``store`` stores one
    record)."""

    __slots__ = ("_path",)
    _path: str | None

    def __init__(
        self,
        backend_id: str = "",
        location_id: str = "",
        path: str | None = None,
        created_at: datetime | None = None,
        *,
        location: str | None = None,
        written: int = 1,
        duplicates: int = 0,
    ) -> None:
        if location is None:
            suffix = f"/{location_id}"
            given = path or ""
            location = given.removesuffix(suffix) if location_id else given
        values = {
            "location": location,
            "written": written,
            "duplicates": duplicates,
            "location_id": location_id,
            "backend_id": backend_id,
            "created_at": created_at,
            "_path": path,
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @property
    def path(self) -> str:
        """Where the data went: the seed's ``path`` as given, else ``location/location_id``."""
        if self._path is not None:
            return self._path
        return f"{self.location}/{self.location_id}" if self.location_id else self.location


class IStorageBackend(_SeedLifecycle):
    """Base class of a seed-style storage backend: ``store(data)`` takes ONE record and returns
    where it went (a :class:`~collectorkit.StorageLocation`).

    Wherever a sink is expected (``deliver``, :class:`~collectorkit.FanoutSink`) one is wrapped
    in :class:`BackendSink`, which hands it each record of a batch. Make ``store`` idempotent on
    the record's id (e.g. ``ON CONFLICT DO NOTHING``) to keep delivery exactly-once after a
    crash; the built-in sinks are.
    """

    @property
    def name(self) -> str:
        return self.get_backend_id()

    @abstractmethod
    async def store(self, data: Any) -> Any: ...

    @abstractmethod
    async def query(self, criteria: QueryCriteria) -> list[Any]: ...

    @abstractmethod
    async def delete(self, location_id: str) -> Any: ...

    @abstractmethod
    def get_backend_id(self) -> str: ...

    def as_sink(self) -> Sink:
        """This backend as a :class:`~collectorkit.typing.Sink` (see :class:`BackendSink`)."""
        return BackendSink(self)


class IStorageManager(ABC):
    """Seed 003's storage manager: stores data in several backends.
    :class:`~collectorkit.sinks.FanoutSink` is the implementation."""

    @abstractmethod
    def add_backend(self, backend: Any) -> None: ...

    @abstractmethod
    async def store(self, data: Any) -> Any: ...


IStorageManager.register(FanoutSink)


class BackendSink(BaseSink):
    """A :class:`~collectorkit.typing.Sink` over an :class:`IStorageBackend`: one ``store`` call
    per record, in order; ``query`` results that are not envelopes are wrapped as records."""

    def __init__(self, backend: IStorageBackend) -> None:
        super().__init__(name=backend.get_backend_id())
        self.backend = backend

    async def _open(self) -> None:
        await self.backend.connect()

    async def _close(self) -> None:
        await self.backend.disconnect()

    async def _store(self, batch: list[Envelope]) -> StoreResult:
        for envelope in batch:
            await self.backend.store(dict(envelope.data))
        return result_for(self, self.name, batch, len(batch))

    async def query(self, criteria: QueryCriteria | None = None) -> list[Envelope]:
        found = await self.backend.query(criteria or QueryCriteria())
        return [
            item if isinstance(item, Envelope) else Envelope(self.name, "", item) for item in found
        ]

    async def delete(self, location_id: str) -> bool:
        result = await self.backend.delete(location_id)
        return result is not False


class MockStorageBackend(MemorySink):
    """The seed's mock storage backend: a :class:`~collectorkit.sinks.MemorySink` named by
    ``backend_id``, closed by the seed's ``disconnect()`` or the library's ``aclose()``."""

    def __init__(self, backend_id: str = "mock_storage") -> None:
        super().__init__(name=backend_id)

    async def disconnect(self) -> None:
        await self.aclose()
