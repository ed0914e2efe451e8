"""One lifecycle for every resource: ``await x.aclose()`` / ``async with``, and ``close()`` /
``with`` for the sync facades.

An async resource closes with ``aclose()``; ``async with`` closes it on exit. A resource that also
offers synchronous entry points (``get_sync``, ``collect_events_sync``) closes from sync code with
``close()`` and supports ``with``. Outside an event loop ``close()`` drives ``aclose()`` through
the one sync bridge; inside a running loop it starts ``aclose()`` at once as a task and returns
it, so both ``client.close()`` and seed 004's ``await client.close()`` really close — never a
coroutine that nobody awaits and that therefore closes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from types import TracebackType
from typing import Any, Self

from collectorkit._sync import run_sync

__all__ = ["AsyncResource", "Closing", "SyncClosable"]

# Closes started from sync code inside a running loop; held so they are not garbage-collected.
_pending: set[asyncio.Task[None]] = set()


class Closing:
    """What ``close()`` returns: already done outside a loop, else the running ``aclose()`` task.

    Awaiting it waits for the close to finish (and raises what ``aclose()`` raised).
    """

    __slots__ = ("_task",)

    def __init__(self, task: asyncio.Task[None] | None = None) -> None:
        self._task = task

    @property
    def done(self) -> bool:
        return self._task is None or self._task.done()

    def __await__(self) -> Generator[Any, None, None]:
        if self._task is not None:
            yield from self._task.__await__()


class AsyncResource:
    """``async with`` for a class that implements ``async aclose()``."""

    __slots__ = ()

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class SyncClosable(AsyncResource):
    """:class:`AsyncResource` plus ``close()`` and ``with`` for code without an event loop."""

    __slots__ = ()

    def close(self) -> Closing:
        """Close now: synchronously outside an event loop, as a started task inside one.

        Inside a running loop the returned :class:`Closing` may be awaited to wait for the close
        (``await client.close()``); not awaiting it still closes the resource.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            run_sync(self.aclose(), async_name=f"{type(self).__name__}.aclose")
            return Closing()
        task = loop.create_task(self.aclose())
        _pending.add(task)
        task.add_done_callback(_pending.discard)
        return Closing(task)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
