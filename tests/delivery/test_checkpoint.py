"""Who saves the checkpoint: the sink that shares the state store's database, else the store.

The choice is made from the objects (``TransactionalSink.shares_state_with``), so the library,
the YAML file and the daemon get the same answer; nothing outside ``config/`` compares a
configured ``type`` string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import collectorkit
from collectorkit.delivery import checkpoint_sink_for, deliver, read_checkpoint
from collectorkit.sinks import JSONLSink, MemorySink, PostgresSink, RedisStreamSink, SQLiteSink
from collectorkit.state import (
    MemoryStateStore,
    PostgresStateStore,
    RedisStateStore,
    SQLiteStateStore,
    create_state_store,
)
from collectorkit.typing import Sink, StateStore

PG = "postgresql://u@127.0.0.1:1/db"
REDIS = "redis://127.0.0.1:1/0"


def _sqlite_cases(tmp: Path) -> list[tuple[list[Sink], StateStore, int | None]]:
    jsonl = JSONLSink(tmp / "out" / "{source}.jsonl")
    return [
        ([SQLiteSink(tmp / "a.db")], SQLiteStateStore(tmp / "a.db"), 0),
        (
            [JSONLSink(tmp / "o" / "x.jsonl"), SQLiteSink(tmp / "a.db")],
            SQLiteStateStore(tmp / "a.db"),
            1,
        ),
        ([SQLiteSink(tmp / "b.db")], SQLiteStateStore(tmp / "a.db"), None),
        ([SQLiteSink(tmp / "a.db")], MemoryStateStore(), None),
        ([SQLiteSink(":memory:")], SQLiteStateStore(":memory:"), None),
        ([jsonl], SQLiteStateStore(jsonl.index_path), 0),
        ([MemorySink()], SQLiteStateStore(tmp / "a.db"), None),
    ]


def test_a_sqlite_or_jsonl_sink_saves_the_checkpoint_when_the_store_reads_its_file(
    tmp_path: Path,
) -> None:
    for sinks, store, expected in _sqlite_cases(tmp_path):
        chosen = checkpoint_sink_for(sinks, store)
        assert chosen is (None if expected is None else sinks[expected]), (sinks, store)


def test_a_relative_and_an_absolute_path_to_one_file_share(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    sink = SQLiteSink("./state/c.db")
    assert checkpoint_sink_for([sink], SQLiteStateStore(tmp_path / "state" / "c.db")) is sink
    assert checkpoint_sink_for([sink], create_state_store("sqlite:///./state/c.db")) is sink


@pytest.mark.parametrize(
    ("sink", "store", "shares"),
    [
        (PostgresSink(PG), PostgresStateStore(PG), True),
        (PostgresSink(PG + "2"), PostgresStateStore(PG), False),
        (PostgresSink(PG, state_table="other"), PostgresStateStore(PG), False),
        (PostgresSink(PG, state_table="other"), PostgresStateStore(PG, table="other"), True),
        (RedisStreamSink(REDIS), RedisStateStore(REDIS), True),
        (RedisStreamSink(REDIS, state_prefix="x:state"), RedisStateStore(REDIS), False),
        (RedisStreamSink(REDIS), RedisStateStore("redis://127.0.0.1:1/1"), False),
        (RedisStreamSink(REDIS), PostgresStateStore(PG), False),
    ],
)
def test_a_server_sink_shares_a_store_on_the_same_url_and_table(
    sink: Any, store: StateStore, shares: bool
) -> None:
    """No server is contacted: the decision is made from the objects alone."""
    assert sink.shares_state_with(store) is shares
    assert checkpoint_sink_for([MemorySink(), sink], store) is (sink if shares else None)


def test_without_a_state_store_no_sink_is_chosen(tmp_path: Path) -> None:
    assert checkpoint_sink_for([SQLiteSink(tmp_path / "a.db")], None) is None


class _Page:
    def __init__(self, events: list[dict[str, Any]], state: Mapping[str, Any]) -> None:
        self.events, self.state = events, state


async def _pages(count: int) -> Any:
    for n in range(count):
        yield _Page([{"id": f"e{n}-{i}"} for i in range(3)], {"cursor": n + 1})


class _CountingStore(SQLiteStateStore):
    """A real SQLite store that counts the checkpoints written through it."""

    puts = 0

    async def put(self, namespace: str, key: str, value: Mapping[str, Any], **kw: Any) -> int:
        self.puts += 1
        return await super().put(namespace, key, value, **kw)


async def test_deliver_commits_the_checkpoint_with_the_records_in_the_shared_file(
    tmp_path: Path,
) -> None:
    sink, store = SQLiteSink(tmp_path / "a.db"), _CountingStore(tmp_path / "a.db")
    async with sink, store:
        report = await deliver(_pages(4), source="s", sinks=[sink], state_store=store)
        assert (report.checkpoints, store.puts) == (4, 0)  # the sink's transaction saved them
        assert await read_checkpoint(store, "s") == {"cursor": 4}
        assert await sink.count() == 12


async def test_deliver_leaves_the_checkpoint_to_the_store_for_another_file(tmp_path: Path) -> None:
    sink, store = SQLiteSink(tmp_path / "events.db"), _CountingStore(tmp_path / "state.db")
    async with sink, store:
        report = await deliver(_pages(3), source="s", sinks=[sink], state_store=store)
        assert (report.checkpoints, store.puts) == (3, 3)
        assert await read_checkpoint(store, "s") == {"cursor": 3}


def test_no_configured_type_string_is_compared_outside_config() -> None:
    """Which object does what is asked of the object, not of its YAML ``type``."""
    root = Path(collectorkit.__file__).parent
    pattern = re.compile(
        r"""\btype\s*(==|!=)\s*["'](http|sse|websocket|long_poll|sqlite|"""
        r"""postgres|redis|jsonl|memory)["']"""
    )
    found = [
        f"{path.relative_to(root)}:{n}"
        for path in root.rglob("*.py")
        if "config" not in path.relative_to(root).parts[:1]
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []


class _CountingPostgres(PostgresStateStore):
    puts = 0

    async def put(self, namespace: str, key: str, value: Mapping[str, Any], **kw: Any) -> int:
        self.puts += 1
        return await super().put(namespace, key, value, **kw)


class _CountingRedis(RedisStateStore):
    puts = 0

    async def put(self, namespace: str, key: str, value: Mapping[str, Any], **kw: Any) -> int:
        self.puts += 1
        return await super().put(namespace, key, value, **kw)


@pytest.mark.integration
async def test_postgres_sink_commits_the_checkpoint_the_store_reads(
    postgres_fresh_url: str,
) -> None:
    sink, store = PostgresSink(postgres_fresh_url), _CountingPostgres(postgres_fresh_url)
    async with sink, store:
        report = await deliver(_pages(3), source="s", sinks=[sink], state_store=store)
        assert (report.checkpoints, store.puts) == (3, 0)
        assert await read_checkpoint(store, "s") == {"cursor": 3}
        assert await sink.count() == 9


@pytest.mark.integration
async def test_redis_sink_commits_the_checkpoint_the_store_reads(redis_fresh_url: str) -> None:
    sink, store = RedisStreamSink(redis_fresh_url), _CountingRedis(redis_fresh_url)
    async with sink, store:
        report = await deliver(_pages(3), source="s", sinks=[sink], state_store=store)
        assert (report.checkpoints, store.puts) == (3, 0)
        assert await read_checkpoint(store, "s") == {"cursor": 3}
        assert (await store.get("collector_state", "s")).version == 3  # type: ignore[union-attr]
        assert await sink.count() == 9
