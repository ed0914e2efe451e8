"""The task engine behind the fleet: our small interface, and Procrastinate behind it.

:class:`FleetEngine` is all the fleet asks of an engine: defer one collection job per source
(never two waiting, never two running), tick a dispatcher once per period across all workers,
put the jobs of stalled workers back in the queue, and run a worker. :class:`ProcrastinateEngine`
does it on PostgreSQL with Procrastinate: a periodic task (deferred once per period by the
database however many workers run), ``lock`` and ``queueing_lock`` = the source name, and
worker heartbeats for stall detection.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from collectorkit._errors import ConfigError, StateStoreUnavailableError

__all__ = ["EngineSettings", "FleetEngine", "ProcrastinateEngine"]

COLLECT_TASK = "collectorkit-collect"
DISPATCH_TASK = "collectorkit-dispatch"
_URGENT = 50  # a recovered source's job priority (the dispatcher's tick: 100, the others 0)
_SCHEMA_LOCK = 0x636B5F666C656574  # pg_advisory_lock key of the schema installation ("ck_fleet")


def _log() -> Any:
    from collectorkit.http._redact import get_logger

    return get_logger("collectorkit.fleet")


class FleetEngine(Protocol):
    """What the fleet needs from a task engine (so that the engine can be swapped)."""

    async def defer(self, source: str, *, urgent: bool = False) -> bool:
        """Queue one collection job for ``source`` (``urgent``: before the others waiting);
        ``False`` when one is already waiting."""
        ...

    async def recover_stalled(self) -> list[str]:
        """End the jobs of workers whose heartbeat stopped and queue their sources again."""
        ...

    async def run_worker(self, stop: asyncio.Event) -> None:
        """Run jobs (``collect``) and dispatcher ticks (``dispatch``) until ``stop`` is set."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineSettings:
    """A worker's name, job slots, heartbeat, stall threshold, dispatcher period, retention."""

    name: str
    concurrency: int = 4
    heartbeat: float = 10.0
    stalled_after: float = 30.0
    dispatch_every: int = 5
    delete_jobs: str = "successful"
    grace: float = 30.0


class ProcrastinateEngine:
    """:class:`FleetEngine` on Procrastinate over the PostgreSQL database at ``url``.

    ``collect(source, deferred_at)`` runs one job (``deferred_at``: when it was queued, wall
    clock); ``dispatch()`` runs one dispatcher tick. The
    Procrastinate schema is installed on first use (under an advisory lock: many workers may
    start at once).
    """

    def __init__(
        self,
        url: str,
        *,
        settings: EngineSettings,
        collect: Callable[[str, float | None], Awaitable[None]],
        dispatch: Callable[[], Awaitable[None]],
    ) -> None:
        try:
            import procrastinate
        except ImportError:  # pragma: no cover - depends on the installation
            raise ConfigError(
                "collectorkit worker needs procrastinate: pip install 'collectorkit[fleet]'",
                path="coordination",
            ) from None
        self._url = url
        self.settings = settings
        connector = procrastinate.PsycopgConnector(
            conninfo=url,
            min_size=1,
            max_size=settings.concurrency + 4,
            kwargs={"connect_timeout": 10},
        )
        self._app = procrastinate.App(connector=connector, periodic_defaults={"max_delay": 60})
        self._opened = False

        async def collect_job(source: str, deferred_at: float | None = None) -> None:
            await collect(source, deferred_at)

        async def dispatch_job(timestamp: int) -> None:
            await dispatch()

        self._collect = self._app.task(name=COLLECT_TASK)(collect_job)
        ticker = self._app.task(name=DISPATCH_TASK, queueing_lock=DISPATCH_TASK, priority=100)
        self.dispatch_cron = f"* * * * * */{settings.dispatch_every}"  # the 6th field: seconds
        self._app.periodic(cron=self.dispatch_cron)(ticker(dispatch_job))

    async def open(self) -> None:
        """Install the schema if needed and connect; an unreachable or refusing database is a
        :class:`~collectorkit.StateStoreUnavailableError` naming ``coordination``."""
        import psycopg
        from procrastinate.exceptions import ConnectorException

        try:
            await self._install_schema()
            await self._app.open_async()
        except (psycopg.Error, ConnectorException, OSError) as exc:
            from collectorkit.state._values import redact_url

            cause = exc.__cause__ or exc
            lines = str(cause).replace(self._url, redact_url(self._url)).strip().splitlines()
            raise StateStoreUnavailableError(
                f"coordination: the workers' database {redact_url(self._url)} cannot be used: "
                f"{lines[0] if lines else type(cause).__name__}"
            ) from None
        self._opened = True

    async def _install_schema(self) -> None:
        import psycopg

        async with await psycopg.AsyncConnection.connect(self._url, autocommit=True) as conn:
            await conn.execute("SELECT pg_advisory_lock(%s)", (_SCHEMA_LOCK,))
            try:
                row = await (
                    await conn.execute("SELECT to_regclass('procrastinate_jobs')")
                ).fetchone()
                if row is None or row[0] is None:
                    await conn.execute(self._app.schema_manager.get_schema())
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK,))

    async def defer(self, source: str, *, urgent: bool = False) -> bool:
        from procrastinate.exceptions import AlreadyEnqueued

        deferrer = self._collect.configure(
            lock=source, queueing_lock=source, priority=_URGENT if urgent else 0
        )
        try:
            await deferrer.defer_async(source=source, deferred_at=time.time())
        except AlreadyEnqueued:
            return False
        return True

    async def recover_stalled(self) -> list[str]:
        from procrastinate.jobs import Status

        manager = self._app.job_manager
        stalled = await manager.get_stalled_jobs(
            task_name=COLLECT_TASK, seconds_since_heartbeat=self.settings.stalled_after
        )
        sources: list[str] = []
        for job in stalled:
            if job.id is None:  # pragma: no cover - jobs read back always have an id
                continue
            # a new job rather than a retry of this one: the stalled worker, if it ever comes
            # back, then finishes a job nobody else runs (and its commits are fenced off)
            try:
                await manager.finish_job_by_id_async(job.id, status=Status.FAILED, delete_job=False)
            except Exception as exc:  # another worker ended it first: it queued the source too
                _log().debug("stalled job already ended", job=job.id, error=exc)
                continue
            source = str(job.task_kwargs.get("source", ""))
            if source:  # ahead of the due sources: it was interrupted, its data is late
                await self.defer(source, urgent=True)
                sources.append(source)
        return sources

    async def run_worker(self, stop: asyncio.Event) -> None:
        s = self.settings
        worker = asyncio.create_task(
            self._app.run_worker_async(
                name=s.name,
                concurrency=s.concurrency,
                install_signal_handlers=False,
                update_heartbeat_interval=s.heartbeat,
                stalled_worker_timeout=s.stalled_after,
                shutdown_graceful_timeout=s.grace,
                delete_jobs=s.delete_jobs,
                fetch_job_polling_interval=min(5.0, float(s.dispatch_every)),
                abort_job_polling_interval=5.0,
            ),
            name="collectorkit-fleet-worker",
        )
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({worker, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not worker.done():
            worker.cancel()  # procrastinate stops gracefully: running jobs get the grace
        with contextlib.suppress(asyncio.CancelledError):
            await worker

    async def aclose(self) -> None:
        if self._opened:
            self._opened = False
            await self._app.close_async()
