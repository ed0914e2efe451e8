"""``MockStorageClient``: the storage client of the seed, in memory, for tests and development."""

from __future__ import annotations

from typing import Any

from collectorkit._clock import Clock
from collectorkit.state._memory import MemoryStateStore
from collectorkit.state._watermarks import Watermark, WatermarkManager

__all__ = ["MockStorageClient"]


class MockStorageClient(MemoryStateStore):
    """The same interface as :class:`StorageServiceClient`, kept in memory (lost on exit).

    It is a :class:`MemoryStateStore` too, so ``WatermarkManager(MockStorageClient())`` works
    exactly as with the real client.
    """

    def __init__(self, *, clock: Clock | None = None) -> None:
        super().__init__(clock=clock)
        self._watermarks = WatermarkManager(self, clock=clock)

    def __repr__(self) -> str:
        return f"MockStorageClient(keys={len(self._data)})"

    async def get_watermark(self, source_id: str) -> Watermark | None:
        return await self._watermarks.get_watermark(source_id)

    async def update_watermark(
        self,
        source_id: str,
        timestamp: Any = None,
        status: str = "success",
        error_message: str | None = None,
        *,
        records_collected: int = 0,
    ) -> Watermark:
        return await self._watermarks.update_watermark(
            source_id,
            timestamp,
            status,
            records_collected=records_collected,
            error_message=error_message,
        )

    async def delete_watermark(self, source_id: str) -> bool:
        return await self._watermarks.delete_watermark(source_id)

    async def list_watermarks(self) -> list[Watermark]:
        return await self._watermarks.list_watermarks()

    async def health_check(self) -> bool:
        """Always healthy."""
        return True
