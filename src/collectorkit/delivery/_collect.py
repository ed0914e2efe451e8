"""Exactly once from an API into your sinks, in one call: :func:`collect_into`.

It resumes from the checkpoint saved by the last run, walks the collector's pages and hands them
to :func:`~collectorkit.delivery.deliver`, which stores each page in every sink and only then
saves its checkpoint. The daemon's jobs run every collection through it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from collectorkit._errors import CollectorError
from collectorkit._records import Record
from collectorkit._sync import run_sync
from collectorkit.collect import (
    CollectorBlueprint,
    CollectorClient,
    CollectorState,
    raw_refusals,
    resolve_strategy,
)
from collectorkit.delivery._checkpoint import read_checkpoint
from collectorkit.delivery._loop import DeliveryReport, deliver
from collectorkit.http import get_logger
from collectorkit.sinks import as_sink, raw_support
from collectorkit.state import open_state_store
from collectorkit.typing import Sink, StateStore

if TYPE_CHECKING:
    from collectorkit.pipeline import Pipeline
    from collectorkit.sinks import SinkConvertible

__all__ = ["collect_into", "collect_into_sync", "pass_through_refusals"]


async def collect_into(
    collector: CollectorBlueprint | CollectorClient,
    *,
    sinks: Sequence[Sink | SinkConvertible],
    state: StateStore | str,
    pipeline: Pipeline | None = None,
    dead_letter: Sink | None = None,
    key_fields: Sequence[str] | str = ("id",),
    limit: int | None = None,
    concurrency: int | None = None,
    source: str | None = None,
    on_delivered: Callable[[list[Record]], Awaitable[None] | None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    report: DeliveryReport | None = None,
    before_checkpoint: Callable[[list[Record]], Awaitable[None] | None] | None = None,
    pass_through: bool = False,
) -> DeliveryReport:
    """Collect into ``sinks`` exactly once, resuming where the last run's checkpoint left off.

    ``state`` is a state store or its URL (``sqlite:///collectorkit.db``, ``postgresql://…``,
    ``redis://…``, ``http(s)://…``; opened and closed here). Every page is stored in all
    ``sinks`` (idempotent on ``key_fields``) before its checkpoint is saved at
    ``("collector_state", source)`` — by the sink that shares the store's database, in the
    same transaction, when there is one. ``source`` defaults to the blueprint's name.

    A blueprint gets a :class:`~collectorkit.CollectorClient` for this call; a client is used
    and left open (its rate limiter and breaker carry over). ``concurrency`` defaults to the
    blueprint's when its strategy is ``concurrent``, else 1. The returned report counts
    records and pages, says why collection stopped (``stop_reason``) and holds the dead
    letters; ``pipeline``, ``dead_letter``, ``on_delivered``, ``should_stop``, ``report`` and
    ``before_checkpoint`` are as for :func:`~collectorkit.delivery.deliver`. A failure raises a
    :class:`~collectorkit.CollectorError` whose ``partial_result`` is the report so far, with
    the page that failed not checkpointed: running again fetches it again and stores none of
    it twice.

    ``pass_through=True`` keeps each record as the JSON bytes the API sent, from the response
    to the sinks, decoding only its key fields (and the few others the walk and the sinks
    read): the sinks write the bytes as they came, with the same exactly-once guarantee. It
    needs a pipeline without processors (they read whole records), sinks that store raw
    records (``passes_raw``: JSONL, SQLite, S3), key fields and plain dotted paths; otherwise
    the records are decoded as usual, and the report's ``pass_through_refused`` and a warning
    say why. ``on_delivered`` and ``before_checkpoint`` then get
    :class:`~collectorkit.RawRecord` items (``.raw``, ``.full()``) where records stayed raw.
    """
    async with contextlib.AsyncExitStack() as owned:
        if isinstance(collector, CollectorClient):
            client = collector
        else:
            client = await owned.enter_async_context(CollectorClient(collector))
        if isinstance(state, str):
            state = await open_state_store(state)
            owned.push_async_callback(state.aclose)
        blueprint = client.blueprint
        name = source or blueprint.name
        if report is None:
            report = DeliveryReport(source=name)
        saved = await read_checkpoint(state, name)
        if report.last_state is None:
            report.last_state = saved  # where a next run resumes, until a page moves it
        if concurrency is None:
            concurrent = resolve_strategy(blueprint.default_strategy).concurrent
            concurrency = blueprint.concurrency if concurrent else 1
        keys = (key_fields,) if isinstance(key_fields, str) else tuple(key_fields)
        raw_keys: tuple[str, ...] | None = None
        raw_fields: tuple[str, ...] = ()
        if pass_through:
            refused, raw_fields = pass_through_refusals(blueprint, keys, sinks, pipeline)
            report.pass_through_refused = refused
            if refused:
                get_logger("collectorkit.delivery").warning(
                    "pass-through is off: the records are decoded", source=name, why=refused
                )
            else:
                raw_keys = keys
                report.pass_through = True
        pages = client.iter_pages(
            limit=limit,
            resume_state=CollectorState.from_dict(saved) if saved else None,
            concurrency=concurrency,
            raw_keys=raw_keys,
            raw_fields=raw_fields,
        )
        try:
            await deliver(
                pages,
                source=name,
                sinks=sinks,
                key_fields=key_fields,
                pipeline=pipeline,
                dead_letter=dead_letter,
                state_store=state,
                on_delivered=on_delivered,
                should_stop=should_stop,
                report=report,
                before_checkpoint=before_checkpoint,
            )
        except CollectorError as exc:
            exc.partial_result = report  # what was delivered, rather than what was fetched
            raise
        finally:
            report.metrics = pages.metrics
            report.findings[:0] = pages.findings
            report.stop_reason = None if pages.stop_reason is None else pages.stop_reason.value
    return report


def pass_through_refusals(
    blueprint: CollectorBlueprint,
    key_fields: Sequence[str],
    sinks: Sequence[Any],
    pipeline: Pipeline | None,
) -> tuple[list[str], tuple[str, ...]]:
    """Why records of ``blueprint`` cannot pass through to ``sinks`` as raw bytes (empty: they
    can), and the record fields the sinks read."""
    refused: list[str] = []
    if pipeline is not None and len(pipeline):
        names = ", ".join(repr(n) for n in pipeline.processor_names)
        refused.append(f"the pipeline's processors ({names}) read whole records")
    sink_refusals, fields = raw_support([as_sink(s) for s in sinks])
    refused += sink_refusals
    refused += raw_refusals(blueprint.request, [*key_fields, *fields] if key_fields else [])
    return refused, fields


def collect_into_sync(
    collector: CollectorBlueprint | CollectorClient,
    *,
    sinks: Sequence[Sink | SinkConvertible],
    state: StateStore | str,
    pipeline: Pipeline | None = None,
    dead_letter: Sink | None = None,
    key_fields: Sequence[str] | str = ("id",),
    limit: int | None = None,
    concurrency: int | None = None,
    source: str | None = None,
    pass_through: bool = False,
) -> DeliveryReport:
    """:func:`collect_into` for synchronous code (not inside a running event loop).

    The connections the run opened belong to its event loop, so when it returns the client's,
    the sinks' and the state store's are closed; each opens again on its next use.
    """

    async def once() -> DeliveryReport:
        try:
            return await collect_into(
                collector,
                sinks=sinks,
                state=state,
                pipeline=pipeline,
                dead_letter=dead_letter,
                key_fields=key_fields,
                limit=limit,
                concurrency=concurrency,
                source=source,
                pass_through=pass_through,
            )
        finally:
            for resource in (collector, *sinks, dead_letter, state):
                close = getattr(resource, "aclose", None)
                if close is not None:
                    await close()

    return run_sync(once(), async_name="collect_into")
