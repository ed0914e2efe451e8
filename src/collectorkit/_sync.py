"""The one bridge from synchronous entry points to the async core."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from collectorkit._errors import SyncInAsyncError

__all__ = ["run_sync"]

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T], *, async_name: str) -> T:
    """Run ``coro`` to completion on a fresh event loop and return its result.

    Raises :class:`SyncInAsyncError` (closing ``coro``) when called inside a running event loop:
    blocking that loop would stall every other task on it, so the caller must await
    ``async_name`` instead.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run_keeping_result(coro)
    coro.close()
    raise SyncInAsyncError(
        "called a synchronous entry point inside a running event loop; "
        f"use `await {async_name}(...)`"
    )


def _run_keeping_result(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)`` without making the result the main task's return value.

    On CPython 3.11 ``asyncio.Runner`` restores its SIGINT handler through ``signal.getsignal``,
    whose enum lookup formats the repr of its ``functools.partial`` handler — and with it the
    finished main task and its result. For a result holding a million records that repr cost
    more than the collection. The main task therefore returns ``None`` and the result travels
    beside it.
    """
    box: list[T] = []

    async def main() -> None:
        box.append(await coro)

    asyncio.run(main())
    return box[0]
