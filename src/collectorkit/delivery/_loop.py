"""The checkpoint loop: source pages → pipeline → every sink acknowledges → then the state.

For each page: its records run through the pipeline; records that fail go to the dead-letter
sink with the reason; the rest are stored in every sink (idempotent on the record key); only
when all of them acknowledged is the page's state saved — in the same transaction as the
records when a :class:`~collectorkit.typing.TransactionalSink` shares the state store's
database (see :func:`~collectorkit.delivery.checkpoint_sink_for`), else to the state store. A
crash at any point therefore re-fetches at most the page that was not checkpointed, and the
sinks write none of it twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import TYPE_CHECKING, Any, Protocol

from collectorkit._errors import CollectorError, ConfigError, SinkError
from collectorkit._records import Envelope, Record, field_values, record_key
from collectorkit.collect._selfcheck import Finding, missing_fields_finding
from collectorkit.delivery._checkpoint import DEFAULT_CHECKPOINT_NAMESPACE, checkpoint_sink_for
from collectorkit.http import get_logger
from collectorkit.pipeline import (
    DeadLetter,
    ErrorHandler,
    ErrorInfo,
    ErrorType,
    EventEmitter,
    EventType,
    Pipeline,
    PipelineOutcome,
    SystemEvent,
)
from collectorkit.sinks import DeadLetterSink, SinkConvertible, as_sink
from collectorkit.typing import Checkpoint, Sink, StateStore, StoreResult, TransactionalSink

if TYPE_CHECKING:
    from collectorkit.collect import ExecutionMetrics

__all__ = ["DeliveryReport", "PageLike", "deliver"]

_MAX_KEPT_LETTERS = 100
_log = logging.getLogger(__name__)


class PageLike(Protocol):
    """What ``deliver`` needs of a page: its records and the state to save after them."""

    @property
    def events(self) -> list[Record]: ...

    @property
    def state(self) -> Any: ...


@dataclass(slots=True)
class DeliveryReport:
    """What a delivery did. ``stored`` counts records newly written to the first sink;
    ``duplicates`` those it already held (re-fetched after a crash, or repeated by the API).
    ``last_state`` is the last checkpointed state, where a next run resumes. ``stop_reason`` (a
    :class:`~collectorkit.collect.StopReason` value) and ``metrics`` tell why and how a
    collection by :func:`~collectorkit.collect_into` ended; ``stopped``: ``should_stop`` ended it.
    """

    source: str
    pages: int = 0
    records: int = 0
    stored: int = 0
    duplicates: int = 0
    dropped: int = 0
    dead_letters: int = 0
    checkpoints: int = 0
    stopped: bool = False
    last_state: Mapping[str, Any] | None = None
    dead: list[DeadLetter] = field(default_factory=list)
    """The last (at most 100) dead letters, for reporting."""
    elapsed: float = 0.0
    stop_reason: str | None = None
    metrics: ExecutionMetrics | None = None
    findings: list[Finding] = field(default_factory=list)
    """The self-checks' findings (:class:`~collectorkit.collect.Finding`): the pages' (when
    collected by :func:`~collectorkit.collect_into`) and the key fields' (missing from every
    record of a page). A run with findings is suspect even when nothing failed."""
    pass_through: bool = False
    """Whether the records went from the API to the sinks as raw bytes (pass-through)."""
    pass_through_refused: list[str] = field(default_factory=list)
    """Why pass-through was asked for and not used (the records were decoded)."""

    @property
    def records_per_second(self) -> float:
        return self.records / self.elapsed if self.elapsed > 0 else 0.0


def _state_dict(state: Any) -> Mapping[str, Any] | None:
    if state is None:
        return None
    if isinstance(state, Mapping):
        return state
    to_dict = getattr(state, "to_dict", None)
    if callable(to_dict):
        value = to_dict()
        if isinstance(value, Mapping):
            return value
    raise ConfigError(f"page state {type(state).__name__} has no to_dict() returning a dict")


@dataclass(slots=True, kw_only=True)
class _Loop:
    source: str
    key_fields: tuple[str, ...]
    pipeline: Pipeline
    sinks: tuple[Sink, ...]
    dead_letter: DeadLetterSink | None
    state_store: StateStore | None
    checkpoint_sink: TransactionalSink | None
    namespace: str
    key: str
    emitter: EventEmitter | None
    errors: ErrorHandler | None
    on_delivered: Callable[[list[Record]], Any] | None
    report: DeliveryReport
    before_checkpoint: Callable[[list[Record]], Any] | None = None
    keys_of: Callable[[list[Record]], list[str]] = field(init=False)

    def __post_init__(self) -> None:
        self.keys_of = _keys_function(self.source, self.key_fields)

    async def page(self, page: PageLike) -> None:
        records = page.events
        state = _state_dict(page.state)
        outcome = await self.pipeline.run(records, source=self.source)
        self._check_keys(outcome.records)
        kept = outcome.records
        envelopes = list(map(Envelope, repeat(self.source), self.keys_of(kept), kept))
        await self._announce_processing(outcome, len(records))
        try:
            result = await self._store(envelopes, outcome.dead, state, outcome.records)
        except BaseException as exc:
            self.pipeline.rollback()
            if isinstance(exc, Exception):
                await self._failed(exc, len(envelopes))
            raise
        self.pipeline.commit()
        self._count(outcome, len(records), result, state)
        await self._announce_storage(result, len(envelopes))
        if self.on_delivered is not None and outcome.records:
            done = self.on_delivered(outcome.records)
            if inspect.isawaitable(done):
                await done

    def _check_keys(self, records: list[Record]) -> None:
        """A self-check finding when no record of the page has a key field."""
        if any(f.check == "key_fields" for f in self.report.findings):
            return
        found = missing_fields_finding(records, self.key_fields, page=self.report.pages + 1)
        if found is not None:
            self.report.findings.append(found)
            get_logger("collectorkit.delivery").warning(
                "self-check: the configuration does not match the records",
                source=self.source,
                check=found.check,
                finding=str(found),
            )

    async def _store(
        self,
        envelopes: list[Envelope],
        dead: list[DeadLetter],
        state: Mapping[str, Any] | None,
        records: list[Record],
    ) -> StoreResult | None:
        # Dead letters first: a bad record is never lost, even if the sinks then fail.
        if dead:
            if self.dead_letter is None:
                for letter in dead:
                    _log.error(
                        "no dead-letter sink: %s record rejected by %s: %s",
                        self.source,
                        letter.processor,
                        letter.reason,
                    )
            else:
                await self.dead_letter.put(dead)
        plain = [s for s in self.sinks if s is not self.checkpoint_sink]
        results: list[StoreResult] = []
        if envelopes and plain:
            # every store finishes (or fails) before we go on: no write outlives its page
            done = await asyncio.gather(
                *(s.store(envelopes) for s in plain), return_exceptions=True
            )
            for outcome in done:
                if isinstance(outcome, BaseException):
                    raise outcome
            results = [r for r in done if isinstance(r, StoreResult)]
        if self.before_checkpoint is not None and records:
            staged = self.before_checkpoint(records)
            if inspect.isawaitable(staged):
                await staged
        checkpoint = None if state is None else Checkpoint(self.namespace, self.key, state)
        if self.checkpoint_sink is not None and checkpoint is not None:
            tx = await self.checkpoint_sink.store_with_checkpoint(envelopes, checkpoint)
            results.insert(self.sinks.index(self.checkpoint_sink), tx)
        elif self.checkpoint_sink is not None and envelopes:
            tx = await self.checkpoint_sink.store(envelopes)
            results.insert(self.sinks.index(self.checkpoint_sink), tx)
        elif checkpoint is not None and self.state_store is not None:
            await self.state_store.put(checkpoint.namespace, checkpoint.key, checkpoint.state)
        return results[0] if results else None

    def _count(
        self,
        outcome: PipelineOutcome,
        received: int,
        result: StoreResult | None,
        state: Mapping[str, Any] | None,
    ) -> None:
        r = self.report
        r.pages += 1
        r.records += received
        r.dropped += outcome.dropped
        r.dead_letters += len(outcome.dead)
        if outcome.dead:
            r.dead.extend(outcome.dead)
            del r.dead[:-_MAX_KEPT_LETTERS]
        if result is not None:
            r.stored += result.written
            r.duplicates += result.duplicates
        if state is not None and (self.checkpoint_sink or self.state_store):
            r.checkpoints += 1
            r.last_state = state

    async def _emit(self, event_type: EventType, data: Mapping[str, Any]) -> None:
        if self.emitter is not None and self.emitter.has_listeners(event_type):
            await self.emitter.emit(
                SystemEvent(event_type=event_type, source=self.source, data=data)
            )

    async def _announce_processing(self, outcome: PipelineOutcome, received: int) -> None:
        if self.emitter is None and (self.errors is None or not outcome.dead):
            return
        data = {
            "received": received,
            "passed": len(outcome.records),
            "dropped": outcome.dropped,
            "dead_letters": len(outcome.dead),
            "processing_time": outcome.processing_time,
        }
        await self._emit(EventType.PROCESSING_COMPLETE, data)
        if outcome.dead:
            reasons = [f"{d.processor}: {d.reason}" for d in outcome.dead[:10]]
            await self._emit(EventType.PROCESSING_FAILED, {**data, "reasons": reasons})
            if self.errors is not None:
                await self.errors.handle_error(
                    ErrorInfo(
                        error_type=ErrorType.PROCESSING,
                        layer_name="processing",
                        operation="pipeline",
                        message=f"{len(outcome.dead)} record(s) sent to dead-letter",
                        details={"source": self.source, "reasons": reasons},
                        is_critical=False,
                    )
                )

    async def _announce_storage(self, result: StoreResult | None, count: int) -> None:
        if self.emitter is None:
            return
        data = {
            "records": count,
            "written": result.written if result else 0,
            "duplicates": result.duplicates if result else 0,
            "checkpoint": self.report.checkpoints,
        }
        await self._emit(EventType.STORAGE_COMPLETE, data)

    async def collection_complete(self) -> None:
        r = self.report
        await self._emit(
            EventType.COLLECTION_COMPLETE,
            {"pages": r.pages, "records": r.records, "stored": r.stored, "stopped": r.stopped},
        )

    async def collection_failed(self, exc: Exception) -> None:
        message = str(exc) or type(exc).__name__
        await self._emit(
            EventType.COLLECTION_FAILED, {"pages": self.report.pages, "error": message}
        )
        if self.errors is not None:
            details = {"source": self.source, "pages_delivered": self.report.pages}
            await self.errors.handle_error(
                ErrorInfo.from_exception(
                    exc, layer="collection", operation="collect", details=details
                )
            )

    async def _failed(self, exc: Exception, count: int) -> None:
        message = str(exc) or type(exc).__name__
        await self._emit(EventType.STORAGE_FAILED, {"records": count, "error": message})
        if self.errors is not None:
            details = {"source": self.source, "records": count}
            await self.errors.handle_error(
                ErrorInfo.from_exception(exc, layer="storage", operation="store", details=details)
            )


def _keys_function(source: str, key_fields: tuple[str, ...]) -> Callable[[list[Record]], list[str]]:
    """``record_key`` of each record of a batch for this source; one top-level field takes a
    shortcut with the same result (string ids: no Python call per record)."""
    if len(key_fields) == 1 and "." not in key_fields[0]:
        name = key_fields[0]
        prefix = source + ":"

        def one_field(records: list[Record]) -> list[str]:
            values = field_values(records, name)
            if set(map(type, values)) <= _STR:
                return list(map(prefix.__add__, values))
            return [
                record_key(source, r, key_fields)
                if v is None
                else prefix + (v if type(v) is str else str(v))
                for r, v in zip(records, values, strict=True)
            ]

        return one_field
    return lambda records: [record_key(source, r, key_fields) for r in records]


_STR = {str}
_END: Any = object()


async def _next_page(iterator: AsyncIterator[PageLike]) -> Any:
    try:
        return await anext(iterator)
    except StopAsyncIteration:
        return _END


class _ReadAhead:
    """Keeps the fetch of the next page running while the current page is delivered."""

    def __init__(self, iterator: AsyncIterator[PageLike], *, enabled: bool) -> None:
        self._iterator = iterator
        self._enabled = enabled
        self._task: asyncio.Task[Any] | None = None

    async def next(self) -> Any:
        task, self._task = self._task, None
        page = await task if task is not None else await _next_page(self._iterator)
        if self._enabled and page is not _END:
            self._task = asyncio.ensure_future(_next_page(self._iterator))
        return page

    async def cancel(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


def _pick_checkpoint_sink(
    sinks: Sequence[Sink], checkpoint_sink: TransactionalSink | None
) -> TransactionalSink | None:
    if checkpoint_sink is None:
        return None
    if not any(s is checkpoint_sink for s in sinks):
        raise ConfigError("checkpoint_sink must be one of sinks", path="checkpoint_sink")
    if not callable(getattr(checkpoint_sink, "store_with_checkpoint", None)):
        raise ConfigError(
            f"sink {getattr(checkpoint_sink, 'name', '?')!r} cannot commit a checkpoint",
            path="checkpoint_sink",
        )
    return checkpoint_sink


async def deliver(
    pages: AsyncIterable[PageLike],
    *,
    source: str,
    sinks: Sequence[Sink | SinkConvertible],
    key_fields: Sequence[str] | str = ("id",),
    pipeline: Pipeline | None = None,
    dead_letter: DeadLetterSink | Sink | None = None,
    state_store: StateStore | None = None,
    checkpoint_sink: TransactionalSink | None = None,
    checkpoint_namespace: str = DEFAULT_CHECKPOINT_NAMESPACE,
    checkpoint_key: str | None = None,
    emitter: EventEmitter | None = None,
    error_handler: ErrorHandler | None = None,
    on_delivered: Callable[[list[Record]], Awaitable[None] | None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    read_ahead: bool = True,
    report: DeliveryReport | None = None,
    before_checkpoint: Callable[[list[Record]], Awaitable[None] | None] | None = None,
) -> DeliveryReport:
    """Deliver every page of ``pages`` and checkpoint after each one.

    ``pages`` yields objects with ``.events`` (records) and ``.state`` (a mapping or an object
    with ``to_dict()``; ``None``: nothing to save), e.g. ``CollectorClient.iter_pages()``.
    The state is saved at ``(checkpoint_namespace, checkpoint_key or source)`` of
    ``checkpoint_sink`` — one of ``sinks``, committing records and state in one transaction;
    by default the one :func:`~collectorkit.delivery.checkpoint_sink_for` finds sharing
    ``state_store``'s database — or else of ``state_store``. ``key_fields`` build each record's
    idempotency key from the record as the pipeline outputs it (see
    :func:`~collectorkit.record_key`). Records the pipeline rejects go to ``dead_letter`` (any
    sink; wrapped in a :class:`DeadLetterSink`) before the page's records are stored; without
    one they are logged at ERROR and counted. Seed-style ``IStorageBackend`` objects (anything
    with ``as_sink()``) may be given as sinks. ``on_delivered`` gets the records of each page
    after it was checkpointed; ``before_checkpoint`` gets them once every sink but the one
    committing the checkpoint stored them, before the checkpoint (e.g. to queue notifications
    durably: a crash then re-fetches the page instead of losing them); ``should_stop`` is asked
    after each page (graceful shutdown).

    With ``read_ahead`` the next page is fetched while the current one is being stored (at most
    one page ahead): the sinks' disk or network time overlaps the API's. A page read ahead is
    never checkpointed before it is delivered, so stopping or crashing only re-fetches it.

    ``report`` (default: a new one) is filled in as pages are delivered, so a caller can read
    progress while it runs and the figures so far after a failure.

    A sink or state failure raises (a :class:`SinkError`/``StateError``; the report so far is
    its ``partial_result``) with the failed page not checkpointed; the pipeline's stateful
    processors forget that page so that its retry is not taken for duplicates.
    """
    if not sinks:
        raise ConfigError("deliver() needs at least one sink", path="sinks")
    adapted = [as_sink(s) for s in sinks]
    if isinstance(key_fields, str):
        key_fields = (key_fields,)
    if dead_letter is not None and not isinstance(dead_letter, DeadLetterSink):
        dead_letter = DeadLetterSink(dead_letter)
    if report is None:
        report = DeliveryReport(source=source)
    if checkpoint_sink is None:
        checkpoint_sink = checkpoint_sink_for(adapted, state_store)
    loop = _Loop(
        source=source,
        key_fields=tuple(key_fields),
        pipeline=pipeline if pipeline is not None else Pipeline(),
        sinks=tuple(adapted),
        dead_letter=dead_letter,
        state_store=state_store,
        checkpoint_sink=_pick_checkpoint_sink(adapted, checkpoint_sink),
        namespace=checkpoint_namespace,
        key=checkpoint_key or source,
        emitter=emitter,
        errors=error_handler,
        on_delivered=on_delivered,
        report=report,
        before_checkpoint=before_checkpoint,
    )
    start = time.perf_counter()
    iterator = aiter(pages)
    ahead = _ReadAhead(iterator, enabled=read_ahead)
    try:
        while True:
            try:
                page = await ahead.next()
            except Exception as exc:
                await loop.collection_failed(exc)
                raise
            if page is _END:
                break
            try:
                await loop.page(page)
            except (OSError, ValueError, TypeError, RuntimeError) as exc:
                if isinstance(exc, CollectorError):
                    raise
                message = f"delivery of {source!r} failed: {type(exc).__name__}: {exc}"
                raise SinkError(message) from exc
            if should_stop is not None and should_stop():
                report.stopped = True
                break
        await loop.collection_complete()
    except CollectorError as exc:
        if exc.partial_result is None:
            exc.partial_result = report
        raise
    finally:
        report.elapsed = time.perf_counter() - start
        await ahead.cancel()
        closer = getattr(iterator, "aclose", None)
        if closer is not None:
            await closer()
    return report
