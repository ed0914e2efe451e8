"""The pipeline loop, dead letters, seed-style processors, the config registry, events."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectorkit import ConfigError, ProcessingError, SinkError, SourceError
from collectorkit.pipeline import (
    DedupProcessor,
    ErrorHandler,
    ErrorInfo,
    ErrorType,
    EventEmitter,
    EventType,
    FilterProcessor,
    JSONValidationProcessor,
    Pipeline,
    ProcessingResult,
    SystemEvent,
    build_pipeline,
    build_processor,
)


def add_one(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "n": record["n"] + 1}


async def test_processors_run_in_order_and_failures_become_dead_letters() -> None:
    def explode(record: dict[str, Any]) -> dict[str, Any]:
        if record["n"] == 3:
            raise KeyError("boom")
        return record

    pipeline = Pipeline(
        [
            JSONValidationProcessor(required_fields=["n"]),
            add_one,
            explode,
            FilterProcessor("n > `1`"),
        ]
    )
    records = [{"n": 0}, {"n": 1}, {"x": 1}, {"n": 2}, {"n": 5}]
    outcome = await pipeline.run(records, source="xdr")
    assert outcome.records == [{"n": 2}, {"n": 6}]
    assert outcome.dropped == 1
    assert [(d.processor, d.reason, d.payload) for d in outcome.dead] == [
        ("json_validation", "Missing required fields: ['n']", {"x": 1}),
        ("explode", "KeyError: 'boom'", {"n": 2}),
    ]
    assert all(d.source == "xdr" for d in outcome.dead)


async def test_a_processor_returning_junk_is_a_dead_letter() -> None:
    outcome = await Pipeline([lambda r: 42]).run([{"a": 1}])
    assert outcome.dead[0].reason == "returned int, expected a dict or None"


class SeedStyle:
    """A processor written as in the seed: only ``async process``."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    async def process(self, data: Any) -> ProcessingResult:
        self.seen.append(data)
        if "bad" in data:
            return ProcessingResult(False, None, "bad field", 0.0)
        return ProcessingResult(True, {**data, "seed": True}, None, 0.0)


async def test_async_and_seed_style_processors() -> None:
    async def tag(record: dict[str, Any]) -> dict[str, Any]:
        return {**record, "tagged": True}

    seed = SeedStyle()
    pipeline = Pipeline([tag, seed, add_one])
    assert not pipeline.is_sync
    outcome = await pipeline.run([{"n": 1}, {"n": 1, "bad": 1}])
    assert outcome.records == [{"n": 2, "tagged": True, "seed": True}]
    assert outcome.dead[0].reason == "bad field"
    assert outcome.dead[0].processor == "SeedStyle"
    with pytest.raises(TypeError, match="async"):
        pipeline({"n": 1})


async def test_pipeline_has_the_seed_process_api_and_nests() -> None:
    inner = Pipeline([add_one], name="inner")
    outer = Pipeline([inner, add_one])
    assert outer({"n": 0}) == {"n": 2}
    ok = await outer.process(b'{"n": 1}')
    assert ok.success
    assert ok.processed_data == {"n": 3}
    failed = await Pipeline([JSONValidationProcessor(required_fields=["id"])]).process({})
    assert failed.error == "json_validation: Missing required fields: ['id']"


def test_not_a_processor_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"pipeline\[1\]"):
        Pipeline([add_one, 42])


async def test_commit_and_rollback_reach_stateful_processors() -> None:
    dedup = DedupProcessor("id")
    pipeline = Pipeline([dedup])
    await pipeline.run([{"id": 1}])
    pipeline.rollback()
    assert (await pipeline.run([{"id": 1}, {"id": 1}])).records == [{"id": 1}]
    pipeline.commit()
    pipeline.rollback()
    assert (await pipeline.run([{"id": 1}])).records == []


def test_registry_builds_every_config_form() -> None:
    pipeline = build_pipeline(
        [
            {"validate": {"required": ["id"]}},
            {"rename": {"sev": "severity"}},
            {"drop": ["junk"]},
            {"filter": "severity == 'high'"},
            {"type": "dedup", "key": "id", "max_size": 10},
            {"name": "mask", "options": ["secret"]},
            "timestamps",
            {"json_schema": {"type": "object"}},
        ]
    )
    assert len(pipeline) == 8
    out = pipeline({"id": 1, "sev": "high", "junk": 1, "secret": "s"})
    assert out == {"id": 1, "severity": "high", "secret": "***"}


def test_registry_errors_name_the_path_and_known_names() -> None:
    with pytest.raises(ConfigError) as info:
        build_processor({"dedupe": {}}, path="sources[0].pipeline[2]")
    assert str(info.value).startswith("sources[0].pipeline[2]: unknown processor 'dedupe'")
    assert "did you mean 'dedup'" in str(info.value)
    assert "filter" in str(info.value)
    with pytest.raises(ConfigError, match=r"pipeline\[0\]\.filter\.expression: invalid JMESPath"):
        build_processor({"filter": "a =="}, path="pipeline[0]")
    with pytest.raises(ConfigError, match="bad options"):
        build_processor({"dedup": {"colour": 1}})
    with pytest.raises(ConfigError, match="list"):
        build_pipeline({"dedup": {}})  # type: ignore[arg-type]


async def test_event_emitter_as_in_the_seed() -> None:
    emitter = EventEmitter()
    got: list[SystemEvent] = []

    async def on_complete(event: SystemEvent) -> None:
        got.append(event)

    def broken(event: SystemEvent) -> None:
        raise RuntimeError("subscriber bug")

    await emitter.subscribe(EventType.COLLECTION_COMPLETE, broken)
    await emitter.subscribe(EventType.COLLECTION_COMPLETE, on_complete)
    event = SystemEvent(event_type=EventType.COLLECTION_COMPLETE, source="p", data={"size": 3})
    await emitter.emit(event)
    await emitter.emit(SystemEvent(event_type=EventType.STORAGE_COMPLETE, source="p"))
    assert got == [event]
    await emitter.unsubscribe(EventType.COLLECTION_COMPLETE, on_complete)
    await emitter.emit(event)
    assert got == [event]


async def test_error_handler_keeps_history_and_calls_back() -> None:
    seen: list[ErrorInfo] = []
    handler = ErrorHandler(seen.append, history=2)
    for i in range(3):
        await handler.handle_error(
            ErrorInfo(
                error_type=ErrorType.STORAGE,
                layer_name="storage",
                operation="store",
                message=f"m{i}",
                details={"i": i},
                is_critical=i == 2,
            )
        )
    assert [e.message for e in handler.errors] == ["m1", "m2"]
    assert len(seen) == 3
    last = seen[-1]
    assert (last.type, last.layer, last.critical) == (ErrorType.STORAGE, "storage", True)


def test_processing_error_reason() -> None:
    assert ProcessingError("why").reason == "why"


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ProcessingError("bad"), ErrorType.PROCESSING),
        (SinkError("full"), ErrorType.STORAGE),
        (ConfigError("x", path="a"), ErrorType.CONFIGURATION),
        (TimeoutError("slow"), ErrorType.TIMEOUT),
        (ConnectionRefusedError("no"), ErrorType.CONNECTION),
        (SourceError("gone"), ErrorType.COLLECTION),
        (KeyError("k"), ErrorType.UNKNOWN),
    ],
)
def test_error_info_from_an_exception(exc: Exception, expected: ErrorType) -> None:
    info = ErrorInfo.from_exception(exc, layer="l", operation="op", details={"n": 1})
    assert info.error_type is expected
    assert (info.layer_name, info.operation, info.is_critical) == ("l", "op", True)
    assert info.details == {"exception": type(exc).__name__, "n": 1}
    assert info.message


@given(
    st.lists(
        st.one_of(
            st.fixed_dictionaries({"id": st.integers(0, 20), "n": st.integers(-5, 5)}),
            st.fixed_dictionaries({"n": st.integers(-5, 5)}),
            st.integers(),
        ),
        max_size=40,
    )
)
def test_every_record_is_accounted_for(records: list[Any]) -> None:
    import asyncio

    pipeline = Pipeline(
        [JSONValidationProcessor(required_fields=["id"]), FilterProcessor("n > `0`"), add_one]
    )
    outcome = asyncio.run(pipeline.run(records))
    assert len(outcome.records) + len(outcome.dead) + outcome.dropped == len(records)
    assert all(r["n"] >= 2 for r in outcome.records)
    assert all("id" in r for r in outcome.records)
