"""The pipeline: processors run in order over each record, failures go to dead-letter."""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from collectorkit._errors import ConfigError, ProcessingError
from collectorkit._records import Record, all_records
from collectorkit.pipeline._base import ProcessingResult, coerce_record

__all__ = ["DeadLetter", "Pipeline", "PipelineOutcome"]

_SyncStep = Callable[[Record], "Record | None"]
_AsyncStep = Callable[[Record], Awaitable["Record | None"]]


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter:
    """A record that could not be processed: why, where, and the payload as it arrived."""

    reason: str
    payload: Any
    processor: str
    source: str = ""


@dataclass(slots=True)
class PipelineOutcome:
    """What a pipeline made of a batch: records to store, dead letters, and how many it dropped."""

    records: list[Record] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    dropped: int = 0
    processing_time: float = 0.0


def _name_of(processor: Any) -> str:
    name = getattr(processor, "name", None)
    if isinstance(name, str):
        return name
    return getattr(processor, "__name__", type(processor).__name__)


def _seed_style(processor: Any) -> _AsyncStep:
    """Adapt an object with ``async process(data) -> ProcessingResult`` (the seed's IProcessor)."""

    async def step(record: Record) -> Record | None:
        result: ProcessingResult = await processor.process(record)
        if not result.success:
            raise ProcessingError(result.error or "processing failed")
        out: Record | None = result.processed_data
        return out

    return step


def _async_callable(processor: Any) -> _AsyncStep:
    async def step(record: Record) -> Record | None:
        out: Record | None = await processor(record)
        return out

    return step


def _step(proc: Any, index: int) -> tuple[bool, Any]:
    """``(is_async, callable)`` for one processor of any supported shape."""
    if isinstance(proc, Pipeline) and not proc.is_sync:
        return True, _seed_style(proc)
    if inspect.iscoroutinefunction(proc) or inspect.iscoroutinefunction(
        getattr(proc, "__call__", None)  # noqa: B004 - we ask *how* it is callable
    ):
        return True, _async_callable(proc)
    if callable(proc):
        return False, proc
    if inspect.iscoroutinefunction(getattr(proc, "process", None)):
        return True, _seed_style(proc)
    raise ConfigError(
        f"processor {proc!r} is neither callable nor has async process()",
        path=f"pipeline[{index}]",
    )


class Pipeline:
    """Runs processors in order over each record (structlog's processor chain).

    A processor is any callable ``record -> record | None`` (plain functions, the built-ins), an
    ``async`` callable, or an object with ``async process(data) -> ProcessingResult`` as in the
    seed. ``None`` drops the record on purpose. :class:`ProcessingError` or any other exception
    sends that one record to dead-letter with the reason and its original payload; the rest of the
    batch goes on. Processors must not mutate the record they get.

    After the records of a batch were delivered, call :meth:`commit`; when they were not, call
    :meth:`rollback` so that stateful processors (dedup) forget them.
    """

    def __init__(self, processors: Iterable[Any] = (), *, name: str = "pipeline") -> None:
        self.name = name
        self._compile(tuple(processors))

    def _compile(self, processors: tuple[Any, ...]) -> None:
        steps = [_step(proc, index) for index, proc in enumerate(processors)]
        self.processors = processors
        self._names = tuple(_name_of(p) for p in processors)
        self._steps = tuple(steps)
        self._all_sync: bool = not any(is_async for is_async, _ in steps)

    def add_processor(self, processor: Any) -> None:
        """Append a processor (the seed's processing-manager API)."""
        self._compile((*self.processors, processor))

    def __len__(self) -> int:
        return len(self.processors)

    @property
    def processor_names(self) -> tuple[str, ...]:
        """Each processor's name, in order."""
        return self._names

    @property
    def is_sync(self) -> bool:
        """Whether every processor is synchronous (the pipeline is then a plain callable)."""
        return self._all_sync

    def __repr__(self) -> str:
        return f"Pipeline({list(self._names)!r})"

    # --- one record -------------------------------------------------------------------------

    def __call__(self, record: Record) -> Record | None:
        """Run every (synchronous) processor over one record; a pipeline nests as a processor."""
        if not self._all_sync:
            raise TypeError("this pipeline has async processors: use `await pipeline.process()`")
        value: Record | None = record
        for _, step in self._steps:
            value = step(value)
            if value is None:
                return None
        return value

    async def process(self, data: Any) -> ProcessingResult:
        """Process one record (dict, JSON bytes or text) into a :class:`ProcessingResult`."""
        start = time.perf_counter()
        try:
            record = coerce_record(data)
        except ProcessingError as exc:
            return ProcessingResult(False, None, exc.reason, time.perf_counter() - start)
        outcome = await self.run([record])
        elapsed = time.perf_counter() - start
        if outcome.dead:
            letter = outcome.dead[0]
            return ProcessingResult(False, None, f"{letter.processor}: {letter.reason}", elapsed)
        return ProcessingResult(
            True, outcome.records[0] if outcome.records else None, None, elapsed
        )

    def get_processor_name(self) -> str:
        return self.name

    # --- a batch ----------------------------------------------------------------------------

    async def run(self, records: Iterable[Any], *, source: str = "") -> PipelineOutcome:
        """Run the pipeline over a batch; never raises for a bad record."""
        start = time.perf_counter()
        outcome = PipelineOutcome()
        if not self._steps:
            batch = records if isinstance(records, list) else list(records)
            if all_records(batch):  # nothing to do: hand the batch on as is (raw ones too)
                outcome.records = batch
                outcome.processing_time = time.perf_counter() - start
                return outcome
        if self._all_sync:
            for record in records:
                if isinstance(record, dict):
                    self._one_sync(record, outcome, source)
                else:
                    self._not_an_object(record, outcome, source)
        else:
            for record in records:
                if isinstance(record, dict):
                    await self._one_async(record, outcome, source)
                else:
                    self._not_an_object(record, outcome, source)
        outcome.processing_time = time.perf_counter() - start
        return outcome

    def _one_sync(self, record: Record, outcome: PipelineOutcome, source: str) -> None:
        value: Any = record
        index = 0
        try:
            for index, (_, step) in enumerate(self._steps):  # noqa: B007 - used in except
                value = step(value)
                if value is None:
                    outcome.dropped += 1
                    return
                if type(value) is not dict and not isinstance(value, Mapping):
                    raise ProcessingError(
                        f"returned {type(value).__name__}, expected a dict or None"
                    )
        except Exception as exc:  # one bad record must not stop the batch
            outcome.dead.append(self._letter(exc, record, index, source))
            return
        outcome.records.append(value)

    async def _one_async(self, record: Record, outcome: PipelineOutcome, source: str) -> None:
        value: Any = record
        index = 0
        try:
            for index, (is_async, step) in enumerate(self._steps):  # noqa: B007
                value = (await step(value)) if is_async else step(value)
                if value is None:
                    outcome.dropped += 1
                    return
                if type(value) is not dict and not isinstance(value, Mapping):
                    raise ProcessingError(
                        f"returned {type(value).__name__}, expected a dict or None"
                    )
        except Exception as exc:
            outcome.dead.append(self._letter(exc, record, index, source))
            return
        outcome.records.append(value)

    def _not_an_object(self, record: Any, outcome: PipelineOutcome, source: str) -> None:
        reason = f"expected a JSON object, got {type(record).__name__}"
        letter = DeadLetter(reason=reason, payload=record, processor=self.name, source=source)
        outcome.dead.append(letter)

    def _letter(self, exc: Exception, record: Record, index: int, source: str) -> DeadLetter:
        reason = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, ProcessingError):
            reason = exc.reason
        name = self._names[index] if self._names else self.name
        return DeadLetter(reason=reason, payload=record, processor=name, source=source)

    # --- delivery -----------------------------------------------------------------------------

    def commit(self) -> None:
        """Tell stateful processors that the records since the last commit were delivered."""
        for proc in self.processors:
            hook = getattr(proc, "commit", None)
            if callable(hook):
                hook()

    def rollback(self) -> None:
        """Tell stateful processors that the records since the last commit were not delivered."""
        for proc in self.processors:
            hook = getattr(proc, "rollback", None)
            if callable(hook):
                hook()
