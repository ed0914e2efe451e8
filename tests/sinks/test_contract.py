"""One contract every sink keeps: idempotent store, query, delete, durability, checkpoints.

PostgreSQL, Redis, S3 (moto) and OpenSearch (osmem-server) run against the real servers of
the session fixtures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from collectorkit import Envelope, SinkError, record_key
from collectorkit.sinks import (
    FanoutSink,
    JSONFileSink,
    JSONLSink,
    MemorySink,
    OpenSearchSink,
    PostgresSink,
    RedisStreamSink,
    S3Sink,
    SQLiteSink,
)
from collectorkit.state._postgres import PostgresStateStore
from collectorkit.state._redis import RedisStateStore
from collectorkit.state._sqlite import SQLiteStateStore
from collectorkit.typing import Checkpoint, QueryCriteria, Sink, StateStore, TransactionalSink

Factory = Callable[[], Sink]

DURABLE = {"sqlite", "jsonl", "json_files", "postgres", "redis", "s3", "opensearch"}
TRANSACTIONAL = {"sqlite", "jsonl", "postgres", "redis"}
ROLLBACK = {"sqlite", "jsonl", "postgres"}  # a failed checkpoint undoes the batch


def _envelopes(source: str, ids: range, **extra: Any) -> list[Envelope]:
    records = [{"id": i, "severity": ["low", "high"][i % 2], "n": i * 7 % 10, **extra} for i in ids]
    return [Envelope(source, record_key(source, r, ["id"]), r) for r in records]


@pytest.fixture(
    params=[
        *("memory", "sqlite", "jsonl", "json_files", "fanout", "postgres", "redis"),
        *("s3", "opensearch"),
    ]
)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_sink(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Factory:
    """A factory, so durable sinks can be re-opened on the same storage."""
    if kind == "memory":
        shared = MemorySink()
        return lambda: shared
    if kind == "sqlite":
        return lambda: SQLiteSink(tmp_path / "events.db")
    if kind == "jsonl":
        return lambda: JSONLSink(tmp_path / "out" / "{source}" / "{date}.jsonl")
    if kind == "json_files":
        return lambda: JSONFileSink(tmp_path / "alerts")
    if kind == "fanout":
        return lambda: FanoutSink([SQLiteSink(tmp_path / "f.db"), JSONLSink(tmp_path / "f.jsonl")])
    if kind == "postgres":
        url = request.getfixturevalue("postgres_fresh_url")
        return lambda: PostgresSink(url)
    if kind == "s3":
        endpoint, bucket = (request.getfixturevalue(f) for f in ("s3_endpoint", "s3_bucket"))
        return lambda: S3Sink(bucket, endpoint_url=endpoint)
    if kind == "opensearch":
        url, index = (request.getfixturevalue(f) for f in ("opensearch_url", "opensearch_index"))
        return lambda: OpenSearchSink(url, index=index)
    url = request.getfixturevalue("redis_fresh_url")
    return lambda: RedisStreamSink(url, stream="test:events")


@pytest.fixture
async def sink(make_sink: Factory) -> AsyncIterator[Sink]:
    s = make_sink()
    await s.connect()
    yield s
    await s.aclose()


def _ids(found: list[Envelope]) -> list[Any]:
    return [e.data["id"] for e in found]


async def test_is_a_sink(sink: Sink) -> None:
    assert isinstance(sink, Sink)
    assert isinstance(sink.name, str)


async def test_store_is_idempotent_on_the_key(sink: Sink) -> None:
    first = await sink.store(_envelopes("xdr", range(10)))
    assert (first.written, first.duplicates) == (10, 0)
    again = await sink.store(_envelopes("xdr", range(5, 15)))
    assert (again.written, again.duplicates) == (5, 5)
    assert sorted(_ids(await sink.query(QueryCriteria()))) == list(range(15))


async def test_same_id_other_source_is_another_record(sink: Sink) -> None:
    await sink.store(_envelopes("a", range(3)))
    await sink.store(_envelopes("b", range(3)))
    assert len(await sink.query(QueryCriteria())) == 6
    assert len(await sink.query(QueryCriteria(source="b"))) == 3


async def test_repeated_key_within_a_batch_is_written_once(sink: Sink) -> None:
    batch = _envelopes("xdr", range(3)) + _envelopes("xdr", range(2))
    result = await sink.store(batch)
    assert (result.written, result.duplicates) == (3, 2)
    assert len(await sink.query(QueryCriteria())) == 3


async def test_query_filters_sorts_and_pages(sink: Sink) -> None:
    await sink.store(_envelopes("xdr", range(20)))
    high = await sink.query(QueryCriteria(filters={"severity": "high"}))
    assert sorted(_ids(high)) == list(range(1, 20, 2))
    ordered = await sink.query(QueryCriteria(sort_by="id", descending=True, limit=3, offset=1))
    assert _ids(ordered) == [18, 17, 16]
    none = await sink.query(QueryCriteria(filters={"severity": "none"}))
    assert none == []


async def test_seed_style_query_criteria(sink: Sink) -> None:
    await sink.store({"sensor_id": "s1", "value": 3})
    results = await sink.query(QueryCriteria(filters={}, sort_by=None, limit=1, offset=0))
    assert len(results) == 1
    assert results[0].data == {"sensor_id": "s1", "value": 3}


async def test_store_one_record_returns_a_location_to_delete(sink: Sink) -> None:
    location = await sink.store({"id": "only", "value": 1})
    assert location.written == 1
    assert location.location_id
    assert location.location_id in location.path
    assert await sink.delete(location.location_id) is True
    assert await sink.query(QueryCriteria()) == []
    assert await sink.delete(location.location_id) is False


async def test_empty_batch_writes_nothing(sink: Sink) -> None:
    result = await sink.store([])
    assert result.written == 0


@pytest.mark.parametrize("kind", sorted(DURABLE))
async def test_records_survive_reopening(kind: str, make_sink: Factory) -> None:
    first = make_sink()
    await first.store(_envelopes("xdr", range(5)))
    await first.aclose()
    second = make_sink()
    try:
        again = await second.store(_envelopes("xdr", range(3, 8)))
        assert (again.written, again.duplicates) == (3, 2)
        assert sorted(_ids(await second.query(QueryCriteria()))) == list(range(8))
    finally:
        await second.aclose()


def _state_store(
    kind: str, sink: Sink, tmp_path: Path, request: pytest.FixtureRequest
) -> StateStore:
    if kind == "sqlite":
        return SQLiteStateStore(tmp_path / "events.db")
    if kind == "jsonl":
        assert isinstance(sink, JSONLSink)
        return SQLiteStateStore(sink.index_path)
    if kind == "postgres":
        return PostgresStateStore(request.getfixturevalue("postgres_fresh_url"))
    assert isinstance(sink, RedisStreamSink)
    return RedisStateStore(sink.url)


@pytest.mark.parametrize("kind", sorted(TRANSACTIONAL))
async def test_checkpoint_commits_with_the_batch_and_the_state_store_reads_it(
    kind: str, sink: Sink, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    assert isinstance(sink, TransactionalSink)
    batch = _envelopes("xdr", range(4))
    first = await sink.store_with_checkpoint(batch, Checkpoint("cp", "xdr", {"cursor": "c1"}))
    assert first.written == 4
    again = await sink.store_with_checkpoint(batch, Checkpoint("cp", "xdr", {"cursor": "c2"}))
    assert (again.written, again.duplicates) == (0, 4)
    store = _state_store(kind, sink, tmp_path, request)
    try:
        stored = await store.get("cp", "xdr")
        assert stored is not None
        assert dict(stored.value) == {"cursor": "c2"}
        assert stored.version == 2
        # and the store keeps working on the same table afterwards
        assert await store.put("cp", "xdr", {"cursor": "c3"}, if_version=2) == 3
    finally:
        await store.aclose()


@pytest.mark.parametrize("kind", sorted(ROLLBACK))
async def test_failed_checkpoint_rolls_back_the_batch(kind: str, sink: Sink) -> None:
    assert isinstance(sink, TransactionalSink)
    bad = Checkpoint("not a namespace!", "k", {"x": 1})
    with pytest.raises(Exception, match="namespace"):
        await sink.store_with_checkpoint(_envelopes("xdr", range(3)), bad)
    assert await sink.query(QueryCriteria()) == []


async def _unreachable(make: Callable[[], Sink]) -> None:
    sink = make()
    try:
        await sink.store(_envelopes("xdr", range(1)))
    finally:
        await sink.aclose()


@pytest.mark.parametrize(
    "make",
    [
        lambda: PostgresSink("postgresql://u:hunter2@127.0.0.1:1/db", connect_timeout=1),
        lambda: RedisStreamSink("redis://:hunter2@127.0.0.1:1/0", connect_timeout=1),
    ],
    ids=["postgres", "redis"],
)
async def test_unreachable_server_is_a_sink_error_without_the_password(
    make: Callable[[], Sink],
) -> None:
    with pytest.raises(SinkError) as info:
        await _unreachable(make)
    assert "hunter2" not in str(info.value)
    assert "hunter2" not in repr(make())


async def test_a_large_batch_and_its_repeat(sink: Sink) -> None:
    batch = _envelopes("xdr", range(1200))
    assert (await sink.store(batch)).written == 1200
    again = await sink.store(batch)
    assert (again.written, again.duplicates) == (0, 1200)
