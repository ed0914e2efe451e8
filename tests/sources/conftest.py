"""A real local feed server (Starlette under uvicorn on 127.0.0.1:0) for the streaming sources.

It serves one numbered event log three ways — SSE (``/sse``), WebSocket (``/ws``) and long poll
(``/poll``) — resumes after the ``Last-Event-ID`` header (or ``last_event_id`` query parameter or
a ``{"resume": id}`` first message), and can drop connections mid-stream so that tests prove
reconnect + resume loses and duplicates nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect


@dataclass
class Feed:
    """The event log and the faults to inject; records what clients asked for."""

    total: int = 20
    drop_after: list[int] = field(default_factory=list)
    """Per connection (in order): events to send before dropping it; later connections don't."""
    abort: bool = False
    """Drop by breaking the connection (incomplete chunked body) instead of ending it cleanly."""
    replay_last: bool = False
    """On resume, send the event the client said it had again (a common server habit)."""
    retry_ms: int | None = None
    status: list[int] = field(default_factory=list)
    """Statuses to answer the first connections with before serving."""
    poll_page: int = 3
    resume_ids: list[str | None] = field(default_factory=list)
    connections: int = 0

    def event(self, n: int) -> dict[str, Any]:
        return {"id": str(n), "seq": n, "payload": f"event-{n}"}

    def start_after(self, last_id: str | None) -> int:
        self.resume_ids.append(last_id)
        first = int(last_id) + 1 if last_id else 1
        return first - 1 if self.replay_last and last_id else first

    def budget(self) -> int | None:
        index = self.connections
        self.connections += 1
        return self.drop_after[index] if index < len(self.drop_after) else None

    def next_status(self) -> int | None:
        return self.status.pop(0) if self.status else None


class _AbortError(Exception):
    """Raised inside a streaming body: uvicorn then breaks the connection mid-body."""


def build_app(feed: Feed) -> Starlette:
    async def sse(request: Request) -> Response:
        status = feed.next_status()
        if status is not None:
            return Response("unavailable", status_code=status)
        first = feed.start_after(request.headers.get("last-event-id"))
        budget = feed.budget()

        async def body() -> AsyncIterator[str]:
            if feed.retry_ms is not None:
                yield f"retry: {feed.retry_ms}\n\n"
            yield ": hello\n\n"
            for sent, n in enumerate(range(first, feed.total + 1)):
                if budget is not None and sent >= budget:
                    # half an event, then the connection goes away: it must not be delivered
                    yield f"id: {n}\ndata: {json.dumps(feed.event(n))}\n"
                    if feed.abort:
                        raise _AbortError
                    return
                yield f"id: {n}\nevent: alert\ndata: {json.dumps(feed.event(n))}\n\n"
            while True:  # caught up: heartbeats until the client leaves
                await asyncio.sleep(0.02)
                yield ": ping\n\n"

        return StreamingResponse(body(), media_type="text/event-stream")

    async def ws(websocket: WebSocket) -> None:
        status = feed.next_status()
        if status is not None:
            await websocket.close(code=1013)
            return
        await websocket.accept()
        last = websocket.headers.get("last-event-id") or websocket.query_params.get("last_event_id")
        if websocket.query_params.get("expect_resume_message"):
            with contextlib.suppress(asyncio.TimeoutError):
                message = json.loads(await asyncio.wait_for(websocket.receive_text(), 0.1))
                last = message.get("resume") or last
        first = feed.start_after(last)
        budget = feed.budget()
        try:
            for sent, n in enumerate(range(first, feed.total + 1)):
                if budget is not None and sent >= budget:
                    await websocket.close(code=1011)
                    return
                await websocket.send_text(json.dumps(feed.event(n)))
            while True:  # caught up: wait for the client to leave
                await websocket.receive_text()
        except WebSocketDisconnect:
            return

    async def poll(request: Request) -> Response:
        status = feed.next_status()
        if status is not None:
            return Response("busy", status_code=status)
        cursor = request.query_params.get("cursor")
        first = feed.start_after(cursor)
        last = min(first + feed.poll_page - 1, feed.total)
        events = [feed.event(n) for n in range(first, last + 1)]
        if not events:
            await asyncio.sleep(0.02)  # a (very short) hold, then nothing new
        return JSONResponse({"events": events, "next_cursor": str(last) if events else None})

    return Starlette(routes=[Route("/sse", sse), Route("/poll", poll), WebSocketRoute("/ws", ws)])


@dataclass
class FeedServer:
    feed: Feed
    port: int

    def url(self, path: str, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    feed = Feed()
    config = uvicorn.Config(
        build_app(feed),
        host="127.0.0.1",
        port=0,
        log_level="critical",
        lifespan="off",
        ws="websockets-sansio",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield FeedServer(feed, port)
    finally:
        server.should_exit = True
        await task
