"""``collectorkit worker``: one of many processes sharing the sources through PostgreSQL.

Each worker builds the same jobs as ``collectorkit run`` (``build_runtime``) and runs them when
the engine hands it one: a run bumps the source's fencing epoch, collects and delivers through
the job's own checkpoint loop with every state write fenced, and records how it ended. A
dispatcher tick — one per period across the fleet — queues the sources that are due and those
whose worker stopped sending heartbeats.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import socket
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from collectorkit._clock import SystemClock
from collectorkit._errors import ConfigError, FencedError
from collectorkit.daemon._app import Runtime, build_runtime
from collectorkit.daemon._job import CollectorJob, StreamJob
from collectorkit.daemon._metrics import RuntimeMetrics
from collectorkit.daemon._scheduler import RunContext, error_kind
from collectorkit.daemon._status import StatusServer, StatusSettings
from collectorkit.fleet._dispatch import SourceTiming, due_sources
from collectorkit.fleet._engine import EngineSettings, FleetEngine, ProcrastinateEngine
from collectorkit.fleet._fencing import FencedStateStore
from collectorkit.fleet._limits import PostgresSharedLimit, create_limits_table, credential_key
from collectorkit.fleet._tokens import PostgresTokenCache
from collectorkit.fleet._view import FleetView
from collectorkit.state import (
    Fence,
    PostgresStateStore,
    postgres_create_fence_table,
    postgres_fences,
    postgres_finish_run,
    postgres_note_stall,
    postgres_start_run,
)

if TYPE_CHECKING:
    from collectorkit.config._models import Config

__all__ = ["FleetWorker", "coordination_url", "run_worker"]


def _log() -> Any:
    from collectorkit.http._redact import get_logger

    return get_logger("collectorkit.fleet")


def _is_postgres(url: str | None) -> bool:
    return url is not None and url.split("://", 1)[0].lower() in ("postgresql", "postgres")


def coordination_url(config: Config) -> str:
    """Where the workers meet: ``coordination``, else a PostgreSQL ``state``; the state must
    be PostgreSQL too (fencing commits each checkpoint in the state's own transaction)."""
    if not _is_postgres(config.state):
        where = "coordination and state" if config.coordination else "state"
        raise ConfigError(
            "collectorkit worker needs a PostgreSQL state (state: postgresql://…): workers on "
            "several machines share the checkpoints, and each one is fenced in the state's "
            f"database; set {where} to the PostgreSQL database the workers share",
            path="state",
        )
    return config.coordination or config.state


def share_limits(
    config: Config, runtime: Runtime, store: PostgresStateStore
) -> dict[str, PostgresSharedLimit]:
    """One shared bucket per credential (base URL host + secrets), plugged into the HTTP
    client of every job using it; the rate is the source's ``rate_limit`` (the first one seen
    for a credential)."""
    from collectorkit.config._models import secret_values_in

    limits: dict[str, PostgresSharedLimit] = {}
    for job in runtime.jobs:
        if not isinstance(job, CollectorJob):
            continue
        source = config.source(job.name)
        key = credential_key(str(source.base_url), secret_values_in(source.auth))
        if key not in limits:
            policy = job.client.blueprint.rate_limit
            limits[key] = PostgresSharedLimit(
                store,
                key,
                rate_per_second=policy.rate_per_second if policy else None,
                burst=policy.burst if policy else None,
            )
        job.client.api.shared_limit = limits[key]
    return limits


def share_tokens(config: Config, runtime: Runtime, store: PostgresStateStore) -> int:
    """Every OAuth2 client-credentials source keeps its token in the state database, refreshed
    by one worker at a time; the number of sources that do."""
    from collectorkit.http import OAuth2ClientCredentialsHandler

    shared = 0
    for job in runtime.jobs:
        auth = job.client.blueprint.auth_handler if isinstance(job, CollectorJob) else None
        if isinstance(auth, OAuth2ClientCredentialsHandler):
            auth.token_cache = PostgresTokenCache(store, config.state)
            shared += 1
    return shared


def _budget(job: Any) -> float | None:
    client = getattr(job, "client", None)
    budget = getattr(getattr(client, "blueprint", None), "execution_budget", None)
    return budget() if callable(budget) else None


class FleetWorker:
    """One worker: the runtime's jobs, run under fencing when the engine hands them over."""

    def __init__(
        self,
        config: Config,
        runtime: Runtime,
        *,
        name: str,
        log: Any = None,
        engine: Callable[..., FleetEngine] | None = None,
    ) -> None:
        if not isinstance(runtime.store, PostgresStateStore):
            raise ConfigError("collectorkit worker needs a PostgreSQL state", path="state")
        self.name = name
        self.store: PostgresStateStore = runtime.store
        self.runtime = runtime
        self.jobs = {job.name: job for job in runtime.jobs}
        self.log = log or _log()
        self.metrics = RuntimeMetrics(started_at=time.time(), mode="worker")
        self.view = FleetView(worker=name)
        self.stop = asyncio.Event()
        fleet = config.fleet
        self.settings = EngineSettings(
            name=name,
            concurrency=fleet.concurrency,
            heartbeat=fleet.heartbeat,
            stalled_after=fleet.stalled_after,
            dispatch_every=fleet.dispatch_every,
            delete_jobs=fleet.delete_jobs,
            grace=config.shutdown_grace,
        )
        self.timings = [
            SourceTiming(name=j.name, schedule=j.schedule, budget=_budget(j)) for j in runtime.jobs
        ]
        make = engine or partial(ProcrastinateEngine, coordination_url(config))
        self.engine = make(settings=self.settings, collect=self.collect, dispatch=self.dispatch)
        self._contexts: dict[str, RunContext] = {}
        for job in runtime.jobs:
            self.metrics.source(job.name).schedule = job.schedule.describe()
        self.limits = share_limits(config, runtime, self.store)
        share_tokens(config, runtime, self.store)

    async def open(self) -> None:
        async def create(conn: Any) -> None:
            async with conn.transaction():  # workers starting together: one creates, one waits
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext('collectorkit-ddl'))")
                await postgres_create_fence_table(conn)
                await create_limits_table(conn)

        await self.store.run(create)
        opener = getattr(self.engine, "open", None)
        if opener is not None:
            await opener()

    async def dispatch(self) -> None:
        """One dispatcher tick: recover stalled sources, defer the due ones."""
        await self.recover()
        fences = {row.key: row for row in await self.store.run(postgres_fences)}
        self.view.update(fences.values(), now=time.time())
        due = due_sources(
            self.timings, fences, time.time(), stalled_after=self.settings.stalled_after
        )
        for source in due:
            await self.engine.defer(source)

    async def recover(self) -> None:
        """Queue again the sources of workers whose heartbeat stopped (any worker may do it:
        a job is ended once, and the queueing lock keeps one waiting job per source)."""
        for source in await self.engine.recover_stalled():
            await self.store.run(partial(postgres_note_stall, key=source))
            self.log.warning("stalled run recovered: the source is queued again", source=source)

    async def collect(self, source: str, deferred_at: float | None = None) -> None:
        """One job: bump the epoch, run the source's job with fenced state, record the end.

        A job queued before the source's last run started is skipped: it was deferred while
        that run was starting (the queueing lock only sees waiting jobs)."""
        job = self.jobs.get(source)
        if job is None:
            self.log.warning("a job for a source this worker's configuration lacks", source=source)
            return
        if deferred_at is not None:
            rows = await self.store.run(partial(postgres_fences, key=source))
            if rows and rows[0].started_at is not None and rows[0].started_at >= deferred_at:
                self.log.debug("job skipped: the source ran since it was queued", source=source)
                return
        fence: Fence = await self.store.run(
            partial(postgres_start_run, key=source, holder=self.name, now=time.time())
        )
        self.log.info("fleet run started", source=source, worker=self.name, epoch=fence.epoch)
        run = job
        if isinstance(job, CollectorJob | StreamJob):
            run = dataclasses.replace(job, state_store=FencedStateStore(self.store, fence))
        stats = self.metrics.source(source)
        stats.state, stats.runs, stats.last_run_started = "running", stats.runs + 1, time.time()
        ctx = RunContext(stats=stats, clock=SystemClock())
        self._contexts[source] = ctx
        budget = _budget(job)
        timer = asyncio.get_running_loop().call_later(budget, ctx.stopping.set) if budget else None
        if self.stop.is_set():
            ctx.stopping.set()
        outcome = "failed"
        try:
            await run.run(ctx)
            outcome = "success"
            stats.last_success = time.time()
        except FencedError as exc:
            outcome = "fenced"
            stats.error(time.time(), "fenced", str(exc))
            self.log.error(
                "checkpoint refused: another worker took this source over; the run ends",
                source=source,
                worker=self.name,
                epoch=fence.epoch,
                current_epoch=exc.current,
            )
        except Exception as exc:
            stats.runs_failed += 1
            stats.error(time.time(), error_kind(exc), str(exc))
            self.log.error("run failed", source=source, worker=self.name, error=exc)
        finally:
            if timer is not None:
                timer.cancel()
            self._contexts.pop(source, None)
            stats.state, stats.last_run_finished = "idle", time.time()
            with contextlib.suppress(Exception):
                await self.store.run(
                    partial(postgres_finish_run, fence=fence, now=time.time(), outcome=outcome)
                )
            self.log.info(
                "fleet run ended",
                source=source,
                worker=self.name,
                epoch=fence.epoch,
                outcome=outcome,
            )

    def request_stop(self) -> None:
        self.metrics.stopping = True
        self.stop.set()
        for ctx in self._contexts.values():
            ctx.stopping.set()

    async def run(self) -> None:
        self.metrics.ready = True
        watching = asyncio.create_task(self._watch(), name="collectorkit-fleet-view")
        try:
            await self.engine.run_worker(self.stop)
        finally:
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watching

    async def _watch(self) -> None:
        """Keep this worker's view of the fleet (``/status``, ``/metrics``) fresh, and recover
        stalled sources without waiting for a free job slot for the dispatcher's tick."""
        while not self.stop.is_set():
            try:
                await self.recover()
                rows = await self.store.run(postgres_fences)
            except Exception as exc:  # the database is away: the view keeps its last reading
                self.log.warning("could not read the fleet's state", error=exc)
            else:
                self.view.update(rows, now=time.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), self.settings.dispatch_every)

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self.engine.aclose()


def _unhandled(log: Any, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """An exception no task awaited, logged in one line: typically the engine failing to close
    a job that was taken over while this worker was paused (its commits were fenced off)."""
    exc = context.get("exception")
    cause = getattr(exc, "__cause__", None) or exc
    first = (str(cause).strip().splitlines() or [""])[0]
    task = context.get("future")
    log.warning(
        "background task failed",
        task=task.get_name() if isinstance(task, asyncio.Task) else None,
        error=f"{type(cause).__name__}: {first}" if cause is not None else context.get("message"),
    )


def default_worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


async def run_worker(
    config: Config,
    *,
    name: str | None = None,
    status_port: int | None = None,
    debug: bool = False,
) -> int:
    """``collectorkit worker``: build, work until SIGINT/SIGTERM, shut down. The exit code."""
    log = _log()
    coordination_url(config)  # a clear refusal before anything is opened
    runtime = await build_runtime(config, log=log, diagnostic=debug)
    worker: FleetWorker | None = None
    status: StatusServer | None = None
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    try:
        worker = FleetWorker(config, runtime, name=name or default_worker_name(), log=log)
        await worker.open()
        worker.view.attach(worker.metrics)
        if config.status.enabled:
            token = config.status.token.get_secret_value() if config.status.token else None
            port = config.status.port if status_port is None else status_port
            settings = StatusSettings(host=config.status.host, port=port, token=token)
            status = StatusServer(worker.metrics, settings)
            await status.start()
            log.info("status server listening", url=status.url)
        loop.set_exception_handler(partial(_unhandled, log))
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, worker.request_stop)
                installed.append(sig)
        log.info("worker starting", worker=worker.name, sources=sorted(worker.jobs))
        await worker.run()
        log.info("worker stopped", worker=worker.name)
        return 0
    finally:
        loop.set_exception_handler(None)
        for sig in installed:
            loop.remove_signal_handler(sig)
        if status is not None:
            await status.stop()
        if worker is not None:
            await worker.aclose()
        await runtime.save()
        await runtime.aclose()
