"""One source as the scheduler runs it: collect → deliver (checkpointed) → new-alert callbacks.

:class:`CollectorJob` runs :func:`~collectorkit.delivery.collect_into` — the library's
exactly-once collection, resuming from the saved checkpoint — and, after each page is stored and
checkpointed, passes the records not seen before (seed 002's processed ids, bounded and saved in
the state store) to the callbacks. It stops between pages when the daemon shuts down, and keeps
the per-source figures of ``/status`` and ``/metrics`` current.

:class:`DevModeJob` is seed 002's development mode: dummy credentials, the loop runs on schedule,
no request is sent, and every run says so.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from collectorkit._records import Record, lookup_path
from collectorkit.collect import CollectorClient, CollectorState
from collectorkit.daemon._metrics import SourceStats
from collectorkit.daemon._schedule import Schedule
from collectorkit.daemon._scheduler import RunContext, RunOutcome, error_kind
from collectorkit.delivery._callbacks import AlertCallback
from collectorkit.delivery._checkpoint import read_checkpoint
from collectorkit.delivery._collect import collect_into
from collectorkit.delivery._loop import DeliveryReport, deliver
from collectorkit.delivery._outbox import CallbackOutbox
from collectorkit.delivery._processed import PersistentProcessedIds
from collectorkit.http import get_logger
from collectorkit.pipeline import Pipeline
from collectorkit.state import WatermarkManager
from collectorkit.typing import DataSource, Sink, StateStore

__all__ = ["CollectorJob", "DevModeJob", "NewAlerts", "StreamJob", "tune_garbage_collector"]


def tune_garbage_collector() -> None:
    """Fit the cyclic garbage collector to a collecting process, once per process.

    What exists once the runtime is built (modules, config, clients: kept for the process's
    life) is frozen out of the full passes, which otherwise walk those ~70,000 objects again
    and again. And the first generation is collected after 10,000 net new containers instead
    of 700: a 500-record page holds ~3,500 at once, so the default ran five collections a page
    over records that reference counting frees anyway (JSON has no cycles). Together measured
    as 20-30 % of ``collectorkit once``'s CPU time (``bench/bench_loop.py``).
    """
    if gc.get_freeze_count() == 0:
        # Garbage frozen would never be freed: the young generations' is collected first. A
        # full pass found ~180 unreachable objects among the ~68,000 the imports leave and cost
        # 20 ms of every `collectorkit once`; those few are frozen along with the rest.
        gc.collect(1)
        gc.freeze()
        first, *older = gc.get_threshold()
        if first < _FIRST_GENERATION:
            gc.set_threshold(_FIRST_GENERATION, *older)


_FIRST_GENERATION = 10_000


@dataclass(kw_only=True, eq=False)
class NewAlerts:
    """Seed 002's alert handling after delivery: skip ids already processed, call the
    callbacks with the rest, remember their ids (bounded, saved in the state store)."""

    source: str
    processed: PersistentProcessedIds | None = None
    callbacks: Sequence[AlertCallback] = ()
    id_field: str | None = None
    log: Any = None
    outbox: CallbackOutbox | None = None
    """Where new alerts wait for the callbacks (at least once); without it they are called
    here, once."""
    _loaded: bool = field(default=False, repr=False)

    async def load(self) -> None:
        if self.processed is not None and not self._loaded:
            await self.processed.load()
            self._loaded = True

    async def handle(self, stats: SourceStats, records: list[Record]) -> None:
        id_field = self.id_field
        fresh = records
        if self.processed is not None and id_field:
            ids = [lookup_path(r, id_field) for r in records]
            new = set(self.processed.new(str(i) for i in ids if i is not None))
            fresh = []
            for record, rid in zip(records, ids, strict=True):
                if rid is None or str(rid) in new:
                    fresh.append(record)
                    new.discard(str(rid))
            stats.duplicates_skipped += len(records) - len(fresh)
        stats.new_alerts += len(fresh)
        if self.log is not None:
            self.log.debug(
                "page delivered",
                source=self.source,
                records=len(records),
                new=len(fresh),
                already_processed=len(records) - len(fresh),
            )
        if fresh and self.outbox is not None:  # durable before the ids count as processed
            ids = [lookup_path(r, id_field) if id_field else None for r in fresh]
            await self.outbox.enqueue(
                self.source, fresh, [None if i is None else str(i) for i in ids]
            )
        elif fresh:
            await self._call(stats, fresh)
        if self.processed is not None and id_field:
            self.processed.update(
                str(i) for r in fresh if (i := lookup_path(r, id_field)) is not None
            )
            await self.processed.save()

    async def _call(self, stats: SourceStats, fresh: list[Record]) -> None:
        for callback in self.callbacks:
            try:
                await callback(self.source, fresh)
            except Exception as exc:  # stored already; a callback never undoes delivery
                stats.callbacks_failed += 1
                stats.error(stats.last_run_started or 0.0, "callback", str(exc))
                if self.log is not None:
                    self.log.error(
                        "callback failed", source=self.source, callback=callback.label, error=exc
                    )


@dataclass(kw_only=True, eq=False)
class _DeliveringJob:
    """What the HTTP and streaming jobs share: where pages go (sinks, pipeline, dead letter,
    the state store — which a sink sharing its database may save checkpoints for) and the
    new-alert handling after each delivered page."""

    name: str
    schedule: Schedule
    sinks: Sequence[Sink]
    state_store: StateStore
    pipeline: Pipeline | None = None
    dead_letter: Sink | None = None
    key_fields: Sequence[str] = ("id",)
    processed: PersistentProcessedIds | None = None
    callbacks: Sequence[AlertCallback] = ()
    id_field: str | None = None
    log: Any = None
    outbox: CallbackOutbox | None = None
    alerts: NewAlerts = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.alerts = NewAlerts(
            source=self.name,
            processed=self.processed,
            callbacks=self.callbacks,
            id_field=self.id_field or (self.key_fields[0] if self.key_fields else None),
            log=self.log,
            outbox=self.outbox,
        )

    def _count_rejected(self, stats: SourceStats, report: DeliveryReport) -> None:
        """Records the pipeline rejected are errors of the run (kind ``dead_letter``), and the
        message says where they were kept."""
        if report.dead_letters:
            where = getattr(self.dead_letter, "location", None) or "the log (no dead letter)"
            message = f"{report.dead_letters} record(s) rejected by the pipeline, kept in {where}"
            stats.error(time.time(), "dead_letter", message)
            stats.errors["dead_letter"] += report.dead_letters - 1

    def _delivery(
        self, ctx: RunContext, on_delivered: Callable[[list[Record]], Awaitable[None]]
    ) -> dict[str, Any]:
        """Where this job's pages go; it stops between pages on shutdown."""
        return {
            "source": self.name,
            "sinks": self.sinks,
            "key_fields": tuple(self.key_fields),
            "pipeline": self.pipeline,
            "dead_letter": self.dead_letter,
            "on_delivered": on_delivered,
            "should_stop": ctx.stopping.is_set,
            # new alerts wait in the outbox before the page's checkpoint: none is lost to a crash
            "before_checkpoint": (
                None if self.outbox is None else partial(self.alerts.handle, ctx.stats)
            ),
        }


@dataclass(kw_only=True, eq=False)
class CollectorJob(_DeliveringJob):
    """An HTTP collector source, delivered with the checkpoint protocol.

    The client is kept between runs (connection pool, rate limiter and breaker state carry
    over); close it with :meth:`aclose`. ``id_field`` names the record id used for the processed
    ids and callbacks (default: the first of ``key_fields``).
    """

    client: CollectorClient
    limit: int | None = None
    concurrency: int = 1
    pass_through: bool = False

    async def run(self, ctx: RunContext) -> RunOutcome:
        await self.alerts.load()
        stats = ctx.stats
        report = DeliveryReport(source=self.name)
        live_pages = 0

        async def delivered(records: list[Record]) -> None:
            nonlocal live_pages
            live_pages += 1
            stats.page(ctx.clock.time(), len(records))
            if self.outbox is None:  # else queued before the checkpoint (_delivery)
                await self.alerts.handle(stats, records)

        pass_through = self.pass_through
        if pass_through and self.callbacks:
            report.pass_through_refused = ["callbacks read whole records"]
            (self.log or get_logger("collectorkit.daemon")).warning(
                "pass-through is off: the records are decoded",
                source=self.name,
                why=report.pass_through_refused,
            )
            pass_through = False
        try:
            await collect_into(
                self.client,
                state=self.state_store,
                limit=self.limit,
                concurrency=self.concurrency,
                report=report,
                pass_through=pass_through,
                **self._delivery(ctx, delivered),
            )
        except Exception as exc:
            self._absorb(stats, report)
            self._count_rejected(stats, report)
            await self._record_run(stats, report, "failed", error=exc)
            raise
        stats.pages += max(0, report.pages - live_pages)
        self._absorb(stats, report)
        self._count_rejected(stats, report)
        await self._record_run(stats, report, "partial" if report.stopped else "success")
        reason = "shutdown" if report.stopped else report.stop_reason
        return RunOutcome(
            records=report.records,
            pages=report.pages,
            stop_reason=reason,
            interrupted=report.stopped,
            new=report.stored,
            duplicates=report.duplicates,
            pass_through=report.pass_through,
        )

    def _absorb(self, stats: SourceStats, report: DeliveryReport) -> None:
        stats.stored += report.stored
        stats.duplicates += report.duplicates
        if report.findings or report.pages:  # a run that read nothing keeps the last verdict
            stats.findings = [f.to_dict() for f in report.findings]
        metrics = report.metrics
        if metrics is not None:
            stats.http_429 += metrics.quota_error
            stats.retries += metrics.retry_error
        api = getattr(self.client, "_api", None)
        state = getattr(api, "circuit_state", None)
        if state is not None:
            stats.breaker_state = str(getattr(state, "value", state))
        watermark = _watermark(report)
        if watermark is not None:
            stats.watermark = watermark.timestamp()

    async def _record_run(
        self,
        stats: SourceStats,
        report: DeliveryReport,
        status: str,
        *,
        error: Exception | None = None,
    ) -> None:
        """Seed 001's watermark record; a failure to write it is logged, never fatal."""
        manager = WatermarkManager(self.state_store)
        watermark: datetime | float | None = _watermark(report)
        if watermark is None and status != "failed":
            watermark = time.time()  # no record timestamps: the run itself is the mark
        try:
            await manager.update_watermark(
                self.name,
                watermark,
                status,
                records_collected=0 if error is not None else report.records,
                error_message=None if error is None else f"{error_kind(error)}: {error}",
            )
        except Exception as exc:
            if self.log is not None:
                self.log.warning("could not record the watermark", source=self.name, error=exc)

    async def aclose(self) -> None:
        await self.client.aclose()


def _watermark(report: DeliveryReport) -> datetime | None:
    """The watermark of the last page checkpointed (never past an undelivered record)."""
    if report.last_state is None:
        return None
    return CollectorState.from_dict(report.last_state).watermark


@dataclass(kw_only=True, eq=False)
class DevModeJob:
    """Seed 002's development mode: runs on schedule, sends nothing, says so every time."""

    name: str
    schedule: Schedule
    log: Any = None

    async def run(self, ctx: RunContext) -> RunOutcome:
        ctx.stats.dev_mode = True
        if self.log is not None:
            self.log.info(
                "development mode: dummy credentials, not calling the API",
                source=self.name,
                next_in=self.schedule.describe(),
            )
        return RunOutcome(stop_reason="dev_mode")

    async def aclose(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class _Batch:
    events: list[Record]
    state: dict[str, Any]


@dataclass(kw_only=True, eq=False)
class StreamJob(_DeliveringJob):
    """A streaming source (SSE, WebSocket, long poll): one run lasts as long as the stream.

    Each batch is delivered and checkpointed with the stream's resume token
    (``{"last_event_id": …}``); the next connection resumes from the saved token. The schedule's
    interval is the pause before reconnecting after a stream ends.
    """

    make_source: Callable[[str | None, asyncio.Event], DataSource]
    """Builds the source from the saved resume token; it ends its stream once the event is set."""

    async def run(self, ctx: RunContext) -> RunOutcome:
        saved = await read_checkpoint(self.state_store, self.name)
        token = saved.get("last_event_id") if saved is not None else None
        source = self.make_source(str(token) if token is not None else None, ctx.stopping)
        await self.alerts.load()

        async def batches() -> AsyncIterator[_Batch]:
            async for batch in source.collect_stream():
                yield _Batch(batch, dict(getattr(source, "state", {}) or {}))

        async def delivered(records: list[Record]) -> None:
            ctx.stats.page(ctx.clock.time(), len(records))
            if self.outbox is None:  # else queued before the checkpoint (_delivery)
                await self.alerts.handle(ctx.stats, records)

        report = DeliveryReport(source=self.name)
        try:
            await deliver(
                batches(),
                state_store=self.state_store,
                report=report,
                **self._delivery(ctx, delivered),
            )
        finally:
            await source.aclose()
            self._count_rejected(ctx.stats, report)
        ctx.stats.stored += report.stored
        ctx.stats.duplicates += report.duplicates
        return RunOutcome(
            records=report.records,
            pages=report.pages,
            stop_reason="shutdown" if report.stopped else "stream_ended",
            interrupted=report.stopped,
            new=report.stored,
            duplicates=report.duplicates,
        )

    async def aclose(self) -> None:
        return None
