"""SSESource against a real local server: batches, reconnect with backoff, resume, no loss/dup."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from collectorkit import FakeClock, SourceError
from collectorkit.sources import ReconnectPolicy, SSESource
from collectorkit.typing import DataSource

from .conftest import FeedServer

NO_JITTER = ReconnectPolicy(initial_delay=0.5, jitter=0.0)


def source(server: FeedServer, **options: Any) -> SSESource:
    options.setdefault("reconnect", NO_JITTER)
    options.setdefault("clock", FakeClock())
    options.setdefault("batch_timeout", 0.05)
    return SSESource(server.url("/sse"), source_id="feed", **options)


async def drain(src: SSESource) -> list[list[dict[str, Any]]]:
    async with src:
        return [batch async for batch in src.collect_stream()]


def seqs(batches: list[list[dict[str, Any]]]) -> list[int]:
    return [record["seq"] for batch in batches for record in batch]


async def test_is_a_data_source_and_reads_every_event(feed_server: FeedServer) -> None:
    src = source(feed_server, max_events=20, batch_size=8)
    assert isinstance(src, DataSource)
    batches = await drain(src)
    assert seqs(batches) == list(range(1, 21))
    assert all(len(b) <= 8 for b in batches)
    assert src.last_event_id == "20"
    assert src.state == {"last_event_id": "20"}
    assert src.reconnects == 0


@pytest.mark.parametrize("abort", [False, True], ids=["clean-close", "broken-connection"])
async def test_dropped_connections_resume_without_loss_or_duplicates(
    feed_server: FeedServer, abort: bool
) -> None:
    feed_server.feed.drop_after = [3, 5, 0, 4]
    feed_server.feed.abort = abort
    clock = FakeClock()
    src = source(feed_server, max_events=20, clock=clock)
    assert seqs(await drain(src)) == list(range(1, 21))
    # each reconnect asked for the events after the last complete one it had
    assert feed_server.feed.resume_ids == [None, "3", "8", "8", "12"]
    assert src.reconnects == 4
    # backoff: a connection that delivered resets it; the empty one (drop after 0) doubles it
    assert clock.sleeps == [0.5, 0.5, 1.0, 0.5]


async def test_replayed_event_on_resume_is_dropped(feed_server: FeedServer) -> None:
    feed_server.feed.drop_after = [4]
    feed_server.feed.replay_last = True
    src = source(feed_server, max_events=20)
    assert seqs(await drain(src)) == list(range(1, 21))
    assert src.duplicates_dropped == 1


async def test_server_retry_field_sets_the_reconnect_delay(feed_server: FeedServer) -> None:
    feed_server.feed.drop_after = [2]
    feed_server.feed.retry_ms = 2500
    clock = FakeClock()
    src = source(feed_server, max_events=20, clock=clock)
    assert seqs(await drain(src)) == list(range(1, 21))
    assert clock.sleeps == [2.5]


async def test_checkpoint_then_restart_continues_after_it(feed_server: FeedServer) -> None:
    first = source(feed_server, max_events=7, batch_size=3)
    got = seqs(await drain(first))
    assert got == list(range(1, 8))
    saved = first.last_event_id
    assert saved == "7"
    second = source(feed_server, max_events=13, last_event_id=saved)
    assert seqs(await drain(second)) == list(range(8, 21))
    assert feed_server.feed.resume_ids[-1] == "7"


async def test_retryable_status_backs_off_then_serves(feed_server: FeedServer) -> None:
    feed_server.feed.status = [503, 502]
    clock = FakeClock()
    src = source(feed_server, max_events=20, clock=clock)
    assert seqs(await drain(src)) == list(range(1, 21))
    assert clock.sleeps == [0.5, 1.0]


async def test_client_error_status_fails_at_once(feed_server: FeedServer) -> None:
    feed_server.feed.status = [404]
    src = source(feed_server, max_events=20)
    with pytest.raises(SourceError, match=r"feed: GET http://127\.0\.0\.1:\d+/sse answered 404"):
        await drain(src)
    assert src.reconnects == 0


async def test_unreachable_server_gives_up_after_max_attempts() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        clock = FakeClock()
        src = SSESource(
            f"http://127.0.0.1:{port}/sse",
            source_id="down",
            reconnect=ReconnectPolicy(initial_delay=1, multiplier=2, jitter=0, max_attempts=4),
            clock=clock,
        )
        with pytest.raises(SourceError, match=r"down: gave up after 4 reconnects: .*failed"):
            await drain(src)
    assert clock.sleeps == [1, 2, 4, 8]


async def test_stop_event_ends_the_stream(feed_server: FeedServer) -> None:
    stop = asyncio.Event()
    src = source(feed_server, stop=stop, batch_size=5)
    seen: list[int] = []
    async with src:
        async for batch in src.collect_stream():
            seen += [r["seq"] for r in batch]
            if len(seen) >= 10:
                stop.set()
    assert seen[:10] == list(range(1, 11))
    assert seen == list(range(1, len(seen) + 1))


async def test_collect_returns_what_arrives_within_one_batch_window(
    feed_server: FeedServer,
) -> None:
    src = source(feed_server, batch_size=50, batch_timeout=0.5)
    async with src:
        first = await src.collect()
        assert [r["seq"] for r in first] == list(range(1, 21))
        assert await src.collect() == []  # caught up: only heartbeats arrive


async def test_event_type_filter(feed_server: FeedServer) -> None:
    src = source(feed_server, event_types={"other"}, batch_timeout=0.05)
    async with src:
        for _ in range(200):  # until the whole feed went past the filter
            assert await src.collect() == []
            if src._received == "20":
                break
        assert src._received == "20"
    src = source(feed_server, max_events=3, event_types={"alert"})
    assert seqs(await drain(src)) == [1, 2, 3]


def test_repr_hides_credentials() -> None:
    src = SSESource("https://user:hunter22@feed.test/sse?token=abc123", source_id="s")
    assert "hunter22" not in repr(src)
    assert "abc123" not in repr(src)


def test_credential_headers_are_masked_in_logs() -> None:
    from collectorkit.http._redact import redact_text

    SSESource("https://feed.test/sse", headers={"Authorization": "Bearer abc-98765"})
    assert redact_text("sent abc-98765") == "sent ***"
