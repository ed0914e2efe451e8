"""What every streaming source shares: reconnect with backoff, resume, dedup, bounded batches.

A subclass only says how to read one connection (``_read(resume_token)``, an async iterator of
:class:`StreamEvent`). This base runs that in a background task, reconnects with
:class:`ReconnectPolicy` backoff on the source's clock, drops events it has already seen (servers
often replay the last event on resume), and hands out batches.

Resume tokens and checkpoints: every record carries the token from which a new connection would
continue *after* it (an SSE event id, a long-poll cursor). Only the last record of an event gets
the event's token — the others keep the previous one — so a checkpoint in the middle of an event
re-reads that event rather than skipping part of it. :attr:`last_event_id` is the token of the last
record handed out, which is what a caller saves once the batch is stored; passing it back as
``last_event_id=`` on the next start resumes with nothing lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from abc import abstractmethod
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any, TypedDict

from collectorkit._clock import Clock, SystemClock
from collectorkit._durations import Seconds, parse_duration
from collectorkit._errors import ConfigError, SourceError
from collectorkit._records import Record
from collectorkit.http import get_logger, is_sensitive_name, register_secret
from collectorkit.sources._backoff import ReconnectPolicy
from collectorkit.sources._base import SourceBase

__all__ = [
    "FatalSourceError",
    "StreamEvent",
    "StreamOptions",
    "StreamingSource",
    "register_header_secrets",
]

_log = get_logger("collectorkit.sources")


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """What one message of a stream carried: its records, its id (for dedup) and resume token."""

    records: list[Record]
    event_id: str | None = None
    token: str | None = None
    server_delay: float | None = field(default=None, compare=False)
    """A reconnection delay the server asked for (SSE ``retry:``), in seconds."""


class StreamOptions(TypedDict, total=False):
    """The keyword arguments of :class:`StreamingSource` that every streaming source passes on."""

    batch_size: int
    batch_timeout: Seconds
    max_events: int | None
    stop: asyncio.Event | None
    reconnect: ReconnectPolicy | None
    last_event_id: str | None
    dedup_window: int
    clock: Clock | None


class FatalSourceError(SourceError):
    """A failure reconnecting cannot cure (401, 404, wrong content type): stop at once."""


_END = object()
_AUTH_SCHEMES = {"bearer", "basic", "token", "ssws", "apikey", "api-key", "digest"}


def register_header_secrets(headers: dict[str, str]) -> None:
    """Mask the values of credential headers (``Authorization``, ``X-Api-Key`` ...) in logs."""
    for name, value in headers.items():
        if is_sensitive_name(name):
            register_secret(value)
            scheme, _, credential = value.partition(" ")
            if scheme.lower() in _AUTH_SCHEMES:
                register_secret(credential)  # the token after "Bearer "


class StreamingSource(SourceBase):
    """Base of the SSE, WebSocket and long-poll sources (see the module docstring).

    ``collect_stream()`` yields batches of up to ``batch_size`` records, handing out what has
    arrived once ``batch_timeout`` seconds have passed since the first record of a batch. It ends
    after ``max_events`` records (``None``: never), when ``stop`` is set, or when the source gives
    up reconnecting (then :class:`~collectorkit.SourceError`). ``collect()`` returns the records
    that arrive within one ``batch_timeout`` (maybe none).
    """

    def __init__(
        self,
        *,
        source_id: str,
        batch_size: int = 100,
        batch_timeout: Seconds = 1.0,
        max_events: int | None = None,
        stop: asyncio.Event | None = None,
        reconnect: ReconnectPolicy | None = None,
        last_event_id: str | None = None,
        dedup_window: int = 1024,
        clock: Clock | None = None,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"must be >= 1, got {batch_size!r}", path="batch_size")
        if max_events is not None and max_events < 1:
            raise ConfigError(f"must be >= 1 or None, got {max_events!r}", path="max_events")
        self._source_id = source_id
        self.batch_size = batch_size
        self.batch_timeout = parse_duration(batch_timeout, field="batch_timeout")
        self.max_events = max_events
        self.stop = stop
        self.reconnect = reconnect or ReconnectPolicy()
        self.clock: Clock = clock or SystemClock()
        self._last_event_id = last_event_id
        self._received = last_event_id
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._dedup_window = dedup_window
        self._queue: asyncio.Queue[Any] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._failure: BaseException | None = None
        self.reconnects = 0
        self.duplicates_dropped = 0

    # --- identity and state ----------------------------------------------------------------

    @property
    def last_event_id(self) -> str | None:
        """The resume token after the last record handed out (save it with that batch)."""
        return self._last_event_id

    @property
    def state(self) -> dict[str, Any]:
        """The checkpoint to store after the last batch was delivered."""
        return {"last_event_id": self._last_event_id}

    @property
    def connected(self) -> bool:
        return self._queue is not None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(source_id={self._source_id!r})"

    # --- lifecycle -------------------------------------------------------------------------

    async def connect(self) -> None:
        """Start reading in the background (idempotent)."""
        if self._queue is not None:
            return
        await self._open()
        self._queue = asyncio.Queue(maxsize=self.batch_size * 2)
        self._failure = None
        self._received = self._last_event_id
        self._tasks = [asyncio.create_task(self._pump(), name=f"{self._source_id}-pump")]
        if self.stop is not None:
            self._tasks.append(asyncio.create_task(self._watch_stop(self.stop)))

    async def aclose(self) -> None:
        """Stop reading and close the connection. Records not yet handed out are dropped; they
        come again on the next connect, which resumes from :attr:`last_event_id`."""
        tasks, self._tasks, queue, self._queue = self._tasks, [], self._queue, None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if queue is not None:
            # wake a consumer still waiting for the next batch (another task shut us down)
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(_END)
        await self._close()

    # --- reading ---------------------------------------------------------------------------

    async def collect(self) -> list[Record]:
        """The records that arrive within one ``batch_timeout`` (connects if needed)."""
        await self.connect()
        return await self._next_batch(self.batch_size, first_timeout=self.batch_timeout)

    async def collect_stream(self) -> AsyncIterator[list[Record]]:
        """Batches as they arrive, until ``max_events``, ``stop`` or giving up."""
        await self.connect()
        remaining = self.max_events
        while remaining is None or remaining > 0:
            limit = self.batch_size if remaining is None else min(self.batch_size, remaining)
            batch = await self._next_batch(limit, first_timeout=None)
            if not batch:
                return
            if remaining is not None:
                remaining -= len(batch)
            yield batch

    async def _next_batch(self, limit: int, *, first_timeout: float | None) -> list[Record]:
        queue = self._queue
        if queue is None:
            raise SourceError(f"{self._source_id}: not connected")
        batch: list[Record] = []
        token = self._last_event_id
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        while len(batch) < limit:
            timeout = first_timeout if deadline is None else max(0.0, deadline - loop.time())
            try:
                item = await asyncio.wait_for(queue.get(), timeout)
            except TimeoutError:
                break
            if item is _END:
                queue.put_nowait(_END)  # every later call sees the end too
                if not batch and self._failure is not None:
                    raise self._failure
                break
            record, token = item
            batch.append(record)
            if deadline is None:
                deadline = loop.time() + self.batch_timeout
        self._last_event_id = token
        return batch

    # --- the background reader -------------------------------------------------------------

    async def _pump(self) -> None:
        attempt = 0
        server_delay: float | None = None
        try:
            while True:
                reason = "the server closed the stream"
                try:
                    # aclosing: a cancel while we wait on the queue must still close the
                    # connection the generator holds, now rather than at garbage collection
                    async with contextlib.aclosing(self._read(self._received)) as events:
                        async for event in events:
                            attempt = 0
                            server_delay = event.server_delay or server_delay
                            await self._enqueue(event)
                except FatalSourceError:
                    raise
                except SourceError as exc:
                    reason = str(exc)
                attempt += 1
                delay = self.reconnect.delay(
                    attempt, server_delay=server_delay, rand=random.random()
                )
                if delay is None:
                    raise SourceError(
                        f"{self._source_id}: gave up after {attempt - 1} reconnects: {reason}"
                    )
                reason = reason.removeprefix(f"{self._source_id}: ")
                _log.info("stream_reconnect", source=self._source_id, delay=delay, reason=reason)
                self.reconnects += 1
                await self.clock.sleep(delay)
        except SourceError as exc:
            self._failure = exc
            await self._end()

    async def _watch_stop(self, stop: asyncio.Event) -> None:
        await stop.wait()
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()
        await self._end()

    async def _end(self) -> None:
        if self._queue is not None:
            await self._queue.put(_END)

    async def _enqueue(self, event: StreamEvent) -> None:
        if event.event_id:
            if event.event_id in self._seen:
                self.duplicates_dropped += 1
                return
            self._seen[event.event_id] = None
            if len(self._seen) > self._dedup_window:
                self._seen.popitem(last=False)
        queue = self._queue
        if queue is None:
            return
        previous = self._received
        for i, record in enumerate(event.records):
            last = i == len(event.records) - 1
            await queue.put((record, event.token if last and event.token else previous))
        if event.token:
            self._received = event.token

    # --- what a subclass provides ----------------------------------------------------------

    async def _open(self) -> None:
        """Create clients or sessions before the first connection."""

    async def _close(self) -> None:
        """Release what :meth:`_open` created."""

    @abstractmethod
    def _read(self, resume_token: str | None) -> AsyncGenerator[StreamEvent, None]:
        """Events of one connection, resuming after ``resume_token``.

        Return when the server ends the stream; raise :class:`~collectorkit.SourceError` when the
        connection fails (reconnect) or :class:`FatalSourceError` when retrying cannot help.
        """
