"""The checkpoint protocol with a streaming source: stop anywhere, resume, every event once.

A stream is consumed into a real SQLite sink, with the source's ``last_event_id`` committed in the
same transaction as each batch. The consumer "crashes" (stops without any goodbye) after a few
batches, while the server also drops connections; each restart resumes from the committed
checkpoint. In the end the sink holds every event exactly once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from collectorkit import Envelope, FakeClock, record_key
from collectorkit.sinks import SQLiteSink
from collectorkit.sources import ReconnectPolicy, SSESource, StreamingSource, WebSocketSource
from collectorkit.state import SQLiteStateStore
from collectorkit.typing import Checkpoint

from .conftest import FeedServer

TOTAL = 40


def make_source(server: FeedServer, kind: str, last_event_id: str | None) -> StreamingSource:
    options: dict[str, Any] = {
        "source_id": "feed",
        "batch_size": 4,
        "batch_timeout": 0.2,
        "clock": FakeClock(),
        "reconnect": ReconnectPolicy(jitter=0),
        "last_event_id": last_event_id,
    }
    if kind == "sse":
        return SSESource(server.url("/sse"), **options)
    return WebSocketSource(server.url("/ws", "ws"), **options)


async def run_until_crash(source: StreamingSource, sink: SQLiteSink, batches: int) -> int:
    """Take up to ``batches`` batches, committing each with its checkpoint; then stop dead.

    Stops early when the stream is caught up (a batch window passes with nothing new).
    """
    stored = 0
    await source.connect()
    for _ in range(batches):
        batch = await source.collect()
        if not batch:
            break
        envelopes = [Envelope("feed", record_key("feed", r, ["id"]), r) for r in batch]
        checkpoint = Checkpoint("sources", "feed", {"last_event_id": source.last_event_id})
        await sink.store_with_checkpoint(envelopes, checkpoint)
        stored += len(batch)
    await source.aclose()  # records read but not yet handed out are simply dropped
    return stored


@pytest.mark.parametrize("kind", ["sse", "websocket"])
async def test_crash_and_resume_stores_every_event_once(
    feed_server: FeedServer, tmp_path: Path, kind: str
) -> None:
    feed_server.feed.total = TOTAL
    feed_server.feed.drop_after = [5, 9, 2, 13]
    feed_server.feed.replay_last = True
    db = tmp_path / "events.db"
    restarts = 0
    while True:
        state = SQLiteStateStore(db)
        saved = await state.get("sources", "feed")
        await state.aclose()
        last = saved.value["last_event_id"] if saved else None
        if last == str(TOTAL):
            break
        sink = SQLiteSink(db)
        await sink.connect()
        await run_until_crash(make_source(feed_server, kind, last), sink, batches=3)
        await sink.aclose()
        restarts += 1
    assert restarts >= TOTAL // 12
    sink = SQLiteSink(db)
    await sink.connect()
    stored = await sink.query()
    await sink.aclose()
    assert sorted(int(e.data["seq"]) for e in stored) == list(range(1, TOTAL + 1))


async def test_crash_between_store_and_checkpoint_duplicates_nothing(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """Without a shared transaction the batch is re-sent after the crash; the sink's key stops
    the duplicate."""
    feed_server.feed.total = 12
    sink = SQLiteSink(tmp_path / "events.db")
    await sink.connect()
    source = make_source(feed_server, "sse", None)
    await source.connect()
    committed: str | None = None
    async for batch in source.collect_stream():
        await sink.store([Envelope("feed", record_key("feed", r, ["id"]), r) for r in batch])
        if source.last_event_id == "8":
            break  # crash: stored, but the checkpoint "8" was never saved
        committed = source.last_event_id
    await source.aclose()
    assert committed == "4"
    source = make_source(feed_server, "sse", committed)
    source.max_events = 8
    await source.connect()
    async for batch in source.collect_stream():
        result = await sink.store(
            [Envelope("feed", record_key("feed", r, ["id"]), r) for r in batch]
        )
        assert result.written + result.duplicates == len(batch)
    await source.aclose()
    stored = await sink.query()
    await sink.aclose()
    assert sorted(int(e.data["seq"]) for e in stored) == list(range(1, 13))
