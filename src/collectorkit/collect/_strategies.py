"""How a collection hands records on: all at the end, in batches, or page by page.

Every strategy consumes the same :class:`~collectorkit.collect.PageStream`, so limits, the time
budget, resume and errors behave identically whichever is chosen.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from collectorkit._errors import ConfigError
from collectorkit._records import Record
from collectorkit.collect._page import Page
from collectorkit.collect._state import CollectorState
from collectorkit.collect._stream import PageStream

__all__ = [
    "BatchCollectionStrategy",
    "CollectionStrategy",
    "CollectorExecutor",
    "ConcurrentCollectionStrategy",
    "SequentialCollectionStrategy",
    "StreamCollectionStrategy",
    "resolve_strategy",
]

BatchCallback = Callable[[list[Record], CollectorState], Awaitable[Any] | Any]


class CollectorExecutor:
    """Where batch and stream strategies deliver records.

    Each call gets the records and the state to save once they are stored. Override
    :meth:`flush_batch` / :meth:`stream_batch`, or pass ``on_batch`` (sync or async) — then the
    records are not kept and memory stays bounded. With neither, records are kept in
    ``collected`` and returned as ``result.events``.
    """

    def __init__(self, *, on_batch: BatchCallback | None = None) -> None:
        self.on_batch = on_batch
        self.collected: list[Record] = []

    async def flush_batch(self, events: list[Record], state: CollectorState) -> None:
        """Deliver one batch (``BatchCollectionStrategy``)."""
        await self._deliver(events, state)

    async def stream_batch(self, events: list[Record], state: CollectorState) -> None:
        """Deliver one page as it arrives (``StreamCollectionStrategy``)."""
        await self._deliver(events, state)

    def take_collected(self) -> list[Record]:
        kept, self.collected = self.collected, []
        return kept

    async def _deliver(self, events: list[Record], state: CollectorState) -> None:
        if self.on_batch is None:
            self.collected.extend(events)
            return
        outcome = self.on_batch(events, state)
        if inspect.isawaitable(outcome):
            await outcome


@runtime_checkable
class CollectionStrategy(Protocol):
    """Consumes a page stream, delivering records to ``executor`` or keeping them in ``events``.

    ``concurrent`` asks for the request's shards to be walked at once.
    """

    @property
    def concurrent(self) -> bool: ...

    async def run(
        self, stream: PageStream, executor: CollectorExecutor, events: list[Record]
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class SequentialCollectionStrategy:
    """One page at a time; every record is kept and returned (``"sequential"``)."""

    concurrent: ClassVar[bool] = False

    async def run(
        self, stream: PageStream, executor: CollectorExecutor, events: list[Record]
    ) -> None:
        async for page in stream:
            events.extend(page.events)


@dataclass(frozen=True, slots=True)
class ConcurrentCollectionStrategy(SequentialCollectionStrategy):
    """Shards walked ``blueprint.concurrency`` at a time, sharing the client's rate limit."""

    concurrent: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class StreamCollectionStrategy:
    """Each page goes to ``executor.stream_batch`` as soon as it arrives."""

    concurrent: ClassVar[bool] = False

    async def run(
        self, stream: PageStream, executor: CollectorExecutor, events: list[Record]
    ) -> None:
        async for page in stream:
            if page.events:
                await executor.stream_batch(page.events, page.state)


@dataclass(frozen=True, slots=True)
class BatchCollectionStrategy:
    """Records go to ``executor.flush_batch`` in batches of exactly ``batch_size`` (the last
    may be smaller), each with the state that resumes right after it — even mid-page."""

    batch_size: int = 500
    concurrent: ClassVar[bool] = False

    def __post_init__(self) -> None:
        size = self.batch_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigError(f"expected an integer >= 1, got {size!r}", path="strategy.batch_size")

    async def run(
        self, stream: PageStream, executor: CollectorExecutor, events: list[Record]
    ) -> None:
        buffer: list[Record] = []
        last: Page | None = None
        try:
            async for page in stream:
                last = page
                taken = 0
                while len(buffer) + len(page.events) - taken >= self.batch_size:
                    need = self.batch_size - len(buffer)
                    buffer.extend(page.events[taken : taken + need])
                    taken += need
                    batch, buffer = buffer, []
                    await executor.flush_batch(batch, page.state_after(taken))
                buffer.extend(page.events[taken:])
        except Exception:
            if buffer and last is not None:
                # what was collected is delivered even when the run failed afterwards
                await executor.flush_batch(buffer, last.state)
            raise
        if buffer and last is not None:
            await executor.flush_batch(buffer, last.state)


STRATEGIES: dict[str, Callable[[], CollectionStrategy]] = {
    "sequential": SequentialCollectionStrategy,
    "concurrent": ConcurrentCollectionStrategy,
    "batch": BatchCollectionStrategy,
    "stream": StreamCollectionStrategy,
}


def resolve_strategy(strategy: str | CollectionStrategy) -> CollectionStrategy:
    """A strategy object from a name (``sequential``, ``concurrent``, ``batch``, ``stream``)."""
    if isinstance(strategy, str):
        factory = STRATEGIES.get(strategy)
        if factory is None:
            raise ConfigError(
                f"unknown strategy {strategy!r}; known: {', '.join(sorted(STRATEGIES))}",
                path="strategy",
            )
        return factory()
    if not isinstance(strategy, CollectionStrategy):
        raise ConfigError(f"expected a strategy name or object, got {strategy!r}", path="strategy")
    return strategy
