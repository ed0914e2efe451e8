"""Every pagination dialect against a real local server, and the paging contract's edges."""

from __future__ import annotations

import pytest

from collectorkit import (
    CollectorClient,
    CollectorState,
    ConfigError,
    PaginationConfig,
    PaginationError,
    StopReason,
)
from collectorkit.collect import next_link_from_headers
from tests.collect.conftest import FakeAPI, blueprint, ids, make_records

CURSOR = PaginationConfig(
    mode="cursor",
    cursor_param="cursor",
    next_cursor_path="meta.next_cursor",
    page_size_param="limit",
    page_size=10,
)


async def test_cursor_in_query_walks_every_page_in_order(api: FakeAPI, clock) -> None:
    api.records = make_records(25)
    bp = blueprint(api, clock, "/cursor", CURSOR, request={"data_path": "data.events"})
    async with CollectorClient(bp) as client:
        result = await client.collect_events()
    assert ids(result.events) == ids(api.records)
    assert result.stop_reason is StopReason.NO_NEXT
    assert result.complete
    assert [r.args.get("cursor") for r in api.requests] == [None, "c10", "c20"]
    assert all(r.args["limit"] == "10" for r in api.requests)
    assert result.metrics.pages == 3
    assert result.metrics.success == 3
    assert result.metrics.records == 25


async def test_cursor_feed_keeps_the_last_page_for_the_next_run(api: FakeAPI, clock) -> None:
    api.records = make_records(25)
    bp = blueprint(api, clock, "/cursor", CURSOR, request={"data_path": "data.events"})
    async with CollectorClient(bp) as client:
        first = await client.collect_events()
        api.records = make_records(31)
        second = await client.collect_events(resume_state=first.state)
    assert ids(second.events) == ids(api.records[25:])


async def test_cursor_in_body_sends_only_the_cursor_once_it_has_one(api: FakeAPI, clock) -> None:
    # 1Password: {"limit", "start_time"} first, then {"cursor"} alone; has_more ends the walk
    api.records = make_records(12)
    pagination = PaginationConfig(
        mode="cursor",
        cursor_param="cursor",
        cursor_location="body",
        cursor_only_body=True,
        next_cursor_path="cursor",
        has_more_path="has_more",
    )
    request = {
        "method": "POST",
        "json": {"limit": 5, "start_time": "2023-11-14T00:00:00Z"},
        "data_path": "items",
    }
    bp = blueprint(api, clock, "/cursor-body", pagination, request=request)
    async with CollectorClient(bp) as client:
        result = await client.collect_events()
        assert ids(result.events) == ids(api.records)
        assert result.stop_reason is StopReason.HAS_MORE_FALSE
        assert result.state.cursor is not None  # the feed cursor survives for the next poll
        bodies = [r.get_json() for r in api.requests]
        assert bodies[0] == {"limit": 5, "start_time": "2023-11-14T00:00:00Z"}
        assert all(set(b) == {"cursor"} for b in bodies[1:])
        api.records = make_records(15)
        later = await client.collect_events(resume_state=result.state)
    assert ids(later.events) == ids(api.records[12:])


async def test_cursor_in_a_header(api: FakeAPI, clock) -> None:
    api.records = make_records(20)
    pagination = PaginationConfig(
        mode="cursor", cursor_param="X-Cursor", cursor_location="header", next_cursor_path="next"
    )
    bp = blueprint(api, clock, "/cursor-header", pagination, request={"data_path": "records"})
    async with CollectorClient(bp) as client:
        result = await client.collect_events()
    assert ids(result.events) == ids(api.records)
    assert [r.headers.get("X-Cursor") for r in api.requests] == [None, "7", "14"]


async def test_next_cursor_from_a_response_header(api: FakeAPI, clock) -> None:
    api.records = make_records(20)
    pagination = PaginationConfig(
        mode="cursor",
        cursor_param="X-Cursor",
        cursor_location="header",
        next_cursor_header="X-Next",
    )
    bp = blueprint(api, clock, "/cursor-header", pagination, request={"data_path": "records"})
    async with CollectorClient(bp) as client:
        result = await client.collect_events()
    assert ids(result.events) == ids(api.records)
    assert result.stop_reason is StopReason.NO_NEXT


async def test_cursor_from_the_last_record_of_a_list_body(api: FakeAPI, clock) -> None:
    api.records = make_records(23)
    pagination = PaginationConfig(
        mode="cursor",
        cursor_param="after",
        next_cursor_path="[-1].id",
        page_size_param="limit",
        page_size=10,
    )
    bp = blueprint(api, clock, "/after-id", pagination)
    async with CollectorClient(bp) as client:
        result = await client.collect_events()
    assert ids(result.events) == ids(api.records)
    assert result.stop_reason is StopReason.EMPTY_PAGE


async def test_page_numbers_stop_at_total_pages(api: FakeAPI, clock) -> None:
    api.records = make_records(30)
    pagination = PaginationConfig(
        mode="page",
        page_param="page",
        start_page=1,
        page_size_param="per_page",
        page_size=10,
        total_pages_path="total_pages",
    )
    bp = blueprint(api, clock, "/page", pagination, request={"data_path": "results"})
    async with CollectorClient(bp) as client:
        result = await client.collect_events()
    assert ids(result.events) == ids(api.records)
    assert result.stop_reason is StopReason.TOTAL_REACHED
    assert [r.args["page"] for r in api.requests] == ["1", "2", "3"]
    assert result.state.page == 4


async def test_page_numbers_stop_on_a_short_page_and_resume_inside_it(api: FakeAPI, clock) -> None:
    api.records = make_records(23)
    pagination = PaginationConfig(
        mode="page", page_param="page", page_size_param="per_page", page_size=10
    )
    bp = blueprint(api, clock, "/page", pagination, request={"data_path": "results"})
    async with CollectorClient(bp) as client:
        result = await client.collect_events()
        assert result.stop_reason is StopReason.SHORT_PAGE
        assert (result.state.page, result.state.skip) == (3, 3)
        api.records = make_records(27)
        later = await client.collect_events(resume_state=result.state)
    assert ids(later.events) == ids(api.records[23:])


async def test_offset_in_the_query_stops_at_the_total(api: FakeAPI, clock) -> None:
    api.records = make_records(20)
    pagination = PaginationConfig(
        mode="offset",
        offset_param="offset",
        page_size_param="limit",
        page_size=10,
        total_path="meta.pagination.total",
    )
    bp = blueprint(api, clock, "/offset", pagination, request={"data_path": "resources"})
    async with CollectorClient(bp) as client:
        result = await client.collect_events()
    assert ids(result.events) == ids(api.records)
    assert result.stop_reason is StopReason.TOTAL_REACHED
    assert [r.args["offset"] for r in api.requests] == ["0", "10"]
    assert result.state.offset == 20


async def test_offsets_in_a_post_body_like_cortex_xdr(api: FakeAPI, clock) -> None:
    api.records = make_records(250)
    pagination = PaginationConfig(
        mode="offset",
        param_location="body",
        offset_param="request_data.search_from",
        offset_end_param="request_data.search_to",
        page_size=100,
        total_path="reply.total_count",
    )
    request = {
        "method": "POST",
        "json": {"request_data": {"filters": [], "sort": {"field": "creation_time"}}},
        "data_path": "reply.alerts",
    }
    bp = blueprint(api, clock, "/xdr", pagination, request=request)
    async with CollectorClient(bp) as client:
        result = await client.collect_events()
    assert ids(result.events) == ids(api.records)
    sent = [r.get_json()["request_data"] for r in api.requests]
    assert [(s["search_from"], s["search_to"]) for s in sent] == [(0, 100), (100, 200), (200, 300)]
    assert all(s["sort"] == {"field": "creation_time"} for s in sent)
    assert result.stop_reason is StopReason.SHORT_PAGE


async def test_link_in_the_body_is_resolved_against_the_request_url(api: FakeAPI, clock) -> None:
    api.records = make_records(25)
    pagination = PaginationConfig(mode="link", link_path="next")
    request = {"params": {"limit": 10}, "data_path": "results"}
    bp = blueprint(api, clock, "/link-body", pagination, request=request)
    async with CollectorClient(bp) as client:
        result = await client.collect_events(limit=15)
        assert ids(result.events) == ids(api.records[:15])
        # the stored link is absolute, and resuming requests it rather than the first page
        assert result.state.next_link is not None
        assert result.state.next_link.startswith(api.base_url)
        rest = await client.collect_events(resume_state=result.state)
    assert ids(rest.events) == ids(api.records[15:])
    assert api.requests[-1].args["page"] == "3"
    assert rest.stop_reason is StopReason.NO_NEXT


async def test_link_header_polling_stops_on_an_empty_page_and_keeps_the_link(
    api: FakeAPI, clock
) -> None:
    # Okta: two Link headers (self, next); the next link is always there; empty page = caught up
    api.records = make_records(12)
    bp = blueprint(
        api, clock, "/link-header", PaginationConfig(mode="link"), request={"params": {"limit": 5}}
    )
    async with CollectorClient(bp) as client:
        result = await client.collect_events()
        assert ids(result.events) == ids(api.records)
        assert result.stop_reason is StopReason.EMPTY_PAGE
        assert result.state.next_link is not None
        assert result.state.next_link.endswith("after=12")
        api.records = make_records(14)
        later = await client.collect_events(resume_state=result.state)
    assert ids(later.events) == ids(api.records[12:])


async def test_mode_none_is_one_request(api: FakeAPI, clock) -> None:
    api.records = make_records(4)
    async with CollectorClient(blueprint(api, clock, "/single")) as client:
        result = await client.collect_events()
    assert ids(result.events) == ids(api.records)
    assert result.stop_reason is StopReason.SINGLE_PAGE
    assert len(api.requests) == 1


async def test_the_same_cursor_twice_is_a_pagination_error_with_the_partial_result(
    api: FakeAPI, clock, httpserver
) -> None:
    httpserver.expect_request("/loop").respond_with_json({"items": [{"id": "a"}], "next": "same"})
    pagination = PaginationConfig(mode="cursor", next_cursor_path="next")
    bp = blueprint(api, clock, "/loop", pagination, request={"data_path": "items"})
    async with CollectorClient(bp) as client:
        with pytest.raises(PaginationError, match="same cursor twice") as caught:
            await client.collect_events()
    partial = caught.value.partial_result
    assert ids(partial.events) == ["a", "a"]
    assert partial.state.cursor == "same"
    assert partial.metrics.general_error == 1


async def test_a_data_path_that_is_not_a_list_is_a_clear_error(
    api: FakeAPI, clock, httpserver
) -> None:
    # one object is one record (test_pagination_edges); a string is neither
    httpserver.expect_request("/odd").respond_with_json({"data": {"events": "x"}})
    bp = blueprint(api, clock, "/odd", request={"data_path": "data.events"})
    async with CollectorClient(bp) as client:
        with pytest.raises(ValueError, match=r"data_path 'data.events' is a str"):
            await client.collect_events()


# --- sans-I/O edges ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Link": '<https://a/x?after=1>; rel="next"'}, "https://a/x?after=1"),
        ({"link": '<https://a/s>; rel="self", <https://a/n?x=1,2>; rel=next'}, "https://a/n?x=1,2"),
        ({"Link": '<https://a/p>; rel="prev next"'}, "https://a/p"),
        ({"Link": '<https://a/s>; rel="self"'}, None),
        ({}, None),
    ],
)
def test_link_header_parsing(headers: dict[str, str], expected: str | None) -> None:
    assert next_link_from_headers(headers) == expected


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"mode": "cursors"}, "pagination.mode"),
        ({"mode": "cursor"}, "pagination.next_cursor_path"),
        ({"mode": "link", "link_path": "a[["}, "pagination.link_path"),
        ({"mode": "page", "page_size": 0}, "pagination.page_size"),
        ({"mode": "offset", "offset_end_param": "to"}, "pagination.page_size"),
        (
            {"mode": "cursor", "next_cursor_path": "n", "cursor_location": "cookie"},
            "cursor_location",
        ),
        ({"expired_cursor_statuses": (4000,)}, "pagination.expired_cursor_statuses"),
    ],
)
def test_bad_pagination_config_names_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        PaginationConfig(**kwargs)


def test_state_position_survives_json(api: FakeAPI) -> None:
    state = CollectorState(cursor="c1", skip=3, has_more=True)
    assert CollectorState.from_dict(state.to_dict()) == state


def test_next_request_applies_the_window_then_the_position() -> None:
    from datetime import UTC, datetime

    from collectorkit import CollectorRequest, IncrementalConfig

    request = CollectorRequest(
        endpoint="/v1/events",
        params={"limit": 50},
        pagination=CURSOR,
        incremental=IncrementalConfig(timestamp_field="t", start_param="since"),
        shards=[{"params": {"region": "eu"}, "state_key": "eu"}],
    )
    state = CollectorState(
        cursor="c9",
        window_start=datetime(2024, 5, 1, tzinfo=UTC),
        window_end=datetime(2024, 5, 2, tzinfo=UTC),
    )
    spec = request.next_request(state, request.shards[0])
    assert spec.url == "/v1/events"
    assert dict(spec.params) == {
        "limit": 10,
        "region": "eu",
        "since": "2024-05-01T00:00:00Z",
        "cursor": "c9",
    }


class ReversePages:
    """A plug-in paginator (no inheritance): walks page numbers downwards from 3."""

    def prepare(self, request, state):
        return request.with_param("page", state.page or 3).with_param("per_page", 5)

    def advance(self, state, response):
        from collectorkit.collect import Advance

        page = state.page or 3
        if page == 1:
            return Advance(state.replace(page=None, skip=0), StopReason.NO_NEXT)
        return Advance(state.replace(page=page - 1, skip=0, has_more=True))

    def partial(self, state, consumed):
        return state.replace(skip=state.skip + consumed)

    def position_key(self, request, state):
        return None


async def test_a_plug_in_paginator_replaces_the_built_in_one(api: FakeAPI, clock) -> None:
    from collectorkit.typing import Paginator

    api.records = make_records(15)
    assert isinstance(ReversePages(), Paginator)
    request = {"data_path": "results", "paginator": ReversePages()}
    async with CollectorClient(blueprint(api, clock, "/page", request=request)) as client:
        first = await client.collect_events(limit=7)
        rest = await client.collect_events(resume_state=first.state)
    expected = ids(api.records[10:15] + api.records[5:10] + api.records[0:5])
    assert ids(first.events + rest.events) == expected
