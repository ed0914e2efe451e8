"""HTTPCollectorSource: the collector behind the DataSource interface, against a real server."""

from __future__ import annotations

import json

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from collectorkit import HTTPStatusError, SourceError
from collectorkit.collect import (
    CollectorBlueprint,
    CollectorClient,
    CollectorRequest,
    CollectorState,
    PaginationConfig,
)
from collectorkit.sources import HTTPCollectorSource
from collectorkit.typing import DataSource

RECORDS = [{"id": n, "msg": f"r{n}"} for n in range(1, 11)]


def serve_cursor_pages(server: HTTPServer, page_size: int = 3) -> list[str | None]:
    seen: list[str | None] = []

    def handler(request: Request) -> Response:
        cursor = request.args.get("cursor")
        seen.append(cursor)
        start = int(cursor or 0)
        page = RECORDS[start : start + page_size]
        nxt = start + page_size
        body = {"data": page, "next": str(nxt) if nxt < len(RECORDS) else None}
        return Response(json.dumps(body), content_type="application/json")

    server.expect_request("/events").respond_with_handler(handler)
    return seen


def blueprint(server: HTTPServer) -> CollectorBlueprint:
    return CollectorBlueprint(
        name="events",
        base_url=server.url_for("/"),
        request=CollectorRequest(
            endpoint="/events",
            data_path="data",
            pagination=PaginationConfig(mode="cursor", next_cursor_path="next"),
        ),
    )


async def test_collect_stream_yields_pages_and_moves_the_state(httpserver: HTTPServer) -> None:
    seen = serve_cursor_pages(httpserver)
    source = HTTPCollectorSource(blueprint(httpserver))
    assert isinstance(source, DataSource)
    assert source.source_id == "events"
    async with source:
        pages = [[r["id"] for r in batch] async for batch in source.collect_stream()]
    assert pages == [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10]]
    assert seen == [None, "3", "6", "9"]
    assert source.state is not None


async def test_resume_state_continues_after_the_saved_page(httpserver: HTTPServer) -> None:
    serve_cursor_pages(httpserver)
    first = HTTPCollectorSource(blueprint(httpserver), limit=6)
    async with first:
        got = await first.collect()
    assert [r["id"] for r in got] == [1, 2, 3, 4, 5, 6]
    assert first.state is not None
    saved = first.state.to_dict()
    second = HTTPCollectorSource(blueprint(httpserver), resume_state=saved)
    async with second:
        rest = await second.collect()
    assert [r["id"] for r in rest] == [7, 8, 9, 10]


async def test_a_failed_collection_keeps_the_state(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/events").respond_with_data("nope", status=404)
    start = CollectorState.from_dict({"cursor": "3"})
    source = HTTPCollectorSource(blueprint(httpserver), resume_state=start)
    async with source:
        # the rejected cursor falls back to a fresh walk, which fails too: nothing moves
        with pytest.raises(HTTPStatusError, match="404"):
            await source.collect()
    assert source.state == start


async def test_collect_before_connect_is_a_source_error(httpserver: HTTPServer) -> None:
    source = HTTPCollectorSource(blueprint(httpserver))
    with pytest.raises(SourceError, match="not connected"):
        await source.collect()


async def test_a_client_passed_in_is_left_open(httpserver: HTTPServer) -> None:
    serve_cursor_pages(httpserver, page_size=10)
    client = CollectorClient(blueprint(httpserver))
    source = HTTPCollectorSource(client, source_id="custom")
    assert source.get_source_id() == "custom"
    async with source:
        assert len(await source.collect()) == 10
    assert source.connected
    await client.aclose()


async def test_concurrent_shards_stream_every_region(httpserver: HTTPServer) -> None:
    def handler(request: Request) -> Response:
        region, page = request.args["region"], int(request.args.get("page", 1))
        data = [{"id": f"{region}-{page}-{i}"} for i in range(2)] if page <= 2 else []
        return Response(json.dumps({"data": data}), content_type="application/json")

    httpserver.expect_request("/events").respond_with_handler(handler)
    bp = CollectorBlueprint(
        name="sharded",
        base_url=httpserver.url_for("/"),
        request=CollectorRequest(
            endpoint="/events",
            data_path="data",
            pagination=PaginationConfig(mode="page", page_size=2),
            shards=[
                {"state_key": "eu", "params": {"region": "eu"}},
                {"state_key": "us", "params": {"region": "us"}},
            ],
        ),
        default_strategy="concurrent",
        concurrency=2,
    )
    source = HTTPCollectorSource(bp)
    async with source:
        ids = [r["id"] async for batch in source.collect_stream() for r in batch]
    assert sorted(ids) == sorted(
        f"{region}-{page}-{i}" for region in ("eu", "us") for page in (1, 2) for i in range(2)
    )
    assert source.state is not None
    assert set(source.state.shards) == {"eu", "us"}
