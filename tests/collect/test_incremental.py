"""Incremental windows against a real server that filters by time: lookback, overlap, ties,
end lag, window splitting, formats, and the watermark rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from collectorkit import (
    CollectorClient,
    CollectorState,
    ConfigError,
    IncrementalConfig,
    PaginationConfig,
    StopReason,
)
from collectorkit.collect import RequestSpec, Window
from tests.collect.conftest import T0, FakeAPI, blueprint, ids, make_records

CURSOR = PaginationConfig(
    mode="cursor", next_cursor_path="meta.next_cursor", page_size_param="limit", page_size=5
)


def incremental_bp(api: FakeAPI, clock, **inc: object):
    config = IncrementalConfig(
        timestamp_field="created", start_param="since", end_param="until", **inc
    )
    request = {"data_path": "data.events", "incremental": config}
    return blueprint(api, clock, "/cursor", CURSOR, request=request)


async def test_first_run_looks_back_then_only_new_records_arrive(api: FakeAPI, clock) -> None:
    # records every 30 min over two days; "now" is T0 + 1 day
    api.records = make_records(96, step=1800)
    bp = incremental_bp(api, clock, initial_lookback="6h", overlap="1h")
    async with CollectorClient(bp) as client:
        first = await client.collect_events()
        # [now - 6h, now]: records 36..48
        assert ids(first.events) == ids(api.records[36:49])
        assert first.state.watermark == T0 + timedelta(days=1)
        assert first.stop_reason is StopReason.NO_NEXT
        clock.advance(3 * 3600)
        second = await client.collect_events(resume_state=first.state)
    # the overlap re-reads the last hour; nothing already delivered comes back
    assert ids(second.events) == ids(api.records[49:55])
    assert api.requests[-1].args["since"] == "2023-11-14T23:00:00Z"


async def test_records_sharing_the_watermark_instant_are_not_repeated(api: FakeAPI, clock) -> None:
    now = datetime.fromtimestamp(clock.time(), tz=UTC)
    tie = now.isoformat()
    api.records = [
        *make_records(3, start=now - timedelta(hours=1)),
        {"id": "t1", "created": tie},
        {"id": "t2", "created": tie},
    ]
    bp = incremental_bp(api, clock)
    async with CollectorClient(bp) as client:
        first = await client.collect_events()
        assert ids(first.events) == ["r00000", "r00001", "r00002", "t1", "t2"]
        assert set(first.state.boundary_ids) == {"t1", "t2"}
        # a late record with the same instant, and a newer one
        api.records += [
            {"id": "t3", "created": tie},
            {"id": "n1", "created": (now + timedelta(seconds=30)).isoformat()},
        ]
        clock.advance(60)
        second = await client.collect_events(resume_state=first.state)
    assert ids(second.events) == ["t3", "n1"]
    assert api.requests[-1].args["since"] == tie.replace("+00:00", "Z")


async def test_a_limit_inside_tied_records_resumes_exactly(api: FakeAPI, clock) -> None:
    now = datetime.fromtimestamp(clock.time(), tz=UTC)
    tie = (now - timedelta(minutes=5)).isoformat()
    api.records = [{"id": f"t{i}", "created": tie} for i in range(8)]
    bp = incremental_bp(api, clock)
    seen: list[str] = []
    state = None
    async with CollectorClient(bp) as client:
        for _ in range(5):
            result = await client.collect_events(limit=3, resume_state=state)
            seen += ids(result.events)
            state = result.state
    assert seen == [f"t{i}" for i in range(8)]


async def test_end_lag_leaves_recent_records_for_later(api: FakeAPI, clock) -> None:
    api.records = make_records(49, step=1800)  # the last one is exactly "now"
    bp = incremental_bp(api, clock, initial_lookback="3h", end_lag="1h")
    async with CollectorClient(bp) as client:
        first = await client.collect_events()
        assert ids(first.events) == ids(api.records[42:47])
        clock.advance(3600)
        second = await client.collect_events(resume_state=first.state)
    assert ids(second.events) == ids(api.records[47:49])


async def test_a_long_gap_is_walked_in_bounded_windows(api: FakeAPI, clock) -> None:
    api.records = make_records(48, step=1800)
    bp = incremental_bp(api, clock, initial_lookback="1d", max_window="6h")
    async with CollectorClient(bp) as client:
        result = await client.collect_events()
    assert ids(result.events) == ids(api.records)
    windows = {(r.args["since"], r.args["until"]) for r in api.requests}
    assert len(windows) == 4
    for since, until in windows:
        span = datetime.fromisoformat(until) - datetime.fromisoformat(since)
        assert span <= timedelta(hours=6)
    assert result.state.window_start is None
    assert result.complete


async def test_limit_mid_window_keeps_the_window_for_the_resumed_cursor(
    api: FakeAPI, clock
) -> None:
    api.records = make_records(48, step=1800)
    bp = incremental_bp(api, clock, initial_lookback="1d", max_window="6h")
    async with CollectorClient(bp) as client:
        first = await client.collect_events(limit=7)
        assert first.state.window_start is not None
        assert first.state.cursor is not None
        window = (first.state.window_start, first.state.window_end)
        clock.advance(7200)  # time passes; the resumed cursor must keep its window
        second = await client.collect_events(limit=3, resume_state=first.state)
    assert ids(first.events + second.events) == ids(api.records[:10])
    assert (second.state.window_start, second.state.window_end) == window


async def test_newest_first_apis_move_the_watermark_only_when_a_window_completes(
    api: FakeAPI, clock
) -> None:
    api.records = make_records(12, step=600)
    config = IncrementalConfig(
        timestamp_field="created", start_param="since", end_param="until", ordered=False
    )
    request = {"data_path": "data.events", "incremental": config, "params": {"order": "desc"}}
    bp = blueprint(api, clock, "/cursor", CURSOR, request=request)
    async with CollectorClient(bp) as client:
        first = await client.collect_events(limit=6)
        assert first.state.watermark is None  # newest delivered, older ones still owed
        second = await client.collect_events(resume_state=first.state)
    assert ids(first.events + second.events) == ids(api.records[::-1])
    assert second.state.watermark == datetime.fromtimestamp(clock.time(), tz=UTC)


async def test_epoch_ms_window_in_a_post_body_through_placeholders(api: FakeAPI, clock) -> None:
    api.records = make_records(30, step=1800)
    pagination = PaginationConfig(
        mode="offset",
        param_location="body",
        offset_param="request_data.search_from",
        offset_end_param="request_data.search_to",
        page_size=100,
        total_path="reply.total_count",
    )
    filters = [
        {"field": "creation_time", "operator": "gte", "value": "{start}"},
        {"field": "creation_time", "operator": "lte", "value": "{end}"},
    ]
    config = IncrementalConfig(
        timestamp_field="created", time_format="epoch_ms", initial_lookback="5h"
    )
    request = {
        "method": "POST",
        "json": {"request_data": {"filters": filters}},
        "data_path": "reply.alerts",
        "incremental": config,
    }
    async with CollectorClient(blueprint(api, clock, "/xdr", pagination, request=request)) as c:
        result = await c.collect_events()
    assert ids(result.events) == ids(api.records[38:49])
    sent = api.requests[0].get_json()["request_data"]["filters"]
    now_ms = int(clock.time() * 1000)
    assert [f["value"] for f in sent] == [now_ms - 5 * 3600 * 1000, now_ms]


# --- sans-I/O ------------------------------------------------------------------------------------


def test_timestamps_are_compared_as_instants_not_strings() -> None:
    config = IncrementalConfig(timestamp_field="ts")
    records = [
        {"id": "a", "ts": "2024-05-01T12:30:00Z"},
        {"id": "b", "ts": "2024-05-01T10:00:00-03:00"},  # 13:00 UTC: the newest
        {"id": "c", "ts": 1714564800000},  # 12:00 UTC in epoch ms
    ]
    state = config.delivered(CollectorState(), records)
    assert state.watermark == datetime(2024, 5, 1, 13, 0, tzinfo=UTC)


def test_the_watermark_never_moves_backwards() -> None:
    config = IncrementalConfig(timestamp_field="ts")
    late = datetime(2024, 5, 2, tzinfo=UTC)
    state = config.delivered(
        CollectorState(watermark=late), [{"id": "old", "ts": "2024-05-01T00:00:00Z"}]
    )
    assert state.watermark == late


def test_boundary_ids_are_bounded() -> None:
    config = IncrementalConfig(timestamp_field="ts", max_boundary_ids=5)
    tied = [{"id": str(i), "ts": "2024-05-01T00:00:00Z"} for i in range(50)]
    state = config.delivered(CollectorState(), tied)
    assert len(state.boundary_ids) == 5


def test_a_record_redelivered_with_a_newer_instant_is_new() -> None:
    config = IncrementalConfig(timestamp_field="ts")
    state = config.delivered(CollectorState(), [{"id": "x", "ts": "2024-05-01T00:00:00Z"}])
    assert config.is_duplicate(state, {"id": "x", "ts": "2024-05-01T00:00:00Z"})
    assert not config.is_duplicate(state, {"id": "x", "ts": "2024-05-01T00:00:01Z"})


def test_records_without_an_id_are_deduplicated_by_content() -> None:
    config = IncrementalConfig(timestamp_field="ts", id_field=None)
    record = {"ts": "2024-05-01T00:00:00Z", "msg": "hi"}
    state = config.delivered(CollectorState(), [record])
    assert config.is_duplicate(state, dict(record))
    assert not config.is_duplicate(state, {**record, "msg": "other"})


def test_window_planning_from_lookback_watermark_and_lag() -> None:
    config = IncrementalConfig(
        timestamp_field="ts", initial_lookback="2d", overlap="10m", end_lag="1m"
    )
    now = datetime(2024, 5, 10, 12, 0, 30, 500, tzinfo=UTC)
    first = config.plan_window(CollectorState(), now)
    assert first == Window(now - timedelta(days=2), datetime(2024, 5, 10, 11, 59, 30, tzinfo=UTC))
    wm = datetime(2024, 5, 10, 11, 0, tzinfo=UTC)
    later = config.plan_window(CollectorState(watermark=wm), now)
    assert later is not None
    assert later.start == wm - timedelta(minutes=10)
    caught_up = CollectorState(watermark=datetime(2024, 5, 10, 11, 59, 30, tzinfo=UTC))
    assert config.plan_window(caught_up, now) is None


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("iso8601", "2024-05-01T00:00:00Z"),
        ("epoch_s", 1714521600),
        ("epoch_ms", 1714521600000),
        ("%Y/%m/%d %H:%M", "2024/05/01 00:00"),
    ],
)
def test_window_formats(fmt: str, expected: object) -> None:
    config = IncrementalConfig(timestamp_field="ts", start_param="from", time_format=fmt)
    start = datetime(2024, 5, 1, tzinfo=UTC)
    spec = config.apply_window(RequestSpec(url="/x"), Window(start, start + timedelta(hours=1)))
    assert spec.params["from"] == expected


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"time_format": "rfc"}, "incremental.time_format"),
        ({"initial_lookback": "a week"}, "incremental.initial_lookback"),
        ({"max_window": 0}, "incremental.max_window"),
        ({"timestamp_field": "a[["}, "incremental.timestamp_field"),
        ({"param_location": "header"}, "incremental.param_location"),
    ],
)
def test_bad_incremental_config_names_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        IncrementalConfig(**{"timestamp_field": "ts", **kwargs})


async def test_placeholders_inside_filter_text_and_a_quoted_next_link_path(
    api: FakeAPI, clock, httpserver
) -> None:
    # MS Graph: $filter text carries the window; "@odata.nextLink" needs JMESPath quoting
    from werkzeug import Request, Response

    filters: list[str] = []

    def graph(request: Request) -> Response:
        filters.append(request.args["$filter"])
        if request.args.get("$skiptoken"):
            body = {"value": [{"id": "b", "createdDateTime": "2023-11-14T23:00:00Z"}]}
        else:
            body = {
                "value": [{"id": "a", "createdDateTime": "2023-11-14T22:00:00Z"}],
                "@odata.nextLink": request.base_url + "?$skiptoken=T1&$filter=same",
            }
        return Response(json.dumps(body), mimetype="application/json")

    httpserver.expect_request("/v1.0/security/alerts_v2").respond_with_handler(graph)
    config = IncrementalConfig(timestamp_field="createdDateTime", initial_lookback="1d")
    request = {
        "params": {"$filter": "createdDateTime ge {start} and createdDateTime le {end}"},
        "data_path": "value",
        "incremental": config,
    }
    pagination = PaginationConfig(mode="link", link_path='"@odata.nextLink"')
    bp = blueprint(api, clock, "/v1.0/security/alerts_v2", pagination, request=request)
    async with CollectorClient(bp) as client:
        result = await client.collect_events()
    assert ids(result.events) == ["a", "b"]
    assert filters[0] == (
        "createdDateTime ge 2023-11-14T00:00:00Z and createdDateTime le 2023-11-15T00:00:00Z"
    )
    assert filters[1] == "same"  # the next link is followed as given


async def test_open_ended_requests_keep_the_watermark_at_the_newest_record(
    api: FakeAPI, clock
) -> None:
    # no end_param: the API answers up to its own "now"; a record that lands afterwards with an
    # event time between the newest delivered record and the collector's "now" (ingestion delay)
    # must still be ahead of the watermark on the next run, not skipped for good.
    now = datetime.fromtimestamp(clock.time(), tz=UTC)
    api.records = make_records(5, start=now - timedelta(hours=2), step=600)
    config = IncrementalConfig(timestamp_field="created", start_param="since")
    bp = blueprint(
        api, clock, "/cursor", CURSOR, request={"data_path": "data.events", "incremental": config}
    )
    async with CollectorClient(bp) as client:
        first = await client.collect_events()
        newest = datetime.fromisoformat(api.records[-1]["created"])
        assert first.state.watermark == newest
        late = {"id": "late", "created": (now - timedelta(minutes=5)).isoformat(), "n": 99}
        api.records = sorted([*api.records, late], key=lambda r: r["created"])
        clock.advance(60)
        second = await client.collect_events(resume_state=first.state)
    assert ids(second.events) == ["late"]
    assert second.state.watermark == datetime.fromisoformat(late["created"])
    # one request per run: an open-ended walk does not loop over its own window
    assert api.requests[-1].args["since"] == newest.isoformat().replace("+00:00", "Z")
