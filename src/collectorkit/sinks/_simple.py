"""Sinks without a back-end of their own: memory, stdout, fan-out and dead-letter."""

from __future__ import annotations

import asyncio
import hashlib
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import IO, Any

from collectorkit._errors import ConfigError, SinkError
from collectorkit._records import Envelope
from collectorkit.pipeline import DeadLetter
from collectorkit.sinks._base import (
    BaseSink,
    SinkConvertible,
    as_sink,
    dump_json,
    match_criteria,
    result_for,
)
from collectorkit.typing import QueryCriteria, Sink, StoreResult

__all__ = [
    "DeadLetterSink",
    "FanoutSink",
    "MemorySink",
    "StdoutSink",
    "dead_letter_envelope",
]


class MemorySink(BaseSink):
    """Keeps envelopes in a dict by key, in arrival order: for tests and small jobs.

    ``fail_next`` makes the next ``n`` stores raise :class:`SinkError` (to test failure paths).
    """

    name = "memory"

    def __init__(self, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.records: dict[str, Envelope] = {}
        self.stores = 0
        self.fail_next = 0

    def __len__(self) -> int:
        return len(self.records)

    @property
    def data(self) -> list[Any]:
        """The stored records themselves, in arrival order."""
        return [e.data for e in self.records.values()]

    async def _store(self, batch: list[Envelope]) -> StoreResult:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise SinkError(f"sink {self.name!r}: injected failure")
        self.stores += 1
        written = 0
        for e in batch:
            if e.key not in self.records:
                self.records[e.key] = e
                written += 1
        return result_for(self, f"memory://{self.name}", batch, written)

    async def query(self, criteria: QueryCriteria | None = None) -> list[Envelope]:
        return match_criteria(self.records.values(), criteria or QueryCriteria())

    async def delete(self, location_id: str) -> bool:
        return self.records.pop(location_id, None) is not None


class StdoutSink(BaseSink):
    """Writes one JSON line per record to a stream (stdout). Not durable, not queryable.

    ``envelope=True`` writes ``{"key", "source", "data"}``; otherwise the record alone.
    """

    name = "stdout"

    def __init__(
        self, *, stream: IO[str] | None = None, envelope: bool = False, name: str | None = None
    ) -> None:
        super().__init__(name=name)
        self._stream = stream
        self.envelope = envelope

    async def _store(self, batch: list[Envelope]) -> StoreResult:
        stream = self._stream or sys.stdout
        if self.envelope:
            lines = [dump_json({"key": e.key, "source": e.source, "data": e.data}) for e in batch]
        else:
            lines = [dump_json(e.data) for e in batch]
        stream.write(b"\n".join(lines).decode() + "\n")
        stream.flush()
        return result_for(self, "stdout", batch, len(batch))

    async def query(self, criteria: QueryCriteria | None = None) -> list[Envelope]:
        return []

    async def delete(self, location_id: str) -> bool:
        return False


class FanoutSink(BaseSink):
    """Stores every batch in all of ``sinks`` concurrently; succeeds only if every one does.

    When one fails, the others may have stored the batch: that is safe because every sink is
    idempotent on the key, and the batch is retried as a whole. ``query`` asks the first sink.
    """

    name = "fanout"

    def __init__(self, sinks: Sequence[Sink | SinkConvertible], *, name: str | None = None) -> None:
        if not sinks:
            raise ConfigError("a fan-out needs at least one sink", path="sinks")
        super().__init__(name=name)
        self.sinks: tuple[Sink, ...] = tuple(as_sink(s) for s in sinks)

    def add_backend(self, backend: Sink | SinkConvertible) -> None:
        """Add a sink (or a seed-style backend); it is connected with the others."""
        self.sinks = (*self.sinks, as_sink(backend))

    async def _open(self) -> None:
        await asyncio.gather(*(s.connect() for s in self.sinks))

    async def _close(self) -> None:
        results = await asyncio.gather(*(s.aclose() for s in self.sinks), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise SinkError(f"fan-out {self.name!r}: close failed: {errors[0]}")

    async def _store(self, batch: list[Envelope]) -> StoreResult:
        results = await asyncio.gather(
            *(s.store(batch) for s in self.sinks), return_exceptions=True
        )
        for sink, result in zip(self.sinks, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result
                raise SinkError(f"fan-out {self.name!r}: sink {sink.name!r} failed: {result}")
        first = results[0]
        assert isinstance(first, StoreResult)
        return result_for(self, ",".join(s.name for s in self.sinks), batch, first.written)

    async def query(self, criteria: QueryCriteria | None = None) -> list[Envelope]:
        return await self.sinks[0].query(criteria or QueryCriteria())

    async def delete(self, location_id: str) -> bool:
        results = await asyncio.gather(*(s.delete(location_id) for s in self.sinks))
        return any(results)


def dead_letter_envelope(letter: DeadLetter, *, now: datetime | None = None) -> Envelope:
    """The envelope a dead letter is stored as; its key depends only on payload and reason,
    so a bad record fetched again is not stored twice."""
    source = letter.source or "unknown"
    payload = dump_json(letter.payload)
    digest = hashlib.sha256(payload + b"\0" + letter.reason.encode()).hexdigest()[:32]
    data = {
        "reason": letter.reason,
        "processor": letter.processor,
        "source": source,
        "failed_at": (now or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
        "payload": letter.payload,
    }
    return Envelope(source, f"{source}:dead:{digest}", data)


class DeadLetterSink(BaseSink):
    """Where records that failed processing go: a wrapper that stores each dead letter as
    ``{reason, processor, source, failed_at, payload}`` in ``sink`` (any sink; default memory).

    It is itself a sink: ``store`` passes envelopes through unchanged; ``put`` takes
    :class:`~collectorkit.pipeline.DeadLetter` objects.
    """

    name = "dead_letter"

    def __init__(self, sink: Sink | None = None, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.sink: Sink = sink if sink is not None else MemorySink(name="dead_letter")

    async def _open(self) -> None:
        await self.sink.connect()

    async def _close(self) -> None:
        await self.sink.aclose()

    async def put(self, letters: Sequence[DeadLetter]) -> StoreResult:
        """Store dead letters (idempotent: the same bad record and reason is kept once)."""
        now = datetime.now(UTC)
        return await self.store([dead_letter_envelope(x, now=now) for x in letters])

    async def _store(self, batch: list[Envelope]) -> StoreResult:
        return await self.sink.store(batch)

    async def query(self, criteria: QueryCriteria | None = None) -> list[Envelope]:
        return await self.sink.query(criteria or QueryCriteria())

    async def delete(self, location_id: str) -> bool:
        return await self.sink.delete(location_id)
