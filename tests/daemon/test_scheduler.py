"""The scheduler driver under a FakeClock: no real waiting."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

from collectorkit import CircuitOpenError, FakeClock, ServiceError
from collectorkit.daemon._metrics import RuntimeMetrics
from collectorkit.daemon._schedule import Schedule
from collectorkit.daemon._scheduler import RunContext, RunOutcome, Scheduler, error_kind


@dataclass
class Job:
    name: str
    schedule: Schedule
    clock: FakeClock
    fail: int = 0
    exc: Exception = field(default_factory=lambda: ServiceError("503 from upstream"))
    duration: float = 0.0
    starts: list[float] = field(default_factory=list)
    active: int = 0
    max_active: int = 0

    async def run(self, ctx: RunContext) -> RunOutcome:
        self.starts.append(self.clock.monotonic())
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            if self.duration:
                await self.clock.sleep(self.duration)
            if self.fail:
                self.fail -= 1
                raise self.exc
            ctx.stats.page(self.clock.time(), 3)
            return RunOutcome(records=3, pages=1, stop_reason="no_next")
        finally:
            self.active -= 1


async def _drive(scheduler: Scheduler, clock: FakeClock, until: float) -> None:
    task = asyncio.create_task(scheduler.run())
    while clock.monotonic() < until:  # noqa: ASYNC110 - a FakeClock has no event to wait on
        await asyncio.sleep(0)
    scheduler.stop_scheduling()
    await task
    await asyncio.gather(*scheduler.in_flight)


async def test_each_source_runs_on_its_own_interval() -> None:
    clock = FakeClock()
    t0 = clock.monotonic()
    fast = Job("fast", Schedule(interval=10, jitter=0), clock)
    slow = Job("slow", Schedule(interval=25, jitter=0), clock)
    metrics = RuntimeMetrics(started_at=clock.time())
    scheduler = Scheduler([fast, slow], metrics=metrics, clock=clock, rng=random.Random(1))
    await _drive(scheduler, clock, t0 + 65)
    assert [s - t0 for s in fast.starts][:7] == [0, 10, 20, 30, 40, 50, 60]
    assert [s - t0 for s in slow.starts][:3] == [0, 25, 50]
    assert metrics.source("fast").records == 3 * len(fast.starts)
    assert metrics.source("fast").stop_reasons["no_next"] == len(fast.starts)


async def test_the_first_run_after_start_does_not_wait_the_jitter() -> None:
    """Jitter spreads the later runs; the first one starts at once (no 30 s wait after every
    restart), whatever the seed."""
    clock = FakeClock()
    t0 = clock.monotonic()
    jobs = [Job(f"s{i}", Schedule(interval=300), clock) for i in range(5)]  # jitter 30 s
    metrics = RuntimeMetrics(started_at=clock.time())
    scheduler = Scheduler(jobs, metrics=metrics, clock=clock, rng=random.Random(3))
    await _drive(scheduler, clock, t0 + 1)
    assert [job.starts[0] - t0 for job in jobs] == [0.0] * 5


async def test_a_failing_source_backs_off_while_the_other_carries_on() -> None:
    clock = FakeClock()
    t0 = clock.monotonic()
    good = Job("good", Schedule(interval=10, jitter=0), clock)
    bad = Job("bad", Schedule(interval=10, jitter=0, backoff_max=80), clock, fail=100)
    errors: list[str] = []
    metrics = RuntimeMetrics(started_at=clock.time())
    scheduler = Scheduler(
        [good, bad], metrics=metrics, clock=clock, on_run_error=lambda n, e: errors.append(n)
    )
    await _drive(scheduler, clock, t0 + 300)
    gaps = [b - a for a, b in zip(bad.starts, bad.starts[1:], strict=False)]
    assert gaps[:5] == [10, 20, 40, 80, 80]
    good_gaps = {b - a for a, b in zip(good.starts, good.starts[1:], strict=False)}
    assert good_gaps == {10}
    stats = metrics.source("bad")
    assert stats.errors["service"] == len(bad.starts)
    assert stats.consecutive_failures == len(bad.starts)
    assert stats.state == "stopped"
    assert "503 from upstream" in (stats.last_error or "")
    assert set(errors) == {"bad"}
    assert metrics.source("good").errors == {}


async def test_an_open_breaker_waits_its_retry_after() -> None:
    clock = FakeClock()
    t0 = clock.monotonic()
    job = Job(
        "x",
        Schedule(interval=5, jitter=0),
        clock,
        fail=1,
        exc=CircuitOpenError("breaker open", retry_after=42.0),
    )
    metrics = RuntimeMetrics(started_at=clock.time())
    await _drive(Scheduler([job], metrics=metrics, clock=clock), clock, t0 + 50)
    assert [s - t0 for s in job.starts][:3] == [0, 42, 47]
    assert metrics.source("x").errors["breaker_open"] == 1


async def test_a_long_run_is_never_overlapped_by_the_next() -> None:
    clock = FakeClock()
    t0 = clock.monotonic()
    job = Job("long", Schedule(interval=5, jitter=0), clock, duration=12)
    metrics = RuntimeMetrics(started_at=clock.time())
    await _drive(Scheduler([job], metrics=metrics, clock=clock), clock, t0 + 100)
    assert job.max_active == 1
    assert len(job.starts) >= 3


async def test_stop_scheduling_tells_running_jobs_to_stop() -> None:
    clock = FakeClock()
    seen: list[bool] = []

    class Waiter:
        name = "w"
        schedule = Schedule(interval=5, jitter=0)

        async def run(self, ctx: RunContext) -> RunOutcome:
            await ctx.stopping.wait()
            seen.append(ctx.stopping.is_set())
            return RunOutcome(interrupted=True)

    metrics = RuntimeMetrics(started_at=clock.time())
    scheduler = Scheduler([Waiter()], metrics=metrics, clock=clock)
    task = asyncio.create_task(scheduler.run())
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(scheduler.in_flight) == 1
    scheduler.stop_scheduling()
    await task
    await asyncio.gather(*scheduler.in_flight)
    assert seen == [True]
    assert metrics.source("w").state == "stopped"
    assert metrics.source("w").last_success is None


def test_error_kinds() -> None:
    assert error_kind(ServiceError("x")) == "service"
    assert error_kind(CircuitOpenError("x")) == "breaker_open"
    assert error_kind(KeyError("x")) == "internal"
