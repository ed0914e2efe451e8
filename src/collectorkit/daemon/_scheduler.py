"""The scheduler: runs every source on its schedule, never two runs of one source at once.

One driver loop owns all :class:`~collectorkit.daemon._schedule.SourceTimer` objects. Each turn
it asks :func:`plan` which sources are due and how long to sleep, starts the due ones as tasks,
and sleeps until the next due time, a run finishing, or a stop request — whichever comes first.
A failing run is recorded and its source backs off; the others are not affected.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from collectorkit._clock import Clock, SystemClock
from collectorkit.daemon._metrics import RuntimeMetrics, SourceStats
from collectorkit.daemon._schedule import Schedule, SourceTimer

__all__ = ["Plan", "RunContext", "RunOutcome", "Scheduler", "SourceJob", "error_kind", "plan"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOutcome:
    """What one run of a source did."""

    records: int = 0
    pages: int = 0
    stop_reason: str | None = None
    interrupted: bool = False
    """The run stopped early because the daemon is shutting down."""
    new: int = 0
    """Records the sinks stored for the first time."""
    duplicates: int = 0
    """Records the sinks already held (re-fetched or repeated), absorbed by their keys."""
    pass_through: bool = False
    """The records went to the sinks as the bytes the API sent."""


@dataclass(slots=True, kw_only=True)
class RunContext:
    """Handed to :meth:`SourceJob.run`: where to report, and whether to stop after this page."""

    stats: SourceStats
    clock: Clock
    stopping: asyncio.Event = field(default_factory=asyncio.Event)


class SourceJob(Protocol):
    """A source the scheduler can run. ``run`` returns when the source is caught up, or early
    (between pages) once ``ctx.stopping`` is set; it raises on failure."""

    @property
    def name(self) -> str: ...

    @property
    def schedule(self) -> Schedule: ...

    async def run(self, ctx: RunContext) -> RunOutcome: ...


@dataclass(frozen=True, slots=True)
class Plan:
    """Sources to start now, and how long to sleep before looking again (``None``: until woken)."""

    start: tuple[str, ...]
    sleep: float | None


def plan(timers: Mapping[str, SourceTimer], now: float) -> Plan:
    """Sans-I/O: which sources are due at ``now`` and the delay until the next one is."""
    due = tuple(name for name, t in timers.items() if t.is_due(now))
    delays = [
        d for name, t in timers.items() if name not in due and (d := t.delay(now)) is not None
    ]
    return Plan(start=due, sleep=min(delays) if delays else None)


def error_kind(exc: BaseException) -> str:
    """A short, stable label for an error: ``quota``, ``auth``, ``service``, ``timeout`` …"""
    from collectorkit import _errors as e

    table: Sequence[tuple[type[BaseException], str]] = (
        (e.QuotaError, "quota"),
        (e.AuthenticationError, "auth"),
        (e.ServiceError, "service"),
        (e.ClientRequestError, "client"),
        (e.CircuitOpenError, "breaker_open"),
        (e.RequestTimeoutError, "timeout"),
        (e.TransportError, "transport"),
        (e.ResponseDecodeError, "decode"),
        (e.PaginationError, "pagination"),
        (e.CollectorTimeoutError, "budget"),
        (e.StateError, "state"),
        (e.SinkError, "sink"),
        (e.ConfigError, "config"),
        (e.CollectorError, "collector"),
    )
    for cls, label in table:
        if isinstance(exc, cls):
            return label
    return "internal"


class Scheduler:
    """Drives the jobs until :meth:`stop_scheduling`; in-flight runs are the caller's to await.

    ``on_run_error`` is called with the job name and the exception of each failed run, and
    ``on_run_done`` with the name and outcome of each successful one (the daemon logs both); the
    scheduler itself never lets one source's failure reach another.
    """

    def __init__(
        self,
        jobs: Iterable[SourceJob],
        *,
        metrics: RuntimeMetrics,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        on_run_error: Callable[[str, BaseException], None] | None = None,
        on_run_done: Callable[[str, RunOutcome], None] | None = None,
    ) -> None:
        self._jobs = {job.name: job for job in jobs}
        self._metrics = metrics
        self._clock = clock or SystemClock()
        rng = rng or random.Random()
        self._timers = {
            name: SourceTimer(job.schedule, rng=random.Random(rng.random()))
            for name, job in self._jobs.items()
        }
        self._on_run_error = on_run_error
        self._on_run_done = on_run_done
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._running: dict[str, asyncio.Task[None]] = {}
        self._contexts: dict[str, RunContext] = {}

    @property
    def timers(self) -> Mapping[str, SourceTimer]:
        return self._timers

    @property
    def in_flight(self) -> list[asyncio.Task[None]]:
        return list(self._running.values())

    def stop_scheduling(self) -> None:
        """Start nothing new; tell running jobs to stop after their current page."""
        self._stopping.set()
        for ctx in self._contexts.values():
            ctx.stopping.set()
        for name, timer in self._timers.items():
            if name not in self._running:
                timer.stop()
                self._metrics.source(name).state = "stopped"
        self._wake.set()

    async def run(self) -> None:
        """Schedule until :meth:`stop_scheduling` is called."""
        now, wall = self._clock.monotonic(), self._clock.time()
        for name, timer in self._timers.items():
            stats = self._metrics.source(name)
            stats.schedule = timer.schedule.describe()
            stats.state = "scheduled"
            stats.next_run = wall + (timer.first_due(now, wall) - now)
        while not self._stopping.is_set():
            decision = plan(self._timers, self._clock.monotonic())
            for name in decision.start:
                self._start(name)
            await self._sleep(decision.sleep)

    async def _sleep(self, seconds: float | None) -> None:
        self._wake.clear()
        # Let runs just started reach their first suspension point: one that finishes at once
        # wakes us before a (fake) clock is advanced past the next due time.
        await asyncio.sleep(0)
        if self._wake.is_set():
            return
        waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._wake.wait())]
        if seconds is not None:
            waiters.append(asyncio.ensure_future(self._clock.sleep(seconds)))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)

    def _start(self, name: str) -> None:
        timer = self._timers[name]
        stats = self._metrics.source(name)
        timer.start(self._clock.monotonic())
        ctx = RunContext(stats=stats, clock=self._clock)
        self._contexts[name] = ctx
        stats.state, stats.runs = "running", stats.runs + 1
        stats.last_run_started, stats.next_run = self._clock.time(), None
        task = asyncio.create_task(self._run_one(name, ctx), name=f"collectorkit-source-{name}")
        self._running[name] = task

    async def _run_one(self, name: str, ctx: RunContext) -> None:
        timer, stats = self._timers[name], ctx.stats
        try:
            outcome = await self._jobs[name].run(ctx)
        except asyncio.CancelledError:
            stats.state = "stopped"
            timer.stop()
            raise
        except Exception as exc:
            self._failed(name, exc)
        else:
            self._succeeded(name, outcome)
        finally:
            self._running.pop(name, None)
            self._contexts.pop(name, None)
            stats.last_run_finished = self._clock.time()
            if self._stopping.is_set():
                timer.stop()
                stats.state = "stopped"
            self._wake.set()

    def _succeeded(self, name: str, outcome: RunOutcome) -> None:
        timer, stats = self._timers[name], self._metrics.source(name)
        now, wall = self._clock.monotonic(), self._clock.time()
        due = timer.succeeded(now, wall)
        stats.consecutive_failures = 0
        if outcome.stop_reason:
            stats.last_stop_reason = outcome.stop_reason
            stats.stop_reasons[outcome.stop_reason] += 1
        if not outcome.interrupted:
            stats.last_success = wall
        stats.state, stats.next_run = "scheduled", wall + (due - now)
        if self._on_run_done is not None:
            self._on_run_done(name, outcome)

    def _failed(self, name: str, exc: Exception) -> None:
        timer, stats = self._timers[name], self._metrics.source(name)
        now, wall = self._clock.monotonic(), self._clock.time()
        retry_after: Any = getattr(exc, "retry_after", None)
        due = timer.failed(
            now, wall, retry_after=retry_after if isinstance(retry_after, (int, float)) else None
        )
        kind = error_kind(exc)
        stats.runs_failed += 1
        stats.consecutive_failures = timer.consecutive_failures
        stats.error(wall, kind, str(exc))
        stats.last_stop_reason = f"error:{kind}"
        stats.stop_reasons[f"error:{kind}"] += 1
        if kind == "breaker_open":
            stats.breaker_state = "open"
        stats.state, stats.next_run = "backing_off", wall + (due - now)
        if self._on_run_error is not None:
            self._on_run_error(name, exc)
