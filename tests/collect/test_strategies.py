"""Every strategy over the one page loop, ``iter_pages`` itself, and the sync entry point."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug import Response

from collectorkit import (
    BatchCollectionStrategy,
    ClientRequestError,
    CollectorClient,
    CollectorExecutor,
    CollectorState,
    ConfigError,
    PaginationConfig,
    StopReason,
    StreamCollectionStrategy,
    SyncInAsyncError,
)
from tests.collect.conftest import FakeAPI, blueprint, ids, make_records

CURSOR = PaginationConfig(
    mode="cursor", next_cursor_path="meta.next_cursor", page_size_param="limit", page_size=10
)
REQUEST = {"data_path": "data.events"}


def regional(count: int, regions: tuple[str, ...]) -> list[dict[str, Any]]:
    records = make_records(count)
    for i, record in enumerate(records):
        record["region"] = regions[i % len(regions)]
    return records


def shard_request(*regions: str) -> dict[str, Any]:
    shards = [{"params": {"region": r}, "state_key": f"events-{r}"} for r in regions]
    return {**REQUEST, "shards": shards}


async def test_sequential_is_the_default(api: FakeAPI, clock) -> None:
    api.records = make_records(25)
    async with CollectorClient(blueprint(api, clock, "/cursor", CURSOR, request=REQUEST)) as c:
        result = await c.collect_events(strategy="sequential")
    assert ids(result.events) == ids(api.records)


async def test_concurrent_fans_out_over_shards_with_a_state_each(api: FakeAPI, clock) -> None:
    api.records = regional(60, ("eu", "us", "ap"))
    bp = blueprint(api, clock, "/cursor", CURSOR, request=shard_request("eu", "us", "ap"))
    async with CollectorClient(bp) as client:
        result = await client.collect_events(strategy="concurrent")
        assert sorted(ids(result.events)) == ids(api.records)
        assert set(result.state.shards) == {"events-eu", "events-us", "events-ap"}
        for region in ("eu", "us", "ap"):
            mine = [e["n"] for e in result.events if e["region"] == region]
            assert mine == sorted(mine)  # each shard in its own order
        assert result.complete
        api.records = regional(66, ("eu", "us", "ap"))
        later = await client.collect_events(strategy="concurrent", resume_state=result.state)
    assert sorted(ids(later.events)) == ids(api.records[60:])


async def test_one_failing_shard_keeps_the_others_progress(api: FakeAPI, clock) -> None:
    api.records = regional(40, ("eu", "us"))
    api.fail = lambda r: Response("{}", status=400) if r.args.get("region") == "bad" else None
    bp = blueprint(api, clock, "/cursor", CURSOR, request=shard_request("eu", "bad", "us"))
    async with CollectorClient(bp) as client:
        with pytest.raises(ClientRequestError) as caught:
            await client.collect_events(strategy="concurrent")
    partial = caught.value.partial_result
    assert sorted(ids(partial.events)) == ids(api.records)
    assert partial.state.shards["events-eu"].cursor is not None
    assert partial.state.shards["events-us"].cursor is not None
    assert "events-bad" not in partial.state.shards


async def test_sequential_walks_shards_in_turn_and_a_limit_resumes_the_right_shard(
    api: FakeAPI, clock
) -> None:
    api.records = regional(40, ("eu", "us"))
    bp = blueprint(api, clock, "/cursor", CURSOR, request=shard_request("eu", "us"))
    state = None
    seen: list[str] = []
    async with CollectorClient(bp) as client:
        for _ in range(6):
            result = await client.collect_events(limit=9, resume_state=state)
            seen += ids(result.events)
            state = result.state
    eu = [r["id"] for r in api.records if r["region"] == "eu"]
    us = [r["id"] for r in api.records if r["region"] == "us"]
    assert seen == eu + us


async def test_batches_have_exact_sizes_and_states_that_resume_mid_page(
    api: FakeAPI, clock
) -> None:
    api.records = make_records(25)
    batches: list[tuple[list[str], CollectorState]] = []

    async def deliver(events: list[dict[str, Any]], state: CollectorState) -> None:
        batches.append((ids(events), state))

    bp = blueprint(api, clock, "/cursor", CURSOR, request=REQUEST)
    async with CollectorClient(bp, executor=CollectorExecutor(on_batch=deliver)) as client:
        result = await client.collect_events(strategy=BatchCollectionStrategy(batch_size=7))
        assert result.events == []  # delivered, not kept
        assert [len(b) for b, _ in batches] == [7, 7, 7, 4]
        assert [i for b, _ in batches for i in b] == ids(api.records)
        # each batch's state resumes right after it, even when the batch ended mid-page
        for count, (_, state) in zip((7, 14, 21), batches, strict=False):
            rest = await client.collect_events(resume_state=state)
            assert ids(rest.events) == ids(api.records[count:])
    assert batches[-1][1] == result.state


async def test_batch_without_a_hook_keeps_the_records(api: FakeAPI, clock) -> None:
    api.records = make_records(13)
    async with CollectorClient(blueprint(api, clock, "/cursor", CURSOR, request=REQUEST)) as c:
        result = await c.collect_events(strategy="batch")
    assert ids(result.events) == ids(api.records)


async def test_stream_hands_on_each_page_as_it_arrives(api: FakeAPI, clock) -> None:
    api.records = make_records(25)
    pages: list[tuple[int, int]] = []

    class Executor(CollectorExecutor):
        async def stream_batch(self, events: list[dict[str, Any]], state: CollectorState) -> None:
            pages.append((len(events), len(api.requests)))

    bp = blueprint(api, clock, "/cursor", CURSOR, request=REQUEST)
    async with CollectorClient(bp, executor=Executor()) as client:
        result = await client.collect_events(strategy=StreamCollectionStrategy())
    # each page was handed on before the next request was sent
    assert pages == [(10, 1), (10, 2), (5, 3)]
    assert result.events == []
    assert result.metrics.records == 25


async def test_a_batch_collected_before_a_failure_is_still_flushed(api: FakeAPI, clock) -> None:
    api.records = make_records(30)
    api.fail = lambda r: Response("{}", status=400) if r.args.get("cursor") == "c20" else None
    flushed: list[str] = []

    def deliver(events: list[dict[str, Any]], state: CollectorState) -> None:
        flushed.extend(ids(events))

    bp = blueprint(api, clock, "/cursor", CURSOR, request=REQUEST)
    async with CollectorClient(bp, executor=CollectorExecutor(on_batch=deliver)) as client:
        with pytest.raises(ClientRequestError) as caught:
            await client.collect_events(strategy=BatchCollectionStrategy(batch_size=15))
    assert flushed == ids(api.records[:20])
    assert caught.value.partial_result.state.cursor == "c20"


def test_unknown_strategy_names_the_known_ones(api: FakeAPI, clock) -> None:
    client = CollectorClient(blueprint(api, clock, "/cursor", CURSOR, request=REQUEST))
    with pytest.raises(ConfigError, match="known: batch, concurrent, sequential, stream"):
        client.collect_events_sync(strategy="parallel")
    with pytest.raises(ConfigError, match="batch_size"):
        BatchCollectionStrategy(batch_size=0)


async def test_iter_pages_hands_out_the_state_after_each_page(api: FakeAPI, clock) -> None:
    api.records = make_records(25)
    bp = blueprint(api, clock, "/cursor", CURSOR, request=REQUEST)
    async with CollectorClient(bp) as client:
        stream = client.iter_pages(limit=22)
        pages = [page async for page in stream]
    assert [p.number for p in pages] == [1, 2, 3]
    assert [len(p.events) for p in pages] == [10, 10, 2]
    assert [p.state.cursor for p in pages] == ["c10", "c20", "c20"]
    assert pages[-1].state.skip == 2
    assert [p.stop_reason for p in pages] == [None, None, StopReason.LIMIT_REACHED]
    assert stream.stop_reason is StopReason.LIMIT_REACHED
    assert stream.state == pages[-1].state
    after = pages[1].state_after(4)
    assert after.replace(skip_keys=frozenset()) == CollectorState(
        cursor="c10", skip=4, has_more=True
    )
    assert len(after.skip_keys) == 4  # the four records delivered, named by content
    assert stream.metrics.pages == 3


async def test_iter_pages_ends_with_a_reason_when_there_is_no_last_page(
    api: FakeAPI, clock
) -> None:
    api.records = make_records(20)
    bp = blueprint(api, clock, "/cursor", CURSOR, request=REQUEST)
    async with CollectorClient(bp) as client:
        stream = client.iter_pages(limit=10)
        pages = [page async for page in stream]
    assert len(pages) == 1
    assert pages[0].stop_reason is StopReason.LIMIT_REACHED
    assert stream.stop_reason is StopReason.LIMIT_REACHED
    assert not stream.complete


async def test_the_last_page_of_a_complete_walk_says_why(api: FakeAPI, clock) -> None:
    api.records = make_records(15)
    bp = blueprint(api, clock, "/cursor", CURSOR, request=REQUEST)
    async with CollectorClient(bp) as client:
        stream = client.iter_pages()
        pages = [page async for page in stream]
    assert [p.stop_reason for p in pages] == [None, StopReason.NO_NEXT]
    assert stream.complete


async def test_iter_pages_with_a_budget_spent_before_the_first_request(api: FakeAPI, clock) -> None:
    from collectorkit import TimeoutSettings

    api.records = make_records(15)
    bp = blueprint(
        api, clock, "/cursor", CURSOR, request=REQUEST, timeout=TimeoutSettings(execution=0.5)
    )
    resume = CollectorState(cursor="c10")
    async with CollectorClient(bp) as client:
        stream = client.iter_pages(resume_state=resume)
        pages = [page async for page in stream]
    assert pages == []
    assert stream.stop_reason is StopReason.TIME_BUDGET
    assert stream.state == resume
    assert api.requests == []


def test_sync_and_async_give_identical_results(api: FakeAPI, clock) -> None:
    import asyncio

    api.records = make_records(37)
    api.fail = _throttle_first_second_page()
    bp = blueprint(api, clock, "/cursor", CURSOR, request=REQUEST)
    sync_result = CollectorClient(bp).collect_events_sync(limit=23)

    api.fail = _throttle_first_second_page()

    async def run() -> Any:
        async with CollectorClient(bp) as client:
            return await client.collect_events(limit=23)

    async_result = asyncio.run(run())
    assert sync_result.events == async_result.events
    assert sync_result.state.to_dict() == async_result.state.to_dict()
    assert sync_result.metrics.as_dict() == async_result.metrics.as_dict()
    assert sync_result.metrics.quota_error == 1
    assert sync_result.stop_reason is async_result.stop_reason is StopReason.LIMIT_REACHED


def _throttle_first_second_page() -> Any:
    hits: list[int] = []

    def fail(request: Any) -> Response | None:
        if request.args.get("cursor") == "c10" and not hits:
            hits.append(1)
            return Response("{}", status=429, headers={"Retry-After": "1"})
        return None

    return fail


async def test_sync_inside_a_running_loop_points_at_the_async_call(api: FakeAPI, clock) -> None:
    client = CollectorClient(blueprint(api, clock, "/cursor", CURSOR, request=REQUEST))
    with pytest.raises(SyncInAsyncError, match=r"await CollectorClient.collect_events"):
        client.collect_events_sync()


async def test_diagnostic_mode_logs_each_page_without_secrets(api: FakeAPI, clock) -> None:
    from structlog.testing import capture_logs

    from collectorkit import APIKeyAuthHandler

    api.records = make_records(15)
    auth = APIKeyAuthHandler(key="sk-very-secret-123", header_name="X-API-Key")
    bp = blueprint(
        api, clock, "/cursor", CURSOR, request=REQUEST, auth_handler=auth, diagnostic_mode=True
    )
    with capture_logs() as logs:
        async with CollectorClient(bp) as client:
            await client.collect_events()
    pages = [e for e in logs if e["event"] == "page"]
    assert [p["records"] for p in pages] == [10, 5]
    assert pages[-1]["stop_reason"] == "no_next"
    assert all(p["collector"] == "TestCollector" for p in pages)
    assert "sk-very-secret-123" not in repr(logs)
    quiet = blueprint(api, clock, "/cursor", CURSOR, request=REQUEST)
    with capture_logs() as logs:
        async with CollectorClient(quiet) as client:
            await client.collect_events()
    assert not [e for e in logs if e["event"] == "page"]


async def test_concurrency_bounds_the_shards_in_flight() -> None:
    import asyncio

    from aiohttp import web

    from collectorkit import CollectorBlueprint, CollectorRequest

    in_flight = peak = 0

    async def handle(request: web.Request) -> web.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        page = int(request.query.get("cursor", 0))
        nxt = str(page + 1) if page < 2 else None
        body = {"items": [{"id": f"{request.query['shard']}-{page}"}], "next": nxt}
        return web.json_response(body)

    app = web.Application()
    app.router.add_get("/items", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        shards = [{"params": {"shard": f"s{i}"}, "state_key": f"s{i}"} for i in range(5)]
        request = CollectorRequest(
            endpoint="/items",
            data_path="items",
            pagination=PaginationConfig(mode="cursor", next_cursor_path="next"),
            shards=shards,
        )
        bp = CollectorBlueprint(
            name="fan", base_url=f"http://127.0.0.1:{port}", request=request, concurrency=2
        )
        async with CollectorClient(bp) as client:
            result = await client.collect_events(strategy="concurrent")
    finally:
        await runner.cleanup()
    assert len(result.events) == 15
    assert peak == 2
    assert set(result.state.shards) == {f"s{i}" for i in range(5)}


async def test_client_config_reaches_the_http_client(api: FakeAPI, clock) -> None:
    from collectorkit import APIClientConfig

    api.records = make_records(3)
    config = APIClientConfig(default_headers={"X-Tenant": "t-1"}, verify_ssl=False)
    bp = blueprint(
        api, clock, "/cursor", CURSOR, request=REQUEST, client_config=config, headers={"X-B": "b"}
    )
    async with CollectorClient(bp) as client:
        result = await client.collect_events()
    assert len(result.events) == 3
    assert api.requests[0].headers["X-Tenant"] == "t-1"
    assert api.requests[0].headers["X-B"] == "b"
