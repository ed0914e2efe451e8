"""Seed 003's collection manager: several data sources driven together.

:class:`CollectionManager` connects, collects from and closes many sources concurrently. A
source that fails does not stop the others: its :class:`CollectionStatus` becomes ``FAILED`` and
its error is kept in :attr:`CollectionManager.errors`. Results are records whatever the source
returns (a list, one record, or seed-style ``CollectedData``).
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Iterable
from typing import Any

from collectorkit._errors import ConfigError, SourceError
from collectorkit._records import Record
from collectorkit.sources._decode import as_records
from collectorkit.typing import DataSource

__all__ = ["CollectionManager", "CollectionStatus", "TaskStatus"]


class CollectionStatus(enum.StrEnum):
    """Where one source stands in the manager's last collection."""

    IDLE = "idle"
    COLLECTING = "collecting"
    COMPLETED = "completed"
    FAILED = "failed"


class TaskStatus(enum.StrEnum):
    """The life of a background task (a scheduled collection, a stream)."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class CollectionManager:
    """Sources by id, collected concurrently (at most ``concurrency`` at once; None: all)."""

    def __init__(self, sources: Iterable[DataSource] = (), *, concurrency: int | None = None):
        if concurrency is not None and concurrency < 1:
            raise ConfigError(f"must be >= 1 or None, got {concurrency!r}", path="concurrency")
        self._sources: dict[str, DataSource] = {}
        self._limit = asyncio.Semaphore(concurrency) if concurrency else None
        self.status: dict[str, CollectionStatus] = {}
        self.errors: dict[str, BaseException] = {}
        for source in sources:
            self.add_source(source)

    @property
    def sources(self) -> list[DataSource]:
        return list(self._sources.values())

    def add_source(self, source: DataSource) -> None:
        """Add ``source``; its ``source_id`` must be new."""
        if source.source_id in self._sources:
            raise ConfigError(f"a source {source.source_id!r} is already managed", path="sources")
        self._sources[source.source_id] = source
        self.status[source.source_id] = CollectionStatus.IDLE

    def remove_source(self, source_id: str) -> None:
        self.get_source(source_id)
        del self._sources[source_id]
        self.status.pop(source_id, None)
        self.errors.pop(source_id, None)

    def get_source(self, source_id: str) -> DataSource:
        try:
            return self._sources[source_id]
        except KeyError:
            known = ", ".join(self._sources) or "none"
            raise SourceError(f"no source {source_id!r} (managed: {known})") from None

    async def connect_all(self) -> None:
        """Connect every source; the first failure is raised after all were tried."""
        results = await asyncio.gather(
            *(s.connect() for s in self._sources.values()), return_exceptions=True
        )
        self._raise_first(results)

    async def aclose(self) -> None:
        """Close every source, even when some fail (the first failure is raised after)."""
        results = await asyncio.gather(
            *(s.aclose() for s in self._sources.values()), return_exceptions=True
        )
        self._raise_first(results)

    async def __aenter__(self) -> CollectionManager:
        await self.connect_all()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def collect(self, source_id: str) -> list[Record]:
        """One collection from one source (its status and error are updated)."""
        source = self.get_source(source_id)
        self.status[source_id] = CollectionStatus.COLLECTING
        self.errors.pop(source_id, None)
        try:
            if self._limit is None:
                records = as_records(await source.collect())
            else:
                async with self._limit:
                    records = as_records(await source.collect())
        except Exception as exc:
            self.status[source_id] = CollectionStatus.FAILED
            self.errors[source_id] = exc
            raise
        self.status[source_id] = CollectionStatus.COMPLETED
        return records

    async def collect_all(self) -> dict[str, list[Record]]:
        """Records by source id, from every source that succeeded; see :attr:`errors`."""
        ids = list(self._sources)
        results = await asyncio.gather(*(self.collect(i) for i in ids), return_exceptions=True)
        return {i: r for i, r in zip(ids, results, strict=True) if not isinstance(r, BaseException)}

    @staticmethod
    def _raise_first(results: list[Any]) -> None:
        for result in results:
            if isinstance(result, BaseException):
                raise result
