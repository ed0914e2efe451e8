"""From a validated :class:`Config` to running parts: state store, sinks, jobs — and back.

:class:`Runtime` owns everything one command opens (the state store, the connected sinks, one
job per source) and closes it in the right order: jobs (their HTTP clients), sinks, then the
store. The commands ``run`` and ``once`` share it; the daemon gets its ``aclose`` as the last
shutdown hook, after the processed ids were saved.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from collectorkit._errors import ConfigError, StateDamagedError
from collectorkit.daemon._daemon import Daemon, DaemonSettings
from collectorkit.daemon._job import CollectorJob, DevModeJob, StreamJob, tune_garbage_collector
from collectorkit.daemon._logging import configure_logging
from collectorkit.daemon._metrics import RuntimeMetrics
from collectorkit.daemon._schedule import Schedule
from collectorkit.daemon._status import StatusSettings
from collectorkit.delivery._callbacks import AlertCallback, callback_from_spec
from collectorkit.delivery._outbox import CallbackOutbox, SourceOutbox
from collectorkit.delivery._processed import PersistentProcessedIds
from collectorkit.typing import Sink, StateStore

if TYPE_CHECKING:
    from collectorkit.config._models import Config
    from collectorkit.config._source import SourceConfig

__all__ = [
    "Runtime",
    "apply_overrides",
    "build_runtime",
    "check_callbacks",
    "check_files",
    "parse_callback_option",
    "run_daemon",
    "run_daemon_sync",
    "schedule_for",
]

Job = CollectorJob | DevModeJob | StreamJob


def _log(name: str = "collectorkit.daemon", *, diagnostic: bool = False) -> Any:
    from collectorkit.http._redact import get_logger

    return get_logger(name, diagnostic=diagnostic)


def apply_overrides(config: Config, *, interval: str | None = None) -> Config:
    """``--interval`` applied to every source of a configuration file."""
    if interval is None:
        return config
    from collectorkit.config._types import parse_duration

    try:
        seconds = parse_duration(interval)
    except ValueError as exc:
        raise ConfigError(str(exc), path="--interval") from None
    if seconds <= 0:
        raise ConfigError(f"{interval!r} must be > 0 seconds", path="--interval")
    sources = [s.model_copy(update={"interval": seconds, "cron": None}) for s in config.sources]
    return config.model_copy(update={"sources": sources})


def schedule_for(source: SourceConfig) -> Schedule:
    """The schedule of a source: its interval or cron; jitter 10 % of the interval unless set."""
    jitter = source.jitter if "jitter" in source.model_fields_set else None
    if source.cron is not None:
        return Schedule(cron=str(source.cron), jitter=jitter or 0.0)
    return Schedule(interval=source.schedule_seconds, jitter=jitter)


def _callbacks(source: SourceConfig, index: int) -> list[AlertCallback]:
    specs = getattr(source, "callbacks", None) or []
    return [
        callback_from_spec(
            spec.model_dump() if hasattr(spec, "model_dump") else spec,
            path=f"sources[{index}].callbacks[{i}]",
        )
        for i, spec in enumerate(specs)
    ]


def check_callbacks(config: Config) -> list[ConfigError]:
    """Import every configured callback now (``validate``), so a typo fails before ``run``."""
    problems: list[ConfigError] = []
    for i, source in enumerate(config.sources):
        try:
            _callbacks(source, i)
        except ConfigError as exc:
            problems.append(exc)
    return problems


def check_files(config: Config) -> list[ConfigError]:
    """Two sinks (or a sink and the dead letter) writing one file (``validate``, ``run``)."""
    from collectorkit.config._files import file_issues

    return [ConfigError(reason, path=path) for path, reason in file_issues(config)]


def _processed_capacity(source: SourceConfig) -> int:
    dedup = getattr(source, "processed_ids", None) or getattr(source, "dedup", None)
    capacity = getattr(dedup, "capacity", None)
    if capacity is None and isinstance(dedup, dict):
        capacity = dedup.get("capacity")
    return int(capacity) if capacity else 10_000


class _OutboxWorker:
    """The task draining the callback outbox, from its start to :meth:`stop`."""

    def __init__(self, outbox: CallbackOutbox, *, grace: float) -> None:
        self._grace = grace
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = asyncio.create_task(
            outbox.run(self._stop), name="collectorkit-callback-outbox"
        )

    async def stop(self) -> None:
        """Let the pass in progress finish (within the grace), then end the task."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stop.set()
        done, _ = await asyncio.wait({task}, timeout=self._grace)
        if not done:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


@dataclass(eq=False)
class Runtime:
    """Everything a command opened for one configuration."""

    config: Config
    store: StateStore
    sinks: list[Sink]
    jobs: list[Job] = field(default_factory=list)
    dead_letter: Sink | None = None
    outbox: CallbackOutbox | None = None
    """The callbacks' outbox, when a source has callbacks; drained by :attr:`outbox_worker`
    from :func:`build_runtime` until :meth:`aclose` (every command: run, once, worker)."""
    outbox_worker: _OutboxWorker | None = None

    @property
    def dev_mode(self) -> list[str]:
        return [j.name for j in self.jobs if isinstance(j, DevModeJob)]

    def attach_metrics(self, metrics: RuntimeMetrics) -> None:
        """Show the outbox's figures and failures in ``metrics`` (``/status``, ``/metrics``)."""
        if self.outbox is None:
            return

        def changed(source: str, figures: SourceOutbox) -> None:
            stats = metrics.source(source)
            stats.callbacks_pending = figures.pending
            stats.callbacks_oldest = figures.oldest_created_at
            stats.callbacks_delivered = figures.delivered
            stats.callbacks_dead_lettered = figures.dead_lettered

        def failed(source: str, label: str, exc: BaseException) -> None:
            stats = metrics.source(source)
            stats.callbacks_failed += 1
            stats.error(time.time(), "callback", f"{label}: {exc}")

        self.outbox.on_change, self.outbox.on_failure = changed, failed

    async def flush_callbacks(self) -> None:
        """Stop the worker, then one pass over the whole outbox (``once``): what fails stays
        for the next run."""
        if self.outbox_worker is not None:
            await self.outbox_worker.stop()
        if self.outbox is not None:
            try:
                await self.outbox.drain(due_only=False)
            except Exception as exc:
                _log().error("callback outbox: the state store failed", error=exc)

    async def aclose(self) -> None:
        if self.outbox_worker is not None:
            await self.outbox_worker.stop()
        for job in self.jobs:
            with contextlib.suppress(Exception):
                await job.aclose()
        for callbacks in self.outbox.callbacks.values() if self.outbox else ():
            for callback in callbacks:
                close = getattr(callback, "aclose", None)
                if close is not None:
                    with contextlib.suppress(Exception):
                        await close()
        for sink in [*self.sinks, *([self.dead_letter] if self.dead_letter else [])]:
            with contextlib.suppress(Exception):
                await sink.aclose()
        await self.store.aclose()

    async def save(self) -> None:
        for job in self.jobs:
            if isinstance(job, CollectorJob | StreamJob) and job.processed is not None:
                await job.processed.save()


def _stream_factory(
    build: Callable[..., Any], source: SourceConfig
) -> Callable[[str | None, asyncio.Event], Any]:
    def make(last_event_id: str | None, stop: asyncio.Event) -> Any:
        return build(source, last_event_id=last_event_id, stop=stop)

    return make


async def build_runtime(
    config: Config,
    *,
    only: str | None = None,
    log: Any = None,
    diagnostic: bool = False,
    extra_callbacks: Sequence[AlertCallback] = (),
    reset_state: bool = False,
) -> Runtime:
    """Open the store, connect the sinks, build one job per enabled source (``only``: one).

    ``diagnostic`` turns on the HTTP clients' request/response debug logs (``--debug``);
    ``extra_callbacks`` are added to every source's own (``--callback``). A state database found
    damaged (:class:`~collectorkit.StateDamagedError`) is a refusal, unless ``reset_state``
    (``--reset-state``): then it is moved aside (never deleted) and a new one started.
    """
    from collectorkit.state import move_damaged_aside

    moved: set[str] = set()
    while True:
        try:
            runtime = await _build_runtime(
                config,
                only=only,
                log=log,
                diagnostic=diagnostic,
                extra_callbacks=extra_callbacks,
            )
        except StateDamagedError as exc:
            if not reset_state or exc.path in moved or not _resettable(config, exc.path):
                raise
            moved.add(exc.path)
            aside = move_damaged_aside(exc.path)
            (log or _log()).warning(
                "--reset-state: the damaged state database was moved aside; starting afresh",
                path=exc.path,
                moved_to=aside,
            )
        else:
            tune_garbage_collector()
            return runtime


def _resettable(config: Config, path: str) -> bool:
    """``--reset-state`` moves aside the state database or a SQLite sink's file, nothing else
    (a JSONL index without its files would cut the files back to nothing)."""
    from collectorkit.sinks import SQLiteSink, build_sink
    from collectorkit.state import same_sqlite_file
    from collectorkit.state._open import sqlite_state_path

    files = [sqlite_state_path(config.state)]
    for spec in config.sinks:
        sink = build_sink({"type": spec.type, **spec.options})
        files += [sink.path] if isinstance(sink, SQLiteSink) else []
    return any(f and same_sqlite_file(f, path) for f in files)


async def _build_runtime(
    config: Config,
    *,
    only: str | None,
    log: Any,
    diagnostic: bool,
    extra_callbacks: Sequence[AlertCallback],
) -> Runtime:
    from collectorkit.collect import CollectorClient
    from collectorkit.config._build import build_blueprint, build_pipeline_for, build_source
    from collectorkit.config._files import dead_letter_for
    from collectorkit.sinks import build_sink
    from collectorkit.state import open_state_store

    if only is not None:
        config.source(only)  # KeyError listing the names
    shared = check_files(config)
    if shared:
        raise shared[0]
    store = await open_state_store(config.state)
    runtime = Runtime(config=config, store=store, sinks=[])
    try:
        for i, spec in enumerate(config.sinks):
            sink = build_sink({"type": spec.type, **spec.options}, path=f"sinks[{i}]")
            await sink.connect()
            runtime.sinks.append(sink)
        runtime.dead_letter = dead_letter_for(config)
        if config.dead_letter is not None:  # the default file is created on first use only
            await runtime.dead_letter.connect()
        for sink in runtime.sinks:  # records a destination refuses (a mapping conflict …)
            adopt = getattr(sink, "adopt_dead_letter", None)
            if adopt is not None:
                adopt(runtime.dead_letter)
        by_source: dict[str, Sequence[AlertCallback]] = {}  # the outbox's callbacks
        for i, source in enumerate(config.sources):
            if (only is not None and source.name != only) or not source.enabled:
                continue
            schedule = schedule_for(source)
            if source.is_dev_mode:
                runtime.jobs.append(DevModeJob(name=source.name, schedule=schedule, log=log))
                continue
            callbacks = [*_callbacks(source, i), *extra_callbacks]
            if callbacks:
                by_source[source.name] = callbacks
                if runtime.outbox is None:
                    runtime.outbox = CallbackOutbox(
                        store, by_source, retry=config.callback_retry, log=log or _log()
                    )
            # the processed ids only keep callbacks from seeing an alert twice (the sinks are
            # idempotent on their own): without callbacks there is nothing to save per page
            processed = (
                PersistentProcessedIds(store, source.name, capacity=_processed_capacity(source))
                if callbacks
                else None
            )
            common: dict[str, Any] = {
                "name": source.name,
                "schedule": schedule,
                "sinks": runtime.sinks,
                "state_store": store,
                "pipeline": build_pipeline_for(source, index=i),
                "dead_letter": runtime.dead_letter,
                "key_fields": tuple(source.key_fields),
                "processed": processed,
                "callbacks": callbacks,
                "log": log,
                "outbox": runtime.outbox if callbacks else None,
            }
            if source.is_stream:
                if source.pass_through:
                    (log or _log()).warning(
                        "pass-through is off: a stream source's records are decoded",
                        source=source.name,
                    )
                runtime.jobs.append(
                    StreamJob(make_source=_stream_factory(build_source, source), **common)
                )
                continue
            blueprint = build_blueprint(source)
            if diagnostic:
                blueprint = dataclasses.replace(blueprint, diagnostic_mode=True)
            runtime.jobs.append(
                CollectorJob(
                    client=CollectorClient(blueprint),
                    limit=source.limit,
                    concurrency=source.concurrency if source.strategy == "concurrent" else 1,
                    pass_through=source.pass_through,
                    **common,
                )
            )
    except BaseException:
        await runtime.aclose()
        raise
    if runtime.outbox is not None:
        runtime.outbox_worker = _OutboxWorker(runtime.outbox, grace=config.shutdown_grace)
    return runtime


async def run_daemon(
    config: Config,
    *,
    status_port: int | None = None,
    grace: float | None = None,
    debug: bool = False,
    callbacks: Sequence[AlertCallback] = (),
    reset_state: bool = False,
    explain: Callable[[BaseException], str | None] | None = None,
) -> int:
    """``collectorkit run``: build, schedule until a signal, shut down. Returns the exit code.

    ``explain`` adds a hint to the log of a failed run (see :class:`DaemonSettings`)."""
    diagnostic = debug or config.log_level == "debug"
    log = _log("collectorkit.daemon", diagnostic=diagnostic)
    log.debug("configuration", config=config.to_dict())
    runtime = await build_runtime(
        config,
        log=log,
        diagnostic=diagnostic,
        extra_callbacks=callbacks,
        reset_state=reset_state,
    )
    status = None
    if config.status.enabled:
        token = config.status.token.get_secret_value() if config.status.token else None
        port = config.status.port if status_port is None else status_port
        status = StatusSettings(host=config.status.host, port=port, token=token)
    settings = DaemonSettings(
        grace=config.shutdown_grace if grace is None else grace, status=status, explain=explain
    )
    daemon = Daemon(
        runtime.jobs,
        settings=settings,
        shutdown_hooks=[runtime.save, runtime.aclose],
        log=log,
    )
    runtime.attach_metrics(daemon.metrics)
    for name in runtime.dev_mode:
        daemon.metrics.source(name).dev_mode = True
        log.warning(
            "development mode: dummy credentials; the loop runs but the API is not called",
            source=name,
        )
    log.info(
        "daemon starting",
        sources=[j.name for j in runtime.jobs],
        state=config.state,
        sinks=[s.type for s in config.sinks],
    )
    return await daemon.run()


def run_daemon_sync(
    config: Config,
    *,
    debug: bool = False,
    status_port: int | None = None,
    grace: float | None = None,
    callbacks: Sequence[str] = (),
    reset_state: bool = False,
    explain: Callable[[BaseException], str | None] | None = None,
) -> int:
    """Configure logging, then :func:`run_daemon`; ``callbacks`` as ``kind:value`` strings."""
    configure_logging(level="debug" if debug else config.log_level)
    hooks = [parse_callback_option(text) for text in callbacks]
    if not config.sources or not any(s.enabled for s in config.sources):
        _log().warning("no enabled source (XDR_POLL_ENABLED=false?); nothing to do")
        return 0
    try:
        return asyncio.run(
            run_daemon(
                config,
                status_port=status_port,
                grace=grace,
                debug=debug,
                callbacks=hooks,
                reset_state=reset_state,
                explain=explain,
            )
        )
    except KeyboardInterrupt:  # Ctrl-C before the daemon's own handlers were installed
        return 130


def parse_callback_option(text: str) -> AlertCallback:
    """``--callback python:pkg.mod:func`` / ``command:./notify.sh`` / ``webhook:https://…``."""
    kind, sep, value = text.partition(":")
    if not sep or kind not in ("python", "command", "webhook"):
        raise ConfigError(
            f"{text!r} is not python:<module:function>, command:<shell command> or webhook:<url>",
            path="--callback",
        )
    return callback_from_spec({kind: value}, path="--callback")
