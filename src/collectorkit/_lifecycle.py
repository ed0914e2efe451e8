"""One lifecycle for every resource: ``await x.aclose()`` / ``async with``, and ``close()`` /
``with`` for the sync facades.

An async resource closes with ``aclose()``; ``async with`` closes it on exit. A resource that also
offers synchronous entry points (``get_sync``, ``collect_events_sync``) closes from sync code with
``close()`` and supports ``with``: ``close()`` drives ``aclose()`` through the one sync bridge, so
inside a running event loop it raises :class:`~collectorkit.SyncInAsyncError` naming ``aclose()``
instead of returning a coroutine nobody awaits.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from collectorkit._sync import run_sync

__all__ = ["AsyncResource", "SyncClosable"]


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

    def close(self) -> None:
        """Close from synchronous code (inside a running loop: ``await aclose()`` instead)."""
        run_sync(self.aclose(), async_name=f"{type(self).__name__}.aclose")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
