"""Sans-I/O schedule decisions: intervals, cron, jitter, overruns and failure backoff."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectorkit import ConfigError
from collectorkit.daemon._schedule import Schedule, SourceTimer
from collectorkit.daemon._scheduler import plan


def _timer(**kwargs: object) -> SourceTimer:
    return SourceTimer(Schedule(**kwargs), rng=random.Random(7))  # type: ignore[arg-type]


def test_interval_without_jitter_runs_at_start_then_every_interval() -> None:
    timer = _timer(interval=30, jitter=0)
    assert timer.first_due(100.0, 0.0) == 100.0
    timer.start(100.0)
    assert timer.succeeded(102.0, 0.0) == 130.0
    timer.start(130.0)
    assert timer.succeeded(131.0, 0.0) == 160.0


def test_run_at_start_false_waits_one_interval() -> None:
    timer = _timer(interval=10, jitter=0, run_at_start=False)
    assert timer.first_due(5.0, 0.0) == 15.0


@given(st.floats(min_value=1, max_value=10_000), st.integers(min_value=0, max_value=2**32))
def test_jitter_stays_within_bounds(interval: float, seed: int) -> None:
    timer = SourceTimer(Schedule(interval=interval), rng=random.Random(seed))
    spread = min(30.0, interval * 0.1)
    due = timer.first_due(0.0, 0.0)
    assert 0.0 <= due <= spread
    timer.start(due)
    nxt = timer.succeeded(due, 0.0)
    assert interval <= nxt <= interval + 2 * spread


def test_jitter_spreads_sources_after_the_first_run() -> None:
    def second_due(seed: int) -> float:
        timer = SourceTimer(Schedule(interval=60, jitter=5), rng=random.Random(seed))
        assert timer.first_due(0, 0) == 0  # the first run starts at once
        timer.start(0)
        return timer.succeeded(1, 0)

    dues = {second_due(i) for i in range(20)}
    assert len(dues) > 10
    assert all(60 <= due <= 65 for due in dues)
    waiting = [
        SourceTimer(Schedule(interval=60, jitter=5, run_at_start=False), rng=random.Random(i))
        for i in range(20)
    ]
    assert len({timer.first_due(0, 0) for timer in waiting}) > 10


def test_overrun_starts_at_once_and_counts_skipped_slots() -> None:
    timer = _timer(interval=10, jitter=0)
    timer.first_due(0.0, 0.0)
    timer.start(0.0)
    assert timer.succeeded(35.0, 0.0) == 35.0
    assert timer.skipped == 2


def test_failures_back_off_exponentially_and_success_resets() -> None:
    timer = _timer(interval=10, jitter=0, backoff_initial=10, backoff_max=60)
    timer.first_due(0.0, 0.0)
    delays = []
    now = 0.0
    for _ in range(5):
        timer.start(now)
        due = timer.failed(now, 0.0)
        delays.append(due - now)
        now = due
    assert delays == [10, 20, 40, 60, 60]
    assert timer.state == "backing_off"
    assert timer.is_due(now)
    timer.start(now)
    assert timer.succeeded(now, 0.0) == now + 10
    assert timer.consecutive_failures == 0


def test_retry_after_from_an_open_breaker_extends_the_wait() -> None:
    timer = _timer(interval=5, jitter=0)
    timer.first_due(0.0, 0.0)
    timer.start(0.0)
    assert timer.failed(1.0, 0.0, retry_after=120.0) == 121.0


def test_a_source_never_runs_twice_at_once() -> None:
    timer = _timer(interval=5, jitter=0)
    timer.first_due(0.0, 0.0)
    timer.start(0.0)
    assert not timer.is_due(100.0)
    with pytest.raises(RuntimeError, match="already in progress"):
        timer.start(100.0)


def test_cron_due_at_the_next_matching_minute() -> None:
    timer = _timer(cron="*/15 * * * *", jitter=0, run_at_start=False)
    wall = datetime(2026, 1, 1, 10, 7, 30, tzinfo=UTC).timestamp()
    assert timer.first_due(1000.0, wall) == pytest.approx(1000.0 + 7 * 60 + 30)
    timer.start(1000.0)
    wall_after = datetime(2026, 1, 1, 10, 15, 5, tzinfo=UTC).timestamp()
    assert timer.succeeded(2000.0, wall_after) == pytest.approx(2000.0 + 14 * 60 + 55)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of interval and cron"),
        ({"interval": 5, "cron": "* * * * *"}, "exactly one of interval and cron"),
        ({"interval": 0}, "schedule.interval: interval must be a positive"),
        ({"interval": -3}, "-3"),
        ({"cron": "every minute"}, "'every minute' is not a valid cron expression"),
        ({"interval": 5, "jitter": -1}, "schedule.jitter: must be >= 0, got -1"),
        ({"interval": 5, "backoff_multiplier": 0.5}, "schedule.backoff_multiplier"),
    ],
)
def test_bad_schedules_name_the_field_and_value(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        Schedule(**kwargs)  # type: ignore[arg-type]


def test_plan_starts_due_sources_and_sleeps_until_the_next() -> None:
    timers = {
        "a": _timer(interval=10, jitter=0),
        "b": _timer(interval=30, jitter=0, run_at_start=False),
    }
    timers["a"].first_due(0.0, 0.0)
    timers["b"].first_due(0.0, 0.0)
    decision = plan(timers, 0.0)
    assert decision.start == ("a",)
    assert decision.sleep == 30.0
    timers["a"].start(0.0)
    assert plan(timers, 1.0).start == ()
    assert plan(timers, 1.0).sleep == 29.0
    for t in timers.values():
        t.stop()
    assert plan(timers, 1.0).sleep is None


@given(
    interval=st.floats(min_value=0.5, max_value=600),
    backoff_max=st.floats(min_value=1, max_value=3600),
    runs=st.lists(
        st.tuples(st.booleans(), st.floats(min_value=0, max_value=1200)), min_size=1, max_size=40
    ),
    seed=st.integers(min_value=0, max_value=1000),
)
def test_timer_invariants_over_random_runs(
    interval: float, backoff_max: float, runs: list[tuple[bool, float]], seed: int
) -> None:
    """Never due before the previous run ended; a success waits at most one interval (plus
    jitter) after its slot, a failure at least one interval and at most the backoff cap."""
    schedule = Schedule(interval=interval, backoff_max=backoff_max)
    spread = schedule.effective_jitter
    timer = SourceTimer(schedule, rng=random.Random(seed))
    due = timer.first_due(0.0, 0.0)
    for ok, duration in runs:
        start = due
        timer.start(start)
        with pytest.raises(RuntimeError):
            timer.start(start)
        end = start + duration
        due = timer.succeeded(end, 0.0) if ok else timer.failed(end, 0.0)
        assert due >= end
        if ok:
            assert due <= max(end, start + interval) + spread + 1e-6
            assert timer.consecutive_failures == 0
        else:
            assert end + interval <= due <= end + max(interval, backoff_max) + spread + 1e-6
