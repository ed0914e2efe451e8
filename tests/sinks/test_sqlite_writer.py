"""SQLiteSink writes: another writer holding the lock, WAL checkpoints, big batches."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from collectorkit import Envelope, record_key
from collectorkit.sinks import SQLiteSink, _sqlite
from collectorkit.state import SQLiteStateStore
from collectorkit.typing import Checkpoint


def _batch(ids: range) -> list[Envelope]:
    return [Envelope("x", record_key("x", {"id": i}, ["id"]), {"id": i}) for i in ids]


async def test_a_page_waits_for_another_writer_without_stalling_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    async with SQLiteSink(path) as sink:
        await sink.store(_batch(range(2)))
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another process writing the same file
            task = asyncio.ensure_future(
                sink.store_with_checkpoint(_batch(range(2, 5)), Checkpoint("cp", "x", {"p": 1}))
            )
            start = time.monotonic()
            for _ in range(20):  # the loop keeps running while the page waits for the lock
                await asyncio.sleep(0.005)
            stalled = time.monotonic() - start
            assert not task.done()
            other.execute("COMMIT")
        finally:
            other.close()
        assert (await task).written == 3
        assert stalled < 2.0  # not the lock's 10 s timeout on the loop's thread
        assert await sink.count() == 5
    store = SQLiteStateStore(path)
    try:
        found = await store.get("cp", "x")
        assert found is not None
        assert dict(found.value) == {"p": 1}
    finally:
        await store.aclose()


async def test_the_wal_is_checkpointed_every_so_many_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_sqlite, "_CHECKPOINT_EVERY", 3)
    path = tmp_path / "e.db"
    async with SQLiteSink(path) as sink:
        await sink.store(_batch(range(100)))
        before = path.stat().st_size  # so far everything sits in the WAL
        for start in range(100, 400, 100):
            await sink.store(_batch(range(start, start + 100)))
        assert path.stat().st_size > before


@pytest.mark.parametrize("synchronous", ["NORMAL", "FULL"])
async def test_big_batches_and_synced_commits_store_once(tmp_path: Path, synchronous: str) -> None:
    async with SQLiteSink(tmp_path / "e.db", synchronous=synchronous) as sink:
        assert (await sink.store(_batch(range(2500)))).written == 2500
        again = await sink.store(_batch(range(2400, 2600)))
        assert (again.written, again.duplicates) == (100, 100)
        assert await sink.count() == 2600
