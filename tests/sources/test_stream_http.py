"""The SSE and long-poll sources read through ``collectorkit.http``: the auth flow (one refresh
on 401), the cross-origin rule, the transport seam and the client's request metrics."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from pytest_httpserver import HTTPServer

from collectorkit import BearerTokenAuthHandler, FakeClock
from collectorkit.http import AuthHandler, Request, Response
from collectorkit.sources import LongPollSource, ReconnectPolicy, SSESource, WebSocketSource
from collectorkit.testing import MockTransport

from .conftest import FeedServer

TOKEN = "feed-token-6120"


class RefreshingAuth(AuthHandler):
    def __init__(self) -> None:
        self.refreshes = 0

    def on_request(self, request: Request) -> None:
        request.headers["Authorization"] = f"Bearer session-{self.refreshes}"

    def on_auth_failure(self, response: Response) -> bool:
        self.refreshes += 1
        return True


async def _drain(src: SSESource | LongPollSource | WebSocketSource) -> list[dict[str, Any]]:
    async with src:
        return [record async for batch in src.collect_stream() for record in batch]


@pytest.fixture
def other() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.stop()


async def test_sse_requests_are_counted_by_the_client_metrics(feed_server: FeedServer) -> None:
    feed_server.feed.drop_after = [3]
    src = SSESource(
        feed_server.url("/sse"),
        max_events=20,
        batch_timeout=0.05,
        reconnect=ReconnectPolicy(initial_delay=0.5, jitter=0.0),
        clock=FakeClock(),
    )
    assert len(await _drain(src)) == 20
    assert src.metrics.total_requests == 2  # the first connection and one reconnect
    assert src.metrics.successful_requests == 2


async def test_a_401_refreshes_the_credentials_once_through_the_auth_flow(
    feed_server: FeedServer,
) -> None:
    feed_server.feed.status = [401]
    auth = RefreshingAuth()
    src = SSESource(
        feed_server.url("/sse"), auth=auth, max_events=20, batch_timeout=0.05, clock=FakeClock()
    )
    assert len(await _drain(src)) == 20
    assert auth.refreshes == 1
    assert src.reconnects == 0
    assert src.metrics.auth_errors == 1


async def test_credentials_do_not_follow_a_redirect_to_another_origin(
    httpserver: HTTPServer, other: HTTPServer
) -> None:
    httpserver.expect_request("/sse").respond_with_data(
        "", status=307, headers={"Location": other.url_for("/events")}
    )
    body = "".join(f"id: {n}\ndata: {orjson.dumps({'n': n}).decode()}\n\n" for n in range(3))
    other.expect_request("/events").respond_with_data(body, content_type="text/event-stream")
    src = SSESource(
        httpserver.url_for("/sse"),
        auth=BearerTokenAuthHandler(TOKEN),
        headers={"X-Api-Key": "feed-key-0042"},
        max_events=3,
        batch_timeout=0.05,
        clock=FakeClock(),
    )
    assert [r["n"] for r in await _drain(src)] == [0, 1, 2]
    first, moved = httpserver.log[0][0], other.log[0][0]
    assert first.headers.get("Authorization") == f"Bearer {TOKEN}"
    assert moved.headers.get("Authorization") is None
    assert moved.headers.get("X-Api-Key") is None


async def test_sse_reads_through_the_transport_seam() -> None:
    def handler(request: Request) -> Response:
        body = b"".join(b'id: %d\ndata: {"n": %d}\n\n' % (n, n) for n in range(4))
        return Response(200, headers={"Content-Type": "text/event-stream"}, content=body)

    transport = MockTransport(handler)
    src = SSESource(
        "https://feed.test/sse",
        auth=BearerTokenAuthHandler(TOKEN),
        transport=transport,
        max_events=4,
        batch_timeout=0.05,
        clock=FakeClock(),
    )
    assert [r["n"] for r in await _drain(src)] == [0, 1, 2, 3]
    sent = transport.requests[0]
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["Accept"] == "text/event-stream"


async def test_long_poll_reads_through_the_transport_seam_with_auth() -> None:
    def handler(request: Request) -> Response:
        cursor = int(request.url.partition("cursor=")[2].partition("&")[0] or 0)
        events = [{"id": str(n)} for n in range(cursor + 1, min(cursor + 3, 6) + 1)]
        body = {"events": events, "next_cursor": events[-1]["id"] if events else None}
        return Response(200, content=orjson.dumps(body))

    transport = MockTransport(handler)
    src = LongPollSource(
        "https://feed.test/poll",
        auth=BearerTokenAuthHandler(TOKEN),
        transport=transport,
        max_events=6,
        batch_timeout=0.05,
        clock=FakeClock(),
    )
    assert [r["id"] for r in await _drain(src)] == ["1", "2", "3", "4", "5", "6"]
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in transport.requests)
    assert src.metrics.total_requests == len(transport.requests) >= 2


async def test_websocket_handshake_takes_credentials_from_the_auth_flow(
    feed_server: FeedServer,
) -> None:
    auth = RefreshingAuth()
    src = WebSocketSource(
        feed_server.url("/ws", scheme="ws"), auth=auth, max_events=5, batch_timeout=0.05
    )
    assert [r["seq"] for r in await _drain(src)] == [1, 2, 3, 4, 5]
    assert auth.refreshes == 0
