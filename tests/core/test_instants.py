"""One instant parser: epoch seconds and milliseconds mean the same instant while collecting, as
a watermark (library and storage client) and on the command line."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from collectorkit import ConfigError, FakeClock
from collectorkit._instants import (
    DEFAULT_MAX_FUTURE,
    check_not_future,
    instant_or_none,
    parse_instant,
)
from collectorkit.cli._app import app
from collectorkit.cli._state import collector_namespace
from collectorkit.collect import CollectorState
from collectorkit.collect._incremental import IncrementalConfig
from collectorkit.pipeline import to_utc_iso
from collectorkit.state import (
    MemoryStateStore,
    MockStorageClient,
    WatermarkManager,
    open_state_store,
)
from collectorkit.typing import StoredValue

T = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)  # 1_700_000_000
FORMS = [1_700_000_000, 1_700_000_000_000, "1700000000", "1700000000000", "2023-11-14T22:13:20Z"]


@pytest.mark.parametrize("value", [*FORMS, 1_700_000_000_000_000, "Tue, 14 Nov 2023 22:13:20 GMT"])
def test_every_form_is_the_same_instant(value: object) -> None:
    assert parse_instant(value) == T
    assert to_utc_iso(value) == "2023-11-14T22:13:20Z"


@pytest.mark.parametrize("value", FORMS)
def test_collecting_reads_epoch_ms(value: object) -> None:
    incremental = IncrementalConfig(timestamp_field="meta.at")
    assert incremental.instant_of({"meta": {"at": value}}) == T


@pytest.mark.parametrize("value", FORMS)
async def test_watermark_manager_accepts_epoch_ms(value: object) -> None:
    manager = WatermarkManager(MemoryStateStore())
    stored = await manager.update_watermark("src", value)
    assert stored.last_successful_timestamp == T


@pytest.mark.parametrize("value", FORMS)
async def test_storage_client_accepts_epoch_ms(value: object) -> None:
    client = MockStorageClient()
    await client.update_watermark("src", value)
    watermark = await client.get_watermark("src")
    assert watermark is not None
    assert watermark.last_successful_timestamp == T


@pytest.mark.parametrize("value", ["1700000000000", "1700000000", "2023-11-14T22:13:20Z"])
def test_cli_state_set_accepts_epoch_ms(tmp_path: Path, value: str) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    result = CliRunner().invoke(app, ["state", "set", "src", "--watermark", value, "--state", url])
    assert result.exit_code == 0, result.output

    async def read() -> StoredValue | None:
        async with await open_state_store(url) as store:
            return await store.get(collector_namespace(), "src")

    stored = asyncio.run(read())
    assert stored is not None
    assert CollectorState.from_dict(stored.value).watermark == T


def test_unreadable_instants_name_the_field_and_value() -> None:
    with pytest.raises(ConfigError, match=r"^--watermark: not a timestamp: 'yesterday' \("):
        parse_instant("yesterday", field="--watermark")
    for value in (None, True, "yesterday", float("nan"), float("inf"), [1], 10**30):
        assert instant_or_none(value) is None, value
    with pytest.raises(ConfigError, match="epoch_unit"):
        parse_instant(1, epoch_unit="minutes")


def test_naive_times_take_the_assumed_zone_and_units_can_be_forced() -> None:
    east = timezone(timedelta(hours=2))
    assert parse_instant("2023-11-15T00:13:20", assume_timezone=east) == T
    assert parse_instant(datetime(2023, 11, 14, 22, 13, 20)) == T
    assert parse_instant(1_700_000_000_000, epoch_unit="ms") == T
    assert parse_instant(1_700_000, epoch_unit="ms") == datetime(1970, 1, 1, 0, 28, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    "value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", datetime.min]
)
def test_instants_beyond_the_calendar_are_a_clear_error(value: object) -> None:
    with pytest.raises(ConfigError, match=r"^timestamp: not a timestamp: "):
        parse_instant(value, field="timestamp", assume_timezone=timezone(timedelta(hours=1)))
    assert instant_or_none(value, assume_timezone=timezone(timedelta(hours=1))) is None


def test_far_future_instants_are_refused_beyond_the_tolerance() -> None:
    now = T.timestamp()
    assert check_not_future(T + timedelta(minutes=59), now=now, field="timestamp")
    with pytest.raises(ConfigError, match=r"^timestamp: 2099-01-01T00:00:00Z is .* in the future"):
        check_not_future(datetime(2099, 1, 1, tzinfo=UTC), now=now, field="timestamp")
    with pytest.raises(ConfigError, match=r"at most 5m ahead"):
        check_not_future(T + timedelta(minutes=6), now=now, tolerance=300)
    with pytest.raises(ConfigError, match="max_future"):
        check_not_future(T, now=now, tolerance=-1)
    assert DEFAULT_MAX_FUTURE == 3600


async def test_watermark_manager_refuses_a_far_future_watermark() -> None:
    clock = FakeClock(start=T.timestamp())
    store = MemoryStateStore()
    manager = WatermarkManager(store, clock=clock)
    with pytest.raises(ConfigError, match=r"^timestamp: 2099-01-01T00:00:00Z is .* in the future"):
        await manager.update_watermark("src", "2099-01-01T00:00:00Z")
    assert await manager.get_watermark("src") is None
    stored = await manager.update_watermark("src", T + timedelta(minutes=30))
    assert stored.last_successful_timestamp == T + timedelta(minutes=30)
    lenient = WatermarkManager(store, clock=clock, max_future=86_400)
    await lenient.update_watermark("src", T + timedelta(hours=23))
    await manager.update_watermark("src", None, "failed", error_message="down")  # no timestamp


def test_cli_state_set_refuses_a_far_future_watermark(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    args = ["state", "set", "src", "--watermark", "2099-01-01T00:00:00Z", "--state", url]
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0
    assert "--watermark: 2099-01-01T00:00:00Z is " in result.output
    assert "Traceback" not in result.output
