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
        return asyncio.run(coro)
    coro.close()
    raise SyncInAsyncError(
        "called a synchronous entry point inside a running event loop; "
        f"use `await {async_name}(...)`"
    )
