"""Which sources a dispatcher tick defers (sans-I/O)."""

from __future__ import annotations

import pytest

from collectorkit.daemon._schedule import Schedule
from collectorkit.fleet import EngineSettings, ProcrastinateEngine, SourceTiming, due_sources
from collectorkit.state import FenceRow

SOURCES = [SourceTiming(name="a", schedule=Schedule(interval=60, jitter=0), budget=30)]


def _row(**kw: object) -> dict[str, FenceRow]:
    values: dict[str, object] = {
        "key": "a",
        "epoch": 1,
        "holder": None,
        "started_at": 1000.0,
        "finished_at": 1010.0,
        "outcome": "success",
    }
    values.update(kw)
    return {"a": FenceRow(**values)}  # type: ignore[arg-type]


def test_a_source_that_never_ran_is_due() -> None:
    assert due_sources(SOURCES, {}, 0.0, stalled_after=30) == ["a"]


def test_a_source_is_due_one_interval_after_its_last_start() -> None:
    assert due_sources(SOURCES, _row(), 1059.0, stalled_after=30) == []
    assert due_sources(SOURCES, _row(), 1060.0, stalled_after=30) == ["a"]


def test_a_held_source_is_not_due_until_its_budget_and_the_stall_threshold_passed() -> None:
    held = _row(holder="w1", finished_at=None, outcome=None)
    assert due_sources(SOURCES, held, 1000.0 + 30 + 29, stalled_after=30) == []
    assert due_sources(SOURCES, held, 1000.0 + 30 + 30, stalled_after=30) == ["a"]


def test_a_failed_run_backs_off() -> None:
    sources = [
        SourceTiming(name="a", schedule=Schedule(interval=60, jitter=0, backoff_initial=120))
    ]
    failed = _row(outcome="failed")
    assert due_sources(sources, failed, 1000.0 + 119, stalled_after=30) == []
    assert due_sources(sources, failed, 1000.0 + 120, stalled_after=30) == ["a"]


@pytest.mark.parametrize("every", [1, 5, 30])
def test_the_dispatcher_ticks_every_dispatch_every_seconds(every: int) -> None:
    from croniter import croniter

    async def nothing(*_: object) -> None:
        return None

    engine = ProcrastinateEngine(
        "postgresql://127.0.0.1:9/unused",
        settings=EngineSettings(name="w", dispatch_every=every),
        collect=nothing,
        dispatch=nothing,
    )
    ticks = croniter(engine.dispatch_cron, 1_800_000_000.0)
    first, second = ticks.get_next(float), ticks.get_next(float)
    assert (first - 1_800_000_000.0, second - first) == (every, every)
