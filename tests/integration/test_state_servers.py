"""State on the real PostgreSQL and Redis servers: restarts, several clients, the service."""

from __future__ import annotations

import asyncio

import pytest

from collectorkit.service import run_storage_service
from collectorkit.state import (
    PostgresStateStore,
    RedisStateStore,
    StorageServiceClient,
    WatermarkManager,
    open_state_store,
)

pytestmark = pytest.mark.integration


async def test_service_restart_keeps_postgres_data(postgres_fresh_url: str) -> None:
    store = await open_state_store(postgres_fresh_url)
    async with run_storage_service(store) as url, StorageServiceClient(url) as client:
        await client.update_watermark("src", "2024-01-01T12:00:00Z", "success", None)
    await store.aclose()
    store = await open_state_store(postgres_fresh_url)
    assert isinstance(store, PostgresStateStore)
    async with run_storage_service(store) as url, StorageServiceClient(url) as client:
        record = await client.get_watermark("src")
    await store.aclose()
    assert record is not None
    assert record["status"] == "success"
    assert record["last_successful_timestamp"].isoformat() == "2024-01-01T12:00:00+00:00"


@pytest.mark.parametrize("kind", ["postgres", "redis"])
async def test_separate_clients_share_state_with_compare_and_set(
    kind: str, request: pytest.FixtureRequest
) -> None:
    url: str = request.getfixturevalue(f"{kind}_fresh_url")

    def make() -> PostgresStateStore | RedisStateStore:
        return PostgresStateStore(url) if kind == "postgres" else RedisStateStore(url)

    stores = [make() for _ in range(4)]
    managers = [WatermarkManager(s) for s in stores]
    stamps = [f"2024-01-0{d}T00:00:00Z" for d in (3, 1, 4, 2, 9, 5, 7, 6)]
    try:
        await asyncio.gather(
            *(managers[i % 4].update_watermark("src", stamp) for i, stamp in enumerate(stamps))
        )
        record = await managers[0].get_watermark("src")
    finally:
        for store in stores:
            await store.aclose()
    assert record is not None
    assert record["last_successful_timestamp"].isoformat() == "2024-01-09T00:00:00+00:00"
