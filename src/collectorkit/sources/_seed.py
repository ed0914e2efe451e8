"""Seed 003's data-source names: ``IDataSource``, ``CollectedData`` and ``MockDataSource``.

Seed code returns a :class:`CollectedData` (``raw_data`` bytes plus metadata) from ``collect()``;
collectorkit's layers expect a list of records. ``CollectedData`` is both: a ``list`` of the
records decoded from ``raw_data`` that also carries the seed's attributes, so a seed-style source
plugs into the daemon unchanged.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from collectorkit._errors import SourceError
from collectorkit._records import Record

__all__ = ["CollectedData", "IDataSource", "MockDataSource", "as_records"]


def _decode(raw: bytes, data_format: str) -> list[Record]:
    if not raw:
        return []
    if data_format == "json":
        try:
            value: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            value = None
        if isinstance(value, dict):
            return [value]
        if isinstance(value, list):
            return [v if isinstance(v, dict) else {"data": v} for v in value]
    return [{"data": raw.decode("utf-8", "replace")}]


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
        super().__init__(_decode(raw_data, data_format) if records is None else records)
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


def as_records(value: Any) -> list[Record]:
    """Records from whatever a source returned: a list of dicts, one dict, or ``CollectedData``."""
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [v if isinstance(v, dict) else {"data": v} for v in value]
    raw = getattr(value, "raw_data", None)
    if isinstance(raw, bytes):
        return _decode(raw, str(getattr(value, "data_format", "json")))
    raise SourceError(f"a source returned {type(value).__name__}, not records")


class IDataSource(ABC):
    """Seed 003's base class for a data source. Implement ``get_source_id`` and the rest;
    :attr:`source_id` is derived, so a subclass satisfies :class:`~collectorkit.typing.DataSource`.
    """

    @property
    def source_id(self) -> str:
        return self.get_source_id()

    @abstractmethod
    def get_source_id(self) -> str: ...

    @abstractmethod
    async def connect(self) -> None: ...

    @abstractmethod
    async def disconnect(self) -> None: ...

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
