"""WebSocketSource and LongPollSource against a real server: reconnect, resume, no loss/dup."""

from __future__ import annotations

from typing import Any

import pytest

from collectorkit import FakeClock, SourceError
from collectorkit.sources import LongPollSource, ReconnectPolicy, StreamingSource, WebSocketSource
from collectorkit.typing import DataSource

from .conftest import FeedServer

NO_JITTER = ReconnectPolicy(initial_delay=0.5, jitter=0.0)


def _common(options: dict[str, Any]) -> dict[str, Any]:
    options.setdefault("reconnect", NO_JITTER)
    options.setdefault("clock", FakeClock())
    options.setdefault("batch_timeout", 0.05)
    return options


def ws_source(server: FeedServer, query: str = "", **options: Any) -> WebSocketSource:
    return WebSocketSource(server.url("/ws" + query, "ws"), source_id="ws", **_common(options))


def poll_source(server: FeedServer, **options: Any) -> LongPollSource:
    return LongPollSource(server.url("/poll"), source_id="poll", poll_timeout=1, **_common(options))


async def seqs(src: StreamingSource) -> list[int]:
    got: list[int] = []
    async with src:
        async for batch in src.collect_stream():
            got += [r["seq"] for r in batch if "seq" in r]
    return got


# --- WebSocket -------------------------------------------------------------------------------


async def test_websocket_reads_every_message(feed_server: FeedServer) -> None:
    src = ws_source(feed_server, max_events=20, batch_size=6)
    assert isinstance(src, DataSource)
    assert await seqs(src) == list(range(1, 21))
    assert src.last_event_id == "20"


async def test_websocket_drops_resume_by_header(feed_server: FeedServer) -> None:
    feed_server.feed.drop_after = [5, 0, 7]
    clock = FakeClock()
    src = ws_source(feed_server, max_events=20, clock=clock)
    assert await seqs(src) == list(range(1, 21))
    assert feed_server.feed.resume_ids == [None, "5", "5", "12"]
    assert clock.sleeps == [0.5, 1.0, 0.5]  # the empty connection doubled the wait


async def test_websocket_resume_by_query_parameter(feed_server: FeedServer) -> None:
    feed_server.feed.drop_after = [4]
    src = ws_source(feed_server, max_events=20, resume_header=None, resume_param="last_event_id")
    assert await seqs(src) == list(range(1, 21))
    assert feed_server.feed.resume_ids == [None, "4"]


async def test_websocket_resume_by_first_message(feed_server: FeedServer) -> None:
    feed_server.feed.drop_after = [6]
    src = ws_source(
        feed_server,
        "?expect_resume_message=1",
        max_events=20,
        resume_header=None,
        resume_message=lambda token: {"resume": token},
    )
    assert await seqs(src) == list(range(1, 21))
    assert feed_server.feed.resume_ids == [None, "6"]


async def test_websocket_replay_is_deduplicated(feed_server: FeedServer) -> None:
    feed_server.feed.drop_after = [3]
    feed_server.feed.replay_last = True
    src = ws_source(feed_server, max_events=20)
    assert await seqs(src) == list(range(1, 21))
    assert src.duplicates_dropped == 1


async def test_websocket_restart_from_checkpoint(feed_server: FeedServer) -> None:
    first = ws_source(feed_server, max_events=9, batch_size=4)
    assert await seqs(first) == list(range(1, 10))
    second = ws_source(feed_server, max_events=11, last_event_id=first.last_event_id)
    assert await seqs(second) == list(range(10, 21))


async def test_websocket_refused_handshake_is_fatal(feed_server: FeedServer) -> None:
    src = WebSocketSource(feed_server.url("/nope", "ws"), source_id="ws", clock=FakeClock())
    with pytest.raises(SourceError, match="refused the upgrade: 403"):
        await seqs(src)


# --- long poll -------------------------------------------------------------------------------


async def test_long_poll_follows_the_cursor(feed_server: FeedServer) -> None:
    src = poll_source(feed_server, max_events=20, batch_size=5)
    assert isinstance(src, DataSource)
    assert await seqs(src) == list(range(1, 21))
    # pages of three: the cursor advances by the server's next_cursor
    assert feed_server.feed.resume_ids[:4] == [None, "3", "6", "9"]
    assert src.last_event_id == "20"


async def test_long_poll_backs_off_on_errors(feed_server: FeedServer) -> None:
    feed_server.feed.status = [503, 429, 500]
    clock = FakeClock()
    src = poll_source(feed_server, max_events=20, clock=clock)
    assert await seqs(src) == list(range(1, 21))
    assert clock.sleeps[:3] == [0.5, 1.0, 2.0]


async def test_long_poll_checkpoint_inside_a_response_does_not_skip(
    feed_server: FeedServer,
) -> None:
    # a batch of 4 ends inside the second response (records 4..6): the checkpoint must point
    # before that response, so that 5 and 6 come again after a restart
    first = poll_source(feed_server, max_events=4, batch_size=4)
    assert await seqs(first) == [1, 2, 3, 4]
    assert first.last_event_id == "3"
    second = poll_source(feed_server, max_events=17, last_event_id=first.last_event_id)
    again = await seqs(second)
    assert again[:3] == [4, 5, 6]
    assert sorted({1, 2, 3, 4, *again}) == list(range(1, 21))


async def test_long_poll_idle_responses_wait_before_polling_again(
    feed_server: FeedServer,
) -> None:
    feed_server.feed.total = 2
    clock = FakeClock()
    src = poll_source(feed_server, clock=clock, idle_delay=0.25, batch_timeout=0.5)
    async with src:
        assert [r["seq"] for r in await src.collect()] == [1, 2]
        assert await src.collect() == []
    assert clock.sleeps
    assert set(clock.sleeps) == {0.25}


async def test_long_poll_missing_records_is_fatal(feed_server: FeedServer) -> None:
    src = poll_source(feed_server, data_path="items", max_events=1)
    with pytest.raises(SourceError, match="no list of records at 'items'"):
        await seqs(src)
