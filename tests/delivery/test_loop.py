"""The checkpoint loop: nothing checkpointed before every sink acknowledged, nothing lost."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectorkit import ConfigError, RawRecord, SinkError, SourceError, record_key
from collectorkit.delivery._loop import DeliveryReport, _keys_function, deliver
from collectorkit.pipeline import (
    DedupProcessor,
    ErrorHandler,
    ErrorType,
    EventEmitter,
    EventType,
    JSONValidationProcessor,
    Pipeline,
    SystemEvent,
)
from collectorkit.sinks import DeadLetterSink, JSONLSink, MemorySink, SQLiteSink
from collectorkit.state import MemoryStateStore, SQLiteStateStore
from collectorkit.typing import QueryCriteria


@dataclass
class State:
    page: int

    def to_dict(self) -> dict[str, Any]:
        return {"page": self.page}


@dataclass
class Page:
    events: list[dict[str, Any]]
    state: State


class Pages:
    """An async iterator of pages that records whether it was closed."""

    def __init__(self, pages: list[list[dict[str, Any]]]) -> None:
        self._pages = pages
        self.closed = False
        self.served = 0

    def __aiter__(self) -> AsyncIterator[Page]:
        return self._gen()

    async def _gen(self) -> AsyncIterator[Page]:
        try:
            for number, events in enumerate(self._pages, 1):
                self.served += 1
                yield Page(events, State(number))
        finally:
            self.closed = True


def _pages(count: int, size: int = 5) -> Pages:
    return Pages([[{"id": p * size + i} for i in range(size)] for p in range(count)])


class WatchingStateStore(MemoryStateStore):
    """Checks, at every save, that each sink already holds the page's records."""

    def __init__(self, sinks: list[MemorySink]) -> None:
        super().__init__()
        self.sinks = sinks
        self.seen_at_put: list[list[int]] = []

    async def put(
        self, namespace: str, key: str, value: Mapping[str, Any], *, if_version: int | None = None
    ) -> int:
        self.seen_at_put.append([len(s) for s in self.sinks])
        return await super().put(namespace, key, value, if_version=if_version)


async def test_state_is_saved_after_every_sink_acknowledged() -> None:
    sinks = [MemorySink(name="a"), MemorySink(name="b")]
    store = WatchingStateStore(sinks)
    report = await deliver(_pages(3), source="xdr", sinks=sinks, state_store=store)
    assert store.seen_at_put == [[5, 5], [10, 10], [15, 15]]
    saved = await store.get("collector_state", "xdr")
    assert saved is not None
    assert dict(saved.value) == {"page": 3}
    assert (report.pages, report.records, report.stored, report.checkpoints) == (3, 15, 15, 3)
    assert report.last_state == {"page": 3}


async def test_a_failing_sink_stops_before_the_checkpoint() -> None:
    good, bad = MemorySink(name="good"), MemorySink(name="bad")
    store = MemoryStateStore()
    pages = _pages(3)
    emitter = EventEmitter()
    events: list[SystemEvent] = []
    await emitter.subscribe(EventType.STORAGE_FAILED, events.append)
    errors = ErrorHandler()

    class FailSecond(MemorySink):
        async def _store(self, batch: list[Any]) -> Any:
            if self.stores == 1:
                self.stores += 1
                raise SinkError("disk full")
            return await super()._store(batch)

    bad = FailSecond(name="bad")
    with pytest.raises(SinkError, match="disk full") as info:
        await deliver(
            pages,
            source="xdr",
            sinks=[good, bad],
            state_store=store,
            emitter=emitter,
            error_handler=errors,
        )
    saved = await store.get("collector_state", "xdr")
    assert saved is not None
    assert dict(saved.value) == {"page": 1}
    report = info.value.partial_result
    assert isinstance(report, DeliveryReport)
    assert (report.pages, report.checkpoints) == (1, 1)
    assert pages.closed
    assert pages.served == 3  # page 3 was read ahead, never stored nor checkpointed
    assert events[0].data["error"] == "disk full"
    assert errors.errors[0].is_critical
    assert errors.errors[0].layer_name == "storage"


async def test_malformed_records_go_to_dead_letter_and_the_rest_is_delivered() -> None:
    sink, dead = MemorySink(), MemorySink(name="dlq")
    pages = Pages([[{"id": 1}, {"no_id": True}, {"id": 2}], [{"id": 3}, "not a dict"]])  # type: ignore[list-item]
    pipeline = Pipeline([JSONValidationProcessor(required_fields=["id"])])
    store = MemoryStateStore()
    report = await deliver(
        pages, source="xdr", sinks=[sink], pipeline=pipeline, dead_letter=dead, state_store=store
    )
    assert sorted(r["id"] for r in sink.data) == [1, 2, 3]
    letters = await DeadLetterSink(dead).query(QueryCriteria(sort_by="reason"))
    reasons = sorted(str(e.data["reason"]) for e in letters)
    assert reasons[0] == "Missing required fields: ['id']"
    assert "str" in reasons[1]
    assert {str(e.data["source"]) for e in letters} == {"xdr"}
    assert {"no_id": True} in [e.data["payload"] for e in letters]
    assert (report.dead_letters, report.checkpoints) == (2, 2)


async def test_dead_letters_without_a_sink_are_logged_not_lost_silently(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pipeline = Pipeline([JSONValidationProcessor(required_fields=["id"])])
    report = await deliver(Pages([[{"x": 1}]]), source="s", sinks=[MemorySink()], pipeline=pipeline)
    assert report.dead_letters == 1
    assert report.dead[0].payload == {"x": 1}
    assert "Missing required fields" in caplog.text


async def test_sqlite_commits_records_and_state_together(tmp_path: Path) -> None:
    sink = SQLiteSink(tmp_path / "c.db")
    async with sink:
        report = await deliver(
            _pages(4), source="xdr", sinks=[sink], checkpoint_sink=sink, key_fields="id"
        )
        again = await deliver(_pages(4), source="xdr", sinks=[sink], checkpoint_sink=sink)
    assert (report.stored, again.stored, again.duplicates) == (20, 0, 20)
    store = SQLiteStateStore(tmp_path / "c.db")
    try:
        saved = await store.get("collector_state", "xdr")
    finally:
        await store.aclose()
    assert saved is not None
    assert dict(saved.value) == {"page": 4}
    assert saved.version == 8


async def test_transactional_sink_goes_last_after_the_others(tmp_path: Path) -> None:
    sqlite = SQLiteSink(tmp_path / "c.db")
    failing = MemorySink(name="mem")
    failing.fail_next = 1
    async with sqlite:
        with pytest.raises(SinkError):
            await deliver(_pages(1), source="x", sinks=[sqlite, failing], checkpoint_sink=sqlite)
        assert await sqlite.query(QueryCriteria()) == []  # nothing committed: no checkpoint


async def test_retry_after_failure_is_not_taken_for_duplicates() -> None:
    sink = MemorySink()
    pipeline = Pipeline([DedupProcessor("id")])
    sink.fail_next = 1
    with pytest.raises(SinkError):
        await deliver(_pages(1), source="x", sinks=[sink], pipeline=pipeline)
    report = await deliver(_pages(1), source="x", sinks=[sink], pipeline=pipeline)
    assert (report.stored, report.dropped) == (5, 0)
    report = await deliver(_pages(1), source="x", sinks=[sink], pipeline=pipeline)
    assert (report.stored, report.dropped) == (0, 5)


@pytest.mark.parametrize("read_ahead", [True, False])
async def test_stop_after_the_current_page_and_hand_on_delivered_records(read_ahead: bool) -> None:
    delivered: list[list[dict[str, Any]]] = []
    pages = _pages(5)
    store = MemoryStateStore()
    report = await deliver(
        pages,
        source="x",
        sinks=[MemorySink()],
        state_store=store,
        on_delivered=delivered.append,
        should_stop=lambda: len(delivered) == 2,
        read_ahead=read_ahead,
    )
    assert report.stopped
    assert (report.pages, report.checkpoints, pages.served) == (2, 2, 2 + read_ahead)
    saved = await store.get("collector_state", "x")
    assert saved is not None
    assert dict(saved.value) == {"page": 2}
    assert pages.closed
    assert [r["id"] for r in delivered[1]] == [5, 6, 7, 8, 9]


async def test_events_per_page() -> None:
    emitter = EventEmitter()
    seen: list[EventType] = []
    for kind in EventType:
        await emitter.subscribe(kind, lambda e: seen.append(e.event_type))
    pipeline = Pipeline([JSONValidationProcessor(required_fields=["id"])])
    await deliver(
        Pages([[{"id": 1}, {}]]),
        source="x",
        sinks=[MemorySink()],
        pipeline=pipeline,
        emitter=emitter,
    )
    assert seen == [
        EventType.PROCESSING_COMPLETE,
        EventType.PROCESSING_FAILED,
        EventType.STORAGE_COMPLETE,
        EventType.COLLECTION_COMPLETE,
    ]


async def test_a_source_failure_keeps_what_was_delivered() -> None:
    async def pages() -> AsyncIterator[Page]:
        yield Page([{"id": 1}], State(1))
        raise SourceError("API went away")

    emitter = EventEmitter()
    failed: list[SystemEvent] = []
    await emitter.subscribe(EventType.COLLECTION_FAILED, failed.append)
    errors = ErrorHandler()
    store = MemoryStateStore()
    sink = MemorySink()
    with pytest.raises(SourceError) as info:
        await deliver(
            pages(),
            source="x",
            sinks=[sink],
            state_store=store,
            emitter=emitter,
            error_handler=errors,
        )
    assert info.value.partial_result.pages == 1
    saved = await store.get("collector_state", "x")
    assert saved is not None
    assert dict(saved.value) == {"page": 1}
    assert len(sink) == 1
    assert failed[0].data["error"] == "API went away"
    assert errors.errors[0].error_type is ErrorType.COLLECTION


async def test_an_unexpected_sink_exception_becomes_a_sink_error() -> None:
    class Broken(MemorySink):
        async def _store(self, batch: list[Any]) -> Any:
            raise OSError("disk on fire")

    with pytest.raises(SinkError, match="OSError: disk on fire"):
        await deliver(_pages(1), source="x", sinks=[Broken()])


async def test_jsonl_with_a_separate_state_store(tmp_path: Path) -> None:
    sink = JSONLSink(tmp_path / "e.jsonl")
    store = SQLiteStateStore(tmp_path / "state.db")
    try:
        async with sink:
            report = await deliver(_pages(2), source="x", sinks=[sink], state_store=store)
        assert report.stored == 10
        saved = await store.get("collector_state", "x")
        assert saved is not None
    finally:
        await store.aclose()


_VALUES = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.text(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)


@given(st.lists(st.tuples(_VALUES, st.booleans()), min_size=1, max_size=8))
def test_the_batch_key_shortcut_equals_record_key(values: list[tuple[object, bool]]) -> None:
    """Decoded and raw records (pass-through) alike, mixed in one batch."""
    records: list[Any] = []
    for value, raw in values:
        record = {"id": value, "other": 1}
        records.append(RawRecord(orjson.dumps(record), {"id": value}) if raw else record)
    expected = [record_key("src", r, ["id"]) for r in records]
    assert _keys_function("src", ("id",))(records) == expected
    assert expected == [record_key("src", {"id": v, "other": 1}, ["id"]) for v, _ in values]
    nested = [{"a": {"b": value}} for value, _ in values]
    assert _keys_function("src", ("a.b",))(nested) == [
        record_key("src", r, ["a.b"]) for r in nested
    ]


async def test_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="sink"):
        await deliver(_pages(1), source="x", sinks=[])
    with pytest.raises(ConfigError, match="checkpoint_sink"):
        await deliver(_pages(1), source="x", sinks=[MemorySink()], checkpoint_sink=SQLiteSink())
