"""One run's view of the PostgreSQL state store: every write it makes is fenced.

:class:`FencedStateStore` wraps the shared :class:`~collectorkit.state.PostgresStateStore`
for one run of one source. Reads pass through; each write carries the run's
:class:`~collectorkit.state.Fence`, checked in the write's own transaction, so a run that was
paused or cut off and comes back after another worker took the source over gets
:class:`~collectorkit.FencedError` instead of moving the checkpoint under its successor.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from collectorkit.state import Fence, PostgresStateStore
from collectorkit.typing import StoredValue

__all__ = ["FencedStateStore"]


class FencedStateStore:
    """A :class:`~collectorkit.typing.StateStore` writing through ``store`` under ``fence``.

    It does not own ``store``: :meth:`aclose` leaves it open. Sinks that commit checkpoints in
    their own transaction do not see it as their database, so the checkpoint is always written
    here, fenced, after every sink acknowledged the page.
    """

    def __init__(self, store: PostgresStateStore, fence: Fence) -> None:
        self._store = store
        self.fence = fence

    def __repr__(self) -> str:
        return f"FencedStateStore({self._store!r}, epoch={self.fence.epoch})"

    async def get(self, namespace: str, key: str) -> StoredValue | None:
        return await self._store.get(namespace, key)

    async def put(
        self,
        namespace: str,
        key: str,
        value: Mapping[str, Any],
        *,
        if_version: int | None = None,
    ) -> int:
        return await self._store.put(namespace, key, value, if_version=if_version, fence=self.fence)

    async def delete(self, namespace: str, key: str) -> bool:
        return await self._store.delete(namespace, key)

    async def list(self, namespace: str) -> dict[str, StoredValue]:
        return await self._store.list(namespace)

    async def aclose(self) -> None:
        return None
