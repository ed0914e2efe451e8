"""Graceful shutdown of the daemon: finish or abandon in-flight runs, run hooks, exit code."""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import dataclass, field

import httpx2

from collectorkit.daemon._daemon import Daemon, DaemonSettings
from collectorkit.daemon._schedule import Schedule
from collectorkit.daemon._scheduler import RunContext, RunOutcome
from collectorkit.daemon._status import StatusSettings


@dataclass
class PagingJob:
    """Delivers a page every 10 ms until told to stop; ``stubborn`` ignores the stop request."""

    name: str = "src"
    schedule: Schedule = field(default_factory=lambda: Schedule(interval=3600, jitter=0))
    stubborn: bool = False
    committed: list[int] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: bool = False

    async def run(self, ctx: RunContext) -> RunOutcome:
        self.started.set()
        page = 0
        try:
            while self.stubborn or not ctx.stopping.is_set():
                await asyncio.sleep(0.01)  # the page is in flight
                page += 1
                self.committed.append(page)  # delivered and checkpointed
                ctx.stats.page(0.0, 1)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return RunOutcome(pages=page, records=page, interrupted=True, stop_reason="shutdown")


async def _run_with(daemon: Daemon, job: PagingJob) -> asyncio.Task[int]:
    task = asyncio.create_task(daemon.run())
    await asyncio.wait_for(job.started.wait(), 5)
    await asyncio.sleep(0.05)
    return task


async def test_stop_lets_the_in_flight_page_finish_then_runs_the_hooks() -> None:
    job = PagingJob()
    events: list[str] = []

    async def save() -> None:
        events.append(f"saved after {len(job.committed)} pages")

    async def close() -> None:
        events.append("closed")

    daemon = Daemon([job], settings=DaemonSettings(grace=5), shutdown_hooks=[save, close])
    task = await _run_with(daemon, job)
    daemon.request_stop("test")
    assert await asyncio.wait_for(task, 5) == 0
    assert not job.cancelled
    assert events == [f"saved after {len(job.committed)} pages", "closed"]
    assert daemon.metrics.source("src").state == "stopped"
    assert daemon.abandoned == []


async def test_a_run_that_overstays_the_grace_period_is_abandoned() -> None:
    job = PagingJob(stubborn=True)
    hooks: list[str] = []

    async def close() -> None:
        hooks.append("closed")

    daemon = Daemon([job], settings=DaemonSettings(grace=0.1), shutdown_hooks=[close])
    task = await _run_with(daemon, job)
    daemon.request_stop("test")
    assert await asyncio.wait_for(task, 5) == 0
    assert job.cancelled
    assert daemon.abandoned == ["src"]
    assert hooks == ["closed"]


async def test_a_second_stop_exits_at_once_with_the_signal_code() -> None:
    job = PagingJob(stubborn=True)
    daemon = Daemon([job], settings=DaemonSettings(grace=60))
    task = await _run_with(daemon, job)
    daemon.request_stop("first", signum=signal.SIGTERM)
    await asyncio.sleep(0.05)
    daemon.request_stop("second", signum=signal.SIGTERM)
    assert await asyncio.wait_for(task, 2) == 128 + signal.SIGTERM
    assert job.cancelled


async def test_sigterm_stops_the_daemon_and_the_status_server() -> None:
    job = PagingJob()
    daemon = Daemon([job], settings=DaemonSettings(grace=5, status=StatusSettings(port=0)))
    task = await _run_with(daemon, job)
    assert daemon.status_server is not None
    url = daemon.status_server.url
    async with httpx2.AsyncClient(base_url=url) as client:
        assert (await client.get("/ready")).status_code == 200
        status = (await client.get("/status")).json()
        assert status["sources"][0]["state"] == "running"
    os.kill(os.getpid(), signal.SIGTERM)
    assert await asyncio.wait_for(task, 5) == 0
    assert daemon.metrics.stop_reason == "signal SIGTERM"
    assert not job.cancelled
