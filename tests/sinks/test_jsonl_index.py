"""JSONL index: pages with some keys already held, failed commits, the earlier index layout,
files shorter than their offset, WAL checkpoints, durable mode and concurrent use."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import orjson
import pytest

from collectorkit import ConfigError, Envelope, record_key
from collectorkit.sinks import JSONLSink, _jsonl
from collectorkit.state import SQLiteStateStore
from collectorkit.typing import Checkpoint, QueryCriteria


def _batch(source: str, ids: range | list[int]) -> list[Envelope]:
    return [
        Envelope(source, record_key(source, {"id": i}, ["id"]), {"id": i, "n": "x" * 40})
        for i in ids
    ]


def _ids(path: Path) -> list[object]:
    return [orjson.loads(x)["data"]["id"] for x in path.read_bytes().splitlines()]


async def test_a_page_with_some_keys_held_writes_only_the_new_ones(tmp_path: Path) -> None:
    async with JSONLSink(tmp_path / "{source}.jsonl") as sink:
        await sink.store(_batch("a", range(4)) + _batch("b", range(2)))
        # "a" partly held, "b" wholly held, "c" new: three files in one transaction
        batch = _batch("a", [1, 4, 3, 5]) + _batch("b", range(2)) + _batch("c", range(2))
        result = await sink.store(batch)
        assert (result.written, result.duplicates) == (4, 4)
        again = await sink.store(batch)
        assert (again.written, again.duplicates) == (0, 8)
    assert _ids(tmp_path / "a.jsonl") == [0, 1, 2, 3, 4, 5]
    assert _ids(tmp_path / "b.jsonl") == [0, 1]
    assert _ids(tmp_path / "c.jsonl") == [0, 1]


async def test_a_failed_commit_leaves_nothing_and_the_page_is_written_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "e.jsonl"
    sink = JSONLSink(path)
    await sink.store(_batch("x", range(2)))
    committed = path.stat().st_size
    bad = Checkpoint("cp", "x", {"cursor": object()})  # fails after the lines were written
    with pytest.raises(ConfigError, match="value"):
        await sink.store_with_checkpoint(_batch("x", range(2, 5)), bad)
    assert len(await sink.query(QueryCriteria())) == 2  # only committed bytes are read
    result = await sink.store_with_checkpoint(
        _batch("x", range(2, 5)), Checkpoint("cp", "x", {"cursor": "c1"})
    )
    assert result.written == 3
    await sink.aclose()
    assert _ids(path) == [0, 1, 2, 3, 4]
    assert path.stat().st_size > committed
    store = SQLiteStateStore(sink.index_path)
    try:
        assert dict((await store.get("cp", "x")).value) == {"cursor": "c1"}  # type: ignore[union-attr]
    finally:
        await store.aclose()


async def test_a_failed_commit_is_cut_off_on_restart(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    sink = JSONLSink(path)
    await sink.store(_batch("x", range(2)))
    committed = path.stat().st_size
    with pytest.raises(ConfigError):
        await sink.store_with_checkpoint(
            _batch("x", range(2, 4)), Checkpoint("cp", "x", {"c": {1}})
        )
    await sink.aclose()
    async with JSONLSink(path) as again:
        assert path.stat().st_size == committed
        assert (await again.store(_batch("x", range(4)))).written == 2
    assert _ids(path) == [0, 1, 2, 3]


def _old_index(index: Path, jsonl: Path) -> None:
    """The index layout of earlier versions: tables ``files`` and ``keys`` (path per key)."""
    lines = [
        orjson.dumps({"key": e.key, "source": e.source, "data": e.data}) + b"\n"
        for e in _batch("x", range(2))
    ]
    jsonl.write_bytes(b"".join(lines) + b'{"key": "x:9", "half')  # and an uncommitted tail
    db = sqlite3.connect(index)
    with db:
        db.execute(
            "CREATE TABLE files (path TEXT PRIMARY KEY, base TEXT NOT NULL, "
            "segment INTEGER NOT NULL, committed INTEGER NOT NULL)"
        )
        db.execute("CREATE TABLE keys (key TEXT PRIMARY KEY, path TEXT NOT NULL) WITHOUT ROWID")
        db.execute(
            "INSERT INTO files VALUES (?, ?, 0, ?)", (str(jsonl), str(jsonl), len(b"".join(lines)))
        )
        db.executemany("INSERT INTO keys VALUES (?, ?)", [("x:0", str(jsonl)), ("x:1", str(jsonl))])
    db.close()


async def test_an_index_of_the_earlier_layout_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    _old_index(tmp_path / "e.jsonl.index.db", path)
    async with JSONLSink(path) as sink:
        result = await sink.store(_batch("x", range(3)))
        assert (result.written, result.duplicates) == (1, 2)
        assert await sink.delete("x:0")
        assert sorted(e.data["id"] for e in await sink.query(QueryCriteria())) == [1, 2]
    assert _ids(path) == [1, 2]
    db = sqlite3.connect(tmp_path / "e.jsonl.index.db")
    try:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        db.close()
    assert {"files", "keys"}.isdisjoint(tables)


async def test_a_file_shorter_than_its_offset_is_taken_as_it_is(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # e.g. a delete killed between replacing the file and committing the index
    path = tmp_path / "e.jsonl"
    async with JSONLSink(path) as sink:
        await sink.store(_batch("x", range(3)))
    path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:2]))
    with caplog.at_level(logging.WARNING):
        async with JSONLSink(path) as again:
            assert (await again.store(_batch("x", range(5)))).written == 2
            assert len(await again.query(QueryCriteria())) == 4
    assert "e.jsonl" in caplog.text
    assert b"\x00" not in path.read_bytes()
    assert _ids(path) == [0, 1, 3, 4]


async def test_the_wal_is_checkpointed_every_so_many_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_jsonl, "_CHECKPOINT_EVERY", 3)
    index = tmp_path / "e.jsonl.index.db"
    async with JSONLSink(tmp_path / "e.jsonl") as sink:
        await sink.store(_batch("x", range(100)))
        before = index.stat().st_size  # everything so far sits in the WAL
        for start in range(100, 400, 100):
            await sink.store(_batch("x", range(start, start + 100)))
        assert index.stat().st_size > before


async def test_durable_mode_stores_and_restarts(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    async with JSONLSink(path, fsync=True) as sink:
        checkpoint = Checkpoint("cp", "x", {"page": 1})
        assert (await sink.store_with_checkpoint(_batch("x", range(3)), checkpoint)).written == 3
    async with JSONLSink(path, fsync=True) as again:
        assert (await again.store(_batch("x", range(4)))).written == 1
    assert _ids(path) == [0, 1, 2, 3]


async def test_concurrent_stores_queries_and_deletes(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    async with JSONLSink(path) as sink:
        await sink.store(_batch("x", range(10)))
        # a store that finds the index busy (a query reading in a worker thread) waits its turn
        results = await asyncio.gather(
            sink.query(QueryCriteria()),
            *(sink.store(_batch("x", range(i, i + 10))) for i in range(5, 100, 5)),
            sink.delete("x:0"),
            sink.query(QueryCriteria(limit=3)),
        )
        assert results[-2] is True
        assert isinstance(results[-1], list)
        assert len(results[-1]) == 3
        found = sorted(int(e.data["id"]) for e in await sink.query(QueryCriteria()))
    assert found == list(range(1, 105))
    assert sorted(int(str(i)) for i in _ids(path)) == found
