"""Paging edges found by running peers' scenarios (dlt, Airbyte, XSOAR, Filebeat) against a real
local server: empty pages that say there is more, normal-end caps, short cursor pages, strict
``has_more``/``total`` paths, one object as one record, in-page duplicates, a rejected feed cursor.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from collectorkit import (
    CollectorClient,
    PaginationConfig,
    PaginationError,
    StopReason,
    collect_into,
)
from collectorkit.sinks import MemorySink
from collectorkit.state import MemoryStateStore
from tests.collect.conftest import FakeAPI, blueprint, ids, make_records


def _scripted(httpserver: HTTPServer, path: str, pages: dict[str | None, Any]) -> list[Request]:
    """Serves ``pages[cursor]`` (``None``: no cursor sent) as JSON; returns the requests seen."""
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        body = pages[request.args.get("cursor")]
        return Response(json.dumps(body), mimetype="application/json")

    httpserver.expect_request(path).respond_with_handler(handler)
    return seen


HAS_MORE = PaginationConfig(mode="cursor", next_cursor_path="cursor", has_more_path="has_more")


# --- item 3: an empty page ends a walk only when nothing says there is more ----------------------


async def test_an_empty_page_that_says_has_more_does_not_end_the_walk(
    api: FakeAPI, clock, httpserver: HTTPServer
) -> None:
    pages = {
        None: {"items": [{"id": "a"}], "cursor": "c1", "has_more": True},
        "c1": {"items": [], "cursor": "c2", "has_more": True},
        "c2": {"items": [{"id": "b"}], "cursor": "c3", "has_more": False},
    }
    seen = _scripted(httpserver, "/hm", pages)
    bp = blueprint(api, clock, "/hm", HAS_MORE, request={"data_path": "items"})
    async with CollectorClient(bp) as client:
        result = await client.collect_events()
    assert ids(result.events) == ["a", "b"]
    assert result.stop_reason is StopReason.HAS_MORE_FALSE
    assert len(seen) == 3


async def test_an_empty_page_with_a_next_cursor_does_not_end_the_walk(
    api: FakeAPI, clock, httpserver: HTTPServer
) -> None:
    pages = {
        None: {"items": [{"id": "a"}], "cursor": "c1"},
        "c1": {"items": [], "cursor": "c2"},
        "c2": {"items": [{"id": "b"}], "cursor": ""},
    }
    _scripted(httpserver, "/nc", pages)
    pagination = PaginationConfig(mode="cursor", next_cursor_path="cursor")
    bp = blueprint(api, clock, "/nc", pagination, request={"data_path": "items"})
    async with CollectorClient(bp) as client:
        result = await client.collect_events()
    assert ids(result.events) == ["a", "b"]
    assert result.stop_reason is StopReason.NO_NEXT


async def test_an_empty_page_handing_back_the_same_cursor_ends_the_walk_clearly(
    api: FakeAPI, clock, httpserver: HTTPServer
) -> None:
    pages = {
        None: {"items": [{"id": "a"}], "cursor": "c1", "has_more": True},
        "c1": {"items": [], "cursor": "c1", "has_more": True},
    }
    seen = _scripted(httpserver, "/same", pages)
    bp = blueprint(api, clock, "/same", HAS_MORE, request={"data_path": "items"})
    async with CollectorClient(bp) as client:
        result = await client.collect_events()
    assert ids(result.events) == ["a"]
    assert result.stop_reason is StopReason.SAME_POSITION
    assert result.complete
    assert result.state.cursor == "c1"
    assert len(seen) == 2


async def test_an_empty_page_that_says_has_more_still_respects_max_pages(
    api: FakeAPI, clock, httpserver: HTTPServer
) -> None:
    # an API that never stops saying "more" with empty pages: max_pages still ends it
    def handler(request: Request) -> Response:
        n = int(request.args.get("cursor") or 0)
        body = {"items": [], "cursor": str(n + 1), "has_more": True}
        return Response(json.dumps(body), mimetype="application/json")

    httpserver.expect_request("/forever").respond_with_handler(handler)
    pagination = HAS_MORE.replace(max_pages=1)
    bp = blueprint(api, clock, "/forever", pagination, request={"data_path": "items"})
    async with CollectorClient(bp) as client:
        result = await client.collect_events()
    assert result.stop_reason is StopReason.MAX_PAGES
    assert not result.complete


async def test_empty_pages_that_keep_pointing_on_end_after_two_keeping_the_position(
    api: FakeAPI, clock, httpserver: HTTPServer
) -> None:
    """Okta's polling log hands out a new next link on every empty page: following it would
    never end. The second empty page in a row stops the walk, open, at the position handed
    out, so the next run polls from there and nothing is lost."""
    served: list[str] = []

    def handler(request: Request) -> Response:
        n = int(request.args.get("after") or 0)
        served.append(str(n))
        rows = [{"id": f"r{i}"} for i in range(n, min(n + 2, 3))] if n < 3 else []
        nxt = httpserver.url_for(f"/feed?after={n + len(rows) if rows else n}&t={len(served)}")
        return Response(
            json.dumps(rows), mimetype="application/json", headers={"Link": f'<{nxt}>; rel="next"'}
        )

    httpserver.expect_request("/feed").respond_with_handler(handler)
    pagination = PaginationConfig(mode="link", max_pages=50)  # the guard before the fix
    bp = blueprint(api, clock, "/feed", pagination)
    async with CollectorClient(bp) as client:
        first = await client.collect_events()
        assert ids(first.events) == ["r0", "r1", "r2"]
        assert first.stop_reason is StopReason.EMPTY_PAGES
        assert not first.complete
        assert len(served) == 4  # two pages of records, then two empty ones
        assert first.state.next_link is not None
        assert "after=3" in first.state.next_link
        again = await client.collect_events(resume_state=first.state)
    assert again.events == []
    assert again.stop_reason is StopReason.EMPTY_PAGES
    assert served[4:] == ["3", "3"]  # polled from the kept position


async def test_an_empty_numbered_page_that_says_has_more_goes_on(
    api: FakeAPI, clock, httpserver: HTTPServer
) -> None:
    def handler(request: Request) -> Response:
        page = int(request.args.get("page", 1))
        body = {1: [{"id": "a"}], 2: [], 3: [{"id": "b"}]}[page]
        out = {"results": body, "more": page < 3}
        return Response(json.dumps(out), mimetype="application/json")

    httpserver.expect_request("/pages").respond_with_handler(handler)
    pagination = PaginationConfig(mode="page", has_more_path="more")
    bp = blueprint(api, clock, "/pages", pagination, request={"data_path": "results"})
    async with CollectorClient(bp) as client:
        result = await client.collect_events()
    assert ids(result.events) == ["a", "b"]
    assert result.stop_reason is StopReason.HAS_MORE_FALSE


# --- item 5: one JSON object where the records are expected is one record ------------------------


async def test_an_object_at_the_data_path_is_one_record(
    api: FakeAPI, clock, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/one").respond_with_json({"data": {"events": {"id": "x"}}})
    bp = blueprint(api, clock, "/one", request={"data_path": "data.events"})
    async with CollectorClient(bp) as client:
        result = await client.collect_events()
    assert result.events == [{"id": "x"}]


async def test_an_object_body_without_a_data_path_is_one_record(
    api: FakeAPI, clock, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/obj").respond_with_json({"id": "x", "status": "ok"})
    async with CollectorClient(blueprint(api, clock, "/obj")) as client:
        result = await client.collect_events()
    assert result.events == [{"id": "x", "status": "ok"}]


# --- item 7: max_offset / max_page end a walk as complete ----------------------------------------


async def test_max_offset_ends_the_walk_as_complete(api: FakeAPI, clock) -> None:
    api.records = make_records(50)
    pagination = PaginationConfig(
        mode="offset", page_size_param="limit", page_size=10, max_offset=30
    )
    bp = blueprint(api, clock, "/offset", pagination, request={"data_path": "resources"})
    async with CollectorClient(bp) as client:
        result = await client.collect_events()
    assert [r.args["offset"] for r in api.requests] == ["0", "10", "20"]
    assert ids(result.events) == ids(api.records[:30])
    assert result.stop_reason is StopReason.MAX_OFFSET
    assert result.complete


async def test_max_page_ends_the_walk_as_complete(api: FakeAPI, clock) -> None:
    api.records = make_records(50)
    pagination = PaginationConfig(
        mode="page", page_size_param="per_page", page_size=10, start_page=1, max_page=2
    )
    bp = blueprint(api, clock, "/page", pagination, request={"data_path": "results"})
    async with CollectorClient(bp) as client:
        result = await client.collect_events()
    assert [r.args["page"] for r in api.requests] == ["1", "2"]
    assert result.stop_reason is StopReason.MAX_PAGE
    assert result.complete


async def test_max_pages_stays_an_interruption(api: FakeAPI, clock) -> None:
    api.records = make_records(50)
    pagination = PaginationConfig(
        mode="page", page_size_param="per_page", page_size=10, max_pages=2
    )
    bp = blueprint(api, clock, "/page", pagination, request={"data_path": "results"})
    async with CollectorClient(bp) as client:
        result = await client.collect_events()
    assert result.stop_reason is StopReason.MAX_PAGES
    assert not result.complete


# --- item 8: cursor mode may stop on a short page ------------------------------------------------


async def test_cursor_mode_can_stop_on_a_short_page_saving_a_request(api: FakeAPI, clock) -> None:
    api.records = make_records(23)
    pagination = PaginationConfig(
        mode="cursor",
        cursor_param="after",
        next_cursor_path="[-1].id",
        page_size_param="limit",
        page_size=10,
        stop_on_short_page=True,
    )
    bp = blueprint(api, clock, "/after-id", pagination)
    async with CollectorClient(bp) as client:
        result = await client.collect_events()
        assert ids(result.events) == ids(api.records)
        assert result.stop_reason is StopReason.SHORT_PAGE
        assert len(api.requests) == 3
        assert result.state.cursor == "r00022"  # the feed goes on from there next time
        api.records = make_records(26)
        later = await client.collect_events(resume_state=result.state)
    assert ids(later.events) == ids(api.records[23:])


# --- item 11: a configured has_more/total path must be readable ----------------------------------


@pytest.mark.parametrize(
    ("body", "pagination", "message"),
    [
        (
            {"items": [{"id": "a"}], "cursor": "c1"},
            HAS_MORE,
            r"has_more_path 'has_more'.*missing",
        ),
        (
            {"items": [{"id": "a"}], "cursor": "c1", "has_more": "invalid"},
            HAS_MORE,
            r"has_more_path 'has_more'.*'invalid'",
        ),
        (
            {"items": [{"id": "a"}], "total": "lots"},
            PaginationConfig(mode="offset", total_path="total", max_pages=3),
            r"total_path 'total'.*'lots'",
        ),
        (
            {"items": [{"id": "a"}]},
            PaginationConfig(mode="page", total_pages_path="pages.total", max_pages=3),
            r"total_pages_path 'pages.total'.*missing",
        ),
    ],
)
async def test_an_unusable_has_more_or_total_is_an_error_naming_path_and_value(
    api: FakeAPI, clock, httpserver: HTTPServer, body: Any, pagination: Any, message: str
) -> None:
    httpserver.expect_request("/bad").respond_with_json(body)
    bp = blueprint(api, clock, "/bad", pagination, request={"data_path": "items"})
    async with CollectorClient(bp) as client:
        with pytest.raises(PaginationError, match=message):
            await client.collect_events()


# --- item 10: one key twice in one page is delivered once ----------------------------------------


async def test_a_record_twice_in_one_page_is_handed_out_once(
    api: FakeAPI, clock, httpserver: HTTPServer
) -> None:
    rows = [{"id": "a"}, {"id": "b"}, {"id": "a"}, {"n": 1}, {"n": 1}]
    httpserver.expect_request("/twice").respond_with_json({"items": rows})
    bp = blueprint(api, clock, "/twice", request={"data_path": "items"})
    async with CollectorClient(bp) as client:
        result = await client.collect_events()
        limited = await client.collect_events(limit=2)
        rest = await client.collect_events(resume_state=limited.state)
    assert result.events == [{"id": "a"}, {"id": "b"}, {"n": 1}]
    assert limited.events + rest.events == result.events


@pytest.mark.parametrize(
    ("rows", "handed_out"),
    [
        # no "id": a repeat is still found (the fast path looks for any field that differs)
        ([{"uuid": "u1", "n": 1}, {"uuid": "u2", "n": 2}, {"uuid": "u1", "n": 1}], 2),
        ([{"alert_id": 7, "n": 1}, {"alert_id": 8, "n": 1}], 2),  # distinct: nothing dropped
        ([{"n": 1, "tags": ["a"]}, {"n": 1, "tags": ["b"]}], 2),  # no field differs: digests
    ],
)
async def test_in_page_repeats_are_found_whatever_the_id_field_is_called(
    api: FakeAPI, clock, httpserver: HTTPServer, rows: list[Any], handed_out: int
) -> None:
    httpserver.expect_request("/rows").respond_with_json({"items": rows})
    bp = blueprint(api, clock, "/rows", request={"data_path": "items"})
    async with CollectorClient(bp) as client:
        result = await client.collect_events()
    assert len(result.events) == handed_out
    assert [r for r in rows if r not in result.events] == []


class _CountingSink(MemorySink):
    """Remembers every envelope it was handed (a sink that is not idempotent would write each)."""

    def __init__(self) -> None:
        super().__init__(name="counting")
        self.handed: list[str] = []

    async def _store(self, batch: list[Any]) -> Any:
        self.handed.extend(e.key for e in batch)
        return await super()._store(batch)


async def test_a_key_twice_in_one_page_is_delivered_once(
    api: FakeAPI, clock, httpserver: HTTPServer
) -> None:
    rows = [{"id": "a", "v": 1}, {"id": "b"}, {"id": "a", "v": 2}, {"id": "b"}]
    httpserver.expect_request("/dups").respond_with_json({"items": rows})
    bp = blueprint(api, clock, "/dups", request={"data_path": "items"})
    sink = _CountingSink()
    report = await collect_into(bp, sinks=[sink], state=MemoryStateStore())
    assert sorted(sink.handed) == ["TestCollector:a", "TestCollector:b"]
    assert sink.data == [{"id": "a", "v": 1}, {"id": "b"}]
    # the identical {"id": "b"} never leaves the collector; the sink drops the second "a"
    assert (report.records, report.duplicates) == (3, 1)


# --- item 12: a finished feed walk keeps its cursor; a rejected one starts afresh ----------------

FEED = PaginationConfig(
    mode="cursor",
    cursor_param="cursor",
    cursor_location="body",
    cursor_only_body=True,
    next_cursor_path="cursor",
    has_more_path="has_more",
)
FEED_REQUEST = {"method": "POST", "json": {"limit": 5}, "data_path": "items"}


def _reject_cursors_once(api: FakeAPI) -> None:
    def fail(request: Request) -> Response | None:
        if "cursor" in (request.get_json() or {}):
            api.fail = None
            return Response('{"Error": "invalid cursor"}', status=400)
        return None

    api.fail = fail


async def test_a_rejected_feed_cursor_without_incremental_falls_back_to_a_fresh_walk(
    api: FakeAPI, clock
) -> None:
    api.records = make_records(12)
    bp = blueprint(api, clock, "/cursor-body", FEED, request=FEED_REQUEST)
    async with CollectorClient(bp) as client:
        first = await client.collect_events()
        assert first.state.cursor is not None
        api.records = make_records(15)
        _reject_cursors_once(api)
        second = await client.collect_events(resume_state=first.state)
    assert ids(second.events) == ids(api.records)  # the whole feed again: the sinks dedupe it
    assert second.metrics.cursor_resets == 1
    assert second.complete


async def test_a_rejected_feed_cursor_delivers_nothing_twice(api: FakeAPI, clock) -> None:
    api.records = make_records(12)
    bp = blueprint(api, clock, "/cursor-body", FEED, request=FEED_REQUEST)
    sink, store = MemorySink(), MemoryStateStore()
    first = await collect_into(bp, sinks=[sink], state=store)
    assert first.stored == 12
    api.records = make_records(15)
    _reject_cursors_once(api)
    second = await collect_into(bp, sinks=[sink], state=store)
    assert second.stored == 3
    assert [e["id"] for e in sink.data] == ids(api.records)
