"""Watermarks: the seed's record, its rules, and the manager over every store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectorkit import ConfigError, FakeClock
from collectorkit.state import (
    MockStorageClient,
    Watermark,
    WatermarkManager,
    apply_run,
    format_timestamp,
    parse_timestamp,
)
from collectorkit.typing import StateStore

T0 = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


async def test_first_run_then_success_then_failure(store: StateStore) -> None:
    clock = FakeClock(start=T0.timestamp() + 300)
    manager = WatermarkManager(store, clock=clock)
    assert await manager.get_watermark("alienvault_otx") is None

    record = await manager.update_watermark(
        "alienvault_otx", timestamp=T0, status="success", records_collected=150
    )
    assert record.to_json() == {
        "source_id": "alienvault_otx",
        "last_successful_timestamp": "2024-01-01T12:00:00Z",
        "last_run_timestamp": "2024-01-01T12:05:00Z",
        "status": "success",
        "records_collected": 150,
        "error_message": None,
    }
    assert await manager.get_watermark("alienvault_otx") == record

    clock.advance(600)
    failed = await manager.update_watermark(
        "alienvault_otx", status="failed", error_message="HTTP 503 from the API"
    )
    assert failed.last_successful_timestamp == T0
    assert failed.status == "failed"
    assert failed.error_message == "HTTP 503 from the API"
    assert failed.last_run_timestamp == T0 + timedelta(minutes=15)
    assert await manager.get_watermark("alienvault_otx") == failed
    assert [w.source_id for w in await manager.list_watermarks()] == ["alienvault_otx"]
    assert await manager.delete_watermark("alienvault_otx") is True
    assert await manager.get_watermark("alienvault_otx") is None


async def test_concurrent_updates_never_move_backwards(store: StateStore) -> None:
    manager = WatermarkManager(store)
    stamps = [T0 + timedelta(minutes=m) for m in (5, 1, 9, 3, 7, 2, 8)]
    await asyncio.gather(*(manager.update_watermark("src", timestamp=t) for t in stamps))
    final = await manager.get_watermark("src")
    assert final is not None
    assert final.last_successful_timestamp == max(stamps)


def test_record_reads_as_a_mapping_like_the_seed() -> None:
    record = apply_run(None, source_id="s", timestamp=T0, status="success", now=T0.timestamp())
    assert record["status"] == "success"
    assert record["last_successful_timestamp"] == T0
    assert set(record) == {
        "source_id",
        "last_successful_timestamp",
        "last_run_timestamp",
        "status",
        "records_collected",
        "error_message",
    }
    with pytest.raises(KeyError):
        record["nope"]
    assert Watermark.from_json(record.to_json()) == record


def test_naive_utcnow_arithmetic_works_as_in_the_seed() -> None:
    record = apply_run(
        None,
        source_id="s",
        timestamp=datetime(2024, 1, 1, 12),
        status="success",
        now=T0.timestamp(),
    )
    assert record["last_successful_timestamp"] == T0
    age = datetime(2024, 1, 1, 14) - record["last_successful_timestamp"]
    assert age == timedelta(hours=2)
    assert record["last_successful_timestamp"] - datetime(2024, 1, 1, 11) == timedelta(hours=1)
    assert datetime(2024, 1, 1, 14, tzinfo=UTC) - record["last_successful_timestamp"] == age
    # comparisons with naive UTC datetimes work too (events newer than the watermark)
    assert datetime(2024, 1, 1, 12, 1) > record["last_successful_timestamp"]
    assert not datetime(2024, 1, 1, 11, 59) > record["last_successful_timestamp"]
    assert record["last_successful_timestamp"] <= datetime(2024, 1, 1, 12)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"status": "done", "timestamp": T0}, "status"),
        ({"status": "success", "timestamp": None}, "timestamp"),
        ({"status": "success", "timestamp": "yesterday"}, "timestamp"),
        ({"status": "success", "timestamp": T0, "records_collected": -1}, "records_collected"),
        ({"status": "success", "timestamp": T0, "records_collected": "5"}, "records_collected"),
        ({"status": "failed", "timestamp": "garbage"}, "timestamp"),
    ],
)
def test_bad_runs_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=f"^{field}: "):
        apply_run(None, source_id="s", now=0, **kwargs)  # type: ignore[arg-type]


def test_timestamps_parse_every_friendly_form() -> None:
    east = timezone(timedelta(hours=2))
    for value in (
        T0,
        datetime(2024, 1, 1, 14, tzinfo=east),
        datetime(2024, 1, 1, 12),
        "2024-01-01T12:00:00Z",
        "2024-01-01T14:00:00+02:00",
        T0.timestamp(),
    ):
        assert parse_timestamp(value) == T0, value
    assert format_timestamp(T0) == "2024-01-01T12:00:00Z"
    assert format_timestamp(T0.replace(microsecond=5)) == "2024-01-01T12:00:00.000005Z"


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["success", "partial", "failed"]),
            st.integers(min_value=0, max_value=10**6),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_watermark_is_the_newest_successful_timestamp(runs: list[tuple[str, int]]) -> None:
    record = None
    for status, offset in runs:
        record = apply_run(
            record,
            source_id="s",
            timestamp=T0 + timedelta(seconds=offset),
            status=status,
            now=T0.timestamp() + offset,
        )
        assert record.status == status
    good = [offset for status, offset in runs if status != "failed"]
    expected = T0 + timedelta(seconds=max(good)) if good else None
    assert record is not None
    assert record.last_successful_timestamp == expected


async def test_mock_storage_client_is_the_seed_example() -> None:
    storage_client = MockStorageClient()
    watermark_manager = WatermarkManager(storage_client)
    assert await watermark_manager.get_watermark("test_source") is None
    await watermark_manager.update_watermark(
        source_id="test_source", timestamp=datetime.utcnow(), status="success"
    )
    watermark = await watermark_manager.get_watermark("test_source")
    assert watermark is not None
    assert watermark["status"] == "success"
    assert await storage_client.health_check() is True
    assert (await storage_client.get_watermark("test_source")) == watermark
    await storage_client.update_watermark("test_source", status="failed", error_message="boom")
    failed = await storage_client.get_watermark("test_source")
    assert failed is not None
    assert failed.last_successful_timestamp == watermark.last_successful_timestamp
