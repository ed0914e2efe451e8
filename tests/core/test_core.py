from __future__ import annotations

import asyncio

import pytest

from collectorkit import (
    CollectorError,
    CollectorTimeoutError,
    ConfigError,
    FakeClock,
    RequestTimeoutError,
    SyncInAsyncError,
    TransportError,
    record_key,
)
from collectorkit._sync import run_sync


def test_error_leaves_also_subclass_their_builtin() -> None:
    assert issubclass(ConfigError, ValueError)
    assert issubclass(CollectorTimeoutError, TimeoutError)
    assert issubclass(RequestTimeoutError, TimeoutError)
    assert issubclass(TransportError, ConnectionError)
    assert issubclass(RequestTimeoutError, CollectorError)


def test_config_error_names_the_path() -> None:
    err = ConfigError(
        "'curser' is not one of cursor, page", path="sources[0].request.pagination.mode"
    )
    assert str(err) == "sources[0].request.pagination.mode: 'curser' is not one of cursor, page"
    assert err.path == "sources[0].request.pagination.mode"


def test_partial_result_travels_with_the_error() -> None:
    err = CollectorTimeoutError("budget spent", partial_result={"events": [1, 2]})
    assert err.partial_result == {"events": [1, 2]}


async def test_fake_clock_sleep_advances_both_clocks_without_waiting() -> None:
    clock = FakeClock(start=100.0, monotonic_start=5.0)
    loop = asyncio.get_running_loop()
    before = loop.time()
    await clock.sleep(3600)
    assert loop.time() - before < 1.0
    assert clock.time() == 3700.0
    assert clock.monotonic() == 3605.0
    assert clock.sleeps == [3600]


def test_fake_clock_wall_jump_leaves_monotonic_alone() -> None:
    clock = FakeClock(start=100.0, monotonic_start=5.0)
    clock.jump_wall(-50)
    assert clock.time() == 50.0
    assert clock.monotonic() == 5.0
    with pytest.raises(ValueError, match="seconds must be >= 0"):
        clock.advance(-1)


def test_run_sync_runs_a_coroutine() -> None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    assert run_sync(answer(), async_name="answer") == 42


def test_run_sync_never_formats_the_result() -> None:
    # CPython 3.11's asyncio.Runner formats the repr of the main task (result included) when it
    # restores its SIGINT handler; a large result must not pay for that.
    class Costly:
        reprs = 0

        def __repr__(self) -> str:
            Costly.reprs += 1
            return "Costly()"

    async def produce() -> Costly:
        return Costly()

    result = run_sync(produce(), async_name="produce")
    assert isinstance(result, Costly)
    assert Costly.reprs == 0


async def test_run_sync_inside_a_loop_points_at_the_async_name() -> None:
    async def answer() -> int:
        return 42

    with pytest.raises(SyncInAsyncError, match=r"await collect_events\(\.\.\.\)"):
        run_sync(answer(), async_name="collect_events")


def test_record_key_uses_fields_or_a_content_hash() -> None:
    rec = {"id": 7, "meta": {"v": 2}, "x": "y"}
    assert record_key("xdr", rec, ["id"]) == "xdr:7"
    assert record_key("xdr", rec, ["id", "meta.v"]) == "xdr:7|2"
    hashed = record_key("xdr", rec, ["missing"])
    assert hashed.startswith("xdr:sha256:")
    # the hash ignores key order but not content
    assert record_key("xdr", {"x": "y", "meta": {"v": 2}, "id": 7}) == record_key("xdr", rec)
    assert record_key("xdr", {**rec, "x": "z"}) != record_key("xdr", rec)
