"""Seed 003's storage interface, ``IStorageBackend``, and the adapter that makes one a sink."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from collectorkit._records import Envelope
from collectorkit.sinks._base import BaseSink, result_for
from collectorkit.typing import QueryCriteria, Sink, StoreResult

__all__ = ["BackendSink", "IStorageBackend", "IStorageManager", "as_sink"]


class IStorageBackend(ABC):
    """Base class of a seed-style storage backend: ``store(data)`` takes ONE record and returns
    where it went (a :class:`~collectorkit.StorageLocation`).

    The delivery loop wraps one in :class:`BackendSink`, which hands it each record of a batch.
    Make ``store`` idempotent on the record's id (e.g. ``ON CONFLICT DO NOTHING``) to keep
    delivery exactly-once after a crash; the built-in sinks are.
    """

    @property
    def name(self) -> str:
        return self.get_backend_id()

    @abstractmethod
    async def connect(self) -> None: ...

    @abstractmethod
    async def disconnect(self) -> None: ...

    @abstractmethod
    async def store(self, data: Any) -> Any: ...

    @abstractmethod
    async def query(self, criteria: QueryCriteria) -> list[Any]: ...

    @abstractmethod
    async def delete(self, location_id: str) -> Any: ...

    @abstractmethod
    def get_backend_id(self) -> str: ...


class IStorageManager(ABC):
    """Seed 003's storage manager: stores data in several backends.
    :class:`~collectorkit.sinks.FanoutSink` is the implementation."""

    @abstractmethod
    def add_backend(self, backend: Any) -> None: ...

    @abstractmethod
    async def store(self, data: Any) -> Any: ...


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


def as_sink(sink: Sink | IStorageBackend) -> Sink:
    """``sink`` itself, or a seed-style backend wrapped in :class:`BackendSink`."""
    return BackendSink(sink) if isinstance(sink, IStorageBackend) else sink
