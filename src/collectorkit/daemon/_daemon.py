"""The daemon: the scheduler, the status server, signals and a graceful shutdown.

Shutdown, on SIGINT/SIGTERM (or :meth:`Daemon.request_stop`):

1. stop scheduling; every running source is told to stop after the page it is delivering;
2. wait up to ``grace`` seconds for those runs; a run still going then is cancelled — its
   in-flight page is abandoned *before* its checkpoint, so the next start fetches it again;
3. run the shutdown hooks (save processed ids, close sinks, close the state store), stop the
   status server, and return exit code 0.

A second signal skips the wait: in-flight runs are cancelled at once (again never between a
sink's write and its checkpoint commit, which are one transaction or idempotent), the hooks get a
short deadline, and the exit code is ``128 + signal``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from collectorkit._clock import Clock, SystemClock
from collectorkit.daemon._metrics import RuntimeMetrics
from collectorkit.daemon._scheduler import RunOutcome, Scheduler, SourceJob
from collectorkit.daemon._status import StatusServer, StatusSettings

__all__ = ["Daemon", "DaemonSettings", "ShutdownHook"]

ShutdownHook = Callable[[], Awaitable[None]]
_FORCED_HOOK_DEADLINE = 3.0


@dataclass(frozen=True, slots=True, kw_only=True)
class DaemonSettings:
    """``grace``: seconds in-flight runs get to finish after a stop signal.
    ``status``: where the status server listens (``None``: no server).
    ``explain``: a sentence for the operator about a failed run (``None``: nothing to add),
    logged as its ``hint``."""

    grace: float = 30.0
    status: StatusSettings | None = None
    explain: Callable[[BaseException], str | None] | None = field(default=None, repr=False)
    signals: Sequence[signal.Signals] = field(default=(signal.SIGINT, signal.SIGTERM), repr=False)


class Daemon:
    """Runs ``jobs`` until told to stop. ``await daemon.run()`` returns the process exit code."""

    def __init__(
        self,
        jobs: Sequence[SourceJob],
        *,
        settings: DaemonSettings | None = None,
        metrics: RuntimeMetrics | None = None,
        clock: Clock | None = None,
        shutdown_hooks: Sequence[ShutdownHook] = (),
        log: Any = None,
    ) -> None:
        self._settings = settings or DaemonSettings()
        self._clock = clock or SystemClock()
        self.metrics = metrics or RuntimeMetrics(started_at=self._clock.time())
        self._log = log or _default_log()
        self._scheduler = Scheduler(
            jobs,
            metrics=self.metrics,
            clock=self._clock,
            on_run_error=self._run_failed,
            on_run_done=self._run_done,
        )
        self._hooks = list(shutdown_hooks)
        self._stop = asyncio.Event()
        self._force = asyncio.Event()
        self._signal: int | None = None
        self.status_server: StatusServer | None = None
        self.abandoned: list[str] = []

    def request_stop(self, reason: str = "requested", *, signum: int | None = None) -> None:
        """Begin a graceful shutdown; a second request forces it."""
        if self._stop.is_set():
            self._signal = signum or self._signal
            self._force.set()
            self._log.warning("second stop request: exiting at once", reason=reason)
            return
        self._signal = signum
        self.metrics.stopping, self.metrics.stop_reason = True, reason
        self._log.info("stopping", reason=reason, grace_seconds=self._settings.grace)
        self._stop.set()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        installed = self._install_signals(loop)
        try:
            if self._settings.status is not None:
                self.status_server = StatusServer(
                    self.metrics, self._settings.status, clock=self._clock
                )
                await self.status_server.start()
                self._log.info("status server listening", url=self.status_server.url)
            self.metrics.ready = True
            await self._schedule_until_stopped()
            await self._drain()
        finally:
            await self._run_hooks()  # also when startup failed: close what was opened
            for sig in installed:
                loop.remove_signal_handler(sig)
            if self.status_server is not None:
                await self.status_server.stop()
        if self._force.is_set():
            return 128 + (self._signal or signal.SIGTERM)
        self._log.info("stopped cleanly", abandoned_runs=self.abandoned)
        return 0

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> list[signal.Signals]:
        installed = []
        for sig in self._settings.signals:
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
                continue
            installed.append(sig)
        return installed

    def _on_signal(self, sig: signal.Signals) -> None:
        self.request_stop(f"signal {sig.name}", signum=int(sig))

    async def _schedule_until_stopped(self) -> None:
        scheduling = asyncio.create_task(self._scheduler.run(), name="collectorkit-scheduler")
        stop_wait = asyncio.create_task(self._stop.wait())
        await asyncio.wait({scheduling, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        self._scheduler.stop_scheduling()
        stop_wait.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stop_wait
        await scheduling

    async def _drain(self) -> None:
        """Wait for in-flight runs until they end, the grace period ends, or a second signal."""
        in_flight = self._scheduler.in_flight
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settings.grace
        force_wait = asyncio.create_task(self._force.wait())
        try:
            pending = [t for t in in_flight if not t.done()]
            while pending and not self._force.is_set():
                left = deadline - loop.time()
                if left <= 0:
                    break
                await asyncio.wait(
                    {*pending, force_wait}, timeout=left, return_when=asyncio.FIRST_COMPLETED
                )
                pending = [t for t in in_flight if not t.done()]
        finally:
            force_wait.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await force_wait
        await self._abandon([t for t in in_flight if not t.done()])

    async def _abandon(self, tasks: list[asyncio.Task[None]]) -> None:
        for task in tasks:
            self.abandoned.append(task.get_name().removeprefix("collectorkit-source-"))
            task.cancel()
        if tasks:
            self._log.warning(
                "abandoned in-flight runs; their uncommitted pages are fetched again next time",
                sources=self.abandoned,
            )
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _run_hooks(self) -> None:
        for hook in self._hooks:
            try:
                if self._force.is_set():
                    await asyncio.wait_for(hook(), timeout=_FORCED_HOOK_DEADLINE)
                else:
                    await hook()
            except Exception as exc:  # one failing close must not skip the others
                self._log.error("shutdown step failed", step=_name(hook), error=exc)

    def _run_done(self, name: str, outcome: RunOutcome) -> None:
        stats = self.metrics.source(name)
        self._log.info(
            "run finished",
            source=name,
            records=outcome.records,
            new=outcome.new,
            duplicates=outcome.duplicates,
            pages=outcome.pages,
            stop_reason=outcome.stop_reason,
            **({"pass_through": True} if outcome.pass_through else {}),
            degraded=stats.degraded,
            next_in_s=None
            if stats.next_run is None
            else round(stats.next_run - self._clock.time(), 1),
        )

    def _run_failed(self, name: str, exc: BaseException) -> None:
        stats = self.metrics.source(name)
        hint = self._settings.explain(exc) if self._settings.explain else None
        self._log.error(
            "source run failed; backing off",
            source=name,
            error=exc,
            **({"hint": hint} if hint else {}),
            consecutive_failures=stats.consecutive_failures,
            next_run=stats.next_run,
        )


def _name(hook: ShutdownHook) -> str:
    return getattr(hook, "__qualname__", None) or repr(hook)


def _default_log() -> Any:
    from collectorkit.http._redact import get_logger

    return get_logger("collectorkit.daemon")
