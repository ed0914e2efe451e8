"""Seed 001's storage client, runnable: watermarks for incremental collection.

    python examples/seed001_storage_client.py

starts a storage service (SQLite in a temporary directory) on 127.0.0.1, points
``STORAGE_SERVICE_URL`` at it, and runs the guide's flows: the first collection with the default
7-day lookback, the next one from the watermark, a failed run that keeps the watermark, the
monitoring check of watermark age, and the unit test with ``MockStorageClient``.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from collectorkit import (
    MockStorageClient,
    SQLiteStateStore,
    StorageServiceClient,
    WatermarkManager,
    open_state_store,
)
from collectorkit.service import run_storage_service

DEFAULT_LOOKBACK = timedelta(days=7)


class DemoCollector:
    """Stands in for a real collector: events with naive UTC timestamps, as in the guide."""

    def __init__(self) -> None:
        now = datetime.utcnow()
        self.events: list[dict[str, Any]] = [
            {"id": f"e{i}", "timestamp": now - timedelta(days=10) + timedelta(hours=12 * i)}
            for i in range(20)
        ]

    def publish(self, count: int) -> None:
        newest = self.events[-1]["timestamp"]
        for i in range(count):
            stamp = newest + timedelta(seconds=i + 1)
            self.events.append({"id": f"n{len(self.events)}", "timestamp": stamp})

    async def fetch_events(self, start_time: datetime) -> list[dict[str, Any]]:
        return [e for e in self.events if e["timestamp"] > start_time]


async def collect(
    watermark_manager: WatermarkManager, collector: DemoCollector, source_id: str
) -> int:
    """One run, exactly as the guide's "How Watermarks Work" section writes it."""
    watermark = await watermark_manager.get_watermark(source_id)
    if watermark is None:
        start_time = datetime.utcnow() - DEFAULT_LOOKBACK  # first collection: default lookback
    else:
        start_time = watermark["last_successful_timestamp"]  # only NEW data since last run
    events = await collector.fetch_events(start_time)
    if events:
        latest_event_timestamp = max(e["timestamp"] for e in events)
        await watermark_manager.update_watermark(
            source_id=source_id,
            timestamp=latest_event_timestamp,
            status="success",
            records_collected=len(events),
        )
    return len(events)


async def check_watermark_age(storage_client: StorageServiceClient, source_id: str) -> timedelta:
    """The guide's monitoring snippet: warn when a watermark is older than two hours."""
    watermark = await storage_client.get_watermark(source_id)
    assert watermark is not None
    age = datetime.utcnow() - watermark["last_successful_timestamp"]
    if age > timedelta(hours=2):
        print(f"WARNING: Watermark is {age} old - collection may be stuck")
    return age


async def test_collection_with_mock_storage() -> None:
    """The guide's unit test, verbatim apart from the pytest decorator."""
    storage_client = MockStorageClient()
    watermark_manager = WatermarkManager(storage_client)

    watermark = await watermark_manager.get_watermark("test_source")
    assert watermark is None

    await watermark_manager.update_watermark(
        source_id="test_source", timestamp=datetime.utcnow(), status="success"
    )

    watermark = await watermark_manager.get_watermark("test_source")
    assert watermark is not None
    assert watermark["status"] == "success"


async def run_against_service(base_url: str) -> dict[str, Any]:
    """The production flow against a running storage service; returns what it observed."""
    os.environ["STORAGE_SERVICE_URL"] = base_url
    storage_client = StorageServiceClient(base_url=os.environ["STORAGE_SERVICE_URL"], timeout=30)
    seen: dict[str, Any] = {"healthy": await storage_client.health_check()}
    watermark_manager = WatermarkManager(storage_client)
    collector = DemoCollector()

    seen["first_run"] = await collect(watermark_manager, collector, "alienvault_otx")
    seen["second_run"] = await collect(watermark_manager, collector, "alienvault_otx")
    collector.publish(5)
    seen["third_run"] = await collect(watermark_manager, collector, "alienvault_otx")

    before = await storage_client.get_watermark("alienvault_otx")
    await storage_client.update_watermark(
        "alienvault_otx", status="failed", error_message="API returned 503"
    )
    after = await storage_client.get_watermark("alienvault_otx")
    assert before is not None
    assert after is not None
    seen["failed_kept_watermark"] = (
        after["last_successful_timestamp"] == before["last_successful_timestamp"]
    )
    seen["status"] = after["status"]
    seen["age"] = await check_watermark_age(storage_client, "alienvault_otx")
    await storage_client.aclose()
    return seen


async def main() -> None:
    await test_collection_with_mock_storage()
    print("unit test with MockStorageClient: ok")
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStateStore(Path(tmp) / "storage.db")
        async with run_storage_service(store) as base_url:
            seen = await run_against_service(base_url)
            via_env = await open_state_store()  # STORAGE_SERVICE_URL selects the service
            print(f"open_state_store() with STORAGE_SERVICE_URL -> {type(via_env).__name__}")
            await via_env.aclose()
        await store.aclose()
    del os.environ["STORAGE_SERVICE_URL"]
    print(f"storage service healthy: {seen['healthy']}")
    print(f"first run (7-day lookback): {seen['first_run']} events")
    print(f"second run (from watermark): {seen['second_run']} events")
    print(f"third run (5 new events): {seen['third_run']} events")
    print(f"failed run kept the watermark: {seen['failed_kept_watermark']} ({seen['status']})")
    print(f"watermark age: {seen['age']}")
    fallback = await open_state_store(fallback_to_memory=True)  # dev mode, logged loudly
    print(f"no STORAGE_SERVICE_URL, fallback_to_memory=True -> {type(fallback).__name__}")


if __name__ == "__main__":
    asyncio.run(main())
